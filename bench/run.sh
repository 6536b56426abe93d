#!/usr/bin/env bash
# otel_aliyun overhead benchmark: pgbench -S (scale 10, 2 clients) against one
# throwaway cluster with the extension absent and loaded at sample rates 0,
# 0.1 and 1 (exporting, default settings, to a local sink), runs interleaved
# over several rounds, medians of TPS and of the server's CPU time per
# transaction, as ratios to the run without the extension.
#
#   bench/run.sh [--rounds 5] [--duration 20] [--configs none,0,0.1,1]
#                [--protocol simple|extended|prepared] [--tcp] [--keep]
#   bench/run.sh --pool bench/results/*.json
#       runs nothing: pools the paired ratios of earlier runs' results and
#       gives one verdict over all of them
#   bench/run.sh --callgrind 20000 [--configs ...]
#       instructions per transaction under valgrind instead of timings: slow,
#       but steady where the timings move with whatever else the machine runs;
#       --cache-sim adds simulated first-level cache misses per transaction
#
# Builds and installs the extension first (BUILD=0 skips that).  Runs as
# root (the cluster then belongs to the postgres user) or as any user who
# may install into PostgreSQL's directories.  Results: bench/out/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

. bench/prepare.sh
case " $* " in
*" --callgrind "*)
	command -v valgrind >/dev/null ||
		{ apt-get install -y -q valgrind >/dev/null || sudo apt-get install -y -q valgrind >/dev/null; } ;;
esac
exec /usr/bin/python3 bench/bench.py --pgbin "$("$PG_CONFIG" --bindir)" "$@"
