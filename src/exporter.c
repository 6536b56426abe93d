/*-------------------------------------------------------------------------
 *
 * exporter.c
 *		Destinations: what a batch of records becomes on the wire, and
 *		where it goes.
 *
 * For each signal, otel_exporter_dest() reads the settings and names a
 * destination kind; otel_exporter_encode() turns the records into the body
 * that destination wants (encoded, compressed) and otel_exporter_send()
 * makes one delivery attempt and says whether to retry.  Every decision
 * about a destination is a case of a switch on OtelDestKind (and, inside
 * it, on OtelSignal), so a new destination or signal is a new case.
 *
 * Traces:
 *	 - otel_aliyun.traces_endpoint set: OTLP/HTTP protobuf POST, gzip unless
 *	   otel_aliyun.compression = none, with the ARMS token as Authentication
 *	   and the entries of otel_aliyun.headers;
 *	 - otherwise OTLP/JSON lines in a file (file_export.c).
 *
 * Logs, by otel_aliyun.logs_exporter: sls (PutLogs, export_sls.c), otlp
 * (OTLP/HTTP protobuf to otel_aliyun.logs_endpoint, gzip and headers as
 * for traces), file (OTLP/JSON lines) or none.
 *
 * Metrics, by otel_aliyun.metrics_exporter: prometheus (remote write 1.0
 * to otel_aliyun.prometheus_remote_write_url: WriteRequest, snappy, Basic
 * or Bearer authentication; 5xx and 429 retried, other 4xx dropped), otlp
 * (OTLP/HTTP protobuf to otel_aliyun.metrics_endpoint, as for traces) or
 * none.  They are encoded from a snapshot of the metric store, not from
 * ring records (otel_exporter_encode_metrics).
 *
 * otel_aliyun.traces_protocol, logs_protocol and metrics_protocol choose
 * how OTLP travels: http/protobuf (the above), http/json (the OTLP/JSON
 * encoding, Content-Type application/json; metrics have no JSON encoder and
 * stay protobuf) or grpc (OTLP/gRPC through grpc.c: the same protobuf
 * message, gzip'd as grpc-encoding gzip, the token and headers as
 * metadata, gRPC's retry rules).
 *
 * The header lines derived from otel_aliyun.headers are cached in a
 * private memory context and rebuilt only when the setting's text changes.
 * No error text produced here contains a header value or an unmasked URL.
 *
 * IDENTIFICATION
 *	  src/exporter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/base64.h"
#include "utils/memutils.h"

#include "compress.h"
#include "encode_otlp.h"
#include "encode_otlp_logs.h"
#include "encode_otlp_metrics.h"
#include "encode_prom.h"
#include "export_sls.h"
#include "exporter.h"
#include "file_export.h"
#include "grpc.h"
#include "guc.h"
#include "metrics_store.h"
#include "kvlist.h"
#include "otel_aliyun.h"
#include "transport.h"

/* gzip level: the cheapest one; OTLP bodies compress well even so */
#define OTEL_GZIP_LEVEL			1

/* header lines the exporter may add itself (type, encoding, auth) */
#define OTEL_FIXED_HEADERS		4
#define OTEL_MAX_USER_HEADERS	(OTEL_HTTP_MAX_HEADERS - OTEL_FIXED_HEADERS)

#define OTLP_PROTOBUF_TYPE		"application/x-protobuf"

/* Cached header lines from otel_aliyun.headers. */
typedef struct UserHeaders
{
	bool		valid;			/* built at least once */
	char	   *source;			/* the setting text they were built from */
	int			n;
	char	   *lines[OTEL_MAX_USER_HEADERS];	/* "Name: value" */
	bool		is_authentication[OTEL_MAX_USER_HEADERS];
	int			nignored;
	bool		has_auth;		/* Authentication or Authorization sent */
} UserHeaders;

static UserHeaders user_headers;
static MemoryContext user_headers_cxt = NULL;

static void send_payload(OtelPayload *p, OtelSendResult *r, bool diag,
						 OtelHttpResult *http, OtelGrpcResult *grpc);


/* ---- destinations ---- */

