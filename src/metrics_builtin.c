/*-------------------------------------------------------------------------
 *
 * metrics_builtin.c
 *		The metrics the extension records by itself.
 *
 * Query duration.  hooks.c calls otel_metrics_query_done() when a top-level
 * statement ends, sampled or not.  Each backend keeps a small table from
 * (operation, outcome) to the store's series index, so after the first
 * statement of a kind recording is a hash probe and a spinlock: no
 * allocation, no LWLock.  The database label is the name the client
 * connected to (MyProcPort), so no catalog access is needed either.  The
 * db.namespace label holds only the database, not the {database}|{schema}
 * pair the spans carry, to keep the number of series bounded.
 *
 * Database metrics.  The export worker has no database connection and
 * should never block on a catalog, so a second background worker, the
 * "otel_aliyun metrics collector", reads them every
 * otel_aliyun.metrics_export_interval_ms.  It connects to no database
 * (BackgroundWorkerInitializeConnection(NULL, ...), as the autovacuum and
 * logical replication launchers do): that gives it a transaction, the
 * shared catalog pg_database (for the names) and the server's own
 * statistics, all without occupying a connection slot or depending on any
 * particular database existing.  Everything comes from shared memory or
 * the file system, never from SQL:
 *	 - pg_stat_database_*: the cumulative statistics system
 *	   (pgstat_fetch_stat_dbentry, PostgreSQL 15's shared-memory stats);
 *	 - pg_stat_activity_*: the backend status array;
 *	 - pg_database_size_bytes: pg_database_size(oid) (a directory walk);
 *	 - pg_settings_max_connections: MaxConnections.
 * Names and labels are those of postgres_exporter's default collectors
 * (pg_stat_database_xact_commit{datid,datname}, pg_stat_activity_count
 * {datname,state}, ...), counters without a _total suffix as it exports
 * them, so existing Grafana dashboards work unchanged.
 *
 * Exporter health.  Before each export the worker calls
 * otel_metrics_exporter_refresh(), which copies stats.h and the buffer
 * usage into otel_aliyun_* series.
 *
 * IDENTIFICATION
 *	  src/metrics_builtin.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "common/hashfn.h"
#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "buffer.h"
#include "guc.h"
#include "metrics_builtin.h"
#include "metrics_store.h"
#include "otel_aliyun.h"
#include "stats.h"

/* ---- definitions ---- */

typedef struct BuiltinMetric
{
	const char *name;
	const char *otlp_name;		/* NULL: same */
	OtelMetricType type;
	const char *unit;
	const char *description;
} BuiltinMetric;

/* indexes into builtin_metrics[] */
enum
{
	BM_QUERY_DURATION,
	BM_DB_NUMBACKENDS,
	BM_DB_XACT_COMMIT,
	BM_DB_XACT_ROLLBACK,
	BM_DB_BLKS_READ,
	BM_DB_BLKS_HIT,
	BM_DB_TUP_RETURNED,
	BM_DB_TUP_FETCHED,
	BM_DB_TUP_INSERTED,
	BM_DB_TUP_UPDATED,
	BM_DB_TUP_DELETED,
	BM_DB_CONFLICTS,
	BM_DB_TEMP_FILES,
	BM_DB_TEMP_BYTES,
	BM_DB_DEADLOCKS,
	BM_DB_BLK_READ_TIME,
	BM_DB_BLK_WRITE_TIME,
	BM_DB_SIZE,
	BM_ACTIVITY_COUNT,
	BM_ACTIVITY_MAX_TX,
	BM_MAX_CONNECTIONS,
	BM_UP,
	BM_SELF_PRODUCED,
	BM_SELF_SAMPLED_OUT,
	BM_SELF_DROPPED,
	BM_SELF_EXPORTED,
	BM_SELF_FAILED,
	BM_SELF_RETRIES,
	BM_SELF_REQUESTS,
	BM_SELF_BYTES,
	BM_SELF_BUFFER_USED,
	BM_SELF_BUFFER_SIZE,
	BM_SELF_SERIES,
	BM_SELF_SERIES_LIMIT,
	BM_COUNT
};

