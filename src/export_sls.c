/*-------------------------------------------------------------------------
 *
 * export_sls.c
 *		SLS PutLogs: request building, signing and answer handling.
 *
 * A payload holds one or more LogGroups (encode_sls.h splits a batch under
 * SLS's limits of 4096 logs and 3 MB per request), each sent as its own
 * request.  Every attempt is signed when it is made, with a fresh Date, so
 * that retries are never refused for a stale signature.
 *
 * Answers, per SLS's error semantics:
 *	 - 2xx: delivered;
 *	 - no answer, 429, 5xx, and 403 with a *QuotaExceed errorCode
 *	   (WriteQuotaExceed, ShardWriteQuotaExceed): retried by the worker with
 *	   backoff;
 *	 - 400 RequestTimeExpired (our clock or a long queue): signed again with
 *	   the current time and resent at once, one time;
 *	 - everything else (401 SignatureNotMatch / Unauthorized /
 *	   InvalidAccessKeyId, 404 ProjectNotExist / LogStoreNotExist, other
 *	   4xx): dropped.  The error text carries the HTTP status, errorCode,
 *	   errorMessage and x-log-requestid, never a key or token.
 *
 * When a part is delivered and others remain, it is counted as exported
 * here and taken out of p->nrecords (exporter.h), so the worker's counting
 * of the final outcome stays exact.
 *
 * IDENTIFICATION
 *		src/export_sls.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "compress.h"
#include "encode_sls.h"
#include "export_sls.h"
#include "guc.h"
#include "sls_sign.h"
#include "stats.h"

#define SLS_API_VERSION		"0.6.0"
#define SLS_CONTENT_TYPE	"application/x-protobuf"
#define SLS_URL_MAX			1024

/* the pieces of otel_aliyun.sls_endpoint */
typedef struct SlsEndpoint
{
	const char *scheme;			/* "http" or "https" */
	char		host[256];		/* without the project */
	char		port[8];		/* "" when none */
} SlsEndpoint;

static char sls_url_buf[SLS_URL_MAX];

static bool
set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Split the (check-hook validated) endpoint setting. */
static bool
parse_endpoint(SlsEndpoint *ep)
{
	const char *p = otel_sls_endpoint;
	Size		n;

	if (!set(p))
		return false;
	ep->scheme = "https";
	if (pg_strncasecmp(p, "http://", 7) == 0)
	{
		ep->scheme = "http";
		p += 7;
	}
	else if (pg_strncasecmp(p, "https://", 8) == 0)
		p += 8;
	n = strcspn(p, ":/");
	if (n == 0 || n >= sizeof(ep->host))
		return false;
	memcpy(ep->host, p, n);
	ep->host[n] = '\0';
	p += n;
	ep->port[0] = '\0';
	if (*p == ':')
	{
		n = strspn(p + 1, "0123456789");
		if (n == 0 || n >= sizeof(ep->port))
			return false;
		memcpy(ep->port, p + 1, n);
		ep->port[n] = '\0';
	}
	return true;
}

const char *
otel_sls_url(void)
{
	SlsEndpoint ep;
	int			len;

	if (!set(otel_sls_project) || !set(otel_sls_logstore) || !parse_endpoint(&ep))
		return NULL;
	len = snprintf(sls_url_buf, sizeof(sls_url_buf),
				   "%s://%s.%s%s%s/logstores/%s/shards/lb",
				   ep.scheme, otel_sls_project, ep.host,
				   ep.port[0] ? ":" : "", ep.port, otel_sls_logstore);
	if (len < 0 || len >= (int) sizeof(sls_url_buf))
		return NULL;
	return sls_url_buf;
}

bool
otel_sls_quota_error(const char *code)
{
	Size		len = strlen(code);

	/* WriteQuotaExceed, ShardWriteQuotaExceed, ProjectQuotaExceed, ... */
	return len >= 11 && strcmp(code + len - 11, "QuotaExceed") == 0;
}

/*
 * Region for v4 signatures: otel_aliyun.sls_region, else cloud_region, else
 * the first label of an Alibaba Cloud endpoint host (cn-hangzhou from
 * cn-hangzhou.log.aliyuncs.com or cn-hangzhou-intranet.log.aliyuncs.com).
 */
