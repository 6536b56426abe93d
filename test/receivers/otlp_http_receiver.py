#!/usr/bin/python3
"""OTLP/HTTP test receiver for otel_aliyun.

Listens on loopback, accepts OTLP/HTTP exports (protobuf, or OTLP/JSON when
the request says application/json), decodes them with the classes protoc
generates from proto/ (test/receivers/otlp_proto.py), an implementation that
shares nothing with the extension's C encoder, and keeps what arrived:

  POST /v1/traces, /.../api/otlp/traces, /.../v1/traces   spans
  POST /v1/logs (and .../logs)                            log records
  POST /v1/metrics (and .../metrics)                      metric data points

Control API (JSON):
  GET  /_health                      {"ok": true, "port": N}
  GET  /_received?kind=spans|logs|metrics[&traceId=..][&name=..]
  GET  /_requests                    one entry per export request
  POST /_mode  {"status":503,"retry_after":"1","count":3,"delay_ms":0,
                "body":"text","partial_rejected":0,"partial_message":""}
               the next `count` export requests (all of them when count is
               absent or negative) are answered that way, then 200 again.
               status 0 closes the connection without an answer.
  POST /_reset                       forget everything, back to 200

Run with /usr/bin/python3 (Debian's python3-protobuf).
"""

import argparse
import gzip
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import otlp_proto  # noqa: E402  (generated classes, compiled on first use)

from google.protobuf import json_format  # noqa: E402
from google.protobuf.message import DecodeError  # noqa: E402

SIGNALS = {
    # kind: (request class, response class, item list name), classes in
    # the generated <module>_pb2 named first
    "traces": ("trace_service_pb2.ExportTraceServiceRequest",
               "trace_service_pb2.ExportTraceServiceResponse", "spans"),
    "logs": ("logs_service_pb2.ExportLogsServiceRequest",
             "logs_service_pb2.ExportLogsServiceResponse", "logs"),
    "metrics": ("metrics_service_pb2.ExportMetricsServiceRequest",
                "metrics_service_pb2.ExportMetricsServiceResponse", "metrics"),
}


def message_class(name):
    """A generated message class, from "module_pb2.Message"."""
    mod, cls = name.split(".")
    return getattr(getattr(otlp_proto.load(), mod), cls)

SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT",
              4: "PRODUCER", 5: "CONSUMER"}


def signal_for_path(path):
    """Which signal a POST path carries, or None."""
    p = path.rstrip("/")
    for kind in SIGNALS:
        if p.endswith("/" + kind):
            return kind
    return None


# ---- protobuf -> plain JSON-able values ------------------------------------

def any_value(v):
    """(python value, type name) of an AnyValue."""
    which = v.WhichOneof("value")
    if which is None:
        return None, "empty"
    if which == "string_value":
        return v.string_value, "string"
    if which == "int_value":
        return int(v.int_value), "int"
    if which == "double_value":
        return float(v.double_value), "double"
    if which == "bool_value":
        return bool(v.bool_value), "bool"
    if which == "bytes_value":
        return v.bytes_value.hex(), "bytes"
    if which == "array_value":
        return [any_value(x)[0] for x in v.array_value.values], "array"
    if which == "kvlist_value":
        return {kv.key: any_value(kv.value)[0] for kv in v.kvlist_value.values}, "kvlist"
    return None, which


def attributes(kvs):
    vals, types, dup = {}, {}, []
    for kv in kvs:
        if kv.key in vals:
            dup.append(kv.key)
        vals[kv.key], types[kv.key] = any_value(kv.value)
    return vals, types, dup


def scope_dict(scope):
    a, _, _ = attributes(scope.attributes)
    return {"name": scope.name, "version": scope.version, "attributes": a}


def resource_dict(res):
    a, t, dup = attributes(res.attributes)
    return a, t, dup


def decode_spans(req):
    out = []
    for rs in req.resource_spans:
        ra, rt, rdup = resource_dict(rs.resource)
        for ss in rs.scope_spans:
            scope = scope_dict(ss.scope)
            for s in ss.spans:
                a, t, dup = attributes(s.attributes)
                out.append({
                    "traceId": s.trace_id.hex(),
                    "spanId": s.span_id.hex(),
                    "parentSpanId": s.parent_span_id.hex(),
                    "traceIdLen": len(s.trace_id),
                    "spanIdLen": len(s.span_id),
                    "traceState": s.trace_state,
                    "name": s.name,
                    "kind": int(s.kind),
                    "kindName": SPAN_KINDS.get(int(s.kind), str(s.kind)),
                    "status": {"code": int(s.status.code),
                               "message": s.status.message},
                    "startTimeUnixNano": int(s.start_time_unix_nano),
                    "endTimeUnixNano": int(s.end_time_unix_nano),
                    "flags": int(s.flags),
                    "attributes": a,
                    "attributeTypes": t,
                    "duplicateAttributes": dup,
                    "droppedAttributesCount": int(s.dropped_attributes_count),
                    "events": len(s.events),
                    "links": len(s.links),
                    "resource": ra,
                    "resourceTypes": rt,
                    "resourceDuplicates": rdup,
                    "resourceSchemaUrl": rs.schema_url,
                    "scope": scope,
                    "scopeSchemaUrl": ss.schema_url,
                })
    return out