static const BuiltinMetric builtin_metrics[BM_COUNT] = {
	[BM_QUERY_DURATION] = {"postgresql_query_duration_seconds", "postgresql.query.duration",
		OTEL_METRIC_HISTOGRAM, "s",
	"Duration of top-level statements, by database, operation and outcome."},
	[BM_DB_NUMBACKENDS] = {"pg_stat_database_numbackends", NULL, OTEL_METRIC_GAUGE, NULL,
	"Number of backends currently connected to this database."},
	[BM_DB_XACT_COMMIT] = {"pg_stat_database_xact_commit", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of transactions in this database that have been committed."},
	[BM_DB_XACT_ROLLBACK] = {"pg_stat_database_xact_rollback", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of transactions in this database that have been rolled back."},
	[BM_DB_BLKS_READ] = {"pg_stat_database_blks_read", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of disk blocks read in this database."},
	[BM_DB_BLKS_HIT] = {"pg_stat_database_blks_hit", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of times disk blocks were found already in the buffer cache."},
	[BM_DB_TUP_RETURNED] = {"pg_stat_database_tup_returned", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of rows returned by queries in this database."},
	[BM_DB_TUP_FETCHED] = {"pg_stat_database_tup_fetched", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of rows fetched by queries in this database."},
	[BM_DB_TUP_INSERTED] = {"pg_stat_database_tup_inserted", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of rows inserted by queries in this database."},
	[BM_DB_TUP_UPDATED] = {"pg_stat_database_tup_updated", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of rows updated by queries in this database."},
	[BM_DB_TUP_DELETED] = {"pg_stat_database_tup_deleted", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of rows deleted by queries in this database."},
	[BM_DB_CONFLICTS] = {"pg_stat_database_conflicts", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of queries canceled due to conflicts with recovery in this database."},
	[BM_DB_TEMP_FILES] = {"pg_stat_database_temp_files", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of temporary files created by queries in this database."},
	[BM_DB_TEMP_BYTES] = {"pg_stat_database_temp_bytes", NULL, OTEL_METRIC_COUNTER, "By",
	"Total amount of data written to temporary files by queries in this database."},
	[BM_DB_DEADLOCKS] = {"pg_stat_database_deadlocks", NULL, OTEL_METRIC_COUNTER, NULL,
	"Number of deadlocks detected in this database."},
	[BM_DB_BLK_READ_TIME] = {"pg_stat_database_blk_read_time", NULL, OTEL_METRIC_COUNTER, "ms",
	"Time spent reading data file blocks by backends in this database, in milliseconds."},
	[BM_DB_BLK_WRITE_TIME] = {"pg_stat_database_blk_write_time", NULL, OTEL_METRIC_COUNTER, "ms",
	"Time spent writing data file blocks by backends in this database, in milliseconds."},
	[BM_DB_SIZE] = {"pg_database_size_bytes", NULL, OTEL_METRIC_GAUGE, "By",
	"Disk space used by the database."},
	[BM_ACTIVITY_COUNT] = {"pg_stat_activity_count", NULL, OTEL_METRIC_GAUGE, NULL,
	"Number of connections in this state."},
	[BM_ACTIVITY_MAX_TX] = {"pg_stat_activity_max_tx_duration", NULL, OTEL_METRIC_GAUGE, "s",
	"Longest running transaction in this state, in seconds."},
	[BM_MAX_CONNECTIONS] = {"pg_settings_max_connections", NULL, OTEL_METRIC_GAUGE, NULL,
	"Server setting max_connections."},
	[BM_UP] = {"pg_up", NULL, OTEL_METRIC_GAUGE, NULL,
	"Whether the last collection of database metrics succeeded (1) or not (0)."},
	[BM_SELF_PRODUCED] = {"otel_aliyun_records_produced", NULL, OTEL_METRIC_COUNTER, NULL,
	"Records put into the buffer (metrics: data points taken for export)."},
	[BM_SELF_SAMPLED_OUT] = {"otel_aliyun_records_sampled_out", NULL, OTEL_METRIC_COUNTER, NULL,
	"Statements not traced because the sampler said no."},
	[BM_SELF_DROPPED] = {"otel_aliyun_records_dropped", NULL, OTEL_METRIC_COUNTER, NULL,
	"Records thrown away because the buffer or the metric store was full."},
	[BM_SELF_EXPORTED] = {"otel_aliyun_records_exported", NULL, OTEL_METRIC_COUNTER, NULL,
	"Records the destination accepted."},
	[BM_SELF_FAILED] = {"otel_aliyun_records_failed", NULL, OTEL_METRIC_COUNTER, NULL,
	"Records given up after export errors."},
	[BM_SELF_RETRIES] = {"otel_aliyun_export_retries", NULL, OTEL_METRIC_COUNTER, NULL,
	"Export attempts repeated after a retryable failure."},
	[BM_SELF_REQUESTS] = {"otel_aliyun_export_requests", NULL, OTEL_METRIC_COUNTER, NULL,
	"Export requests that got an answer."},
	[BM_SELF_BYTES] = {"otel_aliyun_export_sent_bytes", NULL, OTEL_METRIC_COUNTER, "By",
	"Request body bytes sent, after compression."},
	[BM_SELF_BUFFER_USED] = {"otel_aliyun_buffer_used_bytes", NULL, OTEL_METRIC_GAUGE, "By",
	"Bytes of the shared-memory buffer in use."},
	[BM_SELF_BUFFER_SIZE] = {"otel_aliyun_buffer_size_bytes", NULL, OTEL_METRIC_GAUGE, "By",
	"Size of the shared-memory buffer."},
	[BM_SELF_SERIES] = {"otel_aliyun_metric_series", NULL, OTEL_METRIC_GAUGE, NULL,
	"Metric series in the shared-memory store."},
	[BM_SELF_SERIES_LIMIT] = {"otel_aliyun_metric_series_limit", NULL, OTEL_METRIC_GAUGE, NULL,
	"Most metric series the store holds (otel_aliyun.max_series)."},
};

/* family index per builtin metric in this process, -1 until defined */
static int	builtin_family[BM_COUNT];
static bool builtin_family_init = false;

bool
otel_metrics_is_builtin_name(const char *name)
{
	if (strncmp(name, "otel_aliyun_", 12) == 0)
		return true;
	for (int i = 0; i < BM_COUNT; i++)
		if (strcmp(name, builtin_metrics[i].name) == 0)
			return true;
	return false;
}

/* The family of builtin metric m, defining it on first use; -1 on failure. */
static int
builtin_family_of(int m)
{
	const BuiltinMetric *bm;
	OtelMetricDef def;

	if (!builtin_family_init)
	{
		for (int i = 0; i < BM_COUNT; i++)
			builtin_family[i] = -1;
		builtin_family_init = true;
	}
	if (builtin_family[m] >= 0)
		return builtin_family[m];

	bm = &builtin_metrics[m];
	memset(&def, 0, sizeof(def));
	def.name = bm->name;
	def.otlp_name = bm->otlp_name;
	def.type = bm->type;
	def.description = bm->description;
	def.unit = bm->unit;
	def.flags = OTEL_MF_BUILTIN;
	/* postgres_exporter names its counters without _total */
	if (strncmp(bm->name, "pg_", 3) == 0)
		def.flags |= OTEL_MF_RAW_NAME;
	/* recorded by every statement of every backend */
	if (m == BM_QUERY_DURATION)
		def.flags |= OTEL_MF_STRIPED;
	if (otel_metrics_define(&def, true, &builtin_family[m]) != OTEL_METRIC_OK)
		builtin_family[m] = -1;
	return builtin_family[m];
}

/* Set (or add to) a builtin series; failures are counted as drops. */
static void
builtin_record(int m, const OtelLabel *labels, int nlabels, OtelMetricOp op,
			   double value)
{
	int			family = builtin_family_of(m);

	if (family < 0 ||
		otel_metrics_record(family, labels, nlabels, op, value, NULL) != OTEL_METRIC_OK)
		otel_stats_add(OTEL_SIGNAL_METRICS, OTEL_STAT_DROPPED, 1);
}

/* ---- query duration ---- */

#define QCACHE_SIZE		64		/* power of two */
#define QCACHE_OP_LEN	48

typedef struct QCacheEntry
{
	bool		used;
	int			sqlerrcode;
	int			series;			/* -1: the store refused it (full) */
	char		op[QCACHE_OP_LEN];
} QCacheEntry;

static QCacheEntry qcache[QCACHE_SIZE];
static int	qcache_used = 0;
static QCacheEntry *qcache_last = NULL;	/* the entry used last */
static const char *query_dbname = NULL;

static const char *
query_database(void)
{
	if (query_dbname == NULL)
		query_dbname = (MyProcPort && MyProcPort->database_name) ?
			MyProcPort->database_name : "";
	return query_dbname;
}

void
otel_metrics_query_done(const char *operation, int sqlerrcode,
						int64 start_ns, int64 end_ns)
{
	char		op[QCACHE_OP_LEN];
	uint32		h;
	uint32		slot;
	QCacheEntry *e = NULL;
	double		seconds;
	int			family;
	OtelLabel	labels[3];
	int			nlabels = 0;
	char		sqlstate[6];
	int			series = -1;

	if (!otel_is_preloaded() || start_ns <= 0)
		return;
	seconds = (end_ns > start_ns) ? (end_ns - start_ns) / 1e9 : 0.0;

	/* the usual case: the same kind of statement as the last one */
	e = qcache_last;
	if (e != NULL && e->sqlerrcode == sqlerrcode && e->series >= 0 &&
		strncmp(e->op, operation ? operation : "", QCACHE_OP_LEN - 1) == 0 &&
		(operation == NULL || strlen(operation) < QCACHE_OP_LEN))
	{
		otel_metrics_record_series(e->series, OTEL_METRIC_OBSERVE, seconds);
		return;
	}
	e = NULL;

	strlcpy(op, operation ? operation : "", sizeof(op));
	h = hash_bytes((const unsigned char *) op, strlen(op)) ^
		hash_bytes_uint32((uint32) sqlerrcode);
	slot = h & (QCACHE_SIZE - 1);
	for (int i = 0; i < QCACHE_SIZE; i++)
	{
		QCacheEntry *c = &qcache[(slot + i) & (QCACHE_SIZE - 1)];

		if (!c->used)
			break;
		if (c->sqlerrcode == sqlerrcode && strcmp(c->op, op) == 0)
		{
			e = c;
			break;
		}
	}
	if (e != NULL)
	{
		qcache_last = e;
		if (e->series >= 0)
			otel_metrics_record_series(e->series, OTEL_METRIC_OBSERVE, seconds);
		else
			otel_stats_add(OTEL_SIGNAL_METRICS, OTEL_STAT_DROPPED, 1);
		return;
	}

	/* first statement of this kind in this backend: find the series */
	family = builtin_family_of(BM_QUERY_DURATION);
	if (family >= 0)
	{
		labels[nlabels].key = "db.namespace";
		labels[nlabels++].value = query_database();
		if (op[0] != '\0')
		{
			labels[nlabels].key = "db.operation.name";
			labels[nlabels++].value = op;
		}
		if (sqlerrcode != 0)
		{
			labels[nlabels].key = "error.type";
			if (sqlerrcode == -1)
				labels[nlabels++].value = "aborted";
			else
			{
				strlcpy(sqlstate, unpack_sql_state(sqlerrcode), sizeof(sqlstate));
				labels[nlabels++].value = sqlstate;
			}
		}
		if (otel_metrics_record(family, labels, nlabels, OTEL_METRIC_OBSERVE,
								seconds, &series) != OTEL_METRIC_OK)
			series = -1;
	}
	if (series < 0)
		otel_stats_add(OTEL_SIGNAL_METRICS, OTEL_STAT_DROPPED, 1);

	/* remember it, unless the table is full (then every call looks it up) */
	if (qcache_used < QCACHE_SIZE * 3 / 4)
	{
		for (int i = 0; i < QCACHE_SIZE; i++)
		{
			QCacheEntry *c = &qcache[(slot + i) & (QCACHE_SIZE - 1)];

			if (c->used)
				continue;
			c->used = true;
			c->sqlerrcode = sqlerrcode;
			c->series = series;
			strlcpy(c->op, op, sizeof(c->op));
			qcache_used++;
			qcache_last = c;
			break;
		}
	}
}

/* ---- exporter health ---- */

void
otel_metrics_exporter_refresh(void)
{
	static const struct
	{
		int			metric;
		OtelCounter counter;
	}			counters[] = {
		{BM_SELF_PRODUCED, OTEL_STAT_PRODUCED},
		{BM_SELF_SAMPLED_OUT, OTEL_STAT_SAMPLED_OUT},
		{BM_SELF_DROPPED, OTEL_STAT_DROPPED},
		{BM_SELF_EXPORTED, OTEL_STAT_EXPORTED},
		{BM_SELF_FAILED, OTEL_STAT_FAILED},
		{BM_SELF_RETRIES, OTEL_STAT_RETRIES},
		{BM_SELF_REQUESTS, OTEL_STAT_REQUESTS},
		{BM_SELF_BYTES, OTEL_STAT_BYTES_SENT},
	};
	int			nseries,
				max_series,
				nfamilies;
	Size		used_bytes,
				max_bytes;

	if (!(otel_builtin_metrics_mask & OTEL_BUILTIN_EXPORTER))
		return;

	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
	{
		OtelLabel	l = {"signal", otel_signal_names[s]};
		uint64		used,
					cap;

		for (int c = 0; c < lengthof(counters); c++)
		{
			/* sampling is a trace matter */
			if (counters[c].counter == OTEL_STAT_SAMPLED_OUT && s != OTEL_SIGNAL_TRACES)
				continue;
			builtin_record(counters[c].metric, &l, 1, OTEL_METRIC_SET,
						   (double) otel_stats_get(s, counters[c].counter));
		}
		otel_buffer_usage(s, &used, &cap);
		if (cap > 0)
		{
			builtin_record(BM_SELF_BUFFER_USED, &l, 1, OTEL_METRIC_SET, (double) used);
			builtin_record(BM_SELF_BUFFER_SIZE, &l, 1, OTEL_METRIC_SET, (double) cap);
		}
	}
	otel_metrics_usage(&nseries, &max_series, &nfamilies, &used_bytes, &max_bytes);
	builtin_record(BM_SELF_SERIES, NULL, 0, OTEL_METRIC_SET, (double) nseries);
	builtin_record(BM_SELF_SERIES_LIMIT, NULL, 0, OTEL_METRIC_SET, (double) max_series);
}

/* ---- the database collector ---- */

typedef struct DbInfo
{
	Oid			oid;
	char		name[NAMEDATALEN];
	char		oidstr[16];
	int			nbackends;
	int			state_count[6];
	double		state_max_tx[6];
} DbInfo;

/* pg_stat_activity.state values, in the order postgres_exporter lists them */
static const char *const activity_states[6] = {
	"active", "idle", "idle in transaction", "idle in transaction (aborted)",
	"fastpath function call", "disabled"
};

static int
state_index(BackendState st)
{
	switch (st)
	{
		case STATE_RUNNING:
			return 0;
		case STATE_IDLE:
			return 1;
		case STATE_IDLEINTRANSACTION:
			return 2;
		case STATE_IDLEINTRANSACTION_ABORTED:
			return 3;
		case STATE_FASTPATH:
			return 4;
		case STATE_DISABLED:
			return 5;
		case STATE_UNDEFINED:
			break;
	}
	return -1;
}

/* Every valid database, from the shared catalog pg_database. */
static DbInfo *
list_databases(int *ndbs)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			cap = 16;
	int			n = 0;
	DbInfo	   *dbs = palloc0(sizeof(DbInfo) * cap);

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);

		if (database_is_invalid_form(d))
			continue;
		if (n == cap)
		{
			dbs = repalloc(dbs, sizeof(DbInfo) * cap * 2);
			memset(dbs + cap, 0, sizeof(DbInfo) * cap);
			cap *= 2;
		}
		dbs[n].oid = d->oid;
		strlcpy(dbs[n].name, NameStr(d->datname), NAMEDATALEN);
		snprintf(dbs[n].oidstr, sizeof(dbs[n].oidstr), "%u", d->oid);
		n++;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	*ndbs = n;
	return dbs;
}

/* Backends per database and state, from the backend status array. */
static void
count_activity(DbInfo *dbs, int ndbs)
{
	int			nbe = pgstat_fetch_stat_numbackends();
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 1; i <= nbe; i++)
	{
		LocalPgBackendStatus *lbe = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be;
		int			si;

		if (lbe == NULL)
			continue;
		be = &lbe->backendStatus;
		if (!OidIsValid(be->st_databaseid))
			continue;
		for (int d = 0; d < ndbs; d++)
		{
			if (dbs[d].oid != be->st_databaseid)
				continue;
			dbs[d].nbackends++;
			si = state_index(be->st_state);
			if (si >= 0)
			{
				dbs[d].state_count[si]++;
				if (be->st_xact_start_timestamp != 0)
				{
					double		secs = (now - be->st_xact_start_timestamp) / 1e6;

					if (secs > dbs[d].state_max_tx[si])
						dbs[d].state_max_tx[si] = secs;
				}
			}
			break;
		}
	}
}

/* pg_database_size(oid), or -1 when it is not known */
static int64
database_size(Oid oid)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(oid);
	fcinfo->args[0].isnull = false;
	result = pg_database_size_oid(fcinfo);
	if (fcinfo->isnull)
		return -1;
	return DatumGetInt64(result);
}

static void
set_db_counter(int m, const OtelLabel *labels, PgStat_Counter v)
{
	builtin_record(m, labels, 2, OTEL_METRIC_SET, (double) v);
}

static void
collect_databases(void)
{
	DbInfo	   *dbs;
	int			ndbs;

	pgstat_clear_snapshot();
	dbs = list_databases(&ndbs);
	count_activity(dbs, ndbs);

	for (int d = 0; d < ndbs; d++)
	{
		OtelLabel	dl[2] = {{"datid", dbs[d].oidstr}, {"datname", dbs[d].name}};
		OtelLabel	nl[1] = {{"datname", dbs[d].name}};
		PgStat_StatDBEntry *e = pgstat_fetch_stat_dbentry(dbs[d].oid);
		int64		size;

		CHECK_FOR_INTERRUPTS();
		builtin_record(BM_DB_NUMBACKENDS, dl, 2, OTEL_METRIC_SET, dbs[d].nbackends);
		if (e != NULL)
		{
			set_db_counter(BM_DB_XACT_COMMIT, dl, e->n_xact_commit);
			set_db_counter(BM_DB_XACT_ROLLBACK, dl, e->n_xact_rollback);
			set_db_counter(BM_DB_BLKS_READ, dl, e->n_blocks_fetched - e->n_blocks_hit);
			set_db_counter(BM_DB_BLKS_HIT, dl, e->n_blocks_hit);
			set_db_counter(BM_DB_TUP_RETURNED, dl, e->n_tuples_returned);
			set_db_counter(BM_DB_TUP_FETCHED, dl, e->n_tuples_fetched);
			set_db_counter(BM_DB_TUP_INSERTED, dl, e->n_tuples_inserted);
			set_db_counter(BM_DB_TUP_UPDATED, dl, e->n_tuples_updated);
			set_db_counter(BM_DB_TUP_DELETED, dl, e->n_tuples_deleted);
			set_db_counter(BM_DB_CONFLICTS, dl,
						   e->n_conflict_tablespace + e->n_conflict_lock +
						   e->n_conflict_snapshot + e->n_conflict_bufferpin +
						   e->n_conflict_startup_deadlock);
			set_db_counter(BM_DB_TEMP_FILES, dl, e->n_temp_files);
			set_db_counter(BM_DB_TEMP_BYTES, dl, e->n_temp_bytes);
			set_db_counter(BM_DB_DEADLOCKS, dl, e->n_deadlocks);
			/* kept in microseconds; the view shows milliseconds */
			builtin_record(BM_DB_BLK_READ_TIME, dl, 2, OTEL_METRIC_SET,
						   e->n_block_read_time / 1000.0);
			builtin_record(BM_DB_BLK_WRITE_TIME, dl, 2, OTEL_METRIC_SET,
						   e->n_block_write_time / 1000.0);
		}
		size = database_size(dbs[d].oid);
		if (size >= 0)
			builtin_record(BM_DB_SIZE, nl, 1, OTEL_METRIC_SET, (double) size);

		for (int s = 0; s < lengthof(activity_states); s++)
		{
			OtelLabel	al[2] = {{"datname", dbs[d].name}, {"state", activity_states[s]}};

			builtin_record(BM_ACTIVITY_COUNT, al, 2, OTEL_METRIC_SET,
						   dbs[d].state_count[s]);
			builtin_record(BM_ACTIVITY_MAX_TX, al, 2, OTEL_METRIC_SET,
						   dbs[d].state_max_tx[s]);
		}
	}
	builtin_record(BM_MAX_CONNECTIONS, NULL, 0, OTEL_METRIC_SET, MaxConnections);
}

/*
 * Flush handshake with the collector: the export worker bumps requested
 * and sets the collector's latch; the collector notes what was requested
 * before it starts reading, publishes it as done afterwards and wakes the
 * waiters.
 */
typedef struct CollectorShared
{
	Latch	   *latch;			/* the collector's, NULL when not running */
	pg_atomic_uint64 requested;
	pg_atomic_uint64 done;
	ConditionVariable cv;
} CollectorShared;

static CollectorShared *collector = NULL;

Size
otel_metrics_collector_shmem_size(void)
{
	return MAXALIGN(sizeof(CollectorShared));
}

void
otel_metrics_collector_shmem_init(void)
{
	bool		found;

	collector = ShmemInitStruct("otel_aliyun metrics collector",
								otel_metrics_collector_shmem_size(), &found);
	if (!found)
	{
		collector->latch = NULL;
		pg_atomic_init_u64(&collector->requested, 0);
		pg_atomic_init_u64(&collector->done, 0);
		ConditionVariableInit(&collector->cv);
	}
}

bool
otel_metrics_collect_now(int timeout_ms)
{
	uint64		req;
	Latch	   *latch;
	TimestampTz deadline;
	bool		ok = false;

	if (collector == NULL || !otel_metrics_collector_wanted())
		return false;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	ConditionVariablePrepareToSleep(&collector->cv);

	/* started by the export worker (the caller) just now: wait for it to attach */
	while ((latch = collector->latch) == NULL)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);

		if (left <= 0)
		{
			ConditionVariableCancelSleep();
			return false;
		}
		(void) ConditionVariableTimedSleep(&collector->cv, Min(left, 100),
										   PG_WAIT_EXTENSION);
	}
	req = pg_atomic_add_fetch_u64(&collector->requested, 1);
	SetLatch(latch);

	for (;;)
	{
		long		left;

		if (pg_atomic_read_u64(&collector->done) >= req)
		{
			ok = true;
			break;
		}
		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (left <= 0)
			break;
		(void) ConditionVariableTimedSleep(&collector->cv, Min(left, 100),
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	return ok;
}

static void
collector_detach(int code, Datum arg)
{
	if (collector)
	{
		collector->latch = NULL;
		ConditionVariableBroadcast(&collector->cv);
	}
}

/* the collector's dynamic worker, in the export worker's memory */
static BackgroundWorkerHandle *collector_handle = NULL;
static TimestampTz collector_started_at = 0;
static TimestampTz collector_checked_at = 0;

#define COLLECTOR_RESTART_MS	10000	/* a collector that stopped: again after */
#define COLLECTOR_CHECK_MS		1000	/* how often a running one is looked at */

static void
collector_start(TimestampTz now)
{
	BackgroundWorker worker;
	MemoryContext old;
	bool		ok;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* otel_metrics_collector_sync() does */
	strlcpy(worker.bgw_library_name, "otel_aliyun", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "otel_metrics_collector_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "otel_aliyun metrics collector", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "otel_aliyun metrics collector", BGW_MAXLEN);
	worker.bgw_notify_pid = 0;

	collector_started_at = now;
	old = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&worker, &collector_handle);
	MemoryContextSwitchTo(old);
	if (!ok)
	{
		collector_handle = NULL;
		ereport(LOG,
				(errmsg("otel_aliyun could not start its metrics collector: no background worker slot is free"),
				 errhint("Raise max_worker_processes; database metrics are missing until then.")));
	}
}

void
otel_metrics_collector_sync(void)
{
	bool		wanted = otel_metrics_collector_wanted();
	TimestampTz now;
	pid_t		pid;

	if (!wanted && collector_handle == NULL)
		return;
	if (!wanted)
	{
		TerminateBackgroundWorker(collector_handle);
		pfree(collector_handle);
		collector_handle = NULL;
		return;
	}

	now = GetCurrentTimestamp();
	if (collector_handle != NULL)
	{
		if (!TimestampDifferenceExceeds(collector_checked_at, now, COLLECTOR_CHECK_MS))
			return;
		collector_checked_at = now;
		if (GetBackgroundWorkerPid(collector_handle, &pid) != BGWH_STOPPED)
			return;
		/* it died: started again below, not more often than every 10 s */
		pfree(collector_handle);
		collector_handle = NULL;
	}
	if (collector_started_at != 0 &&
		!TimestampDifferenceExceeds(collector_started_at, now, COLLECTOR_RESTART_MS))
		return;
	collector_start(now);
}

void
otel_metrics_collector_main(Datum arg)
{
	MemoryContext cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* no database: shared catalogs and shared memory only */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	cxt = AllocSetContextCreate(TopMemoryContext, "otel_aliyun collector",
								ALLOCSET_DEFAULT_SIZES);
	collector->latch = MyLatch;
	on_shmem_exit(collector_detach, (Datum) 0);
	/* a flush may be waiting for the collector to come up */
	ConditionVariableBroadcast(&collector->cv);

	for (;;)
	{
		uint64		requested;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		requested = pg_atomic_read_u64(&collector->requested);
		if (otel_enabled && (otel_builtin_metrics_mask & OTEL_BUILTIN_DATABASE))
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);
			bool		ok = true;

			PG_TRY();
			{
				StartTransactionCommand();
				(void) GetTransactionSnapshot();
				pgstat_report_activity(STATE_RUNNING, "collecting database metrics");
				collect_databases();
				CommitTransactionCommand();
				pgstat_report_activity(STATE_IDLE, NULL);
			}
			PG_CATCH();
			{
				MemoryContextSwitchTo(cxt);
				EmitErrorReport();
				FlushErrorState();
				AbortCurrentTransaction();
				pgstat_report_activity(STATE_IDLE, NULL);
				ok = false;
			}
			PG_END_TRY();
			builtin_record(BM_UP, NULL, 0, OTEL_METRIC_SET, ok ? 1 : 0);
			MemoryContextSwitchTo(old);
			MemoryContextReset(cxt);
		}
		/* answer the flushes that asked before this collection began */
		if (pg_atomic_read_u64(&collector->done) < requested)
		{
			pg_atomic_write_u64(&collector->done, requested);
			ConditionVariableBroadcast(&collector->cv);
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 otel_metrics_export_interval_ms, PG_WAIT_EXTENSION);
	}
}
