/*-------------------------------------------------------------------------
 * sls_sign.h
 *		Request signatures of the Alibaba Cloud SLS API (OpenSSL):
 *
 *		V1 (x-log-signaturemethod: hmac-sha1):
 *			Authorization: LOG <AccessKeyId>:<base64 HMAC-SHA1(secret, S)>
 *			S = VERB "\n" Content-MD5 "\n" Content-Type "\n" Date "\n"
 *				+ for each x-log-* and x-acs-* header, sorted by name:
 *				  name ":" value "\n"
 *				+ resource (path; no query string is ever sent here)
 *			Content-MD5 is the upper-case hex MD5 of the body as sent.
 *
 *		V4 (SLS4-HMAC-SHA256): a canonical request over the method, path,
 *		the content-type, host, x-log-* and x-acs-* headers and the hex
 *		SHA-256 of the body (x-log-content-sha256), signed with a key
 *		derived from "aliyun_v4" + secret, the date (YYYYMMDD), the region,
 *		"sls" and "aliyun_v4_request".
 *
 *		Pure code, no state.  Nothing here logs or copies a secret into an
 *		error text; functions return false only when OpenSSL fails.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_SLS_SIGN_H
#define OTEL_SLS_SIGN_H

#include <time.h>

#define OTEL_SLS_MD5_HEX_LEN	32
#define OTEL_SLS_SHA256_HEX_LEN 64
#define OTEL_SLS_DATE_LEN		32	/* buffer for an RFC 1123 date */
#define OTEL_SLS_ISO_DATE_LEN	17	/* YYYYMMDDTHHMMSSZ + NUL */

/* A request header as signed: name in lower case. */
typedef struct OtelSlsHeader
{
	const char *name;
	const char *value;
} OtelSlsHeader;

/* Upper-case hex MD5 of data into out (OTEL_SLS_MD5_HEX_LEN + 1 bytes). */
extern bool otel_sls_content_md5(const char *data, Size len, char *out);

/* Lower-case hex SHA-256 of data into out (OTEL_SLS_SHA256_HEX_LEN + 1). */
extern bool otel_sls_sha256_hex(const char *data, Size len, char *out);

/* "Mon, 02 Jan 2006 15:04:05 GMT" (C locale, GMT) of t. */
extern void otel_sls_http_date(time_t t, char *buf, Size buflen);

/* "20060102T150405Z" of t, for x-log-date (V4). */
extern void otel_sls_iso_date(time_t t, char *buf, Size buflen);

/*
 * V1 signature (base64, no "LOG id:" prefix) into sig (at least 32 bytes).
 * Headers whose names do not start with x-log- or x-acs- are ignored.
 */
extern bool otel_sls_sign_v1(const char *secret,
							 const char *verb, const char *content_md5,
							 const char *content_type, const char *date,
							 const OtelSlsHeader *headers, int nheaders,
							 const char *resource,
							 char *sig, Size siglen);

/*
 * V4: the whole Authorization value into auth (at least 256 bytes plus the
 * lengths of key_id and region).  iso_date is x-log-date; headers must
 * include x-log-content-sha256 and x-log-date themselves, and host and
 * content-type when they are sent.
 */
extern bool otel_sls_sign_v4(const char *key_id, const char *secret,
							 const char *region, const char *verb,
							 const char *resource, const char *iso_date,
							 const char *content_sha256,
							 const OtelSlsHeader *headers, int nheaders,
							 char *auth, Size authlen);

#endif							/* OTEL_SLS_SIGN_H */
