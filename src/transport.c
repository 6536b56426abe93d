/*-------------------------------------------------------------------------
 *
 * transport.c
 *		HTTP(S) POST with libcurl's easy interface.
 *
 * One CURL handle per process is kept for the life of the process so that
 * the connection to the endpoint (TCP and TLS) is reused between exports.
 * Before each request the handle is reset (which keeps the connection
 * cache) and every option is set again, so nothing leaks from one request
 * to the next.  HTTP/1.1 is forced: some Alibaba Cloud endpoints (the
 * Prometheus remote-write one) refuse HTTP/2.
 *
 * Nothing here raises an error: the worker must survive any network
 * failure, so every outcome is described in the OtelHttpResult.  Header
 * values are never copied into error texts, since they may carry tokens.
 *
 * IDENTIFICATION
 *	  src/transport.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <time.h>

#include <curl/curl.h>

#include "miscadmin.h"

#include "otel_aliyun.h"
#include "transport.h"

#define OTEL_USER_AGENT "otel_aliyun/" OTEL_ALIYUN_VERSION
#define OTEL_DEFAULT_TIMEOUT_MS 10000
#define OTEL_ERROR_BODY_CHARS	200

/* process-wide libcurl state */
static bool curl_global_done = false;
static CURL *curl_handle = NULL;

/* what the callbacks of one request write into */
typedef struct TransportCtx
{
	OtelHttpResult *res;
	bool		interruptible;
} TransportCtx;

static void set_error(OtelHttpResult *res, const char *msg);


/*
 * Response body: keep the first OTEL_HTTP_BODY_KEEP bytes, swallow the rest.
 */
static size_t
write_body_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	TransportCtx *ctx = (TransportCtx *) userdata;
	OtelHttpResult *res = ctx->res;
	size_t		n = size * nmemb;

	if (res->body_len < OTEL_HTTP_BODY_KEEP)
	{
		size_t		room = OTEL_HTTP_BODY_KEEP - res->body_len;
		size_t		take = Min(room, n);

		memcpy(res->body + res->body_len, ptr, take);
		res->body_len += take;
	}
	return n;
}

/*
 * Parse a Retry-After value: delay-seconds or an HTTP-date.  Returns the
 * delay in ms, or -1 when the value is not understood.
 */
static int
parse_retry_after(const char *v)
{
	const char *p = v;

	if (*p == '\0')
		return -1;

	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '\0')
	{
		/* all digits: seconds */
		long long	secs = 0;

		for (p = v; *p; p++)
		{
			secs = secs * 10 + (*p - '0');
			if (secs > INT_MAX / 1000)
				return INT_MAX;
		}
		return (int) (secs * 1000);
	}
	else
	{
		time_t		when = curl_getdate(v, NULL);
		time_t		now = time(NULL);
		double		ms;

		if (when == (time_t) -1)
			return -1;
		if (when <= now)
			return 0;
		ms = ((double) when - (double) now) * 1000.0;
		return ms >= (double) INT_MAX ? INT_MAX : (int) ms;
	}
}

/*
 * Response headers, one line per call ("Name: value\r\n").  Only
 * Retry-After and the request id are looked at.  A status line starts a new
 * response (interim answers, proxies), which forgets what came before.
 */
/*
 * Split a "Name: value" header line (as curl hands it over, CRLF included):
 * *namelen is the name's length, [*vstart, *vend) the value without the
 * surrounding blanks and line end.  False when the line has no colon.
 */
bool
otel_http_split_header(const char *line, size_t n, size_t *namelen,
					   size_t *vstart, size_t *vend)
{
	size_t		nl,
				vs,
				ve;

	for (nl = 0; nl < n && line[nl] != ':'; nl++)
		;
	if (nl == n)
		return false;
	vs = nl + 1;
	while (vs < n && (line[vs] == ' ' || line[vs] == '\t'))
		vs++;
	ve = n;
	while (ve > vs &&
		   (line[ve - 1] == '\r' || line[ve - 1] == '\n' ||
			line[ve - 1] == ' ' || line[ve - 1] == '\t'))
		ve--;
	*namelen = nl;
	*vstart = vs;
	*vend = ve;
	return true;
}

/* Copy len bytes into dst (NUL-terminated), non-printable ones as '?'. */
void
otel_http_copy_printable(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t		o = 0;

	for (size_t i = 0; i < len && o + 1 < dstlen; i++)
	{
		unsigned char c = (unsigned char) src[i];

		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
	}
	if (dstlen > 0)
		dst[o] = '\0';
}

