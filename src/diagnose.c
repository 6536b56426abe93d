/*-------------------------------------------------------------------------
 *
 * diagnose.c
 *		otel_aliyun.diagnose(): check every configured destination from the
 *		session and say what is wrong and how to fix it.
 *
 * One row per signal that has a destination.  An HTTP destination gets a
 * real test export: one small diagnostic record, encoded, compressed and
 * sent exactly as the worker would (same encoder, headers, TLS settings and
 * timeout), over a fresh connection so that the DNS, TCP and TLS timings
 * mean something.  A file destination is checked for writability.
 *
 * Output never contains a token or a header value: URLs are masked and
 * headers are only counted.  Access is restricted by SQL privileges (the
 * function is revoked from PUBLIC), since it makes network requests.
 *
 * IDENTIFICATION
 *	  src/diagnose.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "buffer.h"
#include "encode_sls.h"
#include "export_sls.h"
#include "exporter.h"
#include "file_export.h"
#include "grpc.h"
#include "guc.h"
#include "metrics_store.h"
#include "otel_aliyun.h"
#include "record.h"
#include "resource.h"
#include "trace_context.h"
#include "transport.h"

PG_FUNCTION_INFO_V1(otel_aliyun_diagnose);

#define DIAG_NCOLS			8
#define DIAG_RECORD_SIZE	1024
#define DIAG_SPAN_NAME		"otel_aliyun.diagnose"
#define DIAG_LOG_BODY		"otel_aliyun.diagnose test record"

typedef struct DiagRow
{
	OtelSignal	sig;
	OtelDestKind dest;
	char	   *endpoint;
	bool		reachable_null;
	bool		reachable;
	bool		status_null;
	int			status;
	bool		latency_null;
	double		latency_ms;
	StringInfoData detail;
	StringInfoData hint;
} DiagRow;

static void
hint_add(DiagRow *row, const char *text)
{
	if (row->hint.len > 0)
		appendStringInfoChar(&row->hint, ' ');
	appendStringInfoString(&row->hint, text);
}


/* ---- test records ---- */

static bool
build_test_span(OtelRecBuf *b)
{
	OtelSpanHeader h;
	int64		now = otel_now_ns();

	memset(&h, 0, sizeof(h));
	otel_random_trace_id(h.trace_id);
	otel_random_span_id(h.span_id);
	h.start_ns = now - 1000 * 1000;
	h.end_ns = now;
	h.kind = OTEL_SPAN_KIND_INTERNAL;
	h.status = OTEL_STATUS_UNSET;
	h.flags = 0x01;				/* sampled */
	h.name_len = strlen(DIAG_SPAN_NAME);

	otel_span_begin(b, &h, DIAG_SPAN_NAME, strlen(DIAG_SPAN_NAME),
					NULL, 0, NULL, 0);
	otel_attr_bool(b, "otel_aliyun.diagnostic", true);
	otel_attr_str(b, "otel_aliyun.version", OTEL_ALIYUN_VERSION, -1);
	return otel_span_finish(b);
}

static bool
build_test_log(OtelRecBuf *b)
{
	OtelLogHeader h;

	memset(&h, 0, sizeof(h));
	h.time_ns = otel_now_ns();
	h.observed_ns = h.time_ns;
	h.severity_number = 9;		/* INFO */
	otel_log_begin(b, &h, "INFO", DIAG_LOG_BODY, strlen(DIAG_LOG_BODY));
	otel_attr_bool(b, "otel_aliyun.diagnostic", true);
	otel_attr_str(b, "otel_aliyun.version", OTEL_ALIYUN_VERSION, -1);
	return otel_log_finish(b);
}

/* One small record of sig's kind in b; false if the signal has none. */
static bool
build_test_record(OtelSignal sig, OtelRecBuf *b)
{
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			return build_test_span(b);
		case OTEL_SIGNAL_LOGS:
			return build_test_log(b);
		case OTEL_SIGNAL_METRICS:
		case OTEL_NUM_SIGNALS:
			break;
	}
	return false;
}


/* ---- HTTP destinations ---- */

