#!/usr/bin/python3
"""SLS-compatible PutLogs endpoint for otel_aliyun's tests.

Listens on loopback and answers POST /logstores/<logstore>/shards/lb the way
Alibaba Cloud SLS does, checking every request with code of its own, shared
with the extension in nothing but the .proto file:

  - Content-MD5 (upper-case hex MD5 of the body as sent) and, for V4,
    x-log-content-sha256;
  - the signature: V1 ("LOG <id>:<base64 HMAC-SHA1>" over VERB, MD5, type,
    Date, the sorted x-log-/x-acs- headers and the resource) or V4
    ("SLS4-HMAC-SHA256 Credential=<id>/<day>/<region>/sls/aliyun_v4_request,
    Signature=<hex>"), recomputed here from the received headers;
  - Date within 15 minutes, x-log-apiversion 0.6.0, the STS token when one
    is configured, project (from the Host header) and logstore;
  - x-log-bodyrawsize, LZ4 block decompression (python3-lz4) when
    x-log-compresstype is lz4, and the LogGroup decoded with protoc-generated
    classes (otlp_proto.py); at most 4096 logs and 3 MB raw per request.

Errors are SLS-style: a JSON body {"errorCode": ..., "errorMessage": ...}
and an x-log-requestid header (on every answer).

Control API (JSON):
  GET  /_health                  {"ok": true, "port": N}
  GET  /_received                every log received: time, timeNs, contents
                                 (dict), topic, source, tags (dict), request;
                                 ?content=<body> or ?prefix=<start of body>
                                 filter, &count=1 gives {"count": N} only,
                                 &brief=1 cuts values to 64 characters and
                                 adds their lengths ("sizes")
  GET  /_requests                one entry per PutLogs request: headers,
                                 checks, status returned, logs, raw size
  POST /_mode {"status": 401, "error_code": "SignatureNotMatch",
               "error_message": "...", "count": 2, "retry_after": "1",
               "delay_ms": 0}
                                 the next `count` PutLogs requests (all when
                                 count is absent or <= 0) get that answer
                                 (after the checks, which are still recorded);
                                 status 0 closes the connection unanswered
  POST /_reset                   forget everything, answer normally again

Run with /usr/bin/python3 (Debian's python3-protobuf and python3-lz4).
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import json
import os
import socket
import sys
import time
import urllib.parse
import uuid

import lz4.block

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import otlp_proto  # noqa: E402
from otlp_http_receiver import Handler as OtlpHandler  # noqa: E402
from otlp_http_receiver import Server  # noqa: E402
from otlp_http_receiver import State as OtlpState  # noqa: E402

MAX_LOGS = 4096
MAX_RAW = 3 * 1024 * 1024
MAX_SKEW = 15 * 60


class SlsError(Exception):
    def __init__(self, status, code, message):
        Exception.__init__(self, message)
        self.status = status
        self.code = code
        self.message = message


# ---- signatures, written from the SLS API documentation -------------------

def v1_string_to_sign(method, headers, resource):
    """headers: dict with lower-case names."""
    lines = [method, headers.get("content-md5", ""),
             headers.get("content-type", ""), headers.get("date", "")]
    s = "\n".join(lines) + "\n"
    for name in sorted(h for h in headers if h.startswith(("x-log-", "x-acs-"))):
        s += "%s:%s\n" % (name, headers[name])
    return s + resource


def v1_signature(secret, method, headers, resource):
    mac = hmac.new(secret.encode(), v1_string_to_sign(method, headers, resource).encode(),
                   hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def v4_signature(secret, region, day, method, headers, resource):
    signed = sorted(h for h in headers
                    if h in ("host", "content-type") or h.startswith(("x-log-", "x-acs-")))
    canon = "%s\n%s\n\n" % (method, resource)
    for name in signed:
        canon += "%s:%s\n" % (name, headers[name].strip())
    canon += "\n" + ";".join(signed) + "\n" + headers.get("x-log-content-sha256", "")
    scope = "%s/%s/sls/aliyun_v4_request" % (day, region)
    sts = "SLS4-HMAC-SHA256\n%s\n%s\n%s" % (headers.get("x-log-date", ""), scope,
                                           hashlib.sha256(canon.encode()).hexdigest())
    key = ("aliyun_v4" + secret).encode()
    for part in (day, region, "sls", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def brief(log):
    """A log with long values cut to 64 characters and their sizes listed."""
    b = dict(log)
    b["sizes"] = {k: len(v) for k, v in log["contents"].items()}
    b["contents"] = {k: v if len(v) <= 64 else v[:64] + "..." for k, v in log["contents"].items()}
    b.pop("contentsList", None)
    return b


# ---- state ------------------------------------------------------------------

class State(OtlpState):
    """The OTLP receiver's state (lock, answer mode, take_mode) holding SLS
    logs and requests."""

    def __init__(self, args):
        self.args = args
        self.pb = otlp_proto.load()
        OtlpState.__init__(self, args.out_dir)

    def reset(self):
        with self.lock:
            self.logs = []
            self.requests = []
            self.mode = None
            self.mode_left = 0

    def add(self, entry, logs):
        with self.lock:
            entry["index"] = len(self.requests)
            self.requests.append(entry)
            for log in logs:
                log["request"] = entry["index"]
            self.logs.extend(logs)
            if self.args.out_dir:
                with open(os.path.join(self.args.out_dir, "sls_requests.jsonl"), "a") as f:
                    f.write(json.dumps(entry, sort_keys=True) + "\n")
                with open(os.path.join(self.args.out_dir, "sls_logs.jsonl"), "a") as f:
                    for log in logs:
                        f.write(json.dumps(log, sort_keys=True) + "\n")


# ---- HTTP -------------------------------------------------------------------

class Handler(OtlpHandler):
    """The OTLP receiver's HTTP plumbing (_send, _json, _read_body, logging)
    with SLS's API instead of OTLP's."""
    server_version = "sls-test-receiver/1.0"

    def do_GET(self):
        st = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_health":
            return self._json({"ok": True, "port": self.server.server_address[1]})
        if path == "/_received":
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            with st.lock:
                logs = list(st.logs)
            if "content" in q:
                logs = [l for l in logs if l["contents"].get("content") == q["content"][0]]
            if "prefix" in q:
                logs = [l for l in logs
                        if l["contents"].get("content", "").startswith(q["prefix"][0])]
            if q.get("count", ["0"])[0] == "1":
                return self._json({"count": len(logs)})
            if q.get("brief", ["0"])[0] == "1":
                logs = [brief(l) for l in logs]
            return self._json(logs)
        if path == "/_requests":
            with st.lock:
                return self._json(list(st.requests))
        return self._json({"errorCode": "NotFound", "errorMessage": "no such path"}, 404)

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
                count = int(m.get("count", -1))
                int(m.get("status", 200))
            except (ValueError, TypeError) as e:
                return self._json({"error": str(e)}, 400)
            with st.lock:
                st.mode = m if int(m.get("status", 200)) != 200 or m.get("delay_ms") else None
                st.mode_left = count if count > 0 else 0
            return self._json({"ok": True})
        return self._put_logs(path)

    # -- PutLogs --

    def _check(self, path, headers, body, entry):
        """Verify the request; return the decoded LogGroup or raise SlsError."""
        args = self.server.state.args
        checks = entry["checks"]

        parts = path.split("/")
        if len(parts) != 5 or parts[1] != "logstores" or parts[3] != "shards" or parts[4] != "lb":
            raise SlsError(404, "InvalidPath", "unknown path %s" % path)
        logstore = parts[2]
        host = headers.get("host", "")
        project = host.split(".", 1)[0] if "." in host else ""
        entry["project"], entry["logstore"] = project, logstore

        for h in ("date", "content-type", "content-md5", "x-log-apiversion",
                  "x-log-bodyrawsize", "x-log-signaturemethod", "authorization"):
            if h not in headers:
                raise SlsError(400, "MissingHeader", "header %s is missing" % h)
        if headers["x-log-apiversion"] != "0.6.0":
            raise SlsError(400, "InvalidAPIVersion", "x-log-apiversion must be 0.6.0")
        if headers["content-type"] != "application/x-protobuf":
            raise SlsError(400, "InvalidContentType", "Content-Type must be application/x-protobuf")

        md5 = hashlib.md5(body).hexdigest().upper()
        checks["md5"] = headers["content-md5"] == md5
        if not checks["md5"]:
            raise SlsError(400, "InvalidContentMD5", "Content-MD5 does not match the body")

        try:
            date = email.utils.parsedate_to_datetime(headers["date"]).timestamp()
        except (TypeError, ValueError):
            raise SlsError(400, "InvalidDate", "Date is not an RFC 1123 date")
        checks["date_skew"] = round(time.time() - date, 3)
        if not headers["date"].endswith(" GMT"):
            raise SlsError(400, "InvalidDate", "Date must be in GMT")
        if abs(time.time() - date) > MAX_SKEW:
            raise SlsError(400, "RequestTimeExpired", "Request time is out of range")

        if args.security_token:
            if headers.get("x-acs-security-token") != args.security_token:
                raise SlsError(401, "SecurityTokenRequired" if "x-acs-security-token" not in headers
                               else "InvalidSecurityToken", "the STS token is missing or wrong")

        auth = headers["authorization"]
        if auth.startswith("LOG "):
            checks["signature_version"] = "v1"
            if headers["x-log-signaturemethod"] != "hmac-sha1":
                raise SlsError(400, "InvalidSignatureMethod", "v1 needs hmac-sha1")
            key_id, _, sig = auth[4:].partition(":")
            if key_id != args.access_key_id:
                raise SlsError(401, "InvalidAccessKeyId", "The AccessKeyId is not found")
            expected = v1_signature(args.access_key_secret, "POST", headers, path)
            checks["signature"] = hmac.compare_digest(sig, expected)
            if not checks["signature"]:
                raise SlsError(401, "SignatureNotMatch",
                               "signature %s not match" % sig)
        elif auth.startswith("SLS4-HMAC-SHA256 "):
            checks["signature_version"] = "v4"
            fields = dict(kv.split("=", 1) for kv in auth[len("SLS4-HMAC-SHA256 "):].split(","))
            cred = fields.get("Credential", "").split("/")
            if len(cred) != 5 or cred[3] != "sls" or cred[4] != "aliyun_v4_request":
                raise SlsError(401, "Unauthorized", "bad v4 credential scope")
            key_id, day, region = cred[0], cred[1], cred[2]
            if key_id != args.access_key_id:
                raise SlsError(401, "InvalidAccessKeyId", "The AccessKeyId is not found")
            if region != args.region:
                raise SlsError(401, "Unauthorized", "region %s is not %s" % (region, args.region))
            if headers.get("x-log-content-sha256") != hashlib.sha256(body).hexdigest():
                raise SlsError(400, "InvalidContentSha256", "x-log-content-sha256 does not match the body")
            if not headers.get("x-log-date", "").startswith(day):
                raise SlsError(401, "SignatureNotMatch", "x-log-date is not of the credential's day")
            expected = v4_signature(args.access_key_secret, region, day, "POST", headers, path)
            checks["signature"] = hmac.compare_digest(fields.get("Signature", ""), expected)
            if not checks["signature"]:
                raise SlsError(401, "SignatureNotMatch", "v4 signature not match")
        else:
            raise SlsError(401, "Unauthorized", "unknown Authorization scheme")

        if project != args.project:
            raise SlsError(404, "ProjectNotExist", "The Project does not exist : %s" % project)
        if logstore != args.logstore:
            raise SlsError(404, "LogStoreNotExist", "logstore %s does not exist" % logstore)

        rawsize = int(headers["x-log-bodyrawsize"])
        ctype = headers.get("x-log-compresstype", "")
        entry["compresstype"], entry["raw_len"] = ctype, rawsize
        if rawsize > MAX_RAW:
            raise SlsError(413, "PostBodyTooLarge", "raw body of %d bytes is over 3 MB" % rawsize)
        try:
            if ctype == "lz4":
                raw = lz4.block.decompress(body, uncompressed_size=rawsize)
            elif ctype == "":
                raw = body
            else:
                raise SlsError(400, "InvalidCompressType", "unknown compress type %s" % ctype)
        except lz4.block.LZ4BlockError as e:
            raise SlsError(400, "PostBodyInvalid", "lz4: %s" % e)
        if len(raw) != rawsize:
            raise SlsError(400, "PostBodyInvalid", "body is %d bytes raw, x-log-bodyrawsize says %d"
                           % (len(raw), rawsize))
        try:
            group = otlp_proto.decode_sls(raw, self.server.state.pb)
        except Exception as e:  # DecodeError and friends
            raise SlsError(400, "PostBodyInvalid", "not a LogGroup: %s" % e)
        if len(group.Logs) > MAX_LOGS:
            raise SlsError(400, "PostBodyTooLarge", "%d logs in one request" % len(group.Logs))
        return group

    def _put_logs(self, path):
        st = self.server.state
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        rid = uuid.uuid4().hex[:24].upper()
        entry = {"path": path, "headers": headers, "body_len": len(body),
                 "time": time.time(), "checks": {}, "request_id": rid,
                 "logs": 0, "error_code": None}
        logs = []
        err = None
        try:
            group = self._check(path, headers, body, entry)
            for log in group.Logs:
                contents = {}
                for c in log.Contents:
                    contents[c.Key] = c.Value
                logs.append({
                    "time": log.Time,
                    "timeNs": log.Time_ns if log.HasField("Time_ns") else None,
                    "contents": contents,
                    "contentsList": [[c.Key, c.Value] for c in log.Contents],
                    "topic": group.Topic,
                    "source": group.Source,
                    "tags": {t.Key: t.Value for t in group.LogTags},
                })
            entry["logs"] = len(logs)
        except SlsError as e:
            err = e

        mode = st.take_mode()
        if mode and mode.get("delay_ms"):
            time.sleep(float(mode["delay_ms"]) / 1000.0)
        forced = mode is not None and int(mode.get("status", 200)) != 200
        if forced and int(mode["status"]) == 0:
            entry["status_returned"] = 0
            st.add(entry, [])
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if forced:
            err = SlsError(int(mode["status"]), mode.get("error_code", "InternalServerError"),
                           mode.get("error_message", "forced by the test"))
            entry["forced"] = True

        extra = {"x-log-requestid": rid}
        if err is not None:
            entry["status_returned"] = err.status
            entry["error_code"] = err.code
            entry["error_message"] = err.message
            st.add(entry, [])
            if mode and mode.get("retry_after") is not None:
                extra["Retry-After"] = str(mode["retry_after"])
            return self._send(err.status, json.dumps(
                {"errorCode": err.code, "errorMessage": err.message}).encode(),
                "application/json", extra)
        entry["status_returned"] = 200
        st.add(entry, logs)
        return self._send(200, b"", "application/json", extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--out-dir")
    ap.add_argument("--project", default="otelproj")
    ap.add_argument("--logstore", default="otellogs")
    ap.add_argument("--access-key-id", default="test-ak-id")
    ap.add_argument("--access-key-secret", default="test-ak-secret")
    ap.add_argument("--security-token", default="")
    ap.add_argument("--region", default="cn-test")
    args = ap.parse_args()
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)

    srv = Server((args.host, args.port), Handler)
    srv.state = State(args)
    srv.quiet = False
    sys.stderr.write("sls receiver: listening on %s:%d\n" % (args.host, srv.server_address[1]))
    sys.stderr.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
