/*-------------------------------------------------------------------------
 * stats.h
 *		Per-signal export statistics in shared memory, behind the view
 *		otel_aliyun.stats.  stats.c owns the struct; everybody else only calls
 *		these functions.  Counters are atomics: bumping one never takes a lock
 *		and never fails, so it is safe in any hook, emit_log_hook included.
 *		The error text is protected by a spinlock and must never hold secrets.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_STATS_H
#define OTEL_STATS_H

#include "datatype/timestamp.h"
#include "otel_aliyun.h"

typedef enum OtelCounter
{
	OTEL_STAT_PRODUCED = 0,		/* records put into the ring */
	OTEL_STAT_SAMPLED_OUT,		/* statements not recorded (sampler said no) */
	OTEL_STAT_DROPPED,			/* ring full: record thrown away */
	OTEL_STAT_EXPORTED,			/* records the destination accepted */
	OTEL_STAT_FAILED,			/* records given up after errors */
	OTEL_STAT_RETRIES,			/* export attempts repeated */
	OTEL_STAT_BYTES_SENT,		/* request body bytes, as sent */
	OTEL_STAT_REQUESTS,			/* export requests that got an answer */
	OTEL_STAT_PARTIAL,			/* records rejected by a partial_success */
	OTEL_STAT_INVALID_CONTEXT,	/* traceparent values ignored as invalid */
	OTEL_STAT_TRUNCATED,		/* values cut to a length limit */
	OTEL_NUM_COUNTERS
} OtelCounter;

extern Size otel_stats_shmem_size(void);
extern void otel_stats_shmem_init(void);	/* under AddinShmemInitLock */

extern void otel_stats_add(OtelSignal sig, OtelCounter c, uint64 n);

/*
 * For per-statement paths: counted in process memory and added to shared
 * memory every few dozen events and at process exit (and when this process
 * reads the stats).  Never fails.
 */
extern void otel_stats_add_local(OtelSignal sig, OtelCounter c, uint64 n);
extern void otel_stats_flush_local(void);
extern uint64 otel_stats_get(OtelSignal sig, OtelCounter c);

/* last error: msg is copied (truncated); pass NULL to clear */
extern void otel_stats_set_error(OtelSignal sig, const char *msg);
extern void otel_stats_set_success(OtelSignal sig);	/* now */

/* copy out for the view; errbuf of errlen bytes gets the last error */
extern void otel_stats_read(OtelSignal sig, uint64 *counters,
							TimestampTz *last_success, TimestampTz *last_error_time,
							char *errbuf, Size errlen);
extern void otel_stats_reset(void);

#endif							/* OTEL_STATS_H */