/* case-insensitive strstr over the host part of url */
static bool
host_contains(const char *url, const char *needle)
{
	const char *p = strstr(url, "://");
	Size		hostlen;
	Size		nlen = strlen(needle);
	Size		i;

	p = p ? p + 3 : url;
	hostlen = strcspn(p, "/?#");
	for (i = 0; i + nlen <= hostlen; i++)
		if (pg_strncasecmp(p + i, needle, nlen) == 0)
			return true;
	return false;
}

/* does the path of url end with suffix (query ignored)? */
static bool
path_ends_with(const char *url, const char *suffix)
{
	const char *p = strstr(url, "://");
	Size		len;
	Size		slen = strlen(suffix);

	p = p ? p + 3 : url;
	p += strcspn(p, "/?#");
	len = strcspn(p, "?#");
	while (len > 1 && p[len - 1] == '/')
		len--;
	return len >= slen && strncmp(p + len - slen, suffix, slen) == 0;
}

/* An ARMS endpoint that carries no token in its path, with none set. */
static bool
arms_token_missing(OtelSignal sig, const char *url, bool header_auth)
{
	bool		is_arms;

	if (sig != OTEL_SIGNAL_TRACES)
		return false;
	is_arms = host_contains(url, "aliyuncs.com") &&
		(host_contains(url, "tracing-analysis") || host_contains(url, "arms"));
	if (!is_arms)
		return false;
	if (strstr(url, "/adapt_") != NULL)
		return false;
	if (otel_arms_token != NULL && otel_arms_token[0] != '\0')
		return false;
	return !header_auth;
}

static void
transport_hint(DiagRow *row, const OtelHttpResult *res)
{
	char		buf[512];

	switch (res->failure)
	{
		case OTEL_HTTP_FAIL_NONE:
			break;
		case OTEL_HTTP_FAIL_DNS:
			hint_add(row, "The host name does not resolve: check the region "
					 "and spelling of the endpoint host (copy it from the "
					 "console), and that this server has DNS; from inside a "
					 "VPC use the VPC endpoint of the same region.");
			break;
		case OTEL_HTTP_FAIL_CONNECT:
			hint_add(row, "The connection was refused or the host is "
					 "unreachable: check the port (OTLP/HTTP, not the gRPC "
					 "port 4317), firewall and security group rules, and "
					 "whether this server needs the public or the VPC "
					 "endpoint.");
			break;
		case OTEL_HTTP_FAIL_TIMEOUT:
			snprintf(buf, sizeof(buf),
					 "No answer within otel_aliyun.export_timeout_ms (%d ms): "
					 "check the network path (security group, whitelist, "
					 "Internet or NAT access), use the VPC endpoint from "
					 "inside Alibaba Cloud, or raise the timeout.",
					 otel_export_timeout_ms);
			hint_add(row, buf);
			break;
		case OTEL_HTTP_FAIL_TLS:
			hint_add(row, "The TLS handshake or certificate check failed: "
					 "set otel_aliyun.tls_ca_file if the endpoint uses a "
					 "private CA, check the system CA bundle, and use "
					 "https:// only for a TLS port.");
			break;
		case OTEL_HTTP_FAIL_CANCELED:
			hint_add(row, "The test was canceled.");
			break;
		case OTEL_HTTP_FAIL_OTHER:
			hint_add(row, "Check the endpoint URL (http:// or https://, "
					 "host, port and path) and the network path to it.");
			break;
	}
}