def decode_logs(req):
    out = []
    for rl in req.resource_logs:
        ra, rt, rdup = resource_dict(rl.resource)
        for sl in rl.scope_logs:
            scope = scope_dict(sl.scope)
            for r in sl.log_records:
                a, t, dup = attributes(r.attributes)
                body, body_type = any_value(r.body)
                out.append({
                    "timeUnixNano": int(r.time_unix_nano),
                    "observedTimeUnixNano": int(r.observed_time_unix_nano),
                    "severityNumber": int(r.severity_number),
                    "severityText": r.severity_text,
                    "body": body,
                    "bodyType": body_type,
                    "traceId": r.trace_id.hex(),
                    "spanId": r.span_id.hex(),
                    "flags": int(r.flags),
                    "attributes": a,
                    "attributeTypes": t,
                    "duplicateAttributes": dup,
                    "resource": ra,
                    "resourceTypes": rt,
                    "resourceDuplicates": rdup,
                    "scope": scope,
                })
    return out


def _points(metric):
    which = metric.WhichOneof("data")
    if which is None:
        return which, []
    data = getattr(metric, which)
    pts = []
    for p in data.data_points:
        a, t, _ = attributes(p.attributes)
        d = {"attributes": a, "attributeTypes": t,
             "timeUnixNano": int(p.time_unix_nano),
             "startTimeUnixNano": int(p.start_time_unix_nano)}
        if which in ("gauge", "sum"):
            v = p.WhichOneof("value")
            d["value"] = getattr(p, v) if v else None
            d["valueType"] = v
        else:
            d["count"] = int(p.count)
            if which == "summary" or p.HasField("sum"):
                d["sum"] = p.sum
            if which == "histogram":
                d["bucketCounts"] = [int(x) for x in p.bucket_counts]
                d["explicitBounds"] = list(p.explicit_bounds)
            if which == "summary":
                d["quantiles"] = {str(q.quantile): q.value for q in p.quantile_values}
        pts.append(d)
    extra = {}
    if which == "sum":
        extra = {"isMonotonic": bool(data.is_monotonic),
                 "aggregationTemporality": int(data.aggregation_temporality)}
    elif which in ("histogram", "exponential_histogram"):
        extra = {"aggregationTemporality": int(data.aggregation_temporality)}
    return which, [dict(p, **extra) for p in pts]


def decode_metrics(req):
    out = []
    for rm in req.resource_metrics:
        ra, rt, rdup = resource_dict(rm.resource)
        for sm in rm.scope_metrics:
            scope = scope_dict(sm.scope)
            for m in sm.metrics:
                which, pts = _points(m)
                for p in pts:
                    p.update({"name": m.name, "unit": m.unit,
                              "description": m.description, "type": which,
                              "resource": ra, "resourceTypes": rt,
                              "scope": scope})
                    out.append(p)
    return out


DECODERS = {"traces": decode_spans, "logs": decode_logs, "metrics": decode_metrics}


# ---- state ------------------------------------------------------------------

class State:
    def __init__(self, out_dir):
        self.lock = threading.Lock()
        self.out_dir = out_dir
        self.classes = {}
        self.reset()

    def reset(self):
        with self.lock:
            self.items = {"spans": [], "logs": [], "metrics": []}
            self.requests = []
            self.mode = None
            self.mode_left = 0

    def cls(self, name):
        c = self.classes.get(name)
        if c is None:
            c = message_class(name)
            self.classes[name] = c
        return c

    def take_mode(self):
        """The answer for the next export request: None means 200."""
        with self.lock:
            if self.mode is None:
                return None
            m = self.mode
            if self.mode_left > 0:
                self.mode_left -= 1
                if self.mode_left == 0:
                    self.mode = None
            return m

    def append(self, list_name, items, req_index):
        with self.lock:
            for it in items:
                it["request"] = req_index
            self.items[list_name].extend(items)
            if self.out_dir:
                with open(os.path.join(self.out_dir, list_name + ".jsonl"), "a") as f:
                    for it in items:
                        f.write(json.dumps(it, sort_keys=True) + "\n")

    def add_request(self, entry):
        with self.lock:
            entry["index"] = len(self.requests)
            self.requests.append(entry)
            if self.out_dir:
                with open(os.path.join(self.out_dir, "requests.jsonl"), "a") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
            return entry["index"]


