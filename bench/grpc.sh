#!/usr/bin/env bash
# OTLP/gRPC versus OTLP/HTTP protobuf: spans per second the export worker
# ships to local sinks (bench/sink.c, bench/grpc_sink.py) and its CPU time
# per 10k spans, measured by draining a ring filled while the worker was
# stopped (see bench/grpc_bench.py).
#
#   bench/grpc.sh [--rounds 3] [--transactions 25000] [--clients 2]
#                 [--compression gzip|none] [--batch N]
#                 [--protocols http/protobuf,grpc,http/json] [--keep]
#
# Builds and installs the extension first (BUILD=0 skips that).  Runs as
# root (the cluster then belongs to the postgres user) or as any user who
# may install into PostgreSQL's directories.  Results: bench/out/grpc-*.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

. bench/prepare.sh
exec /usr/bin/python3 bench/grpc_bench.py --pgbin "$("$PG_CONFIG" --bindir)" "$@"