static void
status_hint(DiagRow *row, OtelSignal sig, const char *url, long status,
			bool token_missing)
{
	if (status >= 200 && status < 300)
		return;

	if (row->dest == OTEL_DEST_PROM_RW)
	{
		if (status == 401 || status == 403)
			hint_add(row, "The remote write endpoint refused the credentials: "
					 "check otel_aliyun.prometheus_username and "
					 "prometheus_password (AccessKey id and secret) or "
					 "otel_aliyun.prometheus_bearer_token.");
		else if (status == 404 || status == 405)
			hint_add(row, "Nothing receives remote write at this URL: use the "
					 "remote write URL from the console (Prometheus itself: "
					 "/api/v1/write, started with "
					 "--web.enable-remote-write-receiver).");
		else if (status == 400 || status == 415)
			hint_add(row, "The endpoint refused the request: check that the "
					 "URL is a Prometheus remote write (1.0) endpoint.");
		else if (status == 429 || status >= 500)
			hint_add(row, "The endpoint is throttling or failing; exports "
					 "are retried with backoff.");
		return;
	}

	if (token_missing)
		hint_add(row, "This ARMS endpoint needs a token: use the full "
				 "endpoint from the ARMS console (with its /adapt_.../ "
				 "path) or set otel_aliyun.arms_token.");

	if (status == 401 || status == 403)
	{
		if (!token_missing)
			hint_add(row, "The endpoint refused the credentials: check that "
					 "otel_aliyun.arms_token (or the /adapt_.../ token in the "
					 "endpoint path) and any Authentication/Authorization "
					 "entry of otel_aliyun.headers belong to this region and "
					 "account.");
	}
	else if (status == 404 || status == 405)
	{
		if (sig == OTEL_SIGNAL_TRACES &&
			!path_ends_with(url, "/v1/traces") &&
			!path_ends_with(url, "/api/otlp/traces"))
			hint_add(row, "Wrong path: an OTLP/HTTP traces endpoint ends "
					 "with /v1/traces (ARMS: /api/otlp/traces).");
		else
			hint_add(row, "Nothing receives OTLP at this URL: check the "
					 "path and the region in the host name.");
	}
	else if (status == 400 || status == 415)
		hint_add(row, "The endpoint did not accept OTLP/HTTP protobuf: check "
				 "that it is an OTLP/HTTP endpoint (not gRPC, Zipkin or "
				 "Jaeger), or try otel_aliyun.compression = none.");
	else if (status == 413)
		hint_add(row, "Request too large: lower "
				 "otel_aliyun.max_export_batch_size.");
	else if (status == 429)
		hint_add(row, "The endpoint is throttling this client (quota); "
				 "exports are retried with backoff.");
	else if (status >= 300 && status < 400)
		hint_add(row, "The endpoint redirects, and redirects are not "
				 "followed: use the final URL (often https:// instead of "
				 "http://).");
	else if (status >= 500)
		hint_add(row, "The server failed; exports are retried.  If this "
				 "persists, check the region of the endpoint and the "
				 "service status.");
}

/* detail text for an HTTP test */
static void
http_detail(DiagRow *row, const OtelPayload *p, const OtelHttpResult *res,
			const OtelSendResult *r)
{
	StringInfo	d = &row->detail;

	if (res->status != 0)
		appendStringInfo(d, "HTTP %ld in %.1f ms", res->status, res->total_ms);
	else
		appendStringInfo(d, "no HTTP answer after %.1f ms: %s",
						 res->total_ms, res->error);

	/* curl reports 0 for the phases it did not reach (or skipped) */
	if (res->dns_ms > 0 && res->failure != OTEL_HTTP_FAIL_DNS)
		appendStringInfo(d, "; DNS %.1f ms", res->dns_ms);
	if (res->connect_ms > 0)
		appendStringInfo(d, "; TCP connect %.1f ms", res->connect_ms);
	if (res->tls_ms > 0)
		appendStringInfo(d, "; TLS %.1f ms", res->tls_ms);
	if (res->request_id[0] != '\0')
		appendStringInfo(d, "; request id %s", res->request_id);

	if (p->codec == OTEL_CODEC_GZIP)
		appendStringInfo(d, "; test request %d bytes (gzip, %zu before)",
						 p->body.len, p->raw_len);
	else if (p->codec == OTEL_CODEC_LZ4)
		appendStringInfo(d, "; test request %d bytes (lz4, %zu before)",
						 p->body.len, p->raw_len);
	else
		appendStringInfo(d, "; test request %d bytes", p->body.len);

	if (res->status != 0 && (res->status < 200 || res->status >= 300))
	{
		/* the body's start, without the "HTTP <status>" prefix */
		const char *text = strchr(res->error, ':');

		if (text != NULL && text[1] == ' ' && text[2] != '\0')
			appendStringInfo(d, "; response: %s", text + 2);
	}
	else if (res->status != 0 && r->error[0] != '\0')
		appendStringInfo(d, "; %s", r->error);	/* partial success */
	if (res->retry_after_ms >= 0)
		appendStringInfo(d, "; Retry-After %d ms", res->retry_after_ms);
}

