"""Python decoders for the wire formats otel_aliyun sends.

The .proto files under proto/ are compiled with ``protoc --python_out`` into
a cache directory keyed by a hash of their contents, and the generated
modules are imported from there.  This gives the tests a decoder that shares
nothing with the C encoder but the .proto files.

Needs /usr/bin/python3 with Debian's python3-protobuf and the protoc binary.

    from otlp_proto import load
    pb = load()
    req = pb.trace_service_pb2.ExportTraceServiceRequest.FromString(body)

load() returns a namespace with the modules trace_service_pb2,
logs_service_pb2, metrics_service_pb2, trace_pb2, logs_pb2, metrics_pb2,
common_pb2, resource_pb2, remote_pb2, types_pb2 (Prometheus) and log_pb2
(SLS).  The helpers below decode request bodies and turn attribute lists
into plain Python values.
"""

import base64
import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import types

PROTO_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto"))

MODULES = {
    "common_pb2": "opentelemetry.proto.common.v1.common_pb2",
    "resource_pb2": "opentelemetry.proto.resource.v1.resource_pb2",
    "trace_pb2": "opentelemetry.proto.trace.v1.trace_pb2",
    "logs_pb2": "opentelemetry.proto.logs.v1.logs_pb2",
    "metrics_pb2": "opentelemetry.proto.metrics.v1.metrics_pb2",
    "trace_service_pb2": "opentelemetry.proto.collector.trace.v1.trace_service_pb2",
    "logs_service_pb2": "opentelemetry.proto.collector.logs.v1.logs_service_pb2",
    "metrics_service_pb2": "opentelemetry.proto.collector.metrics.v1.metrics_service_pb2",
    "types_pb2": "prometheus.types_pb2",
    "remote_pb2": "prometheus.remote_pb2",
    "log_pb2": "sls.log_pb2",
}

_lock = threading.Lock()
_loaded = {}


def _proto_files(proto_dir):
    files = []
    for root, _dirs, names in os.walk(proto_dir):
        for name in names:
            if name.endswith(".proto"):
                files.append(os.path.relpath(os.path.join(root, name), proto_dir))
    return sorted(files)


def _digest(proto_dir, files):
    h = hashlib.sha256()
    for rel in files:
        h.update(rel.encode())
        h.update(b"\0")
        with open(os.path.join(proto_dir, rel), "rb") as f:
            h.update(f.read())
        h.update(b"\0")
    return h.hexdigest()[:16]


def compile_protos(cache_dir=None, proto_dir=PROTO_DIR):
    """Compile proto_dir into cache_dir/<hash> (once) and return that path.

    cache_dir defaults to $OTEL_PROTO_CACHE, else $TMPDIR/otel_aliyun_proto.
    Concurrent callers are safe: the output is built in a scratch directory
    and renamed into place.
    """
    if cache_dir is None:
        cache_dir = os.environ.get("OTEL_PROTO_CACHE") or os.path.join(
            tempfile.gettempdir(), "otel_aliyun_proto")
    files = _proto_files(proto_dir)
    if not files:
        raise RuntimeError("no .proto files under %s" % proto_dir)
    out = os.path.join(cache_dir, _digest(proto_dir, files))
    if os.path.isfile(os.path.join(out, ".complete")):
        return out
    os.makedirs(cache_dir, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="build-", dir=cache_dir)
    try:
        res = subprocess.run(
            ["protoc", "--proto_path=" + proto_dir, "--python_out=" + scratch] + files,
            cwd=proto_dir, capture_output=True, text=True)
        if res.returncode != 0:
            raise RuntimeError("protoc failed:\n" + res.stderr)
        open(os.path.join(scratch, ".complete"), "w").close()
        try:
            os.rename(scratch, out)
        except OSError:
            # somebody else finished first
            if not os.path.isfile(os.path.join(out, ".complete")):
                raise
    finally:
        if os.path.isdir(scratch):
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def load(cache_dir=None, proto_dir=PROTO_DIR):
    """Compile (if needed) and import the generated modules; see module doc."""
    with _lock:
        out = compile_protos(cache_dir, proto_dir)
        if out in _loaded:
            return _loaded[out]
        if out not in sys.path:
            sys.path.insert(0, out)
        ns = types.SimpleNamespace()
        for short, full in MODULES.items():
            mod = importlib.import_module(full)
            if not os.path.abspath(mod.__file__).startswith(out + os.sep):
                raise RuntimeError("%s was imported from %s, not from %s"
                                   % (full, mod.__file__, out))
            setattr(ns, short, mod)
        ns.path = out
        _loaded[out] = ns
        return ns


# ---- decoding helpers ----

def decode_traces(body, pb=None):
    pb = pb or load()
    return pb.trace_service_pb2.ExportTraceServiceRequest.FromString(body)


def decode_logs(body, pb=None):
    pb = pb or load()
    return pb.logs_service_pb2.ExportLogsServiceRequest.FromString(body)


def decode_metrics(body, pb=None):
    pb = pb or load()
    return pb.metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)


def decode_prometheus(body, pb=None):
    """A remote write body, already snappy-decompressed."""
    pb = pb or load()
    return pb.remote_pb2.WriteRequest.FromString(body)


def decode_sls(body, pb=None):
    """An SLS PutLogs body (LogGroup), already decompressed."""
    pb = pb or load()
    return pb.log_pb2.LogGroup.FromString(body)


def any_value(v):
    """An OTLP AnyValue as a Python value (None when unset)."""
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attrs_to_dict(v.kvlist_value.values)
    return getattr(v, kind)


def attrs_to_dict(kvs):
    """A repeated KeyValue as a dict; a duplicate key raises ValueError."""
    out = {}
    for kv in kvs:
        if kv.key in out:
            raise ValueError("duplicate attribute key %r" % kv.key)
        out[kv.key] = any_value(kv.value)
    return out


def json_any_value(v):
    """An OTLP/JSON AnyValue object (parsed by json) as a Python value."""
    if not v:
        return None
    (kind, val), = v.items()
    if kind == "stringValue":
        return val
    if kind == "boolValue":
        return val
    if kind == "intValue":
        return int(val)
    if kind == "doubleValue":
        return float(val)
    if kind == "bytesValue":
        return base64.b64decode(val)
    if kind == "arrayValue":
        return [json_any_value(x) for x in val.get("values", [])]
    if kind == "kvlistValue":
        return json_attrs_to_dict(val.get("values", []))
    raise ValueError("unknown AnyValue field %r" % kind)


def json_attrs_to_dict(kvs):
    out = {}
    for kv in kvs:
        key = kv.get("key", "")
        if key in out:
            raise ValueError("duplicate attribute key %r" % key)
        out[key] = json_any_value(kv.get("value", {}))
    return out