static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	TransportCtx *ctx = (TransportCtx *) userdata;
	OtelHttpResult *res = ctx->res;
	size_t		n = size * nitems;
	size_t		namelen;
	size_t		vstart;
	size_t		vend;
	char		value[128];
	size_t		vlen;

	if (n >= 5 && strncmp(buffer, "HTTP/", 5) == 0)
	{
		res->retry_after_ms = -1;
		res->request_id[0] = '\0';
		return n;
	}

	if (!otel_http_split_header(buffer, n, &namelen, &vstart, &vend))
		return n;

	vlen = Min(vend - vstart, sizeof(value) - 1);
	memcpy(value, buffer + vstart, vlen);
	value[vlen] = '\0';

	if (namelen == 11 && pg_strncasecmp(buffer, "retry-after", 11) == 0)
		res->retry_after_ms = parse_retry_after(value);
	else if ((namelen == 15 && pg_strncasecmp(buffer, "x-log-requestid", 15) == 0) ||
			 (namelen == 12 && pg_strncasecmp(buffer, "x-request-id", 12) == 0))
	{
		/* x-log-requestid (SLS) wins over a generic x-request-id */
		if (namelen == 12 && res->request_id[0] != '\0')
			return n;
		otel_http_copy_printable(res->request_id, sizeof(res->request_id), value, vlen);
	}
	return n;
}

/*
 * Progress callback: lets a backend (otel_aliyun.diagnose()) abandon the
 * transfer on query cancel or termination.  Called at least once a second.
 */
static int
xferinfo_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	TransportCtx *ctx = (TransportCtx *) clientp;

	if (ctx->interruptible && (QueryCancelPending || ProcDiePending))
		return 1;
	return 0;
}

static void
set_error(OtelHttpResult *res, const char *msg)
{
	strlcpy(res->error, msg, sizeof(res->error));
}

/*
 * "HTTP <status>: <start of body>", with the body reduced to printable
 * ASCII: runs of control characters become one space, other bytes '?'.
 */
static void
set_http_error(OtelHttpResult *res)
{
	char		text[OTEL_ERROR_BODY_CHARS + 1];
	int			o = 0;
	Size		i;
	bool		last_space = true;

	for (i = 0; i < res->body_len && o < OTEL_ERROR_BODY_CHARS; i++)
	{
		unsigned char c = (unsigned char) res->body[i];

		if (c < 0x20 || c == 0x7f || c == ' ')
		{
			if (!last_space)
				text[o++] = ' ';
			last_space = true;
		}
		else
		{
			text[o++] = (c < 0x80) ? (char) c : '?';
			last_space = false;
		}
	}
	while (o > 0 && text[o - 1] == ' ')
		o--;
	text[o] = '\0';

	if (o > 0)
		snprintf(res->error, sizeof(res->error), "HTTP %ld: %s", res->status, text);
	else
		snprintf(res->error, sizeof(res->error), "HTTP %ld", res->status);
}

OtelHttpFailure
otel_http_classify_failure(int curl_code)
{
	CURLcode	rc = (CURLcode) curl_code;

	switch (rc)
	{
		case CURLE_OK:
			return OTEL_HTTP_FAIL_NONE;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
			return OTEL_HTTP_FAIL_DNS;
		case CURLE_COULDNT_CONNECT:
			return OTEL_HTTP_FAIL_CONNECT;
		case CURLE_OPERATION_TIMEDOUT:
			return OTEL_HTTP_FAIL_TIMEOUT;
		case CURLE_ABORTED_BY_CALLBACK:
			return OTEL_HTTP_FAIL_CANCELED;
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_ENGINE_NOTFOUND:
		case CURLE_SSL_ENGINE_SETFAILED:
		case CURLE_SSL_ENGINE_INITFAILED:
		case CURLE_SSL_CRL_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		case CURLE_SSL_INVALIDCERTSTATUS:
		case CURLE_SSL_SHUTDOWN_FAILED:
		case CURLE_USE_SSL_FAILED:
			return OTEL_HTTP_FAIL_TLS;
		default:
			return OTEL_HTTP_FAIL_OTHER;
	}
}

/* curl's microseconds (cumulative from the start) to ms */
static double
getinfo_ms(CURL *h, CURLINFO what)
{
	curl_off_t	us = 0;

	if (curl_easy_getinfo(h, what, &us) != CURLE_OK || us < 0)
		return 0.0;
	return (double) us / 1000.0;
}

