#!/usr/bin/env bash
# Every test of otel_aliyun, from a fresh clone: installs the Debian packages,
# builds with zero compiler warnings, installs the extension, then runs the
# pg_regress suite (sql/, expected/, temporary instance configured by
# test/regress.conf) and the TAP suite (test/t/*.pl, receivers on loopback).
#
# The tree is copied to a scratch directory and built and tested there, so
# the checkout is left as it was.  initdb refuses to run as root: when run as
# root, the scratch copy belongs to the "postgres" user and the build and the
# tests run as that user (installation as root).
#
# Environment: PG_CONFIG (default: PostgreSQL 15's), KEEP=1 keeps the scratch
# directory, PROVE_TESTS="test/t/003_sampling.pl ..." runs only those TAP
# tests, SKIP_REGRESS=1 / SKIP_TAP=1 skip a suite.
# Exit status: 0 only when the build is clean and every test passed.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$SRC"
T0=$(date +%s)
exec </dev/null

step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - T0)); }

step "dependencies"
bash test/install-deps.sh

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
echo "using $("$PG_CONFIG" --version) ($PG_CONFIG)"

AS=()
if [ "$(id -u)" -eq 0 ]; then
	id postgres >/dev/null 2>&1 || { echo "run-all: user postgres missing" >&2; exit 1; }
	AS=(runuser -u postgres --)
fi
# sudo only for installing, and only when we are not root
SUDO=()
if [ "$(id -u)" -ne 0 ] && [ ! -w "$("$PG_CONFIG" --pkglibdir)" ]; then SUDO=(sudo); fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/otel_aliyun_test.XXXXXX")
cleanup() {
	local rc=$?
	if [ "$rc" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$WORK"
	else
		echo "run-all: scratch directory kept: $WORK"
	fi
}
trap cleanup EXIT

step "copy tree to $WORK/src"
mkdir -p "$WORK/src"
tar -C "$SRC" -cf - \
	--exclude=./.git --exclude=./gen --exclude=./tmp_check \
	--exclude=./tmp_check_regress --exclude=./results --exclude=./log \
	--exclude=./regression.diffs --exclude=./regression.out \
	--exclude=./demo_out --exclude=./bench/out \
	--exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude=__pycache__ . |
	tar -C "$WORK/src" -xf -
if [ ${#AS[@]} -gt 0 ]; then chown -R postgres: "$WORK"; fi
B="$WORK/src"
MAKE=(make -C "$B" PG_CONFIG="$PG_CONFIG" --no-print-directory)
# protoc-generated Python classes of the receivers are cached here
export OTEL_PROTO_CACHE="$WORK/cache"

step "build (warnings are errors)"
set +e
"${AS[@]}" "${MAKE[@]}" -j"$(nproc)" COPT="-Werror" >"$WORK/build.log" 2>&1
rc=$?
set -e
cat "$WORK/build.log"
if [ $rc -ne 0 ]; then
	echo "run-all: BUILD FAILED"
	exit 1
fi
if grep -E -q '(warning|error):' "$WORK/build.log"; then
	echo "run-all: the build printed warnings:"
	grep -E '(warning|error):' "$WORK/build.log"
	exit 1
fi

step "install"
"${SUDO[@]}" "${MAKE[@]}" install

regress_rc=0
tap_rc=0

if [ "${SKIP_REGRESS:-0}" != 1 ]; then
	step "pg_regress"
	set +e
	"${AS[@]}" env OTEL_PROTO_CACHE="$OTEL_PROTO_CACHE" \
		"${MAKE[@]}" installcheck TAP_TESTS= 2>&1 | tee "$WORK/regress.log"
	regress_rc=${PIPESTATUS[0]}
	set -e
	if [ "$regress_rc" -ne 0 ]; then
		echo "run-all: pg_regress FAILED"
		for f in "$B/regression.diffs" "$B"/log/postmaster.log; do
			[ -f "$f" ] || continue
			echo "----- $f"
			cat "$f"
		done
	fi
fi

if [ "${SKIP_TAP:-0}" != 1 ]; then
	step "TAP tests"
	prove_tests=()
	if [ -n "${PROVE_TESTS:-}" ]; then prove_tests=(PROVE_TESTS="$PROVE_TESTS"); fi
	set +e
	"${AS[@]}" env OTEL_PROTO_CACHE="$OTEL_PROTO_CACHE" PG_TEST_EXTRA="${PG_TEST_EXTRA:-}" \
		"${MAKE[@]}" installcheck REGRESS= PROVE_FLAGS="-I $B/test --timer" \
		"${prove_tests[@]}" 2>&1 | tee "$WORK/tap.log"
	tap_rc=${PIPESTATUS[0]}
	set -e
	if [ "$tap_rc" -ne 0 ]; then
		echo "run-all: TAP tests FAILED; logs of the failing tests follow"
		shopt -s nullglob
		for rl in "$B"/tmp_check/log/regress_log_*; do
			t=${rl##*/regress_log_}
			# a test failed if its log says so, or prove reported it
			if grep -q -E '^(not ok|Bail out)|Dubious' "$rl" ||
				grep -q -E "^test/t/$t\.pl .*(Failed|Dubious|aborted|Bail)" "$WORK/tap.log" ||
				grep -q -E "^test/t/$t\.pl +\(Wstat" "$WORK/tap.log"; then
				for f in "$rl" "$B"/tmp_check/log/"${t}"_*.log; do
					[ -f "$f" ] || continue
					echo "----- $f (last 400 lines)"
					tail -n 400 "$f"
				done
			fi
		done
	fi
fi

step "summary"
if [ "${SKIP_REGRESS:-0}" != 1 ]; then
	if [ "$regress_rc" -eq 0 ]; then echo "pg_regress: ok"; else echo "pg_regress: FAILED"; fi
fi
if [ "${SKIP_TAP:-0}" != 1 ]; then
	grep -E '^(All tests successful|Files=|Result:|Failed [0-9]+/)' "$WORK/tap.log" || true
	if [ "$tap_rc" -eq 0 ]; then echo "TAP: ok"; else echo "TAP: FAILED"; fi
fi
echo "elapsed: $(($(date +%s) - T0)) s"
[ "$regress_rc" -eq 0 ] && [ "$tap_rc" -eq 0 ]