/* What an SLS errorCode means and what to do about it. */
static void
sls_hint(DiagRow *row, const OtelHttpResult *res)
{
	char		code[64];
	char		msg[160];
	char		buf[256];

	if (res->status >= 200 && res->status < 300)
		return;
	otel_sls_parse_error(res->body, res->body_len, code, sizeof(code),
						 msg, sizeof(msg));

	if (strcmp(code, "SignatureNotMatch") == 0)
		hint_add(row, "SLS computed another signature: check that "
				 "otel_aliyun.sls_access_key_secret belongs to "
				 "otel_aliyun.sls_access_key_id (no stray spaces), and that "
				 "no proxy alters the request.");
	else if (strcmp(code, "InvalidAccessKeyId") == 0 ||
			 strcmp(code, "Unauthorized") == 0 ||
			 strcmp(code, "SecurityTokenRequired") == 0)
		hint_add(row, "The AccessKey is unknown, disabled or not allowed to "
				 "write here: grant log:PostLogStoreLogs on this logstore to "
				 "its RAM user or role; a temporary (STS) AccessKey needs "
				 "otel_aliyun.sls_security_token too.");
	else if (strcmp(code, "SecurityTokenExpired") == 0 ||
			 strcmp(code, "InvalidSecurityToken") == 0)
		hint_add(row, "The STS token is expired or invalid: renew "
				 "otel_aliyun.sls_security_token with its AccessKey pair "
				 "and reload.");
	else if (strcmp(code, "ProjectNotExist") == 0)
		hint_add(row, "No such project at this endpoint: check "
				 "otel_aliyun.sls_project, and that otel_aliyun.sls_endpoint "
				 "is the endpoint of the project's region.");
	else if (strcmp(code, "LogStoreNotExist") == 0)
		hint_add(row, "No such logstore in the project: check "
				 "otel_aliyun.sls_logstore (create it first).");
	else if (otel_sls_quota_error(code))
		hint_add(row, "The write quota is exhausted: exports are retried "
				 "with backoff; split the logstore into more shards or raise "
				 "the project's quota.");
	else if (strcmp(code, "RequestTimeExpired") == 0)
		hint_add(row, "This server's clock is more than 15 minutes off SLS's: "
				 "synchronise it (NTP).");
	else if (res->status >= 500 || res->status == 429)
		hint_add(row, "SLS failed or throttled; exports are retried.");
	else if (res->status >= 300 && res->status < 400)
		hint_add(row, "The endpoint redirects: give otel_aliyun.sls_endpoint "
				 "as the region host (e.g. cn-hangzhou.log.aliyuncs.com) or "
				 "its https:// URL.");
	else if (code[0] != '\0')
	{
		snprintf(buf, sizeof(buf),
				 "SLS refused the request (%s); records with this answer "
				 "are dropped.", code);
		hint_add(row, buf);
	}
	else
		hint_add(row, "The answer is not SLS's: check that "
				 "otel_aliyun.sls_endpoint is an SLS endpoint.");
}