/* the OTLP destination kind of a *_protocol setting */
static OtelDestKind
otlp_dest(int protocol, bool has_json)
{
	switch ((OtelOtlpProtocol) protocol)
	{
		case OTEL_OTLP_HTTP_PROTOBUF:
			break;
		case OTEL_OTLP_HTTP_JSON:
			return has_json ? OTEL_DEST_OTLP_JSON : OTEL_DEST_OTLP_HTTP;
		case OTEL_OTLP_GRPC:
			return OTEL_DEST_OTLP_GRPC;
	}
	return OTEL_DEST_OTLP_HTTP;
}

OtelDestKind
otel_exporter_dest(OtelSignal sig)
{
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			if (otel_traces_endpoint == NULL || otel_traces_endpoint[0] == '\0')
				return OTEL_DEST_FILE;
			return otlp_dest(otel_traces_protocol, true);
		case OTEL_SIGNAL_LOGS:
			switch ((OtelLogsExporter) otel_logs_exporter)
			{
				case OTEL_LOGS_EXPORTER_SLS:
					return OTEL_DEST_SLS;
				case OTEL_LOGS_EXPORTER_OTLP:
					return otlp_dest(otel_logs_protocol, true);
				case OTEL_LOGS_EXPORTER_FILE:
					return OTEL_DEST_FILE;
				case OTEL_LOGS_EXPORTER_NONE:
					break;
			}
			break;
		case OTEL_SIGNAL_METRICS:
			if (otel_metrics_push_url() == NULL)
				break;
			if (otel_metrics_exporter == OTEL_METRICS_EXPORTER_PROMETHEUS)
				return OTEL_DEST_PROM_RW;
			return otlp_dest(otel_metrics_protocol, false);
		case OTEL_NUM_SIGNALS:
			break;
	}
	return OTEL_DEST_NONE;
}

const char *
otel_exporter_endpoint(OtelSignal sig)
{
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			if (otel_traces_endpoint == NULL || otel_traces_endpoint[0] == '\0')
				return NULL;
			return otel_traces_endpoint;
		case OTEL_SIGNAL_LOGS:
			if (otel_logs_exporter == OTEL_LOGS_EXPORTER_SLS)
				return otel_sls_url();
			if (otel_logs_exporter != OTEL_LOGS_EXPORTER_OTLP ||
				otel_logs_endpoint == NULL || otel_logs_endpoint[0] == '\0')
				return NULL;
			return otel_logs_endpoint;
		case OTEL_SIGNAL_METRICS:
			return otel_metrics_push_url();
		case OTEL_NUM_SIGNALS:
			break;
	}
	return NULL;
}

const char *
otel_dest_name(OtelDestKind dest)
{
	switch (dest)
	{
		case OTEL_DEST_NONE:
			return "none";
		case OTEL_DEST_FILE:
			return "file";
		case OTEL_DEST_OTLP_HTTP:
			return "otlp/http";
		case OTEL_DEST_SLS:
			return "sls";
		case OTEL_DEST_PROM_RW:
			return "prometheus";
		case OTEL_DEST_OTLP_JSON:
			return "otlp/http-json";
		case OTEL_DEST_OTLP_GRPC:
			return "otlp/grpc";
	}
	return "unknown";
}

/* "spans", "log records", ... for messages */
static const char *
record_noun(OtelSignal sig)
{
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			return "spans";
		case OTEL_SIGNAL_LOGS:
			return "log records";
		case OTEL_SIGNAL_METRICS:
			return "data points";
		case OTEL_NUM_SIGNALS:
			break;
	}
	return "records";
}


/* ---- encoding ---- */

/*
 * segs/nsegs (may be NULL): where each record lies in out, for signals whose
 * records look alike enough for gzip_delta.h; *segs stays NULL otherwise.
 */
static void
encode_otlp_pb(OtelSignal sig, const OtelRecordRef *refs, int n,
			   StringInfo out, int *nbad, OtelGzipSeg **segs, int *nsegs)
{
	if (segs)
	{
		*segs = NULL;
		*nsegs = 0;
	}
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			otel_encode_traces_pb(refs, n, out, nbad, segs, nsegs);
			return;
		case OTEL_SIGNAL_LOGS:
			otel_encode_logs_pb(refs, n, out, nbad);
			return;
		case OTEL_SIGNAL_METRICS:
		case OTEL_NUM_SIGNALS:
			break;
	}
	elog(ERROR, "no OTLP protobuf encoder for signal %d", (int) sig);
}

