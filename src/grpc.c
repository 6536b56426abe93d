/*-------------------------------------------------------------------------
 *
 * grpc.c
 *		gRPC unary calls over HTTP/2 with libcurl's easy interface.
 *
 * The gRPC wire protocol (grpc/doc/PROTOCOL-HTTP2.md) on top of libcurl's
 * HTTP/2 (nghttp2): a POST to /<service>/<method> whose body is one
 * length-prefixed message (1 byte compressed flag, 4 bytes big-endian
 * length, the message), request headers content-type: application/grpc,
 * te: trailers, grpc-timeout and grpc-encoding, and an answer whose status
 * is in the trailers (grpc-status, grpc-message, grpc-status-details-bin),
 * or in the headers of a trailers-only answer.  libcurl hands trailers to
 * the header callback, after the body.
 *
 * Plain text endpoints use HTTP/2 with prior knowledge (h2c, what gRPC
 * servers speak; they do not do the HTTP/1.1 Upgrade dance), TLS endpoints
 * negotiate h2 with ALPN; an answer over HTTP/1.x is an error.
 *
 * One curl handle lives as long as the process, so its connection cache
 * keeps one HTTP/2 connection per host: the calls of every signal going to
 * the same collector share it.  libcurl before 8.0.0 (Debian 12 ships
 * 7.88.1) cannot reuse a prior-knowledge connection: the second request
 * fails with CURLE_HTTP2 before anything is sent (curl issue #10634).  For
 * those versions a connection known to be h2 is reused by asking for plain
 * HTTP/2 (which reuses a live h2 connection as is); when that turns out to
 * need a new connection (the old one was closed), curl would try the
 * HTTP/1.1 Upgrade, which gRPC servers refuse, and the call is made again at
 * once over a fresh prior-knowledge connection.
 *
 * google.rpc.Status in grpc-status-details-bin is decoded by hand: only
 * Status.details (field 3, Any), Any.type_url (1) / value (2),
 * RetryInfo.retry_delay (1) and Duration.seconds (1) / nanos (2) are needed.
 *
 * Nothing here raises (the worker must survive any network failure) and no
 * metadata value is ever copied into an error text, since they carry
 * tokens and access keys.
 *
 * IDENTIFICATION
 *	  src/grpc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include <curl/curl.h>
#include <zlib.h>

#include "miscadmin.h"

#include "encode_otlp.h"
#include "grpc.h"
#include "otel_aliyun.h"
#include "transport.h"

#define GRPC_USER_AGENT			"otel_aliyun/" OTEL_ALIYUN_VERSION
#define GRPC_DEFAULT_TIMEOUT_MS 10000
#define GRPC_PREFIX_LEN			5
#define GRPC_MAX_H2C_HOSTS		8
#define GRPC_MAX_LINE			8192	/* one request header line */
#define GRPC_MAX_HEADER_VALUE	4096	/* one response header value kept */
#define GRPC_URL_MAX			2048

/* process-wide libcurl state */
static bool curl_global_done = false;
static CURL *grpc_handle = NULL;

/* request body (prefix + message), grown as needed and reused */
static char *send_buf = NULL;
static Size send_buf_size = 0;

/* authorities with a live h2c connection in the handle (old libcurl only) */
static char *h2c_hosts[GRPC_MAX_H2C_HOSTS];
static int	n_h2c_hosts = 0;

/* what the callbacks of one call write into */
typedef struct GrpcCtx
{
	OtelGrpcResult *res;
	bool		interruptible;
	bool		grpc_content;	/* content-type application/grpc... seen */
	bool		gzip_response;	/* grpc-encoding: gzip */
	int			status;			/* grpc-status, -1 until seen */
	/* response framing: the first message is kept, others are skipped */
	uint8		prefix[GRPC_PREFIX_LEN];
	int			prefix_got;
	uint32		cur_len;
	Size		cur_got;
	int			nmessages;
	bool		first_compressed;
	uint32		first_len;
	bool		first_complete;
	char		raw[OTEL_GRPC_RESPONSE_KEEP];
	Size		raw_len;
	bool		raw_overflow;
} GrpcCtx;

/* the state of the call in progress (one at a time per process) */
static GrpcCtx call_ctx;

static const char *const code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"
};

const char *
otel_grpc_code_name(int code)
{
	if (code >= 0 && code < (int) lengthof(code_names))
		return code_names[code];
	return "UNKNOWN_CODE";
}

const char *
otel_grpc_otlp_method(OtelSignal sig)
{
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			return "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
		case OTEL_SIGNAL_LOGS:
			return "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
		case OTEL_SIGNAL_METRICS:
			return "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
		case OTEL_NUM_SIGNALS:
			break;
	}
	return NULL;
}