static bool
v4_region(const SlsEndpoint *ep, char *buf, Size buflen)
{
	const char *suffix = ".log.aliyuncs.com";
	Size		hlen = strlen(ep->host);
	Size		slen = strlen(suffix);
	Size		n;

	if (set(otel_sls_region))
	{
		strlcpy(buf, otel_sls_region, buflen);
		return true;
	}
	if (set(otel_cloud_region))
	{
		strlcpy(buf, otel_cloud_region, buflen);
		return true;
	}
	if (hlen <= slen || pg_strcasecmp(ep->host + hlen - slen, suffix) != 0)
		return false;
	n = strcspn(ep->host, ".");
	if (n >= buflen)
		return false;
	memcpy(buf, ep->host, n);
	buf[n] = '\0';
	if (n > 9 && strcmp(buf + n - 9, "-intranet") == 0)
		buf[n - 9] = '\0';
	else if (n > 4 && strcmp(buf + n - 4, "-vpc") == 0)
		buf[n - 4] = '\0';
	else if (n > 6 && strcmp(buf + n - 6, "-share") == 0)
		buf[n - 6] = '\0';
	return buf[0] != '\0';
}

/* ---- encoding ---- */

void
otel_sls_encode(const OtelRecordRef *refs, int n, OtelPayload *p, int *nbad)
{
	StringInfoData raw;
	bool		lz4 = (otel_sls_compression == OTEL_SLS_COMPRESSION_LZ4);

	p->nparts = 0;
	p->next_part = 0;
	p->time_retries = 0;
	p->parts = NULL;
	if (n <= 0)
		return;

	initStringInfo(&raw);
	p->parts = palloc(sizeof(OtelPayloadPart) * n);
	p->nparts = otel_encode_sls(refs, n, otel_logs_batch_size,
								OTEL_SLS_MAX_RAW_BYTES, &raw, p->parts, nbad);
	p->raw_len = raw.len;

	if (lz4)
	{
		for (int i = 0; i < p->nparts; i++)
		{
			OtelPayloadPart *part = &p->parts[i];
			int			offset = p->body.len;

			if (!otel_lz4(raw.data + part->offset, part->len, &p->body))
			{
				lz4 = false;
				break;
			}
			part->offset = offset;
			part->len = p->body.len - offset;
		}
	}

	if (lz4)
	{
		p->codec = OTEL_CODEC_LZ4;
		pfree(raw.data);
	}
	else
	{
		/* not asked for, or the library failed: send the raw groups */
		for (int i = 0, off = 0; i < p->nparts; i++)
		{
			p->parts[i].offset = off;
			p->parts[i].len = (int) p->parts[i].raw_len;
			off += p->parts[i].len;
		}
		pfree(p->body.data);
		p->body = raw;
		p->codec = OTEL_CODEC_NONE;
	}
}

/* ---- sending ---- */

/* Add "Name: value" to req (the caller keeps the memory). */
static void
add_header(OtelHttpRequest *req, char *line)
{
	if (req->nheaders < OTEL_HTTP_MAX_HEADERS)
		req->headers[req->nheaders++] = line;
}

static void
push_header(OtelSlsHeader *sh, int *n, const char *name, const char *value)
{
	sh[*n].name = name;
	sh[*n].value = value;
	(*n)++;
}

/*
 * One signed PutLogs attempt of part.  Returns true on 2xx; res describes
 * the exchange.  On a refusal before sending (missing settings), res has
 * neither status nor transport error, and errbuf says why.
 */
