#!/usr/bin/env bash
# otel_aliyun demo (the README's first command): installs the Debian
# packages, builds and installs the extension, starts a throwaway cluster
# with shared_preload_libraries = otel_aliyun exporting to an OTLP/HTTP
# receiver on loopback (which decodes with protoc-generated Python classes),
# runs a short pgbench, and prints what arrived.  Everything is removed at
# the end (KEEP=1 keeps the directory).  As root, the cluster runs as the
# postgres user.  DURATION=seconds of pgbench (default 5), RATE=its
# transactions per second (default 400: the demo's receiver is a Python
# program that decodes about 15 000 spans a second, and a TPC-B transaction
# makes 21; unthrottled, pgbench outruns it and the extension drops what does
# not fit in its buffer, counting it in otel_aliyun.stats).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$SRC"
exec </dev/null

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
DURATION=${DURATION:-5}
RATE=${RATE:-400}

echo "== installing dependencies"
bash test/install-deps.sh

echo "== building and installing otel_aliyun"
make -s PG_CONFIG="$PG_CONFIG" -j"$(nproc)"
if [ "$(id -u)" -ne 0 ] && [ ! -w "$("$PG_CONFIG" --pkglibdir)" ]; then
	sudo make -s PG_CONFIG="$PG_CONFIG" install
else
	make -s PG_CONFIG="$PG_CONFIG" install
fi

PGBIN=$("$PG_CONFIG" --bindir)
AS=()
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/otel_aliyun_demo.XXXXXX")
chmod 755 "$WORK"
mkdir -p "$WORK/receiver"
if [ ${#AS[@]} -gt 0 ]; then chown postgres: "$WORK"; fi
DATA="$WORK/data"
RX_PID=
cleanup() {
	set +e
	if [ -f "$DATA/postmaster.pid" ]; then
		"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1
	fi
	if [ -n "$RX_PID" ]; then kill "$RX_PID" 2>/dev/null; wait "$RX_PID" 2>/dev/null; fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "== starting the OTLP/HTTP receiver"
export OTEL_PROTO_CACHE="$WORK/cache"
/usr/bin/python3 test/receivers/otlp_http_receiver.py --port 0 \
	--port-file "$WORK/receiver.port" --out-dir "$WORK/receiver" --quiet \
	2>"$WORK/receiver.log" &
RX_PID=$!
for _ in $(seq 1 600); do
	[ -s "$WORK/receiver.port" ] && break
	kill -0 "$RX_PID" 2>/dev/null || { cat "$WORK/receiver.log"; exit 1; }
	sleep 0.1
done
RX_PORT=$(cat "$WORK/receiver.port")
RX="http://127.0.0.1:$RX_PORT"
echo "receiver on $RX"

PGPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "== initdb (port $PGPORT)"
"${AS[@]}" "$PGBIN/initdb" -D "$DATA" -A trust -U postgres -N --no-instructions >"$WORK/initdb.log"
cat >>"$DATA/postgresql.conf" <<EOF
port = $PGPORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
shared_preload_libraries = 'otel_aliyun'
otel_aliyun.service_name = 'otel-aliyun-demo'
otel_aliyun.deployment_environment = 'demo'
otel_aliyun.traces_endpoint = '$RX/v1/traces'
otel_aliyun.arms_token = 'demo-token'
otel_aliyun.export_interval_ms = 500
EOF
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$WORK/postmaster.log" -w start >/dev/null
PSQL=("$PGBIN/psql" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE EXTENSION otel_aliyun"

echo "== pgbench -i -s 1, then pgbench -T $DURATION -R $RATE"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -q -s 1 postgres 2>&1 | tail -n 1
"${PSQL[@]}" -c "SELECT otel_aliyun.flush()" >/dev/null
curl -fsS -X POST "$RX/_reset" >/dev/null
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -c 2 -j 2 -T "$DURATION" -R "$RATE" postgres 2>&1 |
	grep -E '^(number of transactions actually processed|tps)'
# what pgbench left in the ring goes out first, then one statement joining a
# caller's trace through a sqlcommenter comment
"${PSQL[@]}" -c "SELECT otel_aliyun.flush(60000)" >/dev/null
"${PSQL[@]}" -c "SELECT count(*) FROM pgbench_branches /*traceparent='00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'*/" >/dev/null
echo -n "flush: "
"${PSQL[@]}" -c "SELECT otel_aliyun.flush()"
echo "== otel_aliyun.stats"
"$PGBIN/psql" -X -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -x -c \
	"SELECT signal, produced, sampled_out, dropped, exported, failed, retries, requests, bytes_sent, last_error, destination FROM otel_aliyun.stats WHERE signal = 'traces'"

echo "== what the receiver decoded"
/usr/bin/python3 - "$RX" <<'PYEOF'
import collections, json, sys, urllib.request

rx = sys.argv[1]
spans = json.load(urllib.request.urlopen(rx + "/_received?kind=spans"))
reqs = json.load(urllib.request.urlopen(rx + "/_requests"))
print("%d spans in %d export requests (content-encoding: %s; Authentication header present: %s)" % (
    len(spans), len(reqs),
    ", ".join(sorted({r["content_encoding"] or "identity" for r in reqs})) or "-",
    all("authentication" in r["headers"] for r in reqs) if reqs else "-"))
if not spans:
    sys.exit("no spans arrived")
print("\nspans by name:")
for (name, kind), n in collections.Counter((s["name"], s["kindName"]) for s in spans).most_common(15):
    print("  %7d  %-40s %s" % (n, name, kind))

r0 = spans[0]
print("\nresource:")
for k in sorted(r0["resource"]):
    print("  %s = %s" % (k, r0["resource"][k]))
print("scope: %s %s" % (r0["scope"]["name"], r0["scope"]["version"]))

by_parent = collections.defaultdict(list)
for s in spans:
    by_parent[(s["traceId"], s["parentSpanId"])].append(s)

def tree(s, depth, attrs):
    d = (s["endTimeUnixNano"] - s["startTimeUnixNano"]) / 1e6
    st = {0: "", 1: " OK", 2: " ERROR"}.get(s["status"]["code"], "")
    print("%s%s [%s] %.3f ms%s" % ("  " * depth, s["name"], s["kindName"], d, st))
    if attrs:
        for k in sorted(s["attributes"]):
            print("%s    %s = %r" % ("  " * depth, k, s["attributes"][k]))
    for c in sorted(by_parent[(s["traceId"], s["spanId"])], key=lambda x: x["startTimeUnixNano"]):
        tree(c, depth + 1, attrs)

joined = [s for s in spans if s["traceId"] == "0af7651916cd43dd8448eb211c80319c"]
updates = [s for s in spans if s["kindName"] == "SERVER" and s["name"].upper().startswith("UPDATE")]
sample = updates[len(updates) // 2] if updates else [s for s in spans if s["kindName"] == "SERVER"][0]
print("\na pgbench statement's trace (trace id %s):" % sample["traceId"])
tree(sample, 1, True)
if joined:
    print("\nthe statement that carried traceparent 00-0af76519...-b7ad6b7169203331-01:")
    for s in joined:
        if s["parentSpanId"] == "b7ad6b7169203331":
            tree(s, 1, False)
else:
    print("\n(no span joined the trace 0af7651916cd43dd8448eb211c80319c)")
PYEOF
echo
echo "demo finished; cleaning up"
