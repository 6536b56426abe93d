#!/usr/bin/env bash
# otel_aliyun metrics benchmark, on one throwaway cluster:
#
#  1. cost per metric call: each SQL metric function called N times in a
#     loop inside the server, minus the same loop calling nothing, in
#     nanoseconds per call (median of several repetitions);
#  2. pgbench -S (scale 10, 2 clients, select-only) with the built-in
#     metrics on (otel_aliyun.builtin_metrics = all: every statement is
#     recorded in the query duration histogram) versus off, runs
#     interleaved over several rounds (the order alternates), medians,
#     and the ratio on/off (target: at least 0.99).
#
# Tracing is kept out of the comparison (sample_rate = 0, the unsampled
# path every statement takes then) and nothing is pushed
# (metrics_exporter = none), so the difference is the metrics' own cost.
#
#   bench/metrics.sh [--rounds 5] [--duration 10] [--calls 200000] [--keep]
#
# Builds and installs the extension first (BUILD=0 skips that).  Runs as
# root (the cluster then belongs to the postgres user) or as a user who
# may install into PostgreSQL's directories.  Results also go to
# bench/out/metrics-<time>.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

ROUNDS=5
DURATION=10
CALLS=200000
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--rounds) ROUNDS=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--calls) CALLS=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) echo "usage: $0 [--rounds N] [--duration S] [--calls N] [--keep]" >&2; exit 2 ;;
	esac
done

. bench/prepare.sh

AS=()
if [ "$(id -u)" -eq 0 ]; then AS=(runuser -u postgres --); fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/otel_metrics_bench.XXXXXX")
if [ ${#AS[@]} -gt 0 ]; then chown postgres: "$WORK"; fi
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA=$WORK/data
mkdir -p bench/out
OUT=bench/out/metrics-$(date +%Y%m%d-%H%M%S).txt

cleanup() {
	"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
	if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
psql_() { "${AS[@]}" "$PGBIN/psql" -X -q -A -t -h "$WORK" -p "$PORT" -d postgres "$@"; }

log "cluster in $WORK, port $PORT"
"${AS[@]}" "$PGBIN/initdb" -D "$DATA" -A trust >/dev/null
cat >>"$DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
shared_preload_libraries = 'otel_aliyun'
shared_buffers = 256MB
otel_aliyun.sample_rate = 0
otel_aliyun.metrics_exporter = none
otel_aliyun.builtin_metrics = all
EOF
"${AS[@]}" "$PGBIN/pg_ctl" -D "$DATA" -l "$WORK/postmaster.log" -w start >/dev/null
psql_ -c 'CREATE EXTENSION otel_aliyun'
"${AS[@]}" "$PGBIN/pgbench" -i -q -s 10 -h "$WORK" -p "$PORT" postgres >/dev/null 2>&1

# arithmetic without bc
calc() { awk "BEGIN { printf \"%.10g\\n\", $1 }"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) printf "%.6g\n", a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2]+a[NR/2+1])/2}'; }

# ---- 1. cost per call ----
# ns per iteration of a loop of $CALLS calls of expr, measured in the server
loop_ns() {
	psql_ -c "DO \$\$
DECLARE t0 timestamptz; n bigint;
BEGIN
	t0 := clock_timestamp();
	SELECT count($1) INTO n FROM generate_series(1, $CALLS) AS i;
	RAISE NOTICE 'ns=%', extract(epoch FROM clock_timestamp() - t0) * 1e9 / $CALLS;
END
\$\$" 2>&1 | sed -n 's/.*ns=//p'
}

declare -A CALL_EXPR=(
	[counter_add]="otel_aliyun.counter_add('bench_counter', 1)"
	[counter_add_2_labels]="otel_aliyun.counter_add('bench_counter_l', 1, '{\"region\": \"hz\", \"tier\": \"gold\"}')"
	[updown_add]="otel_aliyun.updown_add('bench_updown', 1)"
	[gauge_set]="otel_aliyun.gauge_set('bench_gauge', i)"
	[histogram_record]="otel_aliyun.histogram_record('bench_hist', i::float8 / 1000000, '{\"path\": \"/x\"}')"
)
CALL_ORDER=(counter_add counter_add_2_labels updown_add gauge_set histogram_record)
REPS=5
base=$(for r in $(seq $REPS); do loop_ns "i"; done | median)
{
	echo "== cost per metric call ($CALLS calls x $REPS repetitions, median, loop overhead ${base} ns subtracted)"
	printf '%-24s %12s\n' function ns/call
	for f in "${CALL_ORDER[@]}"; do
		v=$(for r in $(seq $REPS); do loop_ns "${CALL_EXPR[$f]}"; done | median)
		printf '%-24s %12.0f\n' "$f" "$(calc "$v - $base")"
	done
} | tee "$OUT"