static bool
put_logs(const OtelPayload *p, const OtelPayloadPart *part,
		 const SlsEndpoint *ep, const char *url, bool diag,
		 OtelHttpResult *res, char *errbuf, Size errlen)
{
	OtelHttpRequest req;
	const char *body = p->body.data + part->offset;
	char		md5[OTEL_SLS_MD5_HEX_LEN + 1];
	char		sha[OTEL_SLS_SHA256_HEX_LEN + 1];
	char		date[OTEL_SLS_DATE_LEN];
	char		iso[OTEL_SLS_ISO_DATE_LEN];
	char		rawsize[24];
	char		region[64];
	char		host[300];
	char		sig[64];
	char	   *auth = NULL;
	char	   *token_line = NULL;
	OtelSlsHeader sh[10];
	int			nsh = 0;
	bool		v4 = (otel_sls_signature_version == OTEL_SLS_SIGNATURE_V4);
	time_t		now = time(NULL);
	bool		ok;

	memset(res, 0, sizeof(*res));
	res->retry_after_ms = -1;

	if (!set(otel_sls_access_key_id) || !set(otel_sls_access_key_secret))
	{
		snprintf(errbuf, errlen,
				 "otel_aliyun.sls_access_key_id and otel_aliyun.sls_access_key_secret must be set to sign SLS requests");
		return false;
	}
	if (v4 && !v4_region(ep, region, sizeof(region)))
	{
		snprintf(errbuf, errlen,
				 "otel_aliyun.sls_signature_version = v4 needs a region: set otel_aliyun.sls_region");
		return false;
	}
	if (!otel_sls_content_md5(body, part->len, md5) ||
		(v4 && !otel_sls_sha256_hex(body, part->len, sha)))
	{
		snprintf(errbuf, errlen, "could not compute the body digest (OpenSSL)");
		return false;
	}

	otel_sls_http_date(now, date, sizeof(date));
	snprintf(rawsize, sizeof(rawsize), "%zu", part->raw_len);
	snprintf(host, sizeof(host), "%s.%s%s%s", otel_sls_project, ep->host,
			 ep->port[0] ? ":" : "", ep->port);

	/* the headers that are signed (lower-case names) */
	push_header(sh, &nsh, "x-log-apiversion", SLS_API_VERSION);
	push_header(sh, &nsh, "x-log-bodyrawsize", rawsize);
	if (p->codec == OTEL_CODEC_LZ4)
		push_header(sh, &nsh, "x-log-compresstype", "lz4");
	push_header(sh, &nsh, "x-log-signaturemethod", v4 ? "hmac-sha256" : "hmac-sha1");
	if (set(otel_sls_security_token))
		push_header(sh, &nsh, "x-acs-security-token", otel_sls_security_token);
	if (v4)
	{
		otel_sls_iso_date(now, iso, sizeof(iso));
		push_header(sh, &nsh, "x-log-date", iso);
		push_header(sh, &nsh, "x-log-content-sha256", sha);
		push_header(sh, &nsh, "host", host);
		push_header(sh, &nsh, "content-type", SLS_CONTENT_TYPE);
	}

	if (v4)
	{
		auth = palloc(1024);
		ok = otel_sls_sign_v4(otel_sls_access_key_id, otel_sls_access_key_secret,
							  region, "POST",
							  strchr(strstr(url, "://") + 3, '/'),
							  iso, sha, sh, nsh, auth, 1024);
		if (ok)
		{
			char	   *line = psprintf("Authorization: %s", auth);

			otel_exporter_wipe_secret(auth);
			auth = line;
		}
	}
	else
	{
		ok = otel_sls_sign_v1(otel_sls_access_key_secret, "POST", md5,
							  SLS_CONTENT_TYPE, date, sh, nsh,
							  strchr(strstr(url, "://") + 3, '/'),
							  sig, sizeof(sig));
		if (ok)
			auth = psprintf("Authorization: LOG %s:%s", otel_sls_access_key_id, sig);
	}
	explicit_bzero(sig, sizeof(sig));
	if (!ok)
	{
		otel_exporter_wipe_secret(auth);
		snprintf(errbuf, errlen, "could not sign the SLS request (OpenSSL)");
		return false;
	}

	otel_exporter_http_request(&req, url, body, part->len, diag);

	add_header(&req, "Content-Type: " SLS_CONTENT_TYPE);
	add_header(&req, psprintf("Content-MD5: %s", md5));
	add_header(&req, psprintf("Date: %s", date));
	for (int i = 0; i < nsh; i++)
	{
		if (strcmp(sh[i].name, "content-type") == 0)
			continue;
		if (strcmp(sh[i].name, "x-acs-security-token") == 0)
		{
			token_line = psprintf("x-acs-security-token: %s", sh[i].value);
			add_header(&req, token_line);
		}
		else if (strcmp(sh[i].name, "host") == 0)
			add_header(&req, psprintf("Host: %s", sh[i].value));
		else
			add_header(&req, psprintf("%s: %s", sh[i].name, sh[i].value));
	}
	add_header(&req, auth);

	ok = otel_http_post(&req, res);

	otel_exporter_wipe_secret(auth);
	otel_exporter_wipe_secret(token_line);
	return ok;
}