static const curl_version_info_data *
curl_info(void)
{
	static const curl_version_info_data *info = NULL;

	if (info == NULL)
		info = curl_version_info(CURLVERSION_NOW);
	return info;
}

bool
otel_grpc_supported(char *why, Size whylen)
{
	const curl_version_info_data *info = curl_info();

	if (info != NULL && (info->features & CURL_VERSION_HTTP2) != 0)
	{
		if (why != NULL && whylen > 0)
			snprintf(why, whylen, "libcurl %s with HTTP/2 (nghttp2 %s)",
					 info->version,
					 info->nghttp2_version ? info->nghttp2_version : "?");
		return true;
	}
	if (why != NULL && whylen > 0)
		snprintf(why, whylen,
				 "libcurl %s was built without HTTP/2 support (nghttp2), "
				 "which gRPC needs",
				 info != NULL ? info->version : "(unknown version)");
	return false;
}

/* libcurl before 8.0.0 fails when it reuses a prior-knowledge connection */
static bool
h2c_reuse_broken(void)
{
	const curl_version_info_data *info = curl_info();

	return info == NULL || info->version_num < 0x080000;
}

static int
h2c_host_index(const char *authority)
{
	for (int i = 0; i < n_h2c_hosts; i++)
		if (strcmp(h2c_hosts[i], authority) == 0)
			return i;
	return -1;
}

static void
h2c_host_forget(const char *authority)
{
	int			i = h2c_host_index(authority);

	if (i < 0)
		return;
	free(h2c_hosts[i]);
	h2c_hosts[i] = h2c_hosts[--n_h2c_hosts];
}

static void
h2c_host_remember(const char *authority)
{
	char	   *copy;

	if (h2c_host_index(authority) >= 0)
		return;
	copy = strdup(authority);
	if (copy == NULL)
		return;
	if (n_h2c_hosts == GRPC_MAX_H2C_HOSTS)
	{
		/* curl keeps few connections anyway: forget the oldest */
		free(h2c_hosts[0]);
		memmove(&h2c_hosts[0], &h2c_hosts[1],
				sizeof(char *) * (GRPC_MAX_H2C_HOSTS - 1));
		n_h2c_hosts--;
	}
	h2c_hosts[n_h2c_hosts++] = copy;
}

static void
h2c_hosts_clear(void)
{
	for (int i = 0; i < n_h2c_hosts; i++)
		free(h2c_hosts[i]);
	n_h2c_hosts = 0;
}


/* ---- small decoders ---- */

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * grpc-message is percent-encoded UTF-8.  Decode it into dst as printable
 * ASCII: control characters become spaces, other bytes '?'.
 */
static void
percent_decode_printable(const char *src, Size len, char *dst, Size dstlen)
{
	Size		o = 0;
	Size		i = 0;

	while (i < len && o + 1 < dstlen)
	{
		unsigned char c = (unsigned char) src[i];

		if (c == '%' && i + 2 < len && hexval(src[i + 1]) >= 0 &&
			hexval(src[i + 2]) >= 0)
		{
			c = (unsigned char) (hexval(src[i + 1]) * 16 + hexval(src[i + 2]));
			i += 3;
		}
		else
			i++;
		if (c < 0x20 || c == 0x7f)
			dst[o++] = ' ';
		else if (c >= 0x80)
			dst[o++] = '?';
		else
			dst[o++] = (char) c;
	}
	dst[o] = '\0';
}

/* base64 (standard alphabet), padding optional.  -1 when invalid. */
static int
base64_decode(const char *src, Size len, uint8 *dst, Size dstlen)
{
	uint32		acc = 0;
	int			bits = 0;
	Size		o = 0;

	for (Size i = 0; i < len; i++)
	{
		char		c = src[i];
		int			v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+' || c == '-')
			v = 62;
		else if (c == '/' || c == '_')
			v = 63;
		else if (c == '=')
			break;
		else
			return -1;
		acc = (acc << 6) | (uint32) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			if (o >= dstlen)
				return -1;
			dst[o++] = (uint8) ((acc >> bits) & 0xff);
		}
	}
	return (int) o;
}

/* google.protobuf.Duration inside google.rpc.RetryInfo -> ms, -1 if bad */
static int
retry_info_delay_ms(const uint8 *p, const uint8 *end)
{
	int64		seconds = 0;
	int32		nanos = 0;
	bool		found = false;

	while (p < end)
	{
		uint32		field;
		int			wt;
		const uint8 *d = NULL;
		Size		l = 0;
		uint64		v = 0;

		if (!otel_pb_read_field(&p, end, &field, &wt, &d, &l, &v))
			return -1;
		if (field == 1 && wt == 2)
		{
			/* retry_delay: Duration */
			const uint8 *q = d;
			const uint8 *qend = d + l;

			found = true;
			while (q < qend)
			{
				uint32		f2;
				int			wt2;
				const uint8 *d2 = NULL;
				Size		l2 = 0;
				uint64		v2 = 0;

				if (!otel_pb_read_field(&q, qend, &f2, &wt2, &d2, &l2, &v2))
					return -1;
				if (f2 == 1 && wt2 == 0)
					seconds = (int64) v2;
				else if (f2 == 2 && wt2 == 0)
					nanos = (int32) v2;
			}
		}
	}
	if (!found)
		return 0;				/* a RetryInfo with no delay: retry now */
	if (seconds < 0 || (seconds == 0 && nanos < 0))
		return 0;
	if (seconds >= INT_MAX / 1000)
		return INT_MAX;
	return (int) (seconds * 1000 + Max(nanos, 0) / 1000000);
}

