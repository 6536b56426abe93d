#!/usr/bin/python3
"""OTLP/gRPC test receiver for otel_aliyun.

A real gRPC server (Debian's python3-grpcio, grpc core underneath) serving
the three OTLP collector services on loopback:

  /opentelemetry.proto.collector.trace.v1.TraceService/Export
  /opentelemetry.proto.collector.logs.v1.LogsService/Export
  /opentelemetry.proto.collector.metrics.v1.MetricsService/Export

Requests are decoded with the classes protoc generates from proto/
(test/receivers/otlp_proto.py) and turned into the same JSON-able records
as the OTLP/HTTP receiver (otlp_http_receiver.py); nothing here shares code
with the extension's C encoder or its gRPC client.  There are no
grpcio-tools stubs: the services are registered as generic handlers whose
(de)serializers are the generated message classes.

A small HTTP control port (same conventions as otlp_http_receiver.py):

  GET  /_health                      {"ok": true, "port": <grpc port>, ...}
  GET  /_received?kind=spans|logs|metrics[&traceId=..][&name=..]
  GET  /_requests                    one entry per export call: method,
                                     kind, metadata, peer, deadline left,
                                     message size, status returned
  POST /_mode  {"code": "UNAVAILABLE", "message": "text", "count": 3,
                "delay_ms": 0, "retry_delay_ms": 1500,
                "partial_rejected": 0, "partial_message": "",
                "compress_response": false}
               the next `count` export calls (all of them when count is
               absent or not positive) are answered that way, then OK
               again; with "match": "text", only calls carrying an item
               (span, log record, metric) whose name, body or a string
               attribute contains text are affected and counted.  code: a gRPC status name or number (0/OK accepts);
               delay_ms: stall that long first (until the client gives up);
               retry_delay_ms: add a google.rpc.RetryInfo with that delay
               to grpc-status-details-bin; compress_response: gzip the
               answer.
  POST /_reset                       forget everything, back to OK

Run with /usr/bin/python3 (Debian's python3-grpcio and python3-protobuf).
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from google.protobuf import (any_pb2, descriptor_pb2, descriptor_pool,  # noqa: E402
                             duration_pb2, message_factory)
from google.protobuf.message import DecodeError  # noqa: E402

import otlp_http_receiver as http_rx  # noqa: E402  (decoders, class loader)

SERVICES = {
    # kind: (service, request class, response class, list name, partial field)
    "traces": ("opentelemetry.proto.collector.trace.v1.TraceService",
               "trace_service_pb2.ExportTraceServiceRequest",
               "trace_service_pb2.ExportTraceServiceResponse", "spans",
               "rejected_spans"),
    "logs": ("opentelemetry.proto.collector.logs.v1.LogsService",
             "logs_service_pb2.ExportLogsServiceRequest",
             "logs_service_pb2.ExportLogsServiceResponse", "logs",
             "rejected_log_records"),
    "metrics": ("opentelemetry.proto.collector.metrics.v1.MetricsService",
                "metrics_service_pb2.ExportMetricsServiceRequest",
                "metrics_service_pb2.ExportMetricsServiceResponse", "metrics",
                "rejected_data_points"),
}


# ---- google.rpc.Status and google.rpc.RetryInfo ------------------------------
#
# Debian has no python package with the googleapis protos and no .proto files
# of the well-known types, so the two messages are described here with the
# field numbers of google/rpc/status.proto and google/rpc/error_details.proto
# on top of python-protobuf's own google.protobuf.Any and Duration.

def _rpc_classes():
    F = descriptor_pb2.FieldDescriptorProto
    pool = descriptor_pool.DescriptorPool()
    for mod in (any_pb2, duration_pb2):
        fp = descriptor_pb2.FileDescriptorProto()
        mod.DESCRIPTOR.CopyToProto(fp)
        pool.Add(fp)
    fdp = descriptor_pb2.FileDescriptorProto(
        name="otel_test/google/rpc/status_retry.proto", package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto", "google/protobuf/duration.proto"])
    st = fdp.message_type.add(name="Status")
    st.field.add(name="code", number=1, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    st.field.add(name="message", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    st.field.add(name="details", number=3, type=F.TYPE_MESSAGE,
                 label=F.LABEL_REPEATED, type_name=".google.protobuf.Any")
    ri = fdp.message_type.add(name="RetryInfo")
    ri.field.add(name="retry_delay", number=1, type=F.TYPE_MESSAGE,
                 label=F.LABEL_OPTIONAL, type_name=".google.protobuf.Duration")
    pool.Add(fdp)
    factory = message_factory.MessageFactory(pool)
    get = getattr(factory, "GetPrototype", None)
    if get is None:  # newer python-protobuf
        get = message_factory.GetMessageClass
        return (get(pool.FindMessageTypeByName("google.rpc.Status")),
                get(pool.FindMessageTypeByName("google.rpc.RetryInfo")),
                get(pool.FindMessageTypeByName("google.protobuf.Any")))
    return (get(pool.FindMessageTypeByName("google.rpc.Status")),
            get(pool.FindMessageTypeByName("google.rpc.RetryInfo")),
            get(pool.FindMessageTypeByName("google.protobuf.Any")))


RpcStatus, RetryInfo, RpcAny = _rpc_classes()


def status_details(code, message, retry_delay_ms):
    """Serialized google.rpc.Status carrying a RetryInfo."""
    ri = RetryInfo()
    ri.retry_delay.seconds = int(retry_delay_ms) // 1000
    ri.retry_delay.nanos = (int(retry_delay_ms) % 1000) * 1000000
    a = RpcAny()
    a.type_url = "type.googleapis.com/google.rpc.RetryInfo"
    a.value = ri.SerializeToString()
    st = RpcStatus(code=code, message=message)
    st.details.append(a)
    return st.SerializeToString()


def status_code(v):
    """grpc.StatusCode from a name or a number."""
    if isinstance(v, str) and not v.isdigit():
        return grpc.StatusCode[v.upper()]
    n = int(v)
    for c in grpc.StatusCode:
        if c.value[0] == n:
            return c
    raise ValueError("unknown gRPC status %r" % v)


# ---- state ------------------------------------------------------------------

class State:
    def __init__(self, out_dir):
        self.lock = threading.Lock()
        self.out_dir = out_dir
        self.reset()

    def reset(self):
        with self.lock:
            self.items = {"spans": [], "logs": [], "metrics": []}
            self.requests = []
            self.mode = None
            self.mode_left = 0

    def set_mode(self, m):
        code = status_code(m.get("code", 0))
        count = int(m.get("count", -1))
        m = dict(m, code=code.value[0], code_name=code.name)
        with self.lock:
            if (code == grpc.StatusCode.OK and not m.get("delay_ms")
                    and not m.get("partial_rejected")
                    and not m.get("compress_response")):
                self.mode = None
            else:
                self.mode = m
            self.mode_left = count if count > 0 else 0

    def take_mode(self, items):
        with self.lock:
            if self.mode is None:
                return None
            m = self.mode
            if m.get("match") and not any(m["match"] in item_text(i) for i in items):
                return None
            if self.mode_left > 0:
                self.mode_left -= 1
                if self.mode_left == 0:
                    self.mode = None
            return m

    def add_request(self, entry):
        with self.lock:
            entry["index"] = len(self.requests)
            self.requests.append(entry)
            return entry["index"]

    def finish_request(self, entry):
        with self.lock:
            if self.out_dir:
                with open(os.path.join(self.out_dir, "requests.jsonl"), "a") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")

    def append(self, list_name, items, req_index):
        with self.lock:
            for it in items:
                it["request"] = req_index
            self.items[list_name].extend(items)
            if self.out_dir:
                with open(os.path.join(self.out_dir, list_name + ".jsonl"), "a") as f:
                    for it in items:
                        f.write(json.dumps(it, sort_keys=True) + "\n")


def item_text(item):
    """What "match" of /_mode looks in: names, bodies, string attributes."""
    parts = [item.get("name") or ""]
    if isinstance(item.get("body"), str):
        parts.append(item["body"])
    for v in (item.get("attributes") or {}).values():
        if isinstance(v, str):
            parts.append(v)
    return "\n".join(parts)


def log(msg):
    sys.stderr.write("%s grpc receiver: %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


# ---- the gRPC services --------------------------------------------------------

def make_handler(state, kind, quiet):
    service, req_name, resp_name, list_name, partial_field = SERVICES[kind]
    req_cls = http_rx.message_class(req_name)
    resp_cls = http_rx.message_class(resp_name)
    method = "/%s/Export" % service

    def export(raw, context):
        t0 = time.time()
        md = {}
        for k, v in context.invocation_metadata():
            md[k] = v.hex() if isinstance(v, bytes) else v
        entry = {"method": method, "kind": kind, "metadata": md,
                 "peer": context.peer(), "time": t0,
                 "deadline_left_ms": (None if context.time_remaining() is None
                                      else round(context.time_remaining() * 1000)),
                 "message_len": len(raw), "items": 0, "decode_error": None,
                 "status_returned": None, "cancelled": False}
        idx = state.add_request(entry)
        try:
            try:
                msg = req_cls.FromString(raw)
                items = http_rx.DECODERS[kind](msg)
            except (DecodeError, ValueError) as e:
                entry["decode_error"] = "undecodable %s request: %s" % (kind, e)
                entry["status_returned"] = "INVALID_ARGUMENT"
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, entry["decode_error"])
            entry["items"] = len(items)

            mode = state.take_mode(items)
            if mode and mode.get("delay_ms"):
                until = t0 + float(mode["delay_ms"]) / 1000.0
                while time.time() < until and context.is_active():
                    time.sleep(0.01)
                if not context.is_active():
                    entry["cancelled"] = True
                    entry["status_returned"] = "CANCELLED_BY_CLIENT"
                    entry["elapsed_ms"] = round((time.time() - t0) * 1000)
                    return resp_cls()

            code = mode.get("code", 0) if mode else 0
            if code != 0:
                c = status_code(code)
                text = mode.get("message") or ("%s from test receiver" % c.name)
                if mode.get("retry_delay_ms") is not None:
                    context.set_trailing_metadata((
                        ("grpc-status-details-bin",
                         status_details(c.value[0], text, mode["retry_delay_ms"])),))
                entry["status_returned"] = c.name
                context.abort(c, text)

            state.append(list_name, items, idx)
            resp = resp_cls()
            if mode and mode.get("partial_rejected"):
                setattr(resp.partial_success, partial_field, int(mode["partial_rejected"]))
                resp.partial_success.error_message = mode.get("partial_message", "")
            if mode and mode.get("compress_response"):
                context.set_compression(grpc.Compression.Gzip)
            entry["status_returned"] = "OK"
            return resp
        finally:
            entry.setdefault("elapsed_ms", round((time.time() - t0) * 1000))
            state.finish_request(entry)
            if not quiet:
                log("%s from %s: %s, %d items, %d bytes" % (
                    method, entry["peer"], entry["status_returned"],
                    entry["items"], entry["message_len"]))

    # the message arrives as bytes (decompressed by grpc); it is decoded in
    # the handler so that an undecodable one is recorded, not just refused
    return grpc.unary_unary_rpc_method_handler(
        export, request_deserializer=lambda b: b,
        response_serializer=resp_cls.SerializeToString)


# ---- control port -------------------------------------------------------------

class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _json(self, obj, status=200):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        st = self.server.state
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/_health":
            return self._json({"ok": True, "port": self.server.grpc_port,
                               "control_port": self.server.server_address[1],
                               "tls": self.server.tls})
        if u.path == "/_requests":
            with st.lock:
                return self._json([dict(r) for r in st.requests])
        if u.path == "/_received":
            kind = q.get("kind", ["spans"])[0]
            with st.lock:
                if kind not in st.items:
                    return self._json({"error": "unknown kind"}, 400)
                items = list(st.items[kind])
            for key in ("traceId", "name"):
                if key in q:
                    items = [i for i in items if i.get(key) == q[key][0]]
            return self._json(items)
        return self._json({"error": "not found"}, 404)

    def do_POST(self):
        st = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        raw = self._body()
        if path == "/_reset":
            st.reset()
            return self._json({"ok": True})
        if path == "/_mode":
            try:
                st.set_mode(json.loads(raw or b"{}"))
            except (ValueError, KeyError, TypeError) as e:
                return self._json({"error": str(e)}, 400)
            return self._json({"ok": True})
        return self._json({"error": "not found"}, 404)


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4317, help="gRPC port; 0 picks one")
    ap.add_argument("--control-port", type=int, default=0, help="HTTP control port; 0 picks one")
    ap.add_argument("--port-file", help="write '<grpc port> <control port>' here once listening")
    ap.add_argument("--out-dir", help="append spans/logs/metrics/requests .jsonl here")
    ap.add_argument("--tls-cert", help="serve TLS (ALPN h2) with this certificate (PEM)")
    ap.add_argument("--tls-key", help="private key of --tls-cert (PEM)")
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--quiet", action="store_true", help="no per-call log lines")
    args = ap.parse_args()

    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
    state = State(args.out_dir)

    # compile and import the classes before accepting anything
    handlers = [grpc.method_handlers_generic_handler(
        SERVICES[kind][0], {"Export": make_handler(state, kind, args.quiet)})
        for kind in SERVICES]

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers),
                         handlers=handlers,
                         options=[("grpc.so_reuseport", 0)])
    addr = "%s:%d" % (args.host, args.port)
    if args.tls_cert:
        with open(args.tls_key, "rb") as f:
            key = f.read()
        with open(args.tls_cert, "rb") as f:
            cert = f.read()
        port = server.add_secure_port(addr, grpc.ssl_server_credentials([(key, cert)]))
    else:
        port = server.add_insecure_port(addr)
    if port == 0:
        raise SystemExit("could not listen on %s" % addr)
    server.start()

    ctl = ControlServer((args.host, args.control_port), Control)
    ctl.state = state
    ctl.grpc_port = port
    ctl.tls = bool(args.tls_cert)
    threading.Thread(target=ctl.serve_forever, kwargs={"poll_interval": 0.2},
                     daemon=True).start()

    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (port, ctl.server_address[1]))
        os.rename(tmp, args.port_file)
    log("gRPC on %s:%d%s, control on port %d" % (
        args.host, port, " (TLS)" if args.tls_cert else "", ctl.server_address[1]))

    stop = threading.Event()
    import signal
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.5):
        pass
    ctl.shutdown()
    server.stop(0).wait(5)


if __name__ == "__main__":
    main()
