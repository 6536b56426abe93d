/*-------------------------------------------------------------------------
 * otel_aliyun.h
 *		Constants shared by every file of the extension: the signal enum and
 *		the version.  Owns no state and includes nothing of ours.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_ALIYUN_H
#define OTEL_ALIYUN_H

#define OTEL_ALIYUN_VERSION "1.0.0"
#define OTEL_ALIYUN_SCOPE_NAME "otel_aliyun"

/* The three signals.  Each has its own ring, stats row and destination. */
typedef enum OtelSignal
{
	OTEL_SIGNAL_TRACES = 0,
	OTEL_SIGNAL_LOGS,
	OTEL_SIGNAL_METRICS,
	OTEL_NUM_SIGNALS
} OtelSignal;

extern const char *const otel_signal_names[OTEL_NUM_SIGNALS];

/* Current time as nanoseconds since the Unix epoch (clock_gettime REALTIME). */
extern int64 otel_now_ns(void);

/*
 * True in a process of a server that preloaded the library (shared memory
 * and worker exist).  SQL functions check it and raise a clear error
 * otherwise.
 */
extern bool otel_is_preloaded(void);

#endif							/* OTEL_ALIYUN_H */