void
otel_http_fill_timings(void *curl_handle, OtelHttpResult *res)
{
	CURL	   *h = (CURL *) curl_handle;

	double		dns = getinfo_ms(h, CURLINFO_NAMELOOKUP_TIME_T);
	double		connect = getinfo_ms(h, CURLINFO_CONNECT_TIME_T);
	double		app = getinfo_ms(h, CURLINFO_APPCONNECT_TIME_T);

	res->total_ms = getinfo_ms(h, CURLINFO_TOTAL_TIME_T);
	res->dns_ms = dns;
	/* a reused connection reports 0 for the phases it skipped */
	res->connect_ms = (connect > dns) ? connect - dns : 0.0;
	res->tls_ms = (app > connect && connect > 0.0) ? app - connect : 0.0;
}

/*
 * Create (once) the process's handle.  Returns NULL with res->error set if
 * libcurl cannot be initialised.
 */
static CURL *
get_handle(OtelHttpResult *res)
{
	if (!curl_global_done)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			set_error(res, "could not initialize libcurl");
			return NULL;
		}
		curl_global_done = true;
	}
	if (curl_handle == NULL)
	{
		curl_handle = curl_easy_init();
		if (curl_handle == NULL)
		{
			set_error(res, "could not create a libcurl handle");
			return NULL;
		}
	}
	else
		curl_easy_reset(curl_handle);	/* keeps the connection cache */
	return curl_handle;
}

/* remember the first option that could not be set */
#define SETOPT(h, opt, val) \
	do { \
		CURLcode	setopt_rc_ = curl_easy_setopt((h), (opt), (val)); \
		if (setopt_rc_ != CURLE_OK && rc == CURLE_OK) \
			rc = setopt_rc_; \
	} while (0)