/* What a gRPC status of a test export means and what to do about it. */
static void
grpc_hint(DiagRow *row, const OtelGrpcResult *g, bool token_missing)
{
	char		buf[512];

	switch (g->code)
	{
		case OTEL_GRPC_OK:
			return;
		case OTEL_GRPC_UNAUTHENTICATED:
		case OTEL_GRPC_PERMISSION_DENIED:
			if (token_missing)
				hint_add(row, "This ARMS endpoint needs a token: set "
						 "otel_aliyun.arms_token (sent as the Authentication "
						 "metadata).");
			else
				hint_add(row, "The collector refused the credentials: for "
						 "ARMS, otel_aliyun.arms_token (sent as the "
						 "Authentication metadata) must be the token of this "
						 "region; for SLS, otel_aliyun.headers must carry "
						 "x-sls-otel-project, x-sls-otel-instance-id, "
						 "x-sls-otel-ak-id and x-sls-otel-ak-secret.");
			return;
		case OTEL_GRPC_UNIMPLEMENTED:
			if (!g->code_received && g->http.status == 0)
				hint_add(row, "OTLP/gRPC needs a libcurl built with HTTP/2 "
						 "(nghttp2), as Debian's libcurl4 is; with this one "
						 "set the *_protocol setting to http/protobuf.");
			else
				hint_add(row, "Nothing serves the OTLP collector service at "
						 "this address: check that the port is the OTLP/gRPC "
						 "one (4317; ARMS 8090; SLS 10010), not OTLP/HTTP.");
			return;
		case OTEL_GRPC_UNAVAILABLE:
		case OTEL_GRPC_DEADLINE_EXCEEDED:
		case OTEL_GRPC_CANCELLED:
			switch (g->http.failure)
			{
				case OTEL_HTTP_FAIL_NONE:
					hint_add(row, "The collector is unavailable or busy; "
							 "exports are retried.");
					return;
				case OTEL_HTTP_FAIL_CONNECT:
					hint_add(row, "The connection was refused or the host is "
							 "unreachable: check the gRPC port (OTLP/gRPC "
							 "4317; ARMS 8090; SLS 10010), firewall and "
							 "security group rules, and whether this server "
							 "needs the public or the VPC endpoint.");
					return;
				case OTEL_HTTP_FAIL_OTHER:
					hint_add(row, "The connection broke before a gRPC answer: "
							 "the port may not speak gRPC over HTTP/2 (an "
							 "OTLP/HTTP port such as 4318 does not), or it "
							 "expects TLS: use https:// for a TLS port and "
							 "http:// for a plain text one.");
					return;
				default:
					transport_hint(row, &g->http);
					return;
			}
		case OTEL_GRPC_RESOURCE_EXHAUSTED:
			hint_add(row, "The collector is over a quota or the request is "
					 "larger than it accepts (often 4 MiB): lower "
					 "otel_aliyun.max_export_batch_size.  Such answers are "
					 "retried only when they carry a RetryInfo.");
			return;
		case OTEL_GRPC_INVALID_ARGUMENT:
		case OTEL_GRPC_FAILED_PRECONDITION:
			hint_add(row, "The collector refused the request as invalid; "
					 "records answered so are dropped.  See the message in "
					 "detail.");
			return;
		default:
			if (g->http.status != 0 && !g->http2)
				hint_add(row, "The server answered over HTTP/1.x: gRPC needs "
						 "HTTP/2 (over TLS the server must offer h2 by ALPN). "
						 "Check that the port is the OTLP/gRPC one.");
			else
			{
				snprintf(buf, sizeof(buf),
						 "Records answered with %s are dropped, not retried.",
						 otel_grpc_code_name(g->code));
				hint_add(row, buf);
			}
			return;
	}
}