/*
 * google.rpc.Status: look for a google.rpc.RetryInfo among its details.
 * Returns its delay in ms, or -1 when there is none.
 */
static int
status_details_retry_delay(const uint8 *p, Size len)
{
	const uint8 *end = p + len;

	while (p < end)
	{
		uint32		field;
		int			wt;
		const uint8 *d = NULL;
		Size		l = 0;
		uint64		v = 0;

		if (!otel_pb_read_field(&p, end, &field, &wt, &d, &l, &v))
			return -1;
		if (field == 3 && wt == 2)
		{
			/* details: google.protobuf.Any */
			const uint8 *q = d;
			const uint8 *qend = d + l;
			const uint8 *type_url = NULL;
			Size		type_len = 0;
			const uint8 *value = NULL;
			Size		value_len = 0;
			static const char suffix[] = "google.rpc.RetryInfo";
			Size		slen = sizeof(suffix) - 1;

			while (q < qend)
			{
				uint32		f2;
				int			wt2;
				const uint8 *d2 = NULL;
				Size		l2 = 0;
				uint64		v2 = 0;

				if (!otel_pb_read_field(&q, qend, &f2, &wt2, &d2, &l2, &v2))
					return -1;
				if (f2 == 1 && wt2 == 2)
				{
					type_url = d2;
					type_len = l2;
				}
				else if (f2 == 2 && wt2 == 2)
				{
					value = d2;
					value_len = l2;
				}
			}
			/* "type.googleapis.com/google.rpc.RetryInfo" */
			if (type_url != NULL && type_len >= slen &&
				memcmp(type_url + type_len - slen, suffix, slen) == 0 &&
				(type_len == slen || type_url[type_len - slen - 1] == '/'))
			{
				if (value == NULL)
					return 0;
				return retry_info_delay_ms(value, value + value_len);
			}
		}
	}
	return -1;
}


/* ---- callbacks ---- */

/*
 * Response body.  gRPC answers carry length-prefixed messages; anything
 * else (a proxy's error page) is kept as text for the error message.
 */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	GrpcCtx    *ctx = (GrpcCtx *) userdata;
	size_t		n = size * nmemb;
	const uint8 *p = (const uint8 *) ptr;
	size_t		left = n;

	if (!ctx->grpc_content)
	{
		OtelHttpResult *http = &ctx->res->http;

		if (http->body_len < OTEL_HTTP_BODY_KEEP)
		{
			size_t		take = Min(OTEL_HTTP_BODY_KEEP - http->body_len, n);

			memcpy(http->body + http->body_len, ptr, take);
			http->body_len += take;
		}
		return n;
	}

	while (left > 0)
	{
		if (ctx->prefix_got < GRPC_PREFIX_LEN)
		{
			size_t		take = Min((size_t) (GRPC_PREFIX_LEN - ctx->prefix_got), left);

			memcpy(ctx->prefix + ctx->prefix_got, p, take);
			ctx->prefix_got += take;
			p += take;
			left -= take;
			if (ctx->prefix_got < GRPC_PREFIX_LEN)
				break;
			ctx->cur_len = ((uint32) ctx->prefix[1] << 24) |
				((uint32) ctx->prefix[2] << 16) |
				((uint32) ctx->prefix[3] << 8) | (uint32) ctx->prefix[4];
			ctx->cur_got = 0;
			ctx->nmessages++;
			if (ctx->nmessages == 1)
			{
				ctx->first_compressed = (ctx->prefix[0] & 1) != 0;
				ctx->first_len = ctx->cur_len;
			}
		}
		else
		{
			size_t		take = Min((size_t) (ctx->cur_len - ctx->cur_got), left);

			if (ctx->nmessages == 1)
			{
				size_t		keep = Min(take, sizeof(ctx->raw) - ctx->raw_len);

				memcpy(ctx->raw + ctx->raw_len, p, keep);
				ctx->raw_len += keep;
				if (keep < take)
					ctx->raw_overflow = true;
			}
			ctx->cur_got += take;
			p += take;
			left -= take;
		}
		if (ctx->prefix_got == GRPC_PREFIX_LEN && ctx->cur_got == ctx->cur_len)
		{
			if (ctx->nmessages == 1)
				ctx->first_complete = true;
			ctx->prefix_got = 0;
		}
	}
	return n;
}

