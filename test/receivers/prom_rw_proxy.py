#!/usr/bin/python3
"""Prometheus remote-write proxy for otel_aliyun's tests.

Sits between the extension and a real Prometheus started with
--web.enable-remote-write-receiver: every POST is recorded (headers, body
hash, and the WriteRequest decoded independently of the extension: Debian's
python3-snappy and classes protoc generates from proto/prometheus via
otlp_proto.py), then either answered with an injected failure or forwarded
to Prometheus, whose answer is passed back unchanged.

Control API (JSON):
  GET  /_health                 {"ok": true}
  GET  /_requests               one entry per write request, in order:
                                {index, path, headers, sha256, body_len,
                                 status_returned, forwarded, upstream_status,
                                 upstream_body, decode_error, series:
                                 [{labels: {...}, samples: [[ts_ms, value]]}]}
  POST /_mode {"status": 503, "count": 2, "retry_after": "1", "body": "..."}
                                the next `count` writes (all when absent) get
                                that status without reaching Prometheus
  POST /_reset                  forget the requests, back to forwarding

Run with /usr/bin/python3.
"""

import argparse
import hashlib
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import snappy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import otlp_proto  # noqa: E402


class State:
    def __init__(self, upstream):
        self.lock = threading.Lock()
        self.upstream = upstream.rstrip("/")
        self.pb = otlp_proto.load()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.mode = None
            self.mode_left = 0

    def take_mode(self):
        with self.lock:
            if self.mode is None:
                return None
            m = self.mode
            if self.mode_left > 0:
                self.mode_left -= 1
                if self.mode_left == 0:
                    self.mode = None
            return m


def decode(pb, body, encoding):
    """(series list, error) of a remote write body."""
    try:
        raw = snappy.uncompress(body) if encoding == "snappy" else body
    except Exception as e:  # noqa: BLE001  (any codec failure is a finding)
        return None, "bad snappy body: %r" % (e,)
    try:
        req = pb.remote_pb2.WriteRequest.FromString(raw)
    except Exception as e:  # noqa: BLE001
        return None, "undecodable WriteRequest: %r" % (e,)
    series = []
    for ts in req.timeseries:
        names = [lb.name for lb in ts.labels]
        series.append({
            "labels": {lb.name: lb.value for lb in ts.labels},
            "label_order": names,
            "samples": [[int(s.timestamp), s.value] for s in ts.samples],
        })
    meta = [{"type": int(m.type), "family": m.metric_family_name, "help": m.help,
             "unit": m.unit} for m in req.metadata]
    return {"series": series, "metadata": meta}, None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s proxy: %s\n" % (time.strftime("%H:%M:%S"), fmt % args))

    def _send(self, status, body=b"", ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, obj, status=200):
        self._send(status, json.dumps(obj).encode())

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        st = self.server.state
        if self.path == "/_health":
            return self._json({"ok": True})
        if self.path == "/_requests":
            with st.lock:
                return self._json(list(st.requests))
        return self._json({"error": "not found"}, 404)

    def do_POST(self):
        st = self.server.state
        if self.path == "/_reset":
            self._body()
            st.reset()
            return self._json({"ok": True})
        if self.path == "/_mode":
            m = json.loads(self._body() or b"{}")
            with st.lock:
                st.mode = m
                st.mode_left = int(m.get("count", -1))
                if st.mode_left <= 0:
                    st.mode_left = 0
            return self._json({"ok": True})

        body = self._body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        decoded, err = decode(st.pb, body, headers.get("content-encoding", ""))
        entry = {
            "path": self.path, "headers": headers, "time": time.time(),
            "sha256": hashlib.sha256(body).hexdigest(), "body_len": len(body),
            "decode_error": err, "forwarded": False, "upstream_status": None,
            "upstream_body": None,
            "series": decoded["series"] if decoded else [],
            "metadata": decoded["metadata"] if decoded else [],
        }
        mode = st.take_mode()
        if mode is not None:
            status = int(mode.get("status", 503))
            entry["status_returned"] = status
            with st.lock:
                entry["index"] = len(st.requests)
                st.requests.append(entry)
            extra = {}
            if mode.get("retry_after") is not None:
                extra["Retry-After"] = str(mode["retry_after"])
            return self._send(status, (mode.get("body") or "injected %d" % status).encode(),
                              "text/plain", extra)

        # forward to Prometheus with the headers that matter
        fwd = urllib.request.Request(st.upstream + self.path, data=body, method="POST")
        for h in ("Content-Type", "Content-Encoding", "X-Prometheus-Remote-Write-Version",
                  "User-Agent"):
            if self.headers.get(h) is not None:
                fwd.add_header(h, self.headers.get(h))
        try:
            with urllib.request.urlopen(fwd, timeout=30) as r:
                status, rbody = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, rbody = e.code, e.read()
        except OSError as e:
            status, rbody = 502, ("upstream: %s" % e).encode()
        entry.update({"forwarded": True, "upstream_status": status,
                      "upstream_body": rbody[:500].decode("utf-8", "replace"),
                      "status_returned": status})
        with st.lock:
            entry["index"] = len(st.requests)
            st.requests.append(entry)
        return self._send(status, rbody, "text/plain")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of Prometheus")
    args = ap.parse_args()
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args.upstream)
    sys.stderr.write("proxy: listening on 127.0.0.1:%d -> %s\n" % (args.port, args.upstream))
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
