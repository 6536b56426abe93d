#!/usr/bin/env bash
# otel_aliyun logs benchmark, on one throwaway cluster:
#
#  1. cost of SELECT otel_aliyun.log_info(...) per call: pgbench (1 client,
#     prepared protocol) with that statement versus SELECT 1, runs
#     interleaved over several rounds, medians; the difference of the mean
#     latencies is the cost of a call as a client sees it.  Also the cost
#     inside one statement (generate_series loop), without protocol costs.
#     Spans are off (otel_aliyun.track = none) so that only log() is
#     measured; the worker exports to a local sink meanwhile, and records
#     dropped (ring full) are reported, since a drop is cheaper than a put.
#  2. what the export worker ships: the worker is stopped (SIGSTOP) while N
#     records are put into the ring, then continued, and otel_aliyun.flush()
#     is timed: records per second and worker CPU per record, for SLS PutLogs
#     (LZ4, V1 signature), SLS uncompressed, OTLP/HTTP (gzip) and the file.
#     The sink (bench/sink, from bench/sink.c) reads and discards every request.
#
#   bench/logs.sh [--rounds 3] [--duration 10] [--records 300000]
#
# Builds and installs the extension first (BUILD=0 skips that).  Runs as
# root (the cluster then belongs to the postgres user) or as any user who
# may install into PostgreSQL's directories.  Prints a summary; the full
# output is copied to bench/out/logs-<time>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

ROUNDS=3
DURATION=10
RECORDS=300000
while [ $# -gt 0 ]; do
	case "$1" in
		--rounds) ROUNDS=$2; shift 2 ;;
		--duration) DURATION=$2; shift 2 ;;
		--records) RECORDS=$2; shift 2 ;;
		*) echo "usage: $0 [--rounds N] [--duration S] [--records N]" >&2; exit 2 ;;
	esac
done

. bench/prepare.sh

AS=()
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); fi