/* The test export of an OTLP/gRPC destination, and the row it makes. */
static void
diagnose_grpc(DiagRow *row, const char *url, OtelPayload *p,
			  bool token_missing)
{
	OtelGrpcResult *g = palloc(sizeof(OtelGrpcResult));
	OtelSendResult r;
	StringInfo	d = &row->detail;
	char		curlinfo[256];
	const char *path;
	bool		tls = (pg_strncasecmp(url, "https://", 8) == 0);

	otel_exporter_send_diag_grpc(p, &r, g);
	CHECK_FOR_INTERRUPTS();

	row->reachable_null = false;
	row->reachable = (g->http.status != 0);
	if (g->http.status != 0)
	{
		row->status_null = false;
		row->status = (int) g->http.status;
	}
	if (g->http.status != 0 || g->http.transport_error)
	{
		row->latency_null = false;
		row->latency_ms = g->http.total_ms;
	}

	if (g->http.status == 0 && !g->http.transport_error)
		appendStringInfo(d, "not sent: %s", r.error);
	else if (g->code == OTEL_GRPC_OK)
		appendStringInfo(d, "gRPC status OK (0) in %.1f ms over HTTP/2 (%s)",
						 g->http.total_ms, tls ? "TLS, ALPN h2" : "h2c");
	else if (g->http.status != 0)
		appendStringInfo(d, "%s; HTTP%s %ld in %.1f ms", g->error,
						 g->http2 ? "/2" : "/1.x", g->http.status,
						 g->http.total_ms);
	else
		appendStringInfo(d, "no answer after %.1f ms: %s",
						 g->http.total_ms, g->error);

	if (g->http.dns_ms > 0 && g->http.failure != OTEL_HTTP_FAIL_DNS)
		appendStringInfo(d, "; DNS %.1f ms", g->http.dns_ms);
	if (g->http.connect_ms > 0)
		appendStringInfo(d, "; TCP connect %.1f ms", g->http.connect_ms);
	if (g->http.tls_ms > 0)
		appendStringInfo(d, "; TLS %.1f ms", g->http.tls_ms);
	if (g->http.request_id[0] != '\0')
		appendStringInfo(d, "; request id %s", g->http.request_id);
	if (p->codec == OTEL_CODEC_GZIP)
		appendStringInfo(d, "; test message %d bytes (grpc-encoding gzip, %zu before)",
						 p->body.len, p->raw_len);
	else
		appendStringInfo(d, "; test message %d bytes", p->body.len);
	if (g->code == OTEL_GRPC_OK && r.error[0] != '\0')
		appendStringInfo(d, "; %s", r.error);	/* partial success */
	if (g->retry_delay_ms >= 0)
		appendStringInfo(d, "; RetryInfo: retry in %d ms", g->retry_delay_ms);
	if (g->metadata_ignored > 0)
		appendStringInfo(d, "; %d metadata entries not sent (gRPC names are "
						 "lower-case letters, digits and - _ .; grpc-* and "
						 "HTTP/2 reserved names are not allowed)",
						 g->metadata_ignored);

	/* the path of an endpoint plays no part in gRPC */
	path = strstr(url, "://");
	path = path ? path + 3 : url;
	path += strcspn(path, "/?#");
	if (path[0] != '\0' && strcmp(path, "/") != 0)
		appendStringInfo(d, "; the endpoint's path is ignored: gRPC calls %s",
						 otel_grpc_otlp_method(row->sig));

	(void) otel_grpc_supported(curlinfo, sizeof(curlinfo));
	appendStringInfo(d, "; %s", curlinfo);

	grpc_hint(row, g, token_missing);
	if (r.rejected > 0)
		hint_add(row, "The collector accepted the call but rejected the test "
				 "record: see detail.");
	pfree(g);
}

