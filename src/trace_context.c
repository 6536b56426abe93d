/*-------------------------------------------------------------------------
 *
 * trace_context.c
 *		W3C Trace Context (level 1) for otel_aliyun: traceparent parsing and
 *		formatting, tracestate checks, sqlcommenter comments at either end of
 *		a query, random ids and the TraceIdRatioBased sampling decision.
 *
 * Everything on the query path works on caller-provided or stack memory:
 * no palloc, no ereport, and no read outside [query, query + query_len).
 * The only state is the per-backend PRNG, re-seeded in every new process.
 *
 * The two SQL-callable functions at the end expose the parsers to the
 * regression tests.
 *
 * IDENTIFICATION
 *		src/trace_context.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "trace_context.h"

/*
 * Decoded traceparent values longer than this are refused.  Version 00 is
 * 55 bytes; future versions may append fields, but nothing legitimate comes
 * near this.
 */
#define TP_BUF_SIZE		256

/* Decoded sqlcommenter keys are compared only when they fit in this. */
#define KEY_BUF_SIZE	32

/* results of decode_value() besides a length */
#define DECODE_BAD		(-1)	/* malformed percent escape */
#define DECODE_TOOLONG	(-2)	/* does not fit in the output buffer */

static pg_prng_state otel_prng;
static bool otel_prng_seeded = false;
static int	otel_prng_pid = 0;

static const char hexdigits[] = "0123456789abcdef";


/* ---------------------------------------------------------------------
 * small helpers
 * ---------------------------------------------------------------------
 */

/* value of a lowercase hex digit, -1 for anything else */
static inline int
hex_lc(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* value of a hex digit of either case (percent escapes), -1 otherwise */
static inline int
hex_any(char c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return hex_lc(c);
}

/* 2n lowercase hex digits into n bytes; false on any other character */
static bool
hex_decode_lc(const char *s, int n, uint8 *out)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		int			hi = hex_lc(s[2 * i]);
		int			lo = hex_lc(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8) ((hi << 4) | lo);
	}
	return true;
}

static bool
all_zero(const uint8 *p, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (p[i] != 0)
			return false;
	}
	return true;
}

/* the characters the PostgreSQL scanner treats as whitespace, plus VT */
static inline bool
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}


/* ---------------------------------------------------------------------
 * traceparent / tracestate
 * ---------------------------------------------------------------------
 */

bool
otel_traceparent_parse(const char *s, int len, OtelTraceContext *ctx)
{
	int			version_hi;
	int			version_lo;
	int			version;
	uint8		trace_id[16];
	uint8		span_id[8];
	uint8		flags;

	ctx->valid = false;

	/* every version is at least as long as version 00 */
	if (s == NULL || len < OTEL_TRACEPARENT_LEN)
		return false;

	version_hi = hex_lc(s[0]);
	version_lo = hex_lc(s[1]);
	if (version_hi < 0 || version_lo < 0)
		return false;
	version = (version_hi << 4) | version_lo;
	if (version == 0xff)
		return false;

	/* version 00 is exactly 55 bytes; later ones may add "-..." fields */
	if (version == 0 && len != OTEL_TRACEPARENT_LEN)
		return false;
	if (len > OTEL_TRACEPARENT_LEN && s[OTEL_TRACEPARENT_LEN] != '-')
		return false;

	if (s[2] != '-' || s[35] != '-' || s[52] != '-')
		return false;
	if (!hex_decode_lc(s + 3, 16, trace_id) ||
		!hex_decode_lc(s + 36, 8, span_id) ||
		!hex_decode_lc(s + 53, 1, &flags))
		return false;
	if (all_zero(trace_id, 16) || all_zero(span_id, 8))
		return false;

	/*
	 * Of a later version's flags only the sampled bit is defined for us; the
	 * meaning of the others may have changed.
	 */
	if (version != 0)
		flags &= 0x01;

	memcpy(ctx->trace_id, trace_id, 16);
	memcpy(ctx->span_id, span_id, 8);
	ctx->flags = flags;
	ctx->valid = true;
	return true;
}

