/*-------------------------------------------------------------------------
 * metrics_builtin.h
 *		The metrics the extension records by itself, in three groups that
 *		otel_aliyun.builtin_metrics switches:
 *
 *		query		postgresql_query_duration_seconds (OTLP
 *					postgresql.query.duration), a histogram of every top-level
 *					statement by db.namespace, db.operation.name, error.type;
 *					hooks.c calls otel_metrics_query_done().
 *		database	postgres_exporter-compatible pg_stat_database_*,
 *					pg_database_size_bytes, pg_stat_activity_count,
 *					pg_settings_max_connections, pg_up, read by the
 *					"otel_aliyun metrics collector" background worker.
 *		exporter	otel_aliyun_* health of the extension (records produced,
 *					dropped, exported, failed per signal, buffer use, series),
 *					refreshed by the export worker before each export.
 *
 *		metrics_builtin.c owns the per-backend series cache of the query
 *		histogram and the collector process; everything it records goes
 *		into the store (metrics_store.h).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_METRICS_BUILTIN_H
#define OTEL_METRICS_BUILTIN_H

#include "guc.h"

/*
 * hooks.c: is the query duration histogram on?  Only when metrics go
 * somewhere: timing every statement for nobody would cost every query.
 */
static inline bool
otel_metrics_query_enabled(void)
{
	return (otel_builtin_metrics_mask & OTEL_BUILTIN_QUERY) != 0 &&
		otel_metrics_leave_server();
}

/*
 * One top-level statement ended.  operation may be NULL or "" (unknown);
 * sqlerrcode is 0 for success, an ERRCODE (the SQLSTATE becomes error.type)
 * for a failure, or -1 for a statement aborted without one ("aborted").
 * Cheap once the (operation, outcome) pair has been seen by this backend:
 * no allocation, no lock but the series' spinlock.  Never raises.
 */
extern void otel_metrics_query_done(const char *operation, int sqlerrcode,
									int64 start_ns, int64 end_ns);

/* Export worker: refresh the exporter group's series (stats.h, buffer.h). */
extern void otel_metrics_exporter_refresh(void);

/* Does name belong to a built-in metric (SQL may not record into it)? */
extern bool otel_metrics_is_builtin_name(const char *name);

/*
 * The database group's collector process runs only while it is wanted: the
 * group on and metrics leaving the server.  A connected process more, even
 * asleep, costs every backend's transactions some 1.5 % of their CPU
 * (pgbench -S, README "Cost of tracing"), so the export worker starts and
 * stops it as a dynamic background worker with otel_metrics_collector_sync(),
 * which it calls on start, after each reload and on its rounds; the handle
 * lives in the export worker's memory.
 */
static inline bool
otel_metrics_collector_wanted(void)
{
	return otel_enabled && (otel_builtin_metrics_mask & OTEL_BUILTIN_DATABASE) != 0 &&
		otel_metrics_leave_server();
}
extern void otel_metrics_collector_sync(void);	/* export worker only */
extern Size otel_metrics_collector_shmem_size(void);
extern void otel_metrics_collector_shmem_init(void);	/* under AddinShmemInitLock */
PGDLLEXPORT void otel_metrics_collector_main(Datum arg);

/*
 * Export worker, on flush: have the collector read the database statistics
 * now and wait for it, at most timeout_ms (also for it to start, when it is
 * wanted and has not attached yet).  False when it did not answer in time
 * (not wanted, not running, busy).
 */
extern bool otel_metrics_collect_now(int timeout_ms);

#endif							/* OTEL_METRICS_BUILTIN_H */
