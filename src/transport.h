/*-------------------------------------------------------------------------
 * transport.h
 *		HTTP(S) requests with libcurl: one POST of a ready body with headers,
 *		a total timeout, TLS settings, and a result that says what the worker
 *		should do next (done / retry after a delay / drop).  transport.c owns
 *		one reusable curl handle per process (connection reuse) and nothing
 *		else.  It never raises: every failure comes back in OtelHttpResult,
 *		whose error text never contains header values (they may be secrets).
 *		Callable from the worker and, for otel_aliyun.diagnose(), a backend.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_TRANSPORT_H
#define OTEL_TRANSPORT_H

#define OTEL_HTTP_MAX_HEADERS	32
#define OTEL_HTTP_BODY_KEEP		1024	/* bytes of the response body kept */

typedef struct OtelHttpRequest
{
	const char *url;
	const char *body;
	Size		body_len;
	/* "Name: value" lines, Content-Type included */
	const char *headers[OTEL_HTTP_MAX_HEADERS];
	int			nheaders;
	int			timeout_ms;		/* total, connect included */
	const char *ca_file;		/* NULL or "" = system store */
	bool		verify_tls;
	bool		interruptible;	/* abort on query cancel / die (backends) */
	bool		fresh_connection;	/* new connection, closed after (diagnose) */
} OtelHttpRequest;

/* Why no HTTP answer came back (transport_error), for diagnose() hints. */
typedef enum OtelHttpFailure
{
	OTEL_HTTP_FAIL_NONE,		/* an HTTP answer was received */
	OTEL_HTTP_FAIL_DNS,			/* host name did not resolve */
	OTEL_HTTP_FAIL_CONNECT,		/* TCP connect refused / unreachable */
	OTEL_HTTP_FAIL_TLS,			/* handshake or certificate failure */
	OTEL_HTTP_FAIL_TIMEOUT,		/* timeout_ms elapsed */
	OTEL_HTTP_FAIL_CANCELED,	/* interrupted (interruptible requests) */
	OTEL_HTTP_FAIL_OTHER		/* bad URL, send/receive error, ... */
} OtelHttpFailure;

typedef struct OtelHttpResult
{
	long		status;			/* HTTP status, 0 when no response */
	bool		transport_error;	/* DNS/connect/TLS/timeout failure */
	bool		timed_out;
	OtelHttpFailure failure;	/* kind of transport_error */
	int			retry_after_ms; /* from Retry-After, -1 if none */
	char		error[256];		/* curl error or "HTTP 400: <body start>" */
	char		body[OTEL_HTTP_BODY_KEEP];	/* start of response body */
	Size		body_len;		/* bytes kept in body[] */
	char		request_id[64]; /* x-log-requestid or x-request-id, if any */
	/* timings in ms, from curl, for diagnose(): each phase's own duration */
	double		dns_ms;			/* name resolution */
	double		connect_ms;		/* TCP connect, after DNS */
	double		tls_ms;			/* TLS handshake, after connect */
	double		total_ms;		/* whole request */
} OtelHttpResult;

/*
 * Shared with grpc.c, which drives its own curl handle: the failure class of
 * a CURLcode, and the phase timings of a finished transfer (a CURL *).
 */
extern OtelHttpFailure otel_http_classify_failure(int curl_code);
extern void otel_http_fill_timings(void *curl_handle, OtelHttpResult *res);

/* Header-line helpers for curl header callbacks (see transport.c). */
extern bool otel_http_split_header(const char *line, size_t n, size_t *namelen,
								   size_t *vstart, size_t *vend);
extern void otel_http_copy_printable(char *dst, size_t dstlen,
									 const char *src, size_t len);

/* POST req; always fills res.  Returns true when a 2xx was received. */
extern bool otel_http_post(const OtelHttpRequest *req, OtelHttpResult *res);

/*
 * OTLP/HTTP retry rule: 429, 502, 503, 504 and transport errors are
 * retryable, everything else that is not 2xx is not.
 */
extern bool otel_http_retryable(const OtelHttpResult *res);

/* Close the reusable connection (and free the handle); the next request
 * opens a new one. */
extern void otel_http_close(void);

/* Copy url into buf with any userinfo, token path segment (adapt_...) or
 * query string masked, for logs and views. */
extern void otel_mask_url(const char *url, char *buf, Size buflen);

#endif							/* OTEL_TRANSPORT_H */