static void
encode_otlp_json(OtelSignal sig, const OtelRecordRef *refs, int n,
				 StringInfo out, int *nbad)
{
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			otel_encode_traces_json(refs, n, out, nbad);
			return;
		case OTEL_SIGNAL_LOGS:
			otel_encode_logs_json(refs, n, out, nbad);
			return;
		case OTEL_SIGNAL_METRICS:
		case OTEL_NUM_SIGNALS:
			break;
	}
	elog(ERROR, "no OTLP JSON encoder for signal %d", (int) sig);
}

/*
 * Compress raw into p->body with codec; when the library fails, send raw
 * uncompressed rather than lose the batch.  Consumes raw.  With segs (where
 * the records lie in raw), gzip first tries gzip_delta.h, several times
 * cheaper on look-alike records; it declines when they are too unlike.
 */
static void
compress_into(OtelPayload *p, StringInfo raw, OtelBodyCodec codec,
			  const OtelGzipSeg *segs, int nsegs)
{
	bool		ok = false;

	p->raw_len = raw->len;
	switch (codec)
	{
		case OTEL_CODEC_NONE:
			break;
		case OTEL_CODEC_GZIP:
			if (segs != NULL &&
				otel_gzip_delta(raw->data, raw->len, segs, nsegs, &p->body))
				ok = true;
			else
				ok = otel_gzip(raw->data, raw->len, OTEL_GZIP_LEVEL, &p->body);
			break;
		case OTEL_CODEC_LZ4:
			ok = otel_lz4(raw->data, raw->len, &p->body);
			break;
		case OTEL_CODEC_SNAPPY:
			ok = otel_snappy(raw->data, raw->len, &p->body);
			break;
	}

	if (ok)
	{
		p->codec = codec;
		pfree(raw->data);
	}
	else
	{
		pfree(p->body.data);
		p->body = *raw;
		p->codec = OTEL_CODEC_NONE;
	}
}

void
otel_exporter_batch_policy(OtelSignal sig, int *max_records, int *interval_ms)
{
	*max_records = otel_max_export_batch_size;
	*interval_ms = otel_export_interval_ms;
	if (sig == OTEL_SIGNAL_LOGS)
	{
		*max_records = otel_logs_batch_size;
		*interval_ms = otel_logs_export_interval_ms;
	}
	else if (sig == OTEL_SIGNAL_METRICS)
		*interval_ms = otel_metrics_export_interval_ms;
}

void
otel_exporter_encode(OtelSignal sig, const OtelRecordRef *refs, int n,
					 OtelPayload *p)
{
	int			nbad = 0;

	p->sig = sig;
	p->dest = otel_exporter_dest(sig);
	p->nrecords = 0;
	p->raw_len = 0;
	p->codec = OTEL_CODEC_NONE;
	p->nparts = 0;
	p->next_part = 0;
	p->parts = NULL;
	p->time_retries = 0;
	initStringInfo(&p->body);

	switch (p->dest)
	{
		case OTEL_DEST_NONE:
			return;

		case OTEL_DEST_SLS:
			otel_sls_encode(refs, n, p, &nbad);
			break;

		case OTEL_DEST_PROM_RW:
			/* metrics never come as records: otel_exporter_encode_metrics */
			nbad = n;
			break;

		case OTEL_DEST_FILE:
			encode_otlp_json(sig, refs, n, &p->body, &nbad);
			p->raw_len = p->body.len;
			break;

		case OTEL_DEST_OTLP_HTTP:
		case OTEL_DEST_OTLP_GRPC:
			{
				StringInfoData raw;
				OtelGzipSeg *segs;
				int			nsegs;

				initStringInfo(&raw);
				encode_otlp_pb(sig, refs, n, &raw, &nbad, &segs, &nsegs);
				compress_into(p, &raw,
							  otel_compression == OTEL_COMPRESSION_GZIP ?
							  OTEL_CODEC_GZIP : OTEL_CODEC_NONE, segs, nsegs);
			}
			break;

		case OTEL_DEST_OTLP_JSON:
			{
				StringInfoData raw;

				initStringInfo(&raw);
				encode_otlp_json(sig, refs, n, &raw, &nbad);
				compress_into(p, &raw,
							  otel_compression == OTEL_COMPRESSION_GZIP ?
							  OTEL_CODEC_GZIP : OTEL_CODEC_NONE, NULL, 0);
			}
			break;
	}

	p->nrecords = Max(n - nbad, 0);
}