static void
diagnose_http(DiagRow *row)
{
	const char *url = otel_exporter_endpoint(row->sig);
	char		masked[MAXPGPATH];
	char	   *mem;
	OtelRecBuf	b;
	OtelRecordRef ref;
	OtelPayload p;
	OtelSendResult r;
	OtelHttpResult res;
	int			nsent;
	int			nignored;
	bool		header_auth;
	bool		token_missing;

	if (url == NULL)
	{
		/* logs over OTLP without logs_endpoint, SLS without its settings */
		if (row->dest == OTEL_DEST_SLS)
		{
			appendStringInfoString(&row->detail, "SLS is not configured");
			hint_add(row, "Set otel_aliyun.sls_endpoint, sls_project and "
					 "sls_logstore (and the AccessKey settings), or choose "
					 "another otel_aliyun.logs_exporter.");
		}
		else
		{
			appendStringInfoString(&row->detail, "no OTLP endpoint is set");
			hint_add(row, "Set otel_aliyun.logs_endpoint to the collector's "
					 "/v1/logs URL, or choose another "
					 "otel_aliyun.logs_exporter.");
		}
		return;
	}
	otel_mask_url(url, masked, sizeof(masked));
	row->endpoint = pstrdup(masked);

	otel_exporter_headers_info(&nsent, &nignored, &header_auth);
	if (row->dest == OTEL_DEST_SLS)
		nsent = nignored = 0;	/* SLS requests do not carry them */
	token_missing = arms_token_missing(row->sig, url, header_auth);

	if (row->sig == OTEL_SIGNAL_METRICS)
	{
		/*
		 * Metrics have no records: encode an empty snapshot, which is an
		 * empty OTLP request, or for remote write target_info alone.
		 */
		OtelMetricsSnapshot empty;

		memset(&empty, 0, sizeof(empty));
		empty.time_ns = otel_now_ns();
		otel_exporter_encode_metrics(&empty, 0, 0, empty.time_ns, &p);
	}
	else
	{
		mem = palloc(DIAG_RECORD_SIZE);
		otel_rec_init(&b, mem, DIAG_RECORD_SIZE);
		if (!build_test_record(row->sig, &b))
		{
			appendStringInfoString(&row->detail, "could not build a test record");
			return;
		}
		ref.data = b.data;
		ref.len = (uint32) b.len;

		otel_exporter_encode(row->sig, &ref, 1, &p);
	}
	if (p.dest != row->dest)
	{
		appendStringInfoString(&row->detail,
							   "the destination changed during the test");
		return;
	}
	if (row->dest == OTEL_DEST_OTLP_GRPC)
	{
		diagnose_grpc(row, url, &p, token_missing);
		if (nsent > 0 || nignored > 0)
			appendStringInfo(&row->detail,
							 "; otel_aliyun.headers: %d used, %d ignored",
							 nsent, nignored);
		return;
	}
	otel_exporter_send_diag(&p, &r, &res);

	/* a cancel that stopped the request ends the query here */
	CHECK_FOR_INTERRUPTS();

	row->reachable_null = false;
	row->reachable = (res.status != 0);
	if (res.status != 0)
	{
		row->status_null = false;
		row->status = (int) res.status;
	}
	if (res.status != 0 || res.transport_error)
	{
		row->latency_null = false;
		row->latency_ms = res.total_ms;
	}

	if (res.status == 0 && !res.transport_error)
	{
		/* nothing was sent: the exporter refused before the request */
		appendStringInfo(&row->detail, "not sent: %s", r.error);
		if (row->dest == OTEL_DEST_SLS)
			hint_add(row, "Set otel_aliyun.sls_access_key_id and "
					 "sls_access_key_secret (superuser only, never shown), "
					 "and sls_region for v4 signatures.");
	}
	else
		http_detail(row, &p, &res, &r);

	if (nsent > 0 || nignored > 0)
		appendStringInfo(&row->detail,
						 "; otel_aliyun.headers: %d used, %d ignored",
						 nsent, nignored);

	if (res.transport_error)
		transport_hint(row, &res);
	else if (res.status != 0 && row->dest == OTEL_DEST_SLS)
		sls_hint(row, &res);
	else if (res.status != 0)
		status_hint(row, row->sig, url, res.status, token_missing);
	if (r.rejected > 0)
		hint_add(row, "The endpoint accepted the request but rejected the "
				 "test record: see detail.");
	if (nignored > 0)
		hint_add(row, "Some otel_aliyun.headers entries are not sent: names "
				 "must be HTTP tokens, values must not contain line breaks, "
				 "Content-Type/Content-Encoding/Content-Length cannot be "
				 "overridden, and entries past the header limit are cut.");
}


/* ---- file destination ---- */

static bool
dir_writable(const char *dir)
{
	return access(dir, W_OK | X_OK) == 0;
}