# ---- HTTP --------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "otel-test-receiver/1.0"

    def log_message(self, fmt, *args):
        if not self.server.quiet:
            sys.stderr.write("%s receiver: %s\n" % (
                time.strftime("%H:%M:%S"), fmt % args))

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

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    # -- control --

    def do_GET(self):
        st = self.server.state
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/_health":
            return self._json({"ok": True, "port": self.server.server_address[1]})
        if u.path == "/_requests":
            with st.lock:
                return self._json(list(st.requests))
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
        if path == "/_reset":
            self._read_body()
            st.reset()
            return self._json({"ok": True})
        if path == "/_mode":
            try:
                m = json.loads(self._read_body() or b"{}")
                status = int(m.get("status", 200))
                count = int(m.get("count", -1))
            except (ValueError, TypeError) as e:
                return self._json({"error": str(e)}, 400)
            with st.lock:
                st.mode = m
                st.mode_left = count if count > 0 else 0
                if status == 200 and not m.get("delay_ms") and not m.get("partial_rejected"):
                    st.mode = None
            return self._json({"ok": True})
        return self._export(path)

    # -- exports --

    def _export(self, path):
        st = self.server.state
        t0 = time.time()
        raw = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        enc = (headers.get("content-encoding") or "").lower()
        ctype = (headers.get("content-type") or "").split(";")[0].strip().lower()
        entry = {"path": path, "headers": headers, "body_len": len(raw),
                 "content_encoding": enc, "content_type": ctype, "time": t0,
                 "items": 0, "decode_error": None, "kind": None}
        kind = signal_for_path(path)
        entry["kind"] = kind

        mode = st.take_mode()
        if mode and mode.get("delay_ms"):
            time.sleep(float(mode["delay_ms"]) / 1000.0)
        status = int(mode.get("status", 200)) if mode else 200

        if status == 0:
            entry["status_returned"] = 0
            st.add_request(entry)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return

        items = None
        if kind is None:
            status, err = 404, "unknown path"
        else:
            items, err = self._decode(kind, raw, enc, ctype)
            if err is not None:
                status = 400 if status < 300 else status
            entry["decode_error"] = err
            entry["items"] = len(items) if items is not None else 0

        entry["status_returned"] = status
        idx = st.add_request(entry)
        if entry["decode_error"] and st.out_dir:
            # keep what could not be decoded, for whoever debugs the encoder
            with open(os.path.join(st.out_dir, "undecodable-%d.bin" % idx), "wb") as f:
                f.write(raw)

        if 200 <= status < 300:
            req_name, resp_name, list_name = SIGNALS[kind]
            st.append(list_name, items, idx)
            resp = st.cls(resp_name)()
            if mode and mode.get("partial_rejected"):
                field = {"traces": "rejected_spans", "logs": "rejected_log_records",
                         "metrics": "rejected_data_points"}[kind]
                setattr(resp.partial_success, field, int(mode["partial_rejected"]))
                resp.partial_success.error_message = mode.get("partial_message", "")
            if ctype == "application/json":
                body = json_format.MessageToJson(resp).encode()
                rtype = "application/json"
            else:
                body = resp.SerializeToString()
                rtype = "application/x-protobuf"
            return self._send(status, body, rtype)

        extra = {}
        if mode and mode.get("retry_after") is not None:
            extra["Retry-After"] = str(mode["retry_after"])
        body = (mode.get("body") if mode and mode.get("body") is not None
                else (err or "error %d from test receiver" % status))
        return self._send(status, body.encode(), "text/plain", extra)

    def _decode(self, kind, raw, enc, ctype):
        try:
            if enc == "gzip":
                raw = gzip.decompress(raw)
            elif enc == "deflate":
                raw = zlib.decompress(raw)
            elif enc not in ("", "identity"):
                return None, "unsupported content-encoding %r" % enc
        except (OSError, EOFError, zlib.error) as e:
            return None, "bad %s body: %s" % (enc, e)
        req_name = SIGNALS[kind][0]
        msg = self.server.state.cls(req_name)()
        try:
            if ctype == "application/json":
                json_format.Parse(raw.decode("utf-8"), msg)
            else:
                msg.ParseFromString(raw)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError) as e:
            return None, "undecodable %s request: %s" % (kind, e)
        try:
            return DECODERS[kind](msg), None
        except Exception as e:  # a decoder bug must show, not kill the server
            return None, "decoder failure: %r" % (e,)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4318, help="0 picks a free port")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--out-dir", help="append spans/logs/metrics/requests .jsonl here")
    ap.add_argument("--quiet", action="store_true", help="no per-request log lines")
    args = ap.parse_args()

    # compile and import the classes before accepting anything
    for kind, (req, resp, _) in SIGNALS.items():
        message_class(req)
        message_class(resp)
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)

    srv = Server((args.host, args.port), Handler)
    srv.state = State(args.out_dir)
    srv.quiet = args.quiet
    port = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    sys.stderr.write("receiver: listening on %s:%d\n" % (args.host, port))
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