void
otel_exporter_encode_metrics(const OtelMetricsSnapshot *snap, int from, int to,
							 int64 time_ns, OtelPayload *p)
{
	StringInfoData raw;

	memset(p, 0, sizeof(*p));
	p->sig = OTEL_SIGNAL_METRICS;
	p->dest = otel_exporter_dest(OTEL_SIGNAL_METRICS);
	p->codec = OTEL_CODEC_NONE;
	initStringInfo(&p->body);

	switch (p->dest)
	{
		case OTEL_DEST_NONE:
		case OTEL_DEST_FILE:
		case OTEL_DEST_SLS:
		case OTEL_DEST_OTLP_JSON:
			/* no such destination for metrics: nothing to send */
			return;
		case OTEL_DEST_PROM_RW:
			initStringInfo(&raw);
			/* target_info travels with the first part of each snapshot */
			(void) otel_encode_prom_write(snap, from, to, time_ns / 1000000,
										  from == 0, &raw);
			compress_into(p, &raw, OTEL_CODEC_SNAPPY, NULL, 0);
			break;
		case OTEL_DEST_OTLP_HTTP:
		case OTEL_DEST_OTLP_GRPC:
			initStringInfo(&raw);
			(void) otel_encode_metrics_pb(snap, from, to, time_ns, &raw);
			compress_into(p, &raw,
						  otel_compression == OTEL_COMPRESSION_GZIP ?
						  OTEL_CODEC_GZIP : OTEL_CODEC_NONE, NULL, 0);
			break;
	}
	p->nrecords = Max(Min(to, snap->nseries) - Max(from, 0), 0);
}


/* ---- otel_aliyun.headers ---- */

/* RFC 9110 token characters */
static bool
valid_header_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL))
			return false;
	}
	return true;
}

/* headers the exporter or libcurl must control */
static bool
reserved_header_name(const char *s)
{
	return pg_strcasecmp(s, "Content-Type") == 0 ||
		pg_strcasecmp(s, "Content-Encoding") == 0 ||
		pg_strcasecmp(s, "Content-Length") == 0 ||
		pg_strcasecmp(s, "Transfer-Encoding") == 0 ||
		pg_strcasecmp(s, "Expect") == 0;
}

static void
user_header_cb(const char *key, const char *value, void *arg)
{
	UserHeaders *uh = (UserHeaders *) arg;

	if (!valid_header_name(key) || reserved_header_name(key) ||
		strpbrk(value, "\r\n") != NULL || uh->n >= OTEL_MAX_USER_HEADERS)
	{
		uh->nignored++;
		return;
	}
	uh->is_authentication[uh->n] = (pg_strcasecmp(key, "Authentication") == 0);
	if (uh->is_authentication[uh->n] || pg_strcasecmp(key, "Authorization") == 0)
		uh->has_auth = true;
	uh->lines[uh->n++] = psprintf("%s: %s", key, value);
}

