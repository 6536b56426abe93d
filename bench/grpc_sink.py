#!/usr/bin/python3
"""Benchmark sink for OTLP/gRPC: a gRPC server (python3-grpcio) serving the
three OTLP collector Export methods, counting calls and bytes and answering
an empty Export*ServiceResponse (zero bytes of protobuf) without decoding
anything, so that it costs the benchmark machine as little CPU as possible.

  --port-file F   writes the port once listening
  SIGUSR1         prints {"calls": n, "bytes": n} on stderr
"""

import argparse
import json
import os
import signal
import sys
import threading
from concurrent import futures

import grpc

SERVICES = ("opentelemetry.proto.collector.trace.v1.TraceService",
            "opentelemetry.proto.collector.logs.v1.LogsService",
            "opentelemetry.proto.collector.metrics.v1.MetricsService")

lock = threading.Lock()
counts = {"calls": 0, "bytes": 0}


def export(raw, context):
    with lock:
        counts["calls"] += 1
        counts["bytes"] += len(raw)
    return b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args()

    handler = grpc.unary_unary_rpc_method_handler(
        export, request_deserializer=lambda b: b, response_serializer=lambda b: b)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=args.workers),
        handlers=[grpc.method_handlers_generic_handler(s, {"Export": handler})
                  for s in SERVICES],
        options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)])
    port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    server.start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stderr.write("grpc sink listening on 127.0.0.1:%d\n" % port)
    sys.stderr.flush()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    signal.signal(signal.SIGUSR1, lambda *a: sys.stderr.write(json.dumps(counts) + "\n"))
    while not stop.wait(0.5):
        pass
    server.stop(0).wait(5)


if __name__ == "__main__":
    main()