static void
diagnose_file(DiagRow *row)
{
	char		dir[MAXPGPATH];
	char		path[MAXPGPATH];
	struct stat st;

	otel_file_dir(dir, sizeof(dir));
	otel_file_path(row->sig, path, sizeof(path));
	row->endpoint = pstrdup(path);
	row->reachable_null = false;

	if (stat(dir, &st) == 0)
	{
		if (!S_ISDIR(st.st_mode))
		{
			row->reachable = false;
			appendStringInfo(&row->detail, "\"%s\" exists but is not a directory",
							 dir);
			hint_add(row, "Remove it or point otel_aliyun.file_directory "
					 "elsewhere.");
			return;
		}
		row->reachable = dir_writable(dir);
		if (!row->reachable)
		{
			int			save_errno = errno;

			appendStringInfo(&row->detail, "directory \"%s\" is not writable: %s",
							 dir, strerror(save_errno));
			hint_add(row, "Give the server's operating system user write "
					 "permission there, or point otel_aliyun.file_directory "
					 "elsewhere.");
			return;
		}
		appendStringInfo(&row->detail, "directory \"%s\" is writable", dir);
		if (stat(path, &st) == 0)
			appendStringInfo(&row->detail, "; current file %lld bytes",
							 (long long) st.st_size);
		else
			appendStringInfoString(&row->detail, "; no file yet");
	}
	else if (errno == ENOENT)
	{
		char		parent[MAXPGPATH];
		char	   *slash;

		strlcpy(parent, dir, sizeof(parent));
		slash = strrchr(parent, '/');
		if (slash == parent)
			slash[1] = '\0';
		else if (slash != NULL)
			*slash = '\0';
		row->reachable = (stat(parent, &st) == 0 && S_ISDIR(st.st_mode) &&
						  dir_writable(parent));
		if (!row->reachable)
		{
			appendStringInfo(&row->detail,
							 "directory \"%s\" does not exist and cannot be "
							 "created in \"%s\"", dir, parent);
			hint_add(row, "Create the directory for the server's operating "
					 "system user, or point otel_aliyun.file_directory "
					 "elsewhere.");
			return;
		}
		appendStringInfo(&row->detail,
						 "directory \"%s\" will be created at the first export",
						 dir);
	}
	else
	{
		int			save_errno = errno;

		row->reachable = false;
		appendStringInfo(&row->detail, "could not stat \"%s\": %s", dir,
						 strerror(save_errno));
		hint_add(row, "Check the permissions of otel_aliyun.file_directory "
				 "and its parents.");
		return;
	}

	appendStringInfo(&row->detail, "; rotated to .1 past %d MB",
					 otel_file_max_size_mb);

	switch (row->sig)
	{
		case OTEL_SIGNAL_TRACES:
			hint_add(row, "otel_aliyun.traces_endpoint is not set, so spans "
					 "are written to this file as OTLP/JSON lines; set it to "
					 "export to ARMS.");
			break;
		case OTEL_SIGNAL_LOGS:
			hint_add(row, "otel_aliyun.logs_exporter is file, so log records "
					 "are written to this file as OTLP/JSON lines; set it to "
					 "sls or otlp to export them.");
			break;
		case OTEL_SIGNAL_METRICS:
		case OTEL_NUM_SIGNALS:
			break;
	}
}


/* ---- the SQL function ---- */

static void
put_row(ReturnSetInfo *rsinfo, DiagRow *row)
{
	Datum		values[DIAG_NCOLS];
	bool		nulls[DIAG_NCOLS];

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(otel_signal_names[row->sig]);
	values[1] = CStringGetTextDatum(otel_dest_name(row->dest));
	if (row->endpoint != NULL)
		values[2] = CStringGetTextDatum(row->endpoint);
	else
		nulls[2] = true;
	values[3] = BoolGetDatum(row->reachable);
	nulls[3] = row->reachable_null;
	values[4] = Int32GetDatum(row->status);
	nulls[4] = row->status_null;
	values[5] = Float8GetDatum(row->latency_ms);
	nulls[5] = row->latency_null;
	values[6] = CStringGetTextDatum(row->detail.data);
	if (row->hint.len > 0)
		values[7] = CStringGetTextDatum(row->hint.data);
	else
		nulls[7] = true;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
otel_aliyun_diagnose(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	/* describe this server as the settings say now, not as cached */
	otel_resource_invalidate();

	for (i = 0; i < OTEL_NUM_SIGNALS; i++)
	{
		DiagRow		row;

		memset(&row, 0, sizeof(row));
		row.sig = (OtelSignal) i;
		row.dest = otel_exporter_dest(row.sig);
		row.reachable_null = true;
		row.status_null = true;
		row.latency_null = true;
		initStringInfo(&row.detail);
		initStringInfo(&row.hint);

		switch (row.dest)
		{
			case OTEL_DEST_NONE:
				continue;
			case OTEL_DEST_FILE:
				diagnose_file(&row);
				break;
			case OTEL_DEST_OTLP_HTTP:
			case OTEL_DEST_OTLP_JSON:
			case OTEL_DEST_OTLP_GRPC:
			case OTEL_DEST_SLS:
			case OTEL_DEST_PROM_RW:
				diagnose_http(&row);
				break;
		}

		if (!otel_enabled)
			hint_add(&row, "otel_aliyun.enabled is off: nothing new is "
					 "captured.");
		put_row(rsinfo, &row);
	}

	return (Datum) 0;
}