/*
 * Response headers and trailers, one line per call.  A status line starts
 * the headers of a (new) response and forgets what came before.
 */
static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	GrpcCtx    *ctx = (GrpcCtx *) userdata;
	OtelGrpcResult *res = ctx->res;
	size_t		n = size * nitems;
	size_t		namelen;
	size_t		vstart;
	size_t		vend;
	size_t		vlen;
	static char value[GRPC_MAX_HEADER_VALUE];

	if (n >= 5 && strncmp(buffer, "HTTP/", 5) == 0)
	{
		ctx->grpc_content = false;
		ctx->gzip_response = false;
		ctx->status = -1;
		res->message[0] = '\0';
		res->retry_delay_ms = -1;
		res->http.request_id[0] = '\0';
		return n;
	}

	if (!otel_http_split_header(buffer, n, &namelen, &vstart, &vend))
		return n;
	vlen = vend - vstart;

#define NAME_IS(s) (namelen == sizeof(s) - 1 && pg_strncasecmp(buffer, s, namelen) == 0)

	if (NAME_IS("grpc-status"))
	{
		int			code = 0;
		size_t		i;

		for (i = vstart; i < vend && buffer[i] >= '0' && buffer[i] <= '9' && code < 1000; i++)
			code = code * 10 + (buffer[i] - '0');
		ctx->status = (i == vend && vlen > 0) ? code : OTEL_GRPC_UNKNOWN;
	}
	else if (NAME_IS("grpc-message"))
		percent_decode_printable(buffer + vstart, vlen, res->message,
								 sizeof(res->message));
	else if (NAME_IS("grpc-encoding"))
		ctx->gzip_response = (vlen == 4 && pg_strncasecmp(buffer + vstart, "gzip", 4) == 0);
	else if (NAME_IS("content-type"))
		ctx->grpc_content = (vlen >= 16 &&
							 pg_strncasecmp(buffer + vstart, "application/grpc", 16) == 0);
	else if (NAME_IS("grpc-status-details-bin"))
	{
		int			len;

		if (vlen < sizeof(value))
		{
			memcpy(value, buffer + vstart, vlen);
			len = base64_decode(value, vlen, (uint8 *) value, sizeof(value));
			if (len >= 0)
				res->retry_delay_ms = status_details_retry_delay((const uint8 *) value,
																 (Size) len);
		}
	}
	else if (NAME_IS("x-request-id") || NAME_IS("x-log-requestid") ||
			 NAME_IS("x-acs-request-id"))
		otel_http_copy_printable(res->http.request_id, sizeof(res->http.request_id),
								 buffer + vstart, vlen);
#undef NAME_IS
	return n;
}

static int
xferinfo_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	GrpcCtx    *ctx = (GrpcCtx *) clientp;

	if (ctx->interruptible && (QueryCancelPending || ProcDiePending))
		return 1;
	return 0;
}


/* ---- the call ---- */

/* the gRPC code of an HTTP answer without grpc-status (gRPC's mapping) */
static int
code_from_http(long status)
{
	switch (status)
	{
		case 400:
			return OTEL_GRPC_INTERNAL;
		case 401:
			return OTEL_GRPC_UNAUTHENTICATED;
		case 403:
			return OTEL_GRPC_PERMISSION_DENIED;
		case 404:
			return OTEL_GRPC_UNIMPLEMENTED;
		case 429:
		case 502:
		case 503:
		case 504:
			return OTEL_GRPC_UNAVAILABLE;
		default:
			return OTEL_GRPC_UNKNOWN;
	}
}

static bool
init_handle(OtelGrpcResult *res)
{
	if (!curl_global_done)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			strlcpy(res->error, "could not initialize libcurl", sizeof(res->error));
			return false;
		}
		curl_global_done = true;
	}
	if (grpc_handle == NULL)
	{
		grpc_handle = curl_easy_init();
		if (grpc_handle == NULL)
		{
			strlcpy(res->error, "could not create a libcurl handle",
					sizeof(res->error));
			return false;
		}
	}
	return true;
}

/*
 * Split endpoint into scheme and authority (host[:port]), lower-cased, and
 * build the call's URL.  False (with errbuf) when it is not http(s)://.
 */