/* Rebuild the cached lines if otel_aliyun.headers changed. */
static UserHeaders *
get_user_headers(void)
{
	const char *src = otel_headers ? otel_headers : "";
	MemoryContext oldcxt;
	const char *errmsg = NULL;

	if (user_headers.valid && strcmp(user_headers.source, src) == 0)
		return &user_headers;

	if (user_headers_cxt == NULL)
		user_headers_cxt = AllocSetContextCreate(TopMemoryContext,
												 "otel_aliyun headers",
												 ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(user_headers_cxt);

	memset(&user_headers, 0, sizeof(user_headers));
	oldcxt = MemoryContextSwitchTo(user_headers_cxt);
	user_headers.source = pstrdup(src);
	if (!otel_kvlist_parse(src, user_header_cb, &user_headers, &errmsg))
	{
		/* the check hook should have refused it; send none of it */
		user_headers.n = 0;
		user_headers.has_auth = false;
		user_headers.nignored = Max(user_headers.nignored, 1);
	}
	MemoryContextSwitchTo(oldcxt);
	user_headers.valid = true;
	return &user_headers;
}

void
otel_exporter_headers_info(int *nsent, int *nignored, bool *has_auth)
{
	UserHeaders *uh = get_user_headers();

	*nsent = uh->n;
	*nignored = uh->nignored;
	*has_auth = uh->has_auth;
}


/* ---- sending ---- */

/* copy msg into dst as printable ASCII (others become '?') */
static void
copy_printable(char *dst, Size dstlen, const char *msg)
{
	Size		o = 0;

	for (; *msg && o + 1 < dstlen; msg++)
	{
		unsigned char c = (unsigned char) *msg;

		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char) c : (c < 0x20 ? ' ' : '?');
	}
	dst[o] = '\0';
}

/* read the partial_success of a 2xx answer (or gRPC OK), if the signal has one */
static void
read_partial_success(OtelPayload *p, const char *body, Size body_len,
					 OtelSendResult *r)
{
	int64		rejected = 0;
	char		msg[256];
	char		clean[200];
	bool		decoded = false;

	msg[0] = '\0';
	if (body_len == 0 || p->dest == OTEL_DEST_OTLP_JSON)
		return;					/* (a JSON answer is not read) */

	switch (p->sig)
	{
		case OTEL_SIGNAL_TRACES:
			decoded = otel_decode_traces_response(body, body_len,
												  &rejected, msg, sizeof(msg));
			break;
		case OTEL_SIGNAL_LOGS:
			decoded = otel_decode_logs_response(body, body_len,
												&rejected, msg, sizeof(msg));
			break;
		case OTEL_SIGNAL_METRICS:
			if (p->dest == OTEL_DEST_OTLP_HTTP || p->dest == OTEL_DEST_OTLP_GRPC)
				decoded = otel_decode_metrics_response(body, body_len,
													   &rejected, msg, sizeof(msg));
			break;
		case OTEL_NUM_SIGNALS:
			break;
	}

	/* an answer we cannot read (e.g. cut at OTEL_HTTP_BODY_KEEP) is success */
	if (!decoded)
		return;

	copy_printable(clean, sizeof(clean), msg);
	if (rejected > 0)
	{
		r->rejected = Min(rejected, (int64) p->nrecords);
		snprintf(r->error, sizeof(r->error),
				 "partial success: %lld %s rejected%s%s",
				 (long long) rejected, record_noun(p->sig),
				 clean[0] ? ": " : "", clean);
	}
	else if (clean[0] != '\0')
		snprintf(r->error, sizeof(r->error), "partial success warning: %s",
				 clean);
}

/*
 * Turn a transport result into the send outcome.  The error names the
 * endpoint by its masked URL only.
 */
static void
finish_http(OtelPayload *p, const char *url, const OtelHttpResult *res,
			bool ok, OtelSendResult *r)
{
	char		masked[128];

	r->http_status = res->status;
	r->retry_after_ms = res->retry_after_ms;
	r->bytes_sent = (res->status != 0) ? p->body.len : 0;

	if (ok)
	{
		r->outcome = OTEL_SEND_OK;
		read_partial_success(p, res->body, res->body_len, r);
		return;
	}

	if (p->dest == OTEL_DEST_PROM_RW)
	{
		/* remote write: every 5xx and 429 is worth another try */
		r->outcome = (res->transport_error || res->status == 429 ||
					  res->status >= 500) ? OTEL_SEND_RETRY : OTEL_SEND_DROP;
	}
	else
		r->outcome = otel_http_retryable(res) ? OTEL_SEND_RETRY : OTEL_SEND_DROP;
	otel_mask_url(url, masked, sizeof(masked));
	snprintf(r->error, sizeof(r->error), "%s (POST %s)", res->error, masked);
}

