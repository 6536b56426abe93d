/*-------------------------------------------------------------------------
 *
 * sls_sign.c
 *		Signatures of SLS API requests, V1 (hmac-sha1) and V4
 *		(SLS4-HMAC-SHA256), with OpenSSL's one-shot digest and HMAC calls.
 *
 * The string to sign is built in a StringInfo in the caller's memory
 * context and wiped before it is freed (it holds no secret, but the
 * derived V4 keys on the stack are wiped too).  Header names are expected
 * in lower case, as the exporter writes them.
 *
 * IDENTIFICATION
 *		src/sls_sign.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/stringinfo.h"

#include "sls_sign.h"

#define MAX_SIGNED_HEADERS	32

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

static void
to_hex(const unsigned char *in, int n, const char *digits, char *out)
{
	for (int i = 0; i < n; i++)
	{
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xF];
	}
	out[2 * n] = '\0';
}

static bool
digest_hex(const EVP_MD *md, const char *data, Size len, const char *digits,
		   char *out)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(data, len, buf, &n, md, NULL) != 1)
		return false;
	to_hex(buf, (int) n, digits, out);
	return true;
}

bool
otel_sls_content_md5(const char *data, Size len, char *out)
{
	return digest_hex(EVP_md5(), data, len, hex_upper, out);
}

bool
otel_sls_sha256_hex(const char *data, Size len, char *out)
{
	return digest_hex(EVP_sha256(), data, len, hex_lower, out);
}

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void
otel_sls_http_date(time_t t, char *buf, Size buflen)
{
	struct tm	tm;

	/* not strftime: its %a and %b follow LC_TIME */
	gmtime_r(&t, &tm);
	snprintf(buf, buflen, "%s, %02d %s %04d %02d:%02d:%02d GMT",
			 day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon],
			 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void