static bool
build_url(const char *endpoint, const char *method, char *url, Size urllen,
		  char *authority, Size authlen, bool *tls, char *errbuf, Size errlen)
{
	const char *p;
	Size		alen;

	if (endpoint == NULL || endpoint[0] == '\0')
	{
		snprintf(errbuf, errlen, "no endpoint configured");
		return false;
	}
	if (pg_strncasecmp(endpoint, "http://", 7) == 0)
	{
		*tls = false;
		p = endpoint + 7;
	}
	else if (pg_strncasecmp(endpoint, "https://", 8) == 0)
	{
		*tls = true;
		p = endpoint + 8;
	}
	else
	{
		snprintf(errbuf, errlen,
				 "a gRPC endpoint must start with http:// (plain text) or https:// (TLS)");
		return false;
	}
	alen = strcspn(p, "/?#");
	if (alen == 0)
	{
		snprintf(errbuf, errlen, "the gRPC endpoint has no host");
		return false;
	}
	if (alen >= authlen ||
		snprintf(url, urllen, "%s://%.*s%s", *tls ? "https" : "http",
				 (int) alen, p, method) >= (int) urllen)
	{
		snprintf(errbuf, errlen, "the gRPC endpoint is too long");
		return false;
	}
	for (Size i = 0; i < alen; i++)
		authority[i] = pg_ascii_tolower(p[i]);
	authority[alen] = '\0';
	return true;
}

/* gRPC metadata names: lower-case letters, digits, '-', '_', '.' */
static bool
metadata_name_ok(const char *name, Size len)
{
	static const char *const reserved[] = {
		"content-type", "content-length", "content-encoding", "te",
		"transfer-encoding", "host", "connection", "keep-alive",
		"proxy-connection", "upgrade", "expect", "accept-encoding"
	};

	if (len == 0)
		return false;
	for (Size i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '-' || c == '_' || c == '.'))
			return false;
	}
	if (len >= 5 && strncmp(name, "grpc-", 5) == 0)
		return false;
	for (int i = 0; i < (int) lengthof(reserved); i++)
		if (strlen(reserved[i]) == len && strncmp(reserved[i], name, len) == 0)
			return false;
	return true;
}

/*
 * The request headers.  NULL with res->error set when out of memory.
 */
static struct curl_slist *
build_headers(const OtelGrpcRequest *req, OtelGrpcResult *res, int timeout_ms)
{
	struct curl_slist *hdrs = NULL;
	char		line[GRPC_MAX_LINE];
	const char *fixed[6];
	int			nfixed = 0;
	char		timeout_line[64];

	/* grpc-timeout: at most 8 digits */
	if (timeout_ms <= 99999999)
		snprintf(timeout_line, sizeof(timeout_line), "grpc-timeout: %dm", timeout_ms);
	else
		snprintf(timeout_line, sizeof(timeout_line), "grpc-timeout: %dS",
				 timeout_ms / 1000);

	fixed[nfixed++] = "content-type: application/grpc";
	fixed[nfixed++] = "te: trailers";
	fixed[nfixed++] = timeout_line;
	fixed[nfixed++] = req->compressed ? "grpc-encoding: gzip" : "grpc-encoding: identity";
	fixed[nfixed++] = "grpc-accept-encoding: identity,gzip";
	/* none of curl's default Accept and Expect headers */
	fixed[nfixed++] = "Accept:";

	for (int i = 0; i < nfixed; i++)
	{
		struct curl_slist *next = curl_slist_append(hdrs, fixed[i]);

		if (next == NULL)
			goto oom;
		hdrs = next;
	}
	{
		struct curl_slist *next = curl_slist_append(hdrs, "Expect:");

		if (next == NULL)
			goto oom;
		hdrs = next;
	}

	for (int i = 0; i < req->nmetadata && i < OTEL_GRPC_MAX_METADATA; i++)
	{
		const char *m = req->metadata[i];
		const char *colon;
		Size		namelen;
		const char *v;
		struct curl_slist *next;

		if (m == NULL || m[0] == '\0')
			continue;
		colon = strchr(m, ':');
		if (colon == NULL)
		{
			res->metadata_ignored++;
			continue;
		}
		namelen = colon - m;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		if (namelen + 2 + strlen(v) + 1 > sizeof(line) ||
			strpbrk(v, "\r\n") != NULL)
		{
			res->metadata_ignored++;
			continue;
		}
		for (Size k = 0; k < namelen; k++)
			line[k] = pg_ascii_tolower(m[k]);
		if (!metadata_name_ok(line, namelen))
		{
			res->metadata_ignored++;
			continue;
		}
		line[namelen] = ':';
		line[namelen + 1] = ' ';
		strcpy(line + namelen + 2, v);
		next = curl_slist_append(hdrs, line);
		explicit_bzero(line, sizeof(line));
		if (next == NULL)
			goto oom;
		hdrs = next;
	}
	return hdrs;

oom:
	curl_slist_free_all(hdrs);
	strlcpy(res->error, "out of memory building request headers",
			sizeof(res->error));
	return NULL;
}

/* remember the first option that could not be set */
#define SETOPT(h, opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt((h), (opt), (val)); \
		if (setopt_rc_ != CURLE_OK && rc == CURLE_OK) \
			rc = setopt_rc_; \
	} while (0)

