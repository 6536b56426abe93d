#!/usr/bin/python3
"""Benchmark sink: an OTLP/HTTP endpoint that reads each request, counts it
and answers 200 with an empty Export*ServiceResponse, decoding nothing, so
that it costs the 2-core benchmark machine as little CPU as possible.
Keep-alive (HTTP/1.1), so libcurl reuses its connection.

  GET /_stats  -> {"requests": n, "bytes": n, "pid": n}
  POST /_reset -> zero the counters
"""

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
counts = {"requests": 0, "bytes": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _answer(self, body, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        with lock:
            body = json.dumps(dict(counts, pid=os.getpid())).encode()
        self._answer(body, "application/json")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        remaining = n
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        if self.path == "/_reset":
            with lock:
                counts["requests"] = counts["bytes"] = 0
            return self._answer(b"{}", "application/json")
        with lock:
            counts["requests"] += 1
            counts["bytes"] += n
        # an empty ExportTraceServiceResponse is zero bytes of protobuf
        self._answer(b"", "application/x-protobuf")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    sys.stderr.write("sink listening on 127.0.0.1:%d\n" % port)
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
