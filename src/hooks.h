/*-------------------------------------------------------------------------
 * hooks.h
 *		Query spans.  hooks.c installs the post-parse-analyze, planner,
 *		executor (Start/Run/Finish/End), ProcessUtility and emit_log hooks,
 *		chained with whatever was installed before, and owns the per-backend
 *		span state (open statement spans, the normalised-text cache).  It
 *		writes finished spans into the traces ring (buffer.h) and nothing
 *		else shared, except counters (stats.h).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_HOOKS_H
#define OTEL_HOOKS_H

extern void otel_hooks_install(void);

/*
 * The innermost span of the statement running now, as a W3C traceparent,
 * into buf (56 bytes).  False when no sampled span is open.
 */
extern bool otel_hooks_current_traceparent(char *buf);

/*
 * Trace context of the statement running now, for log records: false when
 * the statement is not traced.
 */
extern bool otel_hooks_current_context(uint8 *trace_id, uint8 *span_id, uint8 *flags);

#endif							/* OTEL_HOOKS_H */