/*
 * One HTTP/2 exchange on the handle.  Fills ctx (from scratch) and the
 * HTTP part of res; returns curl's result.
 */
static CURLcode
perform(CURL *h, const OtelGrpcRequest *req, GrpcCtx *ctx, OtelGrpcResult *res,
		const char *url, struct curl_slist *hdrs, Size body_len,
		long http_version, bool fresh, long timeout_ms, char *errbuf,
		long *num_connects)
{
	CURLcode	rc = CURLE_OK;

	memset(ctx, 0, offsetof(GrpcCtx, raw));
	ctx->raw_len = 0;
	ctx->raw_overflow = false;
	ctx->res = res;
	ctx->interruptible = req->interruptible;
	ctx->status = -1;
	memset(&res->http, 0, sizeof(res->http));
	res->http.retry_after_ms = -1;
	res->message[0] = '\0';
	res->retry_delay_ms = -1;
	errbuf[0] = '\0';
	*num_connects = 0;

	curl_easy_reset(h);			/* keeps the connection cache */
	SETOPT(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_HTTP_VERSION, http_version);
	SETOPT(h, CURLOPT_PIPEWAIT, 1L);
	SETOPT(h, CURLOPT_USERAGENT, GRPC_USER_AGENT);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
	SETOPT(h, CURLOPT_POSTFIELDS, send_buf);
	SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_cb);
	SETOPT(h, CURLOPT_WRITEDATA, ctx);
	SETOPT(h, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(h, CURLOPT_HEADERDATA, ctx);
	SETOPT(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SETOPT(h, CURLOPT_XFERINFODATA, ctx);
	SETOPT(h, CURLOPT_NOPROGRESS, 0L);
	if (req->ca_file != NULL && req->ca_file[0] != '\0')
		SETOPT(h, CURLOPT_CAINFO, req->ca_file);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, req->verify_tls ? 1L : 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, req->verify_tls ? 2L : 0L);
	if (fresh)
		SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
	if (req->fresh_connection)
		SETOPT(h, CURLOPT_FORBID_REUSE, 1L);

	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	else
		snprintf(errbuf, CURL_ERROR_SIZE, "could not set up the request: %s",
				 curl_easy_strerror(rc));

	otel_http_fill_timings(h, &res->http);
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, num_connects);
	if (rc == CURLE_OK)
	{
		long		status = 0;
		long		version = 0;

		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
		res->http.status = status;
		res->http2 = (version == CURL_HTTP_VERSION_2_0);
	}
	else
	{
		res->http.transport_error = true;
		res->http.timed_out = (rc == CURLE_OPERATION_TIMEDOUT);
		res->http.failure = otel_http_classify_failure(rc);
		res->http2 = false;
	}

	/* the handle must not keep pointers to this call's memory */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *) NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, (char *) NULL);
	return rc;
}

/* the first response message into res->response, inflated if need be */
static void
take_response(GrpcCtx *ctx, OtelGrpcResult *res)
{
	res->response_len = 0;
	res->response_complete = false;
	if (ctx->nmessages == 0 || !ctx->first_complete || ctx->raw_overflow)
		return;
	if (!ctx->first_compressed)
	{
		memcpy(res->response, ctx->raw, ctx->raw_len);
		res->response_len = ctx->raw_len;
		res->response_complete = true;
		return;
	}
	if (ctx->gzip_response)
	{
		z_stream	zs;
		int			zrc;

		memset(&zs, 0, sizeof(zs));
		if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
			return;
		zs.next_in = (Bytef *) ctx->raw;
		zs.avail_in = (uInt) ctx->raw_len;
		zs.next_out = (Bytef *) res->response;
		zs.avail_out = (uInt) sizeof(res->response);
		zrc = inflate(&zs, Z_FINISH);
		if (zrc == Z_STREAM_END)
		{
			res->response_len = zs.total_out;
			res->response_complete = true;
		}
		inflateEnd(&zs);
	}
	/* another encoding, or a compressed message without one: unreadable */
}