/*
 * The ARMS token (as an "Authentication" line, for traces) and the
 * otel_aliyun.headers entries, appended to lines[*n] while there is room
 * (max).  The token setting wins over an Authentication entry.  *auth_line
 * gets the palloc'd token line, for otel_exporter_wipe_secret() after the
 * request.
 * False, with r filled, when the token holds a line break.
 */
static bool
add_auth_lines(OtelSignal sig, const char **lines, int *n, int max,
			   char **auth_line, OtelSendResult *r)
{
	UserHeaders *uh;

	*auth_line = NULL;
	if (sig == OTEL_SIGNAL_TRACES &&
		otel_arms_token != NULL && otel_arms_token[0] != '\0')
	{
		if (strpbrk(otel_arms_token, "\r\n") != NULL)
		{
			r->outcome = OTEL_SEND_DROP;
			snprintf(r->error, sizeof(r->error),
					 "otel_aliyun.arms_token contains a line break");
			return false;
		}
		*auth_line = psprintf("Authentication: %s", otel_arms_token);
		lines[(*n)++] = *auth_line;
	}
	uh = get_user_headers();
	for (int i = 0; i < uh->n && *n < max; i++)
	{
		if (*auth_line != NULL && uh->is_authentication[i])
			continue;
		lines[(*n)++] = uh->lines[i];
	}
	return true;
}

void
otel_exporter_wipe_secret(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	pfree(s);
}

void
otel_exporter_http_request(OtelHttpRequest *req, const char *url,
						   const char *body, Size len, bool diag)
{
	memset(req, 0, sizeof(*req));
	req->url = url;
	req->body = body;
	req->body_len = len;
	req->timeout_ms = otel_export_timeout_ms;
	req->ca_file = otel_tls_ca_file;
	req->verify_tls = otel_tls_verify;
	req->interruptible = diag;
	req->fresh_connection = diag;
}

static void
send_otlp_http(OtelPayload *p, OtelSendResult *r, bool diag,
			   OtelHttpResult *http)
{
	const char *url = otel_exporter_endpoint(p->sig);
	OtelHttpRequest req;
	OtelHttpResult res;
	char	   *auth_line = NULL;
	bool		ok;

	if (url == NULL)
	{
		/* the endpoint was removed after this batch was encoded */
		r->outcome = OTEL_SEND_DROP;
		snprintf(r->error, sizeof(r->error),
				 "no OTLP endpoint is configured for %s any more",
				 otel_signal_names[p->sig]);
		return;
	}

	otel_exporter_http_request(&req, url, p->body.data, p->body.len, diag);

	req.headers[req.nheaders++] = (p->dest == OTEL_DEST_OTLP_JSON) ?
		"Content-Type: application/json" : "Content-Type: " OTLP_PROTOBUF_TYPE;
	switch (p->codec)
	{
		case OTEL_CODEC_NONE:
			break;
		case OTEL_CODEC_GZIP:
			req.headers[req.nheaders++] = "Content-Encoding: gzip";
			break;
		case OTEL_CODEC_LZ4:
		case OTEL_CODEC_SNAPPY:
			/* OTLP/HTTP knows only gzip; encode never does this */
			r->outcome = OTEL_SEND_DROP;
			snprintf(r->error, sizeof(r->error),
					 "unsupported compression for OTLP/HTTP");
			return;
	}

	/* ARMS: the token travels in an "Authentication" header */
	if (!add_auth_lines(p->sig, req.headers, &req.nheaders, OTEL_HTTP_MAX_HEADERS,
						&auth_line, r))
		return;

	ok = otel_http_post(&req, &res);
	otel_exporter_wipe_secret(auth_line);

	finish_http(p, url, &res, ok, r);
	if (http != NULL)
		memcpy(http, &res, sizeof(res));
}

/*
 * OTLP/gRPC: the Export call of the signal's collector service with the
 * encoded (and maybe gzip'd) request as its message, the ARMS token and
 * otel_aliyun.headers as metadata.  gRPC's status decides: OK (maybe with
 * a partial_success in the response message), the retryable codes (with
 * RetryInfo's delay as the wait), or dropped with status and message.
 */