bool
otel_http_post(const OtelHttpRequest *req, OtelHttpResult *res)
{
	CURL	   *h;
	struct curl_slist *hdrs = NULL;
	char		errbuf[CURL_ERROR_SIZE];
	TransportCtx ctx;
	CURLcode	rc = CURLE_OK;
	long		timeout_ms;
	int			i;

	memset(res, 0, sizeof(*res));
	res->retry_after_ms = -1;

	if (req->url == NULL || req->url[0] == '\0')
	{
		res->transport_error = true;
		res->failure = OTEL_HTTP_FAIL_OTHER;
		set_error(res, "no URL configured");
		return false;
	}

	h = get_handle(res);
	if (h == NULL)
	{
		res->transport_error = true;
		res->failure = OTEL_HTTP_FAIL_OTHER;
		return false;
	}

	/* header list: built per request, freed below */
	for (i = 0; i < req->nheaders && i < OTEL_HTTP_MAX_HEADERS; i++)
	{
		const char *line = req->headers[i];
		struct curl_slist *next;

		if (line == NULL || line[0] == '\0')
			continue;
		if (strpbrk(line, "\r\n") != NULL)
		{
			/* would split the request; never show the value */
			curl_slist_free_all(hdrs);
			res->transport_error = true;
			res->failure = OTEL_HTTP_FAIL_OTHER;
			snprintf(res->error, sizeof(res->error),
					 "request header %d contains a line break", i + 1);
			return false;
		}
		next = curl_slist_append(hdrs, line);
		if (next == NULL)
		{
			curl_slist_free_all(hdrs);
			res->transport_error = true;
			res->failure = OTEL_HTTP_FAIL_OTHER;
			set_error(res, "out of memory building request headers");
			return false;
		}
		hdrs = next;
	}
	{
		/* "Expect:" with no value stops curl's 100-continue round trip */
		struct curl_slist *next = curl_slist_append(hdrs, "Expect:");

		if (next == NULL)
		{
			curl_slist_free_all(hdrs);
			res->transport_error = true;
			res->failure = OTEL_HTTP_FAIL_OTHER;
			set_error(res, "out of memory building request headers");
			return false;
		}
		hdrs = next;
	}

	timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : OTEL_DEFAULT_TIMEOUT_MS;
	errbuf[0] = '\0';
	ctx.res = res;
	ctx.interruptible = req->interruptible;

	SETOPT(h, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SETOPT(h, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	SETOPT(h, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
	SETOPT(h, CURLOPT_USERAGENT, OTEL_USER_AGENT);
	SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(h, CURLOPT_POST, 1L);
	SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
	SETOPT(h, CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
	SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
	SETOPT(h, CURLOPT_WRITEFUNCTION, write_body_cb);
	SETOPT(h, CURLOPT_WRITEDATA, &ctx);
	SETOPT(h, CURLOPT_HEADERFUNCTION, header_cb);
	SETOPT(h, CURLOPT_HEADERDATA, &ctx);
	SETOPT(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	SETOPT(h, CURLOPT_XFERINFODATA, &ctx);
	SETOPT(h, CURLOPT_NOPROGRESS, 0L);
	if (req->ca_file != NULL && req->ca_file[0] != '\0')
		SETOPT(h, CURLOPT_CAINFO, req->ca_file);
	SETOPT(h, CURLOPT_SSL_VERIFYPEER, req->verify_tls ? 1L : 0L);
	SETOPT(h, CURLOPT_SSL_VERIFYHOST, req->verify_tls ? 2L : 0L);
	if (req->fresh_connection)
	{
		SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
		SETOPT(h, CURLOPT_FORBID_REUSE, 1L);
	}

	if (rc == CURLE_OK)
		rc = curl_easy_perform(h);
	else
		snprintf(errbuf, sizeof(errbuf), "could not set up the request: %s",
				 curl_easy_strerror(rc));

	otel_http_fill_timings(h, res);

	if (rc == CURLE_OK)
	{
		long		status = 0;

		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		res->status = status;
	}
	else
	{
		res->transport_error = true;
		res->timed_out = (rc == CURLE_OPERATION_TIMEDOUT);
		res->failure = otel_http_classify_failure(rc);
		if (res->failure == OTEL_HTTP_FAIL_CANCELED)
			set_error(res, "request canceled");
		else
		{
			/* the error buffer ends with a newline at times */
			size_t		len = strlen(errbuf);

			while (len > 0 && (errbuf[len - 1] == '\n' || errbuf[len - 1] == '\r'))
				errbuf[--len] = '\0';
			set_error(res, len > 0 ? errbuf : curl_easy_strerror(rc));
		}
		/* whatever arrived is not a usable answer */
		res->status = 0;
		res->body_len = 0;
	}

	/* the handle must not keep pointers to this request's memory */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *) NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, (char *) NULL);
	curl_slist_free_all(hdrs);

	if (res->status >= 200 && res->status < 300)
		return true;
	if (!res->transport_error)
		set_http_error(res);
	return false;
}

bool
otel_http_retryable(const OtelHttpResult *res)
{
	if (res->transport_error)
		return true;
	switch (res->status)
	{
		case 429:
		case 502:
		case 503:
		case 504:
			return true;
		default:
			return false;
	}
}

void
otel_http_close(void)
{
	if (curl_handle != NULL)
	{
		curl_easy_cleanup(curl_handle);
		curl_handle = NULL;
	}
}


/* ---- URL masking ---- */

typedef struct MaskBuf
{
	char	   *buf;
	Size		len;
	Size		cap;
} MaskBuf;

static void
mask_put(MaskBuf *m, const char *s, Size n)
{
	Size		room = (m->cap > m->len + 1) ? m->cap - m->len - 1 : 0;
	Size		take = Min(room, n);

	memcpy(m->buf + m->len, s, take);
	m->len += take;
	m->buf[m->len] = '\0';
}

void
otel_mask_url(const char *url, char *buf, Size buflen)
{
	MaskBuf		m;
	const char *p;
	const char *scheme_end;
	const char *auth_end;
	const char *at = NULL;
	const char *q;

	if (buf == NULL || buflen == 0)
		return;
	buf[0] = '\0';
	if (url == NULL)
		return;

	m.buf = buf;
	m.len = 0;
	m.cap = buflen;

	/* scheme */
	p = url;
	scheme_end = strstr(url, "://");
	if (scheme_end != NULL && strcspn(url, "/?#") > (Size) (scheme_end - url))
	{
		mask_put(&m, url, scheme_end + 3 - url);
		p = scheme_end + 3;
	}

	/* authority: userinfo is everything up to the last '@' in it */
	auth_end = p + strcspn(p, "/?#");
	for (q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL)
	{
		mask_put(&m, "***", 3);
		mask_put(&m, at, auth_end - at);
	}
	else
		mask_put(&m, p, auth_end - p);
	p = auth_end;

	/* path, segment by segment (ARMS puts its token in /adapt_.../) */
	while (*p == '/')
	{
		const char *seg = p + 1;
		const char *seg_end = seg + strcspn(seg, "/?#");

		mask_put(&m, "/", 1);
		if (strncmp(seg, "adapt_", 6) == 0)
			mask_put(&m, "adapt_***", 9);
		else
			mask_put(&m, seg, seg_end - seg);
		p = seg_end;
	}

	/* query string and fragment */
	if (*p == '?' || *p == '#')
		mask_put(&m, *p == '?' ? "?***" : "#***", 4);
}