/* the answer's start as printable text, for errors about non-gRPC answers */
static void
body_text(const OtelHttpResult *http, char *dst, Size dstlen)
{
	Size		o = 0;
	bool		last_space = true;

	for (Size i = 0; i < http->body_len && o + 1 < dstlen && o < 160; i++)
	{
		unsigned char c = (unsigned char) http->body[i];

		if (c <= 0x20 || c == 0x7f)
		{
			if (!last_space)
				dst[o++] = ' ';
			last_space = true;
		}
		else
		{
			dst[o++] = (c < 0x80) ? (char) c : '?';
			last_space = false;
		}
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* res->error and res->http.error from what was found out */
static void
set_error(OtelGrpcResult *res, const char *detail)
{
	const char *name = otel_grpc_code_name(res->code);

	if (res->code == OTEL_GRPC_OK)
		res->error[0] = '\0';
	else if (detail != NULL && detail[0] != '\0')
		snprintf(res->error, sizeof(res->error), "gRPC %s (%d): %s",
				 name, res->code, detail);
	else
		snprintf(res->error, sizeof(res->error), "gRPC %s (%d)",
				 name, res->code);
	strlcpy(res->http.error, res->error, sizeof(res->http.error));
}

/* A local failure before anything was sent. */
static bool
fail_local(OtelGrpcResult *res, int code, const char *msg)
{
	res->http.transport_error = true;
	res->http.failure = OTEL_HTTP_FAIL_OTHER;
	res->code = code;
	set_error(res, msg);
	return false;
}

bool
otel_grpc_call(const OtelGrpcRequest *req, OtelGrpcResult *res)
{
	char		url[GRPC_URL_MAX];
	char		authority[512];
	char		errbuf[CURL_ERROR_SIZE];
	char		detail[256];
	char		why[256];
	bool		tls = false;
	bool		reuse_h2c;
	long		timeout_ms;
	long		version;
	long		num_connects = 0;
	struct curl_slist *hdrs;
	Size		body_len;
	GrpcCtx    *ctx;
	CURLcode	rc;

	memset(res, 0, offsetof(OtelGrpcResult, response));
	res->response_len = 0;
	res->response_complete = false;
	res->http.retry_after_ms = -1;
	res->retry_delay_ms = -1;
	res->code = OTEL_GRPC_UNKNOWN;

	if (!otel_grpc_supported(why, sizeof(why)))
		return fail_local(res, OTEL_GRPC_UNIMPLEMENTED, why);
	if (!build_url(req->endpoint, req->method ? req->method : "", url, sizeof(url),
				   authority, sizeof(authority), &tls, detail, sizeof(detail)))
		return fail_local(res, OTEL_GRPC_INTERNAL, detail);
	if (req->method == NULL || req->method[0] != '/')
		return fail_local(res, OTEL_GRPC_INTERNAL, "no gRPC method");
	if (req->message_len > (Size) PG_UINT32_MAX - GRPC_PREFIX_LEN)
		return fail_local(res, OTEL_GRPC_RESOURCE_EXHAUSTED, "message too large");
	if (!init_handle(res))
	{
		char		msg[256];

		strlcpy(msg, res->error, sizeof(msg));
		return fail_local(res, OTEL_GRPC_INTERNAL, msg);
	}

	/* the length-prefixed message */
	body_len = GRPC_PREFIX_LEN + req->message_len;
	if (send_buf_size < body_len)
	{
		Size		want = Max(body_len, (Size) 64 * 1024);
		char	   *nb = realloc(send_buf, want);

		if (nb == NULL)
			return fail_local(res, OTEL_GRPC_RESOURCE_EXHAUSTED,
							  "out of memory for the request");
		send_buf = nb;
		send_buf_size = want;
	}
	send_buf[0] = req->compressed ? 1 : 0;
	send_buf[1] = (char) ((req->message_len >> 24) & 0xff);
	send_buf[2] = (char) ((req->message_len >> 16) & 0xff);
	send_buf[3] = (char) ((req->message_len >> 8) & 0xff);
	send_buf[4] = (char) (req->message_len & 0xff);
	if (req->message_len > 0)
		memcpy(send_buf + GRPC_PREFIX_LEN, req->message, req->message_len);

	timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : GRPC_DEFAULT_TIMEOUT_MS;
	hdrs = build_headers(req, res, (int) timeout_ms);
	if (hdrs == NULL)
	{
		char		msg[256];

		strlcpy(msg, res->error, sizeof(msg));
		return fail_local(res, OTEL_GRPC_RESOURCE_EXHAUSTED, msg);
	}

	/* kept off the stack: the response buffer is large */
	ctx = &call_ctx;

	/* which HTTP/2 flavour (see the file header about old libcurl) */
	reuse_h2c = false;
	if (tls)
		version = CURL_HTTP_VERSION_2TLS;
	else if (!req->fresh_connection && h2c_reuse_broken() &&
			 h2c_host_index(authority) >= 0)
	{
		version = CURL_HTTP_VERSION_2_0;
		reuse_h2c = true;
	}
	else
		version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;

	rc = perform(grpc_handle, req, ctx, res, url, hdrs, body_len, version,
				 req->fresh_connection, timeout_ms, errbuf, &num_connects);

	if (reuse_h2c && (rc != CURLE_OK || !res->http2))
	{
		h2c_host_forget(authority);
		if (num_connects > 0 && rc != CURLE_ABORTED_BY_CALLBACK)
		{
			/* the connection was gone: again, over a new h2c one */
			long		left = timeout_ms - (long) res->http.total_ms;

			if (left > 0)
				rc = perform(grpc_handle, req, ctx, res, url, hdrs, body_len,
							 CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE, true, left,
							 errbuf, &num_connects);
		}
	}
	if (!tls && h2c_reuse_broken() && !req->fresh_connection)
	{
		if (rc == CURLE_OK && res->http2)
			h2c_host_remember(authority);
		else
			h2c_host_forget(authority);
	}
	curl_slist_free_all(hdrs);

	/*
	 * A connection whose call failed half-way (deadline, reset) is not to be
	 * trusted with the next one: old libcurl fails the next stream on it
	 * ("Error in the HTTP2 framing layer").  Closing every cached connection
	 * costs one handshake, and such failures are rare.
	 */
	if (rc != CURLE_OK)
	{
		curl_easy_cleanup(grpc_handle);
		grpc_handle = NULL;
		h2c_hosts_clear();
	}

	/* what happened, as a gRPC status */
	detail[0] = '\0';
	if (rc != CURLE_OK)
	{
		size_t		len = strlen(errbuf);

		while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == '\r'))
			errbuf[--len] = '\0';
		res->http.status = 0;
		res->http.body_len = 0;
		if (rc == CURLE_OPERATION_TIMEDOUT)
		{
			res->code = OTEL_GRPC_DEADLINE_EXCEEDED;
			snprintf(detail, sizeof(detail), "deadline of %ld ms exceeded (%s)",
					 timeout_ms, len > 0 ? errbuf : curl_easy_strerror(rc));
		}
		else if (rc == CURLE_ABORTED_BY_CALLBACK)
		{
			res->code = OTEL_GRPC_CANCELLED;
			strlcpy(detail, "call canceled", sizeof(detail));
		}
		else
		{
			res->code = OTEL_GRPC_UNAVAILABLE;
			strlcpy(detail, len > 0 ? errbuf : curl_easy_strerror(rc),
					sizeof(detail));
		}
	}
	else if (!res->http2)
	{
		char		text[200];

		/* TLS without h2 in ALPN, or something else answering */
		body_text(&res->http, text, sizeof(text));
		res->code = (res->http.status == 200) ? OTEL_GRPC_UNKNOWN :
			code_from_http(res->http.status);
		snprintf(detail, sizeof(detail),
				 "the server answered HTTP/1.x %ld, not HTTP/2%s%s",
				 res->http.status, text[0] ? ": " : "", text);
	}
	else if (ctx->status >= 0)
	{
		res->code = ctx->status;
		res->code_received = true;
		/* a delay only means something for a call that may be made again */
		if (!otel_grpc_retryable(res))
			res->retry_delay_ms = -1;
		if (res->code != OTEL_GRPC_OK)
		{
			if (res->retry_delay_ms >= 0)
				snprintf(detail, sizeof(detail), "%s (retry in %d ms)",
						 res->message, res->retry_delay_ms);
			else
				strlcpy(detail, res->message, sizeof(detail));
		}
	}
	else if (res->http.status != 200)
	{
		char		text[200];

		body_text(&res->http, text, sizeof(text));
		res->code = code_from_http(res->http.status);
		snprintf(detail, sizeof(detail), "HTTP %ld without grpc-status%s%s",
				 res->http.status, text[0] ? ": " : "", text);
	}
	else
	{
		res->code = OTEL_GRPC_INTERNAL;
		strlcpy(detail, ctx->grpc_content ?
				"the server closed the stream without sending a grpc-status" :
				"the answer is not gRPC (no application/grpc content type)",
				sizeof(detail));
	}

	if (res->code == OTEL_GRPC_OK)
		take_response(ctx, res);
	if (!otel_grpc_retryable(res))
		res->retry_delay_ms = -1;
	set_error(res, detail);
	return res->code == OTEL_GRPC_OK;
}

bool
otel_grpc_retryable(const OtelGrpcResult *res)
{
	switch (res->code)
	{
		case OTEL_GRPC_CANCELLED:
		case OTEL_GRPC_DEADLINE_EXCEEDED:
		case OTEL_GRPC_ABORTED:
		case OTEL_GRPC_OUT_OF_RANGE:
		case OTEL_GRPC_UNAVAILABLE:
		case OTEL_GRPC_DATA_LOSS:
			return true;
		case OTEL_GRPC_RESOURCE_EXHAUSTED:
			return res->retry_delay_ms >= 0;
		default:
			return false;
	}
}

void
otel_grpc_close(void)
{
	if (grpc_handle != NULL)
	{
		curl_easy_cleanup(grpc_handle);
		grpc_handle = NULL;
	}
	h2c_hosts_clear();
	if (send_buf != NULL)
	{
		free(send_buf);
		send_buf = NULL;
		send_buf_size = 0;
	}
}
