/*-------------------------------------------------------------------------
 *
 * kvlist.c
 *		Parser for the "key=value,key=value" lists used by
 *		OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS, and so by
 *		otel_aliyun.resource_attributes and otel_aliyun.headers.
 *
 * Entries are separated by commas; blanks around keys and values are
 * trimmed; keys and values are percent-decoded (as in W3C Baggage).  The
 * value is everything after the first '=', so it may itself contain '='
 * (base64 tokens do).  An empty value is allowed; an entry without '=', an
 * empty key, a malformed percent escape or one decoding to a NUL byte is an
 * error.  Entries that are entirely blank (e.g. after a trailing comma) are
 * skipped, and an empty or blank string is an empty list.
 *
 * The whole string is checked before the callback sees any entry, and error
 * messages are static: values may be secrets (Authorization headers), so
 * they are never echoed.
 *
 * IDENTIFICATION
 *		src/kvlist.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "kvlist.h"

static inline bool
kv_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}

static inline int
kv_hex(char c)
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
 * Percent-decode [p, p + n).  With out == NULL only checks; otherwise
 * writes the decoded bytes and a terminating NUL into out (which must have
 * room for n + 1 bytes).  Returns NULL on success, else a static message.
 */
static const char *
kv_decode(const char *p, int n, char *out)
{
	int			i = 0;
	int			o = 0;

	while (i < n)
	{
		char		c = p[i++];

		if (c == '%')
		{
			int			hi,
						lo;

			if (n - i < 2)
				return "incomplete percent-encoding";
			hi = kv_hex(p[i]);
			lo = kv_hex(p[i + 1]);
			if (hi < 0 || lo < 0)
				return "invalid percent-encoding";
			i += 2;
			c = (char) ((hi << 4) | lo);
			if (c == '\0')
				return "percent-encoding decodes to a NUL byte";
		}
		if (out)
			out[o++] = c;
	}
	if (out)
		out[o] = '\0';
	return NULL;
}

/*
 * One pass over s.  With check_only it only validates, allocating nothing;
 * otherwise it decodes each entry into fresh palloc'd strings (left to the
 * caller's memory context, so cb may keep them) and calls cb.
 */
static const char *
kv_walk(const char *s, bool check_only, OtelKVCallback cb, void *arg)
{
	const char *p = s;

	for (;;)
	{
		const char *entry = p;
		const char *entry_end;
		const char *eq = NULL;
		const char *k0,
				   *k1,
				   *v0,
				   *v1;
		const char *err;

		/* find the end of this entry and its first '=' */
		while (*p != '\0' && *p != ',')
		{
			if (*p == '=' && eq == NULL)
				eq = p;
			p++;
		}
		entry_end = p;

		/* blank entry: skip */
		k0 = entry;
		while (k0 < entry_end && kv_blank(*k0))
			k0++;
		if (k0 < entry_end)
		{
			if (eq == NULL)
				return "an entry has no \"=\"";

			k1 = eq;
			while (k1 > k0 && kv_blank(k1[-1]))
				k1--;
			if (k1 == k0)
				return "an entry has an empty key";

			v0 = eq + 1;
			while (v0 < entry_end && kv_blank(*v0))
				v0++;
			v1 = entry_end;
			while (v1 > v0 && kv_blank(v1[-1]))
				v1--;

			if (check_only)
			{
				if ((err = kv_decode(k0, k1 - k0, NULL)) != NULL)
					return err;
				if ((err = kv_decode(v0, v1 - v0, NULL)) != NULL)
					return err;
			}
			else if (cb)
			{
				char	   *key = palloc(k1 - k0 + 1);
				char	   *val = palloc(v1 - v0 + 1);

				if ((err = kv_decode(k0, k1 - k0, key)) != NULL)
					return err;
				if ((err = kv_decode(v0, v1 - v0, val)) != NULL)
					return err;
				cb(key, val, arg);
			}
		}

		if (*p == '\0')
			break;
		p++;					/* ',' */
	}
	return NULL;
}

bool
otel_kvlist_parse(const char *s, OtelKVCallback cb, void *arg,
				  const char **errmsg)
{
	const char *err;

	if (errmsg)
		*errmsg = NULL;
	if (s == NULL)
		return true;

	err = kv_walk(s, true, NULL, NULL);
	if (err == NULL && cb != NULL)
		err = kv_walk(s, false, cb, arg);
	if (err != NULL)
	{
		if (errmsg)
			*errmsg = err;
		return false;
	}
	return true;
}