static void
send_otlp_grpc(OtelPayload *p, OtelSendResult *r, bool diag,
			   OtelGrpcResult *grpc)
{
	const char *url = otel_exporter_endpoint(p->sig);
	OtelGrpcRequest req;
	OtelGrpcResult *res;
	char	   *auth_line = NULL;
	char		masked[128];

	if (url == NULL)
	{
		r->outcome = OTEL_SEND_DROP;
		snprintf(r->error, sizeof(r->error),
				 "no OTLP endpoint is configured for %s any more",
				 otel_signal_names[p->sig]);
		return;
	}

	memset(&req, 0, sizeof(req));
	req.endpoint = url;
	req.method = otel_grpc_otlp_method(p->sig);
	req.message = p->body.data;
	req.message_len = p->body.len;
	req.timeout_ms = otel_export_timeout_ms;
	req.ca_file = otel_tls_ca_file;
	req.verify_tls = otel_tls_verify;
	req.interruptible = diag;
	req.fresh_connection = diag;
	switch (p->codec)
	{
		case OTEL_CODEC_NONE:
			break;
		case OTEL_CODEC_GZIP:
			req.compressed = true;
			break;
		case OTEL_CODEC_LZ4:
		case OTEL_CODEC_SNAPPY:
			r->outcome = OTEL_SEND_DROP;
			snprintf(r->error, sizeof(r->error),
					 "unsupported compression for OTLP/gRPC");
			return;
	}

	/* ARMS: the token travels as "authentication" metadata */
	if (!add_auth_lines(p->sig, req.metadata, &req.nmetadata, OTEL_GRPC_MAX_METADATA,
						&auth_line, r))
		return;

	/* big (the response message): not on the stack */
	res = grpc != NULL ? grpc : palloc(sizeof(OtelGrpcResult));
	(void) otel_grpc_call(&req, res);

	otel_exporter_wipe_secret(auth_line);

	r->http_status = res->http.status;
	r->bytes_sent = (res->http.status != 0) ? p->body.len : 0;
	if (res->code == OTEL_GRPC_OK)
	{
		r->outcome = OTEL_SEND_OK;
		if (res->response_complete)
			read_partial_success(p, res->response, res->response_len, r);
	}
	else
	{
		r->outcome = otel_grpc_retryable(res) ? OTEL_SEND_RETRY : OTEL_SEND_DROP;
		r->retry_after_ms = res->retry_delay_ms;
		otel_mask_url(url, masked, sizeof(masked));
		snprintf(r->error, sizeof(r->error), "%s (gRPC %s)", res->error, masked);
	}
	if (res != grpc)
		pfree(res);
}

/*
 * Prometheus remote write 1.0: snappy-compressed WriteRequest over HTTP/1.1
 * (transport.c forces 1.1, which Alibaba Cloud's endpoint requires), with a
 * bearer token or Basic authentication (AccessKey id and secret) when set.
 */
static void
send_prom_rw(OtelPayload *p, OtelSendResult *r, bool diag,
			 OtelHttpResult *http)
{
	const char *url = otel_exporter_endpoint(p->sig);
	OtelHttpRequest req;
	OtelHttpResult res;
	char	   *auth_line = NULL;
	bool		ok;

	if (url == NULL || p->dest != otel_exporter_dest(p->sig))
	{
		r->outcome = OTEL_SEND_DROP;
		snprintf(r->error, sizeof(r->error),
				 "no Prometheus remote write URL is configured any more");
		return;
	}

	otel_exporter_http_request(&req, url, p->body.data, p->body.len, diag);

	req.headers[req.nheaders++] = "Content-Type: " OTLP_PROTOBUF_TYPE;
	if (p->codec == OTEL_CODEC_SNAPPY)
		req.headers[req.nheaders++] = "Content-Encoding: snappy";
	req.headers[req.nheaders++] = "X-Prometheus-Remote-Write-Version: 0.1.0";

	if (otel_prometheus_bearer_token != NULL && otel_prometheus_bearer_token[0] != '\0')
		auth_line = psprintf("Authorization: Bearer %s", otel_prometheus_bearer_token);
	else if (otel_prometheus_username != NULL && otel_prometheus_username[0] != '\0')
	{
		char	   *cred = psprintf("%s:%s", otel_prometheus_username,
									otel_prometheus_password ? otel_prometheus_password : "");
		int			clen = strlen(cred);
		int			blen = pg_b64_enc_len(clen);
		char	   *b64 = palloc(blen + 1);
		int			n = pg_b64_encode(cred, clen, b64, blen);

		if (n >= 0)
		{
			b64[n] = '\0';
			auth_line = psprintf("Authorization: Basic %s", b64);
		}
		explicit_bzero(cred, clen);
		explicit_bzero(b64, blen + 1);
		pfree(cred);
		pfree(b64);
	}
	if (auth_line != NULL)
	{
		if (strpbrk(auth_line, "\r\n") != NULL)
		{
			otel_exporter_wipe_secret(auth_line);
			r->outcome = OTEL_SEND_DROP;
			snprintf(r->error, sizeof(r->error),
					 "a Prometheus credential setting contains a line break");
			return;
		}
		req.headers[req.nheaders++] = auth_line;
	}

	ok = otel_http_post(&req, &res);
	otel_exporter_wipe_secret(auth_line);

	finish_http(p, url, &res, ok, r);
	if (http != NULL)
		memcpy(http, &res, sizeof(res));
}