/*
 * Loose tracestate check: printable ASCII, not starting or ending with a
 * space, at most OTEL_TRACESTATE_MAX bytes.
 */
static bool
tracestate_ok(const char *s, int len)
{
	int			i;

	if (len <= 0 || len > OTEL_TRACESTATE_MAX)
		return false;
	if (s[0] == ' ' || s[len - 1] == ' ')
		return false;
	for (i = 0; i < len; i++)
	{
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

bool
otel_tracestate_set(OtelTraceContext *ctx, const char *s, int len)
{
	if (s == NULL || len <= 0)
	{
		ctx->tracestate_len = 0;
		ctx->tracestate[0] = '\0';
		return true;
	}
	if (!tracestate_ok(s, len))
	{
		ctx->tracestate_len = 0;
		ctx->tracestate[0] = '\0';
		return false;
	}
	if (s != ctx->tracestate)
		memmove(ctx->tracestate, s, len);
	ctx->tracestate[len] = '\0';
	ctx->tracestate_len = len;
	return true;
}

void
otel_hex_encode(const uint8 *in, int n, char *out)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		out[2 * i] = hexdigits[in[i] >> 4];
		out[2 * i + 1] = hexdigits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

void
otel_traceparent_format(char *buf, const uint8 *trace_id,
						const uint8 *span_id, uint8 flags)
{
	buf[0] = '0';
	buf[1] = '0';
	buf[2] = '-';
	otel_hex_encode(trace_id, 16, buf + 3);
	buf[35] = '-';
	otel_hex_encode(span_id, 8, buf + 36);
	buf[52] = '-';
	otel_hex_encode(&flags, 1, buf + 53);
	/* otel_hex_encode wrote the terminating NUL at buf[55] */
}


/* ---------------------------------------------------------------------
 * sqlcommenter
 * ---------------------------------------------------------------------
 */

/*
 * Next character of a quoted sqlcommenter value with the backslash escape
 * removed ("\'" stands for "'", and a backslash escapes any character).
 */
static inline char
unescaped_next(const char *p, int n, int *i)
{
	char		c = p[(*i)++];

	if (c == '\\' && *i < n)
		c = p[(*i)++];
	return c;
}

/*
 * Decode the raw text between the quotes of a sqlcommenter value (or a
 * whole key): first the backslash escapes, then percent-encoding.  Writes
 * at most outmax bytes (no terminator) and returns the decoded length,
 * DECODE_BAD for a malformed escape or DECODE_TOOLONG.
 */
static int
decode_value(const char *p, int n, char *out, int outmax)
{
	int			i = 0;
	int			o = 0;

	while (i < n)
	{
		char		c = unescaped_next(p, n, &i);

		if (c == '%')
		{
			int			hi,
						lo;

			if (i >= n)
				return DECODE_BAD;
			hi = hex_any(unescaped_next(p, n, &i));
			if (i >= n)
				return DECODE_BAD;
			lo = hex_any(unescaped_next(p, n, &i));
			if (hi < 0 || lo < 0)
				return DECODE_BAD;
			c = (char) ((hi << 4) | lo);
		}
		if (o >= outmax)
			return DECODE_TOOLONG;
		out[o++] = c;
	}
	return o;
}

typedef enum CommentKey
{
	KEY_OTHER,
	KEY_TRACEPARENT,
	KEY_TRACESTATE
} CommentKey;

static CommentKey
classify_key(const char *p, int n)
{
	char		key[KEY_BUF_SIZE];
	int			len = decode_value(p, n, key, sizeof(key));

	if (len == 11 && memcmp(key, "traceparent", 11) == 0)
		return KEY_TRACEPARENT;
	if (len == 10 && memcmp(key, "tracestate", 10) == 0)
		return KEY_TRACESTATE;
	return KEY_OTHER;
}

/*
 * Parse the body of one comment (the bytes between the comment markers) as
 * a sqlcommenter list: key='value' pairs separated by commas, blanks
 * allowed around keys, values and commas.
 *
 * Returns OTEL_CTX_NONE when no traceparent key appears (including when the
 * comment is not a sqlcommenter list at all), OTEL_CTX_INVALID when it
 * appears but the list is malformed from that point or the value is not a
 * valid traceparent, OTEL_CTX_VALID otherwise.  Only the first traceparent
 * and the first tracestate count.
 */
static OtelCtxResult
parse_comment(const char *body, int n, OtelTraceContext *ctx)
{
	const char *tp_raw = NULL;
	int			tp_rawlen = 0;
	const char *ts_raw = NULL;
	int			ts_rawlen = 0;
	bool		seen_tp = false;
	int			pos = 0;

	for (;;)
	{
		int			key_start;
		int			key_end;
		int			val_start;
		CommentKey	kind;

		while (pos < n && is_blank(body[pos]))
			pos++;
		if (pos >= n)
			break;

		/* key, up to '=' */
		key_start = pos;
		while (pos < n && body[pos] != '=' && body[pos] != ',' &&
			   body[pos] != '\'')
			pos++;
		if (pos >= n || body[pos] != '=')
			goto malformed;
		key_end = pos;
		while (key_end > key_start && is_blank(body[key_end - 1]))
			key_end--;
		if (key_end == key_start)
			goto malformed;
		kind = classify_key(body + key_start, key_end - key_start);
		if (kind == KEY_TRACEPARENT)
			seen_tp = true;
		pos++;					/* '=' */

		/* quoted value */
		while (pos < n && is_blank(body[pos]))
			pos++;
		if (pos >= n || body[pos] != '\'')
			goto malformed;
		pos++;
		val_start = pos;
		while (pos < n && body[pos] != '\'')
		{
			if (body[pos] == '\\')
				pos++;			/* skip the escaped character too */
			pos++;
		}
		if (pos >= n)
			goto malformed;		/* no closing quote */

		if (kind == KEY_TRACEPARENT && tp_raw == NULL)
		{
			tp_raw = body + val_start;
			tp_rawlen = pos - val_start;
		}
		else if (kind == KEY_TRACESTATE && ts_raw == NULL)
		{
			ts_raw = body + val_start;
			ts_rawlen = pos - val_start;
		}
		pos++;					/* closing quote */

		/* separator or end */
		while (pos < n && is_blank(body[pos]))
			pos++;
		if (pos >= n)
			break;
		if (body[pos] != ',')
			goto malformed;
		pos++;
	}

	if (tp_raw == NULL)
		return OTEL_CTX_NONE;

	{
		char		tp[TP_BUF_SIZE];
		int			tplen = decode_value(tp_raw, tp_rawlen, tp, sizeof(tp));

		if (tplen < 0 || !otel_traceparent_parse(tp, tplen, ctx))
			return OTEL_CTX_INVALID;
	}

	/* a bad or oversized tracestate is dropped; the context stays valid */
	if (ts_raw != NULL)
	{
		int			tslen = decode_value(ts_raw, ts_rawlen, ctx->tracestate,
										 OTEL_TRACESTATE_MAX);

		if (tslen < 0)
			tslen = 0;
		otel_tracestate_set(ctx, ctx->tracestate, tslen);
	}
	else
		otel_tracestate_set(ctx, NULL, 0);

	return OTEL_CTX_VALID;

malformed:
	return seen_tp ? OTEL_CTX_INVALID : OTEL_CTX_NONE;
}

OtelCtxResult
otel_ctx_from_query(const char *query, int query_len, OtelTraceContext *ctx,
					int *comment_start, int *comment_len)
{
	int			b = 0;
	int			e = query_len;
	int			lead_end = -1;	/* offset just past the leading comment */
	OtelCtxResult res;

	if (comment_start)
		*comment_start = -1;
	if (comment_len)
		*comment_len = -1;
	ctx->valid = false;

	if (query == NULL || query_len < 4)
		return OTEL_CTX_NONE;

	/* fast path: neither end is a comment marker */
	while (b < e && is_blank(query[b]))
		b++;
	while (e > b && (is_blank(query[e - 1]) || query[e - 1] == ';'))
		e--;
	if (e - b < 4)
		return OTEL_CTX_NONE;

	if (query[b] == '/' && query[b + 1] == '*')
	{
		/*
		 * The leading comment ends at the first star-slash.  If another
		 * comment opens before that, PostgreSQL nests them and this is no
		 * sqlcommenter comment.
		 */
		int			i;

		for (i = b + 2; i + 1 < e; i++)
		{
			if (query[i] == '*' && query[i + 1] == '/')
			{
				lead_end = i + 2;
				break;
			}
			if (query[i] == '/' && query[i + 1] == '*')
				break;
		}
		if (lead_end > 0)
		{
			res = parse_comment(query + b + 2, lead_end - 2 - (b + 2), ctx);
			if (res != OTEL_CTX_NONE)
			{
				if (comment_start)
					*comment_start = b;
				if (comment_len)
					*comment_len = lead_end - b;
				return res;
			}
		}
	}

	if (query[e - 2] == '*' && query[e - 1] == '/')
	{
		/*
		 * The trailing comment starts at the nearest slash-star before its
		 * end; a star-slash met first means the end belongs to something we
		 * do not try to understand.
		 */
		int			close_at = e - 2;
		int			start = -1;
		int			i;

		for (i = close_at - 2; i >= b; i--)
		{
			if (query[i] == '/' && query[i + 1] == '*')
			{
				start = i;
				break;
			}
			if (query[i] == '*' && query[i + 1] == '/')
				break;
		}

		/* the same comment as the leading one was already looked at */
		if (start >= 0 && !(start == b && lead_end == e))
		{
			res = parse_comment(query + start + 2, close_at - (start + 2), ctx);
			if (res != OTEL_CTX_NONE)
			{
				if (comment_start)
					*comment_start = start;
				if (comment_len)
					*comment_len = e - start;
				return res;
			}
		}
	}

	ctx->valid = false;
	return OTEL_CTX_NONE;
}


/* ---------------------------------------------------------------------
 * random ids and sampling
 * ---------------------------------------------------------------------
 */

/* Seed the PRNG once per process (a forked child must not share it). */
static pg_noinline void
otel_prng_seed(void)
{
	if (!pg_prng_strong_seed(&otel_prng))
	{
		/* no strong source: mix what differs between processes and runs */
		uint64		seed = (uint64) GetCurrentTimestamp();

		seed ^= ((uint64) MyProcPid) << 32;
		seed ^= (uint64) (uintptr_t) &seed;
		pg_prng_seed(&otel_prng, seed);
	}
	otel_prng_seeded = true;
	otel_prng_pid = MyProcPid;
}

static inline uint64
rotl64(uint64 x, int bits)
{
	return (x << bits) | (x >> (64 - bits));
}

/*
 * The next 64 random bits: pg_prng_uint64()'s xoroshiro128** on the same
 * state, inline (every sampled statement takes four).
 */
static inline uint64
otel_prng_next(void)
{
	uint64		s0;
	uint64		s1;
	uint64		val;

	if (unlikely(!otel_prng_seeded || otel_prng_pid != MyProcPid))
		otel_prng_seed();
	s0 = otel_prng.s0;
	s1 = otel_prng.s1;
	val = rotl64(s0 * 5, 7) * 9;
	s1 ^= s0;
	otel_prng.s0 = rotl64(s0, 24) ^ s1 ^ (s1 << 16);
	otel_prng.s1 = rotl64(s1, 37);
	return val;
}

void
otel_random_trace_id(uint8 *trace_id)
{
	uint64		hi;
	uint64		lo;

	do
	{
		hi = otel_prng_next();
		lo = otel_prng_next();
	} while (hi == 0 && lo == 0);
	memcpy(trace_id, &hi, 8);
	memcpy(trace_id + 8, &lo, 8);
}

void
otel_random_span_id(uint8 *span_id)
{
	uint64		v;

	do
	{
		v = otel_prng_next();
	} while (v == 0);
	memcpy(span_id, &v, 8);
}

bool
otel_sample_trace_id(const uint8 *trace_id, double rate)
{
	const double two56 = 72057594037927936.0;	/* 2^56 */
	uint64		r = 0;
	int			i;

	/* !(rate > 0) also catches NaN */
	if (!(rate > 0.0))
		return false;
	if (rate >= 1.0)
		return true;

	for (i = 9; i < 16; i++)
		r = (r << 8) | trace_id[i];

	/* rate * 2^56 is exact scaling, and floor() keeps it monotonic */
	return r < (uint64) floor(rate * two56);
}


/* ---------------------------------------------------------------------
 * SQL-callable wrappers (tests and diagnostics)
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(otel_aliyun_parse_traceparent);
PG_FUNCTION_INFO_V1(otel_aliyun_context_from_query);

/*
 * parse_traceparent(text, OUT valid bool, OUT trace_id text,
 *					 OUT parent_span_id text, OUT flags int, OUT sampled bool)
 */
Datum
otel_aliyun_parse_traceparent(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5];
	OtelTraceContext ctx;
	char		hex[33];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	memset(nulls, true, sizeof(nulls));
	memset(&ctx, 0, sizeof(ctx));
	values[0] = BoolGetDatum(otel_traceparent_parse(VARDATA_ANY(arg),
													VARSIZE_ANY_EXHDR(arg),
													&ctx));
	nulls[0] = false;
	if (ctx.valid)
	{
		otel_hex_encode(ctx.trace_id, 16, hex);
		values[1] = CStringGetTextDatum(hex);
		otel_hex_encode(ctx.span_id, 8, hex);
		values[2] = CStringGetTextDatum(hex);
		values[3] = Int32GetDatum((int32) ctx.flags);
		values[4] = BoolGetDatum((ctx.flags & 0x01) != 0);
		nulls[1] = nulls[2] = nulls[3] = nulls[4] = false;
	}

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * context_from_query(text, OUT found text, OUT traceparent text,
 *					  OUT tracestate text, OUT comment_start int,
 *					  OUT comment_len int)
 *
 * found is 'none', 'valid' or 'invalid'; traceparent is the canonical
 * (version 00) form of the parsed context; comment_start is a 0-based byte
 * offset.  Columns that do not apply are NULL.
 */
Datum
otel_aliyun_context_from_query(PG_FUNCTION_ARGS)
{
	text	   *arg = PG_GETARG_TEXT_PP(0);
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5];
	OtelTraceContext ctx;
	OtelCtxResult res;
	int			cstart;
	int			clen;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	memset(nulls, true, sizeof(nulls));
	memset(&ctx, 0, sizeof(ctx));
	res = otel_ctx_from_query(VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg), &ctx,
							  &cstart, &clen);

	values[0] = CStringGetTextDatum(res == OTEL_CTX_VALID ? "valid" :
									res == OTEL_CTX_INVALID ? "invalid" : "none");
	nulls[0] = false;
	if (res == OTEL_CTX_VALID)
	{
		char		tp[OTEL_TRACEPARENT_LEN + 1];

		otel_traceparent_format(tp, ctx.trace_id, ctx.span_id, ctx.flags);
		values[1] = CStringGetTextDatum(tp);
		nulls[1] = false;
		if (ctx.tracestate_len > 0)
		{
			values[2] = PointerGetDatum(cstring_to_text_with_len(ctx.tracestate,
																 ctx.tracestate_len));
			nulls[2] = false;
		}
	}
	if (cstart >= 0)
	{
		values[3] = Int32GetDatum(cstart);
		values[4] = Int32GetDatum(clen);
		nulls[3] = nulls[4] = false;
	}

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