# ---- 2. pgbench -S, built-in metrics on versus off ----
set_builtin() {
	psql_ -c "ALTER SYSTEM SET otel_aliyun.builtin_metrics = '$1'" -c 'SELECT pg_reload_conf()' >/dev/null
	sleep 1
}
# CPU seconds used so far by the server: the postmaster, its live children
# and the children it reaped (backends of finished pgbench runs)
cpu_seconds() {
	/usr/bin/python3 - "$(head -1 "$DATA/postmaster.pid")" <<'PY'
import os, sys
pm = int(sys.argv[1])
tck = os.sysconf("SC_CLK_TCK")
def stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()
total = 0
s = stat(pm)
total += sum(int(x) for x in s[11:15])       # utime stime cutime cstime
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            s = stat(int(p))
        except OSError:
            continue
        if int(s[1]) == pm:
            total += int(s[11]) + int(s[12])
print(total / tck)
PY
}
# prints "tps cpu_us_per_transaction"
run_pgbench() {
	local c0 c1 out tps
	c0=$(cpu_seconds)
	out=$("${AS[@]}" "$PGBIN/pgbench" -n -S -c 2 -j 2 -T "$DURATION" -h "$WORK" -p "$PORT" postgres 2>/dev/null)
	c1=$(cpu_seconds)
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	txns=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
	echo "$tps $(calc "($c1 - $c0) * 1000000 / $txns")"
}
log "warm-up"
DURATION_SAVE=$DURATION
DURATION=5 run_pgbench >/dev/null
DURATION=$DURATION_SAVE
ON=()
OFF=()
ON_CPU=()
OFF_CPU=()
for r in $(seq "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then order="off on"; else order="on off"; fi
	for cfg in $order; do
		if [ "$cfg" = on ]; then set_builtin all; else set_builtin none; fi
		read -r tps cpu < <(run_pgbench)
		log "round $r: metrics $cfg: $tps tps, $(printf '%.2f' "$cpu") us CPU/transaction"
		if [ "$cfg" = on ]; then ON+=("$tps"); ON_CPU+=("$cpu"); else OFF+=("$tps"); OFF_CPU+=("$cpu"); fi
	done
done
on_med=$(printf '%s\n' "${ON[@]}" | median)
off_med=$(printf '%s\n' "${OFF[@]}" | median)
ratio=$(calc "$on_med / $off_med")
on_cpu=$(printf '%s\n' "${ON_CPU[@]}" | median)
off_cpu=$(printf '%s\n' "${OFF_CPU[@]}" | median)
cpu_ratio=$(calc "$on_cpu / $off_cpu")
series=$(psql_ -c "SELECT count(*) FROM otel_aliyun.metrics WHERE name = 'postgresql_query_duration_seconds'")
recorded=$(psql_ -c "SELECT sum(count) FROM otel_aliyun.metrics WHERE name = 'postgresql_query_duration_seconds'")
{
	echo
	echo "== pgbench -S, scale 10, 2 clients, $ROUNDS rounds x ${DURATION}s, medians (sample_rate 0)"
	printf '%-28s %12s %14s   %s\n' configuration tps 'CPU us/txn' 'runs (tps)'
	printf '%-28s %12.1f %14.2f   %s\n' "builtin_metrics = none" "$off_med" "$off_cpu" "${OFF[*]}"
	printf '%-28s %12.1f %14.2f   %s\n' "builtin_metrics = all" "$on_med" "$on_cpu" "${ON[*]}"
	printf 'TPS ratio on/off: %.4f (target >= 0.99): %s\n' "$ratio" \
		"$(calc "($ratio >= 0.99) ? 1 : 0" | sed 's/^1$/met/;s/^0$/NOT met/')"
	printf 'server CPU per transaction ratio on/off: %.4f\n' "$cpu_ratio"
	echo "statements recorded by the query histogram: $recorded in $series series"
} | tee -a "$OUT"

# ---- 3. where the time goes (perf, when installed) ----
# TPS on a shared 2-core machine moves by more than the effect measured;
# a profile of the backends says directly what share of their CPU time the
# extension's code (and the vDSO clock it reads) takes, on and off.
if command -v perf >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
	profile_share() {
		local data=$WORK/perf-$1.data pids
		"${AS[@]}" "$PGBIN/pgbench" -n -S -c 2 -j 2 -T $((DURATION + 4)) -h "$WORK" -p "$PORT" postgres >/dev/null 2>&1 &
		local bench=$!
		sleep 2
		pids=$(pgrep -d, -P "$(head -1 "$DATA/postmaster.pid")" -f 'postgres: .*postgres.*\[local\]' || true)
		if [ -n "$pids" ]; then
			perf record -q -F 999 -p "$pids" -o "$data" -- sleep "$DURATION" >/dev/null 2>&1 || true
		fi
		wait "$bench" || true
		perf report -i "$data" --no-children --sort dso --stdio -g none 2>/dev/null |
			awk '/otel_aliyun\.so|\[vdso\]/ {gsub("%", "", $1); s += $1} END {printf "%.2f\n", s}'
	}
	ON_P=()
	OFF_P=()
	for r in 1 2 3; do
		set_builtin none
		OFF_P+=("$(profile_share off$r)")
		set_builtin all
		ON_P+=("$(profile_share on$r)")
	done
	on_p=$(printf '%s\n' "${ON_P[@]}" | median)
	off_p=$(printf '%s\n' "${OFF_P[@]}" | median)
	{
		echo
		echo "== perf: share of the backends' CPU time in otel_aliyun.so + [vdso] (clock), 3 runs each, median"
		printf 'builtin_metrics = none: %s%%  (%s)\n' "$off_p" "${OFF_P[*]}"
		printf 'builtin_metrics = all:  %s%%  (%s)\n' "$on_p" "${ON_P[*]}"
		printf 'cost of the built-in metrics: %.2f%% of backend CPU (target < 1%%)\n' \
			"$(calc "$on_p - $off_p")"
	} | tee -a "$OUT"
fi
log "results in $OUT"