static void
send_file(OtelPayload *p, OtelSendResult *r)
{
	if (otel_file_append(p->sig, p->body.data, p->body.len,
						 r->error, sizeof(r->error)))
	{
		r->outcome = OTEL_SEND_OK;
		r->bytes_sent = p->body.len + 1;
	}
	else
	{
		/* a full disk or a permission fixed later: worth retrying */
		r->outcome = OTEL_SEND_RETRY;
	}
}

static void
send_payload(OtelPayload *p, OtelSendResult *r, bool diag,
			 OtelHttpResult *http, OtelGrpcResult *grpc)
{
	memset(r, 0, sizeof(*r));
	r->retry_after_ms = -1;
	if (http != NULL)
	{
		memset(http, 0, sizeof(*http));
		http->retry_after_ms = -1;
	}

	switch (p->dest)
	{
		case OTEL_DEST_NONE:
			r->outcome = OTEL_SEND_DROP;
			snprintf(r->error, sizeof(r->error), "no destination for %s",
					 otel_signal_names[p->sig]);
			return;
		case OTEL_DEST_FILE:
			send_file(p, r);
			return;
		case OTEL_DEST_OTLP_HTTP:
		case OTEL_DEST_OTLP_JSON:
			send_otlp_http(p, r, diag, http);
			return;
		case OTEL_DEST_OTLP_GRPC:
			if (http != NULL && grpc == NULL)
			{
				OtelGrpcResult *g = palloc(sizeof(OtelGrpcResult));

				send_otlp_grpc(p, r, diag, g);
				memcpy(http, &g->http, sizeof(*http));
				pfree(g);
			}
			else
			{
				send_otlp_grpc(p, r, diag, grpc);
				if (http != NULL && grpc != NULL)
					memcpy(http, &grpc->http, sizeof(*http));
			}
			return;
		case OTEL_DEST_SLS:
			otel_sls_send(p, r, diag, http);
			return;
		case OTEL_DEST_PROM_RW:
			send_prom_rw(p, r, diag, http);
			return;
	}
	r->outcome = OTEL_SEND_DROP;
	snprintf(r->error, sizeof(r->error), "unknown destination %d",
			 (int) p->dest);
}

void
otel_exporter_send(OtelPayload *p, OtelSendResult *r)
{
	send_payload(p, r, false, NULL, NULL);
}

void
otel_exporter_send_diag(OtelPayload *p, OtelSendResult *r,
						struct OtelHttpResult *http)
{
	send_payload(p, r, true, http, NULL);
}

void
otel_exporter_send_diag_grpc(OtelPayload *p, OtelSendResult *r,
							 struct OtelGrpcResult *grpc)
{
	memset(grpc, 0, offsetof(OtelGrpcResult, response));
	grpc->code = OTEL_GRPC_UNKNOWN;
	grpc->retry_delay_ms = -1;
	grpc->http.retry_after_ms = -1;
	grpc->response_len = 0;
	send_payload(p, r, true, NULL, grpc);
}