/* The error text of a refused or failed attempt: no secret, masked URL. */
static void
describe_failure(const OtelHttpResult *res, const char *url,
				 const char *code, const char *msg, char *out, Size outlen)
{
	char		masked[160];

	otel_mask_url(url, masked, sizeof(masked));
	if (res->status == 0)
		snprintf(out, outlen, "SLS PutLogs: %s (POST %s)", res->error, masked);
	else if (code[0] != '\0')
		snprintf(out, outlen, "SLS PutLogs HTTP %ld %s: %s%s%s (POST %s)",
				 res->status, code, msg,
				 res->request_id[0] ? "; request id " : "", res->request_id,
				 masked);
	else
		snprintf(out, outlen, "SLS PutLogs %s%s%s (POST %s)",
				 res->error,
				 res->request_id[0] ? "; request id " : "", res->request_id,
				 masked);
}

void
otel_sls_send(OtelPayload *p, OtelSendResult *r, bool diag,
			  OtelHttpResult *http)
{
	SlsEndpoint ep;
	const char *url_now = otel_sls_url();
	char		url[SLS_URL_MAX];
	OtelHttpResult res;

	if (url_now == NULL || !parse_endpoint(&ep))
	{
		r->outcome = OTEL_SEND_DROP;
		snprintf(r->error, sizeof(r->error),
				 "SLS is not configured: otel_aliyun.sls_endpoint, sls_project and sls_logstore must all be set");
		return;
	}
	strlcpy(url, url_now, sizeof(url));

	while (p->next_part < p->nparts)
	{
		OtelPayloadPart *part = &p->parts[p->next_part];
		bool		last = (p->next_part + 1 == p->nparts);
		char		code[64];
		char		msg[160];
		bool		ok;

		ok = put_logs(p, part, &ep, url, diag, &res, r->error, sizeof(r->error));
		if (http != NULL)
			memcpy(http, &res, sizeof(res));
		r->http_status = res.status;
		r->retry_after_ms = res.retry_after_ms;
		r->bytes_sent = (res.status != 0) ? part->len : 0;

		if (ok)
		{
			p->next_part++;
			if (last)
			{
				r->outcome = OTEL_SEND_OK;
				r->error[0] = '\0';
				return;
			}
			/* delivered, more to go: account for it now (see exporter.h) */
			otel_stats_add(p->sig, OTEL_STAT_EXPORTED, part->nrecords);
			otel_stats_add(p->sig, OTEL_STAT_REQUESTS, 1);
			otel_stats_add(p->sig, OTEL_STAT_BYTES_SENT, part->len);
			otel_stats_set_success(p->sig);
			p->nrecords -= part->nrecords;
			continue;
		}

		if (res.status == 0 && !res.transport_error)
		{
			/* refused before sending: settings missing or OpenSSL failure */
			r->outcome = OTEL_SEND_DROP;
			return;
		}

		code[0] = msg[0] = '\0';
		if (res.status != 0)
			otel_sls_parse_error(res.body, res.body_len, code, sizeof(code),
								 msg, sizeof(msg));
		describe_failure(&res, url, code, msg, r->error, sizeof(r->error));

		if (res.status == 400 && strcmp(code, "RequestTimeExpired") == 0 &&
			p->time_retries == 0)
		{
			/* sign again with the time of now, once */
			p->time_retries++;
			otel_stats_add(p->sig, OTEL_STAT_REQUESTS, 1);
			otel_stats_add(p->sig, OTEL_STAT_RETRIES, 1);
			otel_stats_add(p->sig, OTEL_STAT_BYTES_SENT, part->len);
			continue;
		}

		if (res.transport_error || res.status == 429 || res.status >= 500 ||
			(res.status == 403 && otel_sls_quota_error(code)))
			r->outcome = OTEL_SEND_RETRY;
		else
			r->outcome = OTEL_SEND_DROP;
		return;
	}

	/* nothing left (an empty payload) */
	r->outcome = OTEL_SEND_OK;
}