DEST="$PWD/bench/out/logs-$(date +%Y%m%d-%H%M%S)"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otel_logs_bench.XXXXXX")
OUT="$WORK/out"
mkdir -p "$OUT"
if [ ${#AS[@]} -gt 0 ]; then chown postgres: "$WORK" "$OUT"; fi
DATA="$WORK/data"
SOCK="$WORK"
SINK_PID=
cleanup() {
	"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
	if [ -n "$SINK_PID" ]; then kill "$SINK_PID" 2>/dev/null || true; fi
	mkdir -p "$DEST" && cp -r "$OUT"/. "$DEST"/ && echo "results: $DEST" >&2
	rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

PORT=$(free_port)
bench/sink --port-file "$WORK/sink.port" 2>>"$OUT/sink.log" &
SINK_PID=$!
for _ in $(seq 100); do [ -s "$WORK/sink.port" ] && break; sleep 0.1; done
SINK_PORT=$(cat "$WORK/sink.port")

"${AS[@]}" "$PGBIN/initdb" -D "$DATA" -A trust >"$OUT/initdb.log"
cat >>"$DATA/postgresql.conf" <<EOF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'otel_aliyun'
shared_buffers = 128MB
otel_aliyun.track = none
otel_aliyun.logs_buffer_size = 256MB
otel_aliyun.logs_exporter = 'sls'
otel_aliyun.sls_endpoint = 'http://localhost:$SINK_PORT'
otel_aliyun.sls_project = 'bench'
otel_aliyun.sls_logstore = 'logs'
otel_aliyun.sls_access_key_id = 'bench-id'
otel_aliyun.sls_access_key_secret = 'bench-secret'
otel_aliyun.logs_endpoint = 'http://127.0.0.1:$SINK_PORT/v1/logs'
EOF
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$OUT/server.log" -w start >/dev/null

PSQL=("${AS[@]}" "$PGBIN/psql" -X -q -At -h "$SOCK" -p "$PORT" -d postgres)
psql() { "${PSQL[@]}" "$@"; }
psql -c 'CREATE EXTENSION otel_aliyun'
setting() {
	psql -c "ALTER SYSTEM SET otel_aliyun.$1 = '$2'" -c 'SELECT pg_reload_conf()' >/dev/null
	sleep 1.5		# the worker reloads at its next round
}
logstat() { psql -c "SELECT $1 FROM otel_aliyun.stats WHERE signal = 'logs'"; }

LOG_SQL="SELECT otel_aliyun.log_info('bench message', '{\"order_id\": 42, \"user\": \"alice\"}');"
echo "$LOG_SQL" >"$WORK/log.sql"
echo "SELECT 1;" >"$WORK/select1.sql"
chmod a+r "$WORK"/*.sql

# ---- 1. per call ----------------------------------------------------------

log "per-call cost: $ROUNDS rounds of ${DURATION}s, SELECT 1 vs log_info()"
: >"$OUT/select1.tps"
: >"$OUT/log.tps"
drop0=$(logstat dropped)
for r in $(seq "$ROUNDS"); do
	for v in select1 log; do
		tps=$("${AS[@]}" "$PGBIN/pgbench" -n -M prepared -c 1 -T "$DURATION" \
			-h "$SOCK" -p "$PORT" -f "$WORK/$v.sql" postgres 2>>"$OUT/pgbench.err" |
			tee -a "$OUT/pgbench.out" | awk '/^tps = / {print $3}')
		echo "$tps" >>"$OUT/$v.tps"
		log "round $r $v: $tps tps"
	done
done
psql -c 'SELECT otel_aliyun.flush(600000)' >/dev/null
drop_pgbench=$(( $(logstat dropped) - drop0 ))
tps1=$(median <"$OUT/select1.tps")
tpsl=$(median <"$OUT/log.tps")
percall=$(awk -v a="$tps1" -v b="$tpsl" 'BEGIN {printf "%.2f", 1e6/b - 1e6/a}')

# inside one statement: N calls vs N evaluations of a cheap expression
N=200000
loop_ms() {
	psql -c '\timing on' -c "$1" | awk '/^Time: / {print $2}'
}
: >"$OUT/loop.base"
: >"$OUT/loop.log"
for r in $(seq "$ROUNDS"); do
	loop_ms "SELECT count(*) FROM generate_series(1, $N) g WHERE length('bench message' || g) > 0" >>"$OUT/loop.base"
	loop_ms "SELECT count(*) FROM generate_series(1, $N) g WHERE otel_aliyun.log_info('bench message', '{\"order_id\": 42, \"user\": \"alice\"}')" >>"$OUT/loop.log"
	psql -c 'SELECT otel_aliyun.flush(600000)' >/dev/null
done
drop_loop=$(( $(logstat dropped) - drop0 - drop_pgbench ))
base_ms=$(median <"$OUT/loop.base")
log_ms=$(median <"$OUT/loop.log")
inloop=$(awk -v a="$base_ms" -v b="$log_ms" -v n="$N" 'BEGIN {printf "%.2f", (b - a) * 1000 / n}')
recsize=$(psql -c "SELECT otel_aliyun.stats_reset()" -c "SELECT otel_aliyun.log_info('bench message', '{\"order_id\": 42, \"user\": \"alice\"}')" \
	-c "SELECT buffer_used_bytes FROM otel_aliyun.stats WHERE signal = 'logs'" | tail -1)
psql -c 'SELECT otel_aliyun.flush(600000)' >/dev/null

# ---- 2. worker throughput -----------------------------------------------------

# the export worker: the postmaster's child whose title names it
PM=$(head -1 "$DATA/postmaster.pid")
WORKER=
for p in $(ls /proc | grep -E '^[0-9]+$'); do
	[ "$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)" = "$PM" ] || continue
	if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q 'otel_aliyun exporter'; then
		WORKER=$p
	fi
done
[ -n "$WORKER" ] || { echo "no export worker" >&2; exit 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
CLK=$(getconf CLK_TCK)

ship() {
	local label=$1
	kill -STOP "$WORKER"
	psql -c 'SELECT otel_aliyun.stats_reset()' >/dev/null
	# two sessions fill the ring while the worker is stopped
	local half=$((RECORDS / 2))
	for _ in 1 2; do
		psql -c "SELECT count(*) FROM generate_series(1, $half) g WHERE otel_aliyun.log_info('bench message ' || g, '{\"order_id\": 42, \"user\": \"alice\"}')" >/dev/null &
	done
	wait
	local produced dropped c0 c1 t0 t1
	produced=$(logstat produced)
	dropped=$(logstat dropped)
	c0=$(cpu_ticks "$WORKER")
	t0=$(date +%s.%N)
	kill -CONT "$WORKER"
	psql -c 'SELECT otel_aliyun.flush(600000)' >/dev/null
	t1=$(date +%s.%N)
	c1=$(cpu_ticks "$WORKER")
	local exported failed bytes requests
	exported=$(logstat exported)
	failed=$(logstat failed)
	bytes=$(logstat bytes_sent)
	requests=$(logstat requests)
	awk -v l="$label" -v n="$exported" -v p="$produced" -v d="$dropped" -v f="$failed" \
		-v t0="$t0" -v t1="$t1" -v c="$((c1 - c0))" -v hz="$CLK" -v b="$bytes" -v q="$requests" \
		'BEGIN {s = t1 - t0; printf "%-26s %8d rec in %6.2f s = %9.0f rec/s, worker CPU %5.2f us/rec, %7.1f B/rec sent, %5d requests (produced %d, dropped %d, failed %d)\n",
			l, n, s, n / s, c / hz * 1e6 / (n ? n : 1), b / (n ? n : 1), q, p, d, f}'
}

{
	ship "sls (lz4, v1 signature)"
	setting sls_compression none
	ship "sls (uncompressed)"
	setting sls_compression lz4
	setting logs_exporter otlp
	ship "otlp/http (gzip)"
	setting logs_exporter file
	ship "file (OTLP/JSON lines)"
} | tee "$OUT/throughput.txt"

{
	echo
	echo "otel_aliyun logs benchmark ($(nproc) CPUs, $("$PGBIN/postgres" --version))"
	echo "per call, pgbench -M prepared, 1 client, ${ROUNDS}x${DURATION}s, medians:"
	echo "  SELECT 1:              $tps1 tps"
	echo "  SELECT log_info(...):  $tpsl tps"
	echo "  cost of one call:      $percall us (client view; $drop_pgbench records dropped)"
	echo "  inside one statement:  $inloop us per call ($N calls: $log_ms ms vs $base_ms ms; $drop_loop dropped)"
	echo "  record size in the ring: $recsize bytes"
	echo "worker throughput, $RECORDS records queued while it was stopped, then flushed:"
	sed 's/^/  /' "$OUT/throughput.txt"
} | tee "$OUT/summary.txt"