otel_sls_iso_date(time_t t, char *buf, Size buflen)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	snprintf(buf, buflen, "%04d%02d%02dT%02d%02d%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static int
header_cmp(const void *a, const void *b)
{
	const OtelSlsHeader *ha = *(const OtelSlsHeader *const *) a;
	const OtelSlsHeader *hb = *(const OtelSlsHeader *const *) b;

	return strcmp(ha->name, hb->name);
}

static bool
is_log_header(const char *name)
{
	return strncmp(name, "x-log-", 6) == 0 || strncmp(name, "x-acs-", 6) == 0;
}

/*
 * The headers to sign, sorted by name into out[]; v4 also takes host and
 * content-type.  Returns how many.
 */
static int
select_headers(const OtelSlsHeader *headers, int nheaders, bool v4,
			   const OtelSlsHeader **out)
{
	int			n = 0;

	for (int i = 0; i < nheaders && n < MAX_SIGNED_HEADERS; i++)
	{
		const char *name = headers[i].name;

		if (is_log_header(name) ||
			(v4 && (strcmp(name, "host") == 0 || strcmp(name, "content-type") == 0)))
			out[n++] = &headers[i];
	}
	qsort(out, n, sizeof(OtelSlsHeader *), header_cmp);
	return n;
}

static void
wipe(StringInfo s)
{
	explicit_bzero(s->data, s->maxlen);
	pfree(s->data);
}

bool
otel_sls_sign_v1(const char *secret,
				 const char *verb, const char *content_md5,
				 const char *content_type, const char *date,
				 const OtelSlsHeader *headers, int nheaders,
				 const char *resource,
				 char *sig, Size siglen)
{
	StringInfoData s;
	const OtelSlsHeader *sorted[MAX_SIGNED_HEADERS];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	int			n;
	bool		ok;

	initStringInfo(&s);
	appendStringInfo(&s, "%s\n%s\n%s\n%s\n", verb, content_md5 ? content_md5 : "",
					 content_type ? content_type : "", date);
	n = select_headers(headers, nheaders, false, sorted);
	for (int i = 0; i < n; i++)
		appendStringInfo(&s, "%s:%s\n", sorted[i]->name, sorted[i]->value);
	appendStringInfoString(&s, resource);

	ok = HMAC(EVP_sha1(), secret, (int) strlen(secret),
			  (const unsigned char *) s.data, s.len, mac, &maclen) != NULL;
	wipe(&s);
	if (!ok || siglen < (Size) (4 * ((maclen + 2) / 3) + 1))
		return false;
	n = EVP_EncodeBlock((unsigned char *) sig, mac, (int) maclen);
	explicit_bzero(mac, sizeof(mac));
	return n > 0;
}

/* out = HMAC-SHA256(key, msg); false on failure */
static bool
hmac256(const unsigned char *key, int keylen, const char *msg,
		unsigned char *out)
{
	unsigned int len = 0;

	return HMAC(EVP_sha256(), key, keylen, (const unsigned char *) msg,
				strlen(msg), out, &len) != NULL && len == 32;
}

bool
otel_sls_sign_v4(const char *key_id, const char *secret,
				 const char *region, const char *verb,
				 const char *resource, const char *iso_date,
				 const char *content_sha256,
				 const OtelSlsHeader *headers, int nheaders,
				 char *auth, Size authlen)
{
	StringInfoData creq;
	StringInfoData signed_names;
	StringInfoData sts;
	const OtelSlsHeader *sorted[MAX_SIGNED_HEADERS];
	char		creq_hash[OTEL_SLS_SHA256_HEX_LEN + 1];
	char		day[9];
	char	   *seed;
	unsigned char k1[32],
				k2[32],
				k3[32],
				k4[32],
				mac[32];
	char		sighex[65];
	int			n;
	bool		ok;

	memcpy(day, iso_date, 8);
	day[8] = '\0';

	/* canonical request */
	initStringInfo(&creq);
	initStringInfo(&signed_names);
	appendStringInfo(&creq, "%s\n%s\n\n", verb, resource);	/* no query */
	n = select_headers(headers, nheaders, true, sorted);
	for (int i = 0; i < n; i++)
	{
		const char *v = sorted[i]->value;
		Size		vlen = strlen(v);

		/* values are signed trimmed */
		while (vlen > 0 && (*v == ' ' || *v == '\t'))
			v++, vlen--;
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		appendStringInfo(&creq, "%s:%.*s\n", sorted[i]->name, (int) vlen, v);
		if (i > 0)
			appendStringInfoChar(&signed_names, ';');
		appendStringInfoString(&signed_names, sorted[i]->name);
	}
	appendStringInfo(&creq, "\n%s\n%s", signed_names.data, content_sha256);
	ok = otel_sls_sha256_hex(creq.data, creq.len, creq_hash);
	pfree(creq.data);
	pfree(signed_names.data);
	if (!ok)
		return false;

	initStringInfo(&sts);
	appendStringInfo(&sts, "SLS4-HMAC-SHA256\n%s\n%s/%s/sls/aliyun_v4_request\n%s",
					 iso_date, day, region, creq_hash);

	/* signing key */
	seed = psprintf("aliyun_v4%s", secret);
	ok = hmac256((unsigned char *) seed, (int) strlen(seed), day, k1) &&
		hmac256(k1, 32, region, k2) &&
		hmac256(k2, 32, "sls", k3) &&
		hmac256(k3, 32, "aliyun_v4_request", k4) &&
		hmac256(k4, 32, sts.data, mac);
	explicit_bzero(seed, strlen(seed));
	pfree(seed);
	explicit_bzero(k1, sizeof(k1));
	explicit_bzero(k2, sizeof(k2));
	explicit_bzero(k3, sizeof(k3));
	explicit_bzero(k4, sizeof(k4));
	pfree(sts.data);
	if (!ok)
		return false;

	to_hex(mac, 32, hex_lower, sighex);
	n = snprintf(auth, authlen,
				 "SLS4-HMAC-SHA256 Credential=%s/%s/%s/sls/aliyun_v4_request,Signature=%s",
				 key_id, day, region, sighex);
	return n > 0 && (Size) n < authlen;
}
