/*-------------------------------------------------------------------------
 * trace_context.h
 *		W3C Trace Context: parsing and validating traceparent/tracestate,
 *		finding them in a sqlcommenter comment at the start or end of a query,
 *		formatting them, making random ids, and the ParentBased(TraceIdRatio)
 *		sampler.  trace_context.c owns only the per-backend PRNG state.
 *		Nothing here allocates on the hot path or raises: bad input is reported
 *		by return value (the caller counts it).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_TRACE_CONTEXT_H
#define OTEL_TRACE_CONTEXT_H

#define OTEL_TRACEPARENT_LEN	55	/* 00-<32 hex>-<16 hex>-<2 hex> */
#define OTEL_TRACESTATE_MAX		512 /* W3C: at most 32 members; we keep 512 bytes */

typedef struct OtelTraceContext
{
	uint8		trace_id[16];
	uint8		span_id[8];		/* the parent span, from traceparent */
	uint8		flags;			/* trace-flags */
	bool		valid;
	int			tracestate_len;
	char		tracestate[OTEL_TRACESTATE_MAX + 1];
} OtelTraceContext;

/* Result of looking for context in a query's text. */
typedef enum OtelCtxResult
{
	OTEL_CTX_NONE,				/* no traceparent present */
	OTEL_CTX_VALID,				/* found and valid: ctx filled */
	OTEL_CTX_INVALID			/* found but invalid: ignore, count it */
} OtelCtxResult;

/*
 * Parse a traceparent value (len bytes, not URL-encoded) per W3C level 1:
 * lowercase hex only, version != ff, non-zero ids, version 00 must be exactly
 * 55 chars, higher versions may carry "-..." after the flags.
 */
extern bool otel_traceparent_parse(const char *s, int len, OtelTraceContext *ctx);

/*
 * Store a tracestate value (len bytes, not URL-encoded) in ctx after a loose
 * check: printable ASCII, no leading or trailing space, at most
 * OTEL_TRACESTATE_MAX bytes.  An empty or NULL value clears it and returns
 * true; a bad one clears it and returns false.  Does not touch the other
 * fields (otel_traceparent_parse likewise leaves tracestate alone).
 */
extern bool otel_tracestate_set(OtelTraceContext *ctx, const char *s, int len);

/*
 * Look for a sqlcommenter comment (slash-star ... star-slash) at the start or
 * at the end of query (leading/trailing whitespace and a trailing ';' are
 * skipped) whose key='value' pairs contain traceparent (and optionally
 * tracestate); values are URL-decoded.  If comment_start/comment_len are not
 * NULL, they receive the position of the comment within query (so callers
 * can cut it out of db.query.text), or -1 when none was found.
 * Fast path: returns OTEL_CTX_NONE after looking at a few bytes when the
 * query neither starts nor ends with a comment.
 */
extern OtelCtxResult otel_ctx_from_query(const char *query, int query_len,
										 OtelTraceContext *ctx,
										 int *comment_start, int *comment_len);

/* Format "00-<trace>-<span>-<flags>" into buf (at least 56 bytes). */
extern void otel_traceparent_format(char *buf, const uint8 *trace_id,
									const uint8 *span_id, uint8 flags);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
extern void otel_hex_encode(const uint8 *in, int n, char *out);

/* Random non-zero ids from a per-backend PRNG seeded from pg_strong_random. */
extern void otel_random_trace_id(uint8 *trace_id);
extern void otel_random_span_id(uint8 *span_id);

/*
 * TraceIdRatioBased decision from the trace id: sampled iff the last 56 bits
 * of the id, read big-endian, are < rate * 2^56.  rate 0 never, 1 always, and
 * a higher rate samples a superset of a lower one.
 */
extern bool otel_sample_trace_id(const uint8 *trace_id, double rate);

#endif							/* OTEL_TRACE_CONTEXT_H */
