/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The export background worker.
 *
 * One worker, with shared memory access and no database connection, drains
 * the rings (buffer.h) in batches of at most otel_aliyun.max_export_batch_size
 * records, has exporter.c encode and send them, and retries retryable
 * failures with exponential backoff and jitter (or the server's Retry-After)
 * up to otel_aliyun.max_retries.  It wakes on its latch (producers set it
 * when a ring holds a full batch, backends when they ask for a flush) or every
 * export interval.  SIGHUP reloads the settings; SIGTERM makes one last
 * bounded flush.  If it dies, the postmaster starts it again.
 *
 * The flush handshake: a backend bumps flush_requested and waits on the
 * condition variable until flush_done reaches its request; the worker
 * drains everything it can see, then publishes flush_done and whether all
 * of it was delivered.  Records the worker gives up on are also counted in
 * "failures", so that a flush also fails when a batch that was already on
 * its way when the flush was asked for (out of the ring, not yet sent)
 * fails.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <malloc.h>

#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "buffer.h"
#include "exporter.h"
#include "metrics_builtin.h"
#include "metrics_store.h"
#include "prom_http.h"
#include "guc.h"
#include "resource.h"
#include "stats.h"
#include "worker.h"

#define MAX_BACKOFF_MS		30000
#define FIRST_BACKOFF_MS	500
#define SHUTDOWN_BUDGET_MS	5000
#define ERROR_LOG_INTERVAL_MS 60000
/*
 * Hard bounds on the records of one request, whatever the GUC says.  A
 * request's protobuf is about as long as its records in a UTF8 database, and
 * gRPC servers commonly refuse messages over 4 MiB: half that leaves room for
 * strings that grow when made valid UTF-8.
 */
#define BATCH_MAX_BYTES		(8 * 1024 * 1024)
#define GRPC_BATCH_MAX_BYTES (2 * 1024 * 1024)
/* how long a flush waits for fresh database metrics */
#define COLLECT_WAIT_MS		2000

typedef struct OtelWorkerShared
{
	slock_t		mutex;			/* protects the plain fields */
	pid_t		pid;
	uint64		flush_done;
	bool		flush_ok;
	pg_atomic_uint64 flush_requested;
	pg_atomic_uint64 failures;	/* records given up on, ever */
	ConditionVariable flush_cv;
} OtelWorkerShared;

static OtelWorkerShared *otel_worker = NULL;

/* worker-process state */
static volatile sig_atomic_t shutdown_requested = false;
static MemoryContext batch_cxt = NULL;
static TimestampTz last_export[OTEL_NUM_SIGNALS];
static TimestampTz last_logged[OTEL_NUM_SIGNALS][3];	/* per outcome */
static OtelRecordRef *refs = NULL;
static int	refs_size = 0;

Size
otel_worker_shmem_size(void)
{
	return MAXALIGN(sizeof(OtelWorkerShared));
}

void
otel_worker_shmem_init(void)
{
	bool		found;

	otel_worker = ShmemInitStruct("otel_aliyun worker", otel_worker_shmem_size(), &found);
	if (!found)
	{
		SpinLockInit(&otel_worker->mutex);
		otel_worker->pid = 0;
		otel_worker->flush_done = 0;
		otel_worker->flush_ok = true;
		pg_atomic_init_u64(&otel_worker->flush_requested, 0);
		pg_atomic_init_u64(&otel_worker->failures, 0);
		ConditionVariableInit(&otel_worker->flush_cv);
	}
}

void
otel_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "otel_aliyun", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "otel_worker_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "otel_aliyun exporter", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "otel_aliyun exporter", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

int
otel_worker_pid(void)
{
	int			pid;

	if (otel_worker == NULL)
		return 0;
	SpinLockAcquire(&otel_worker->mutex);
	pid = otel_worker->pid;
	SpinLockRelease(&otel_worker->mutex);
	return pid;
}

/* ---------------- backend side ---------------- */

bool
otel_worker_flush(int timeout_ms)
{
	uint64		req;
	uint64		failures;
	TimestampTz deadline;
	bool		done = false,
				ok = false;

	if (otel_worker == NULL || otel_worker_pid() == 0)
		return false;

	failures = pg_atomic_read_u64(&otel_worker->failures);
	req = pg_atomic_add_fetch_u64(&otel_worker->flush_requested, 1);
	otel_buffer_wake_worker();
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);

	ConditionVariablePrepareToSleep(&otel_worker->flush_cv);
	for (;;)
	{
		long		remaining;

		SpinLockAcquire(&otel_worker->mutex);
		if (otel_worker->flush_done >= req)
		{
			done = true;
			ok = otel_worker->flush_ok;
		}
		SpinLockRelease(&otel_worker->mutex);
		if (done)
			break;
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		/* wake the worker again in case it was busy when we asked */
		otel_buffer_wake_worker();
		(void) ConditionVariableTimedSleep(&otel_worker->flush_cv,
										   Min(remaining, 1000),
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
	/* a batch on its way at the call may have failed since */
	return done && ok && pg_atomic_read_u64(&otel_worker->failures) == failures;
}

/* ---------------- worker side ---------------- */

static void
otel_worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	shutdown_requested = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

static void
otel_worker_detach(int code, Datum arg)
{
	otel_buffer_set_worker_latch(NULL);
	SpinLockAcquire(&otel_worker->mutex);
	otel_worker->pid = 0;
	SpinLockRelease(&otel_worker->mutex);
	/* nobody will answer pending flushes until we are back */
	ConditionVariableBroadcast(&otel_worker->flush_cv);
}

static void
reload_if_needed(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		otel_resource_invalidate();
	}
}

/* Log an export problem at most once a minute per signal and outcome. */
static void
log_export_problem(OtelSignal sig, const char *what, const OtelSendResult *r)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz *last = &last_logged[sig][r->outcome];

	if (*last != 0 && !TimestampDifferenceExceeds(*last, now, ERROR_LOG_INTERVAL_MS))
		return;
	*last = now;
	ereport(LOG,
			(errmsg("otel_aliyun: %s export %s: %s",
					otel_signal_names[sig], what, r->error)));
}

/*
 * Sleep up to ms on the latch, handling reloads.  Returns early on shutdown.
 */
static void
backoff_sleep(long ms)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	while (!shutdown_requested)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), until);

		if (left <= 0)
			break;
		/* the pull endpoint keeps answering while pushes back off */
		(void) otel_prom_http_wait(left);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		reload_if_needed();
	}
}

/* records that will not be delivered: in the stats, and seen by flushes */
static void
count_failed(OtelSignal sig, uint64 n)
{
	otel_stats_add(sig, OTEL_STAT_FAILED, n);
	pg_atomic_fetch_add_u64(&otel_worker->failures, n);
}

static long
backoff_ms(int attempt, int retry_after_ms)
{
	double		base;
	double		jitter;

	if (retry_after_ms >= 0)
		return Min(retry_after_ms, 10 * MAX_BACKOFF_MS);
	base = FIRST_BACKOFF_MS * (double) (1 << Min(attempt, 16));
	if (base > MAX_BACKOFF_MS)
		base = MAX_BACKOFF_MS;
	/* full jitter between half and one and a half of the base */
	jitter = 0.5 + pg_prng_double(&pg_global_prng_state);
	return (long) (base * jitter);
}

/*
 * Deliver one encoded payload, retrying as allowed.  Returns true if the
 * destination accepted it.  During shutdown only one attempt is made.
 */
static bool
deliver(OtelPayload *p)
{
	OtelSignal	sig = p->sig;
	int			attempt = 0;

	for (;;)
	{
		OtelSendResult r;

		memset(&r, 0, sizeof(r));
		r.retry_after_ms = -1;
		otel_exporter_send(p, &r);
		otel_stats_add(sig, OTEL_STAT_BYTES_SENT, r.bytes_sent);
		if (r.http_status != 0 || r.outcome == OTEL_SEND_OK)
			otel_stats_add(sig, OTEL_STAT_REQUESTS, 1);

		if (r.outcome == OTEL_SEND_OK)
		{
			int64		ok = p->nrecords - Min(r.rejected, p->nrecords);

			otel_stats_add(sig, OTEL_STAT_EXPORTED, ok);
			if (r.rejected > 0)
			{
				otel_stats_add(sig, OTEL_STAT_PARTIAL, r.rejected);
				otel_stats_set_error(sig, r.error);
				log_export_problem(sig, "partially rejected", &r);
			}
			otel_stats_set_success(sig);
			return true;
		}

		otel_stats_set_error(sig, r.error);
		if (r.outcome == OTEL_SEND_RETRY && attempt < otel_max_retries &&
			!shutdown_requested)
		{
			otel_stats_add(sig, OTEL_STAT_RETRIES, 1);
			log_export_problem(sig, "failed, retrying", &r);
			backoff_sleep(backoff_ms(attempt, r.retry_after_ms));
			attempt++;
			continue;
		}

		count_failed(sig, p->nrecords);
		log_export_problem(sig, "failed, records dropped", &r);
		return false;
	}
}

/*
 * Export what the ring of sig holds.  Unless force, a partial batch waits
 * until the export interval has passed since the last export.  Returns
 * false if some records could not be delivered.
 */
static bool
export_signal(OtelSignal sig, bool force, TimestampTz deadline)
{
	int			batch,
				interval;
	bool		all_ok = true;
	OtelDestKind dest = otel_exporter_dest(sig);
	Size		max_bytes;

	otel_exporter_batch_policy(sig, &batch, &interval);
	batch = Max(1, Min(batch, refs_size));
	otel_buffer_set_wake_records(sig, batch);

	for (;;)
	{
		OtelBufferCursor consumed;
		int			n;
		bool		full;
		OtelPayload payload;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		max_bytes = dest == OTEL_DEST_OTLP_GRPC ? GRPC_BATCH_MAX_BYTES : BATCH_MAX_BYTES;
		n = otel_buffer_peek(sig, refs, batch, max_bytes, &consumed, &full);
		if (n == 0)
			break;
		if (!force && !full &&
			!TimestampDifferenceExceeds(last_export[sig], GetCurrentTimestamp(),
										interval))
			break;

		if (dest == OTEL_DEST_NONE)
		{
			otel_buffer_release(sig, &consumed);
			count_failed(sig, n);
			continue;
		}

		old = MemoryContextSwitchTo(batch_cxt);
		memset(&payload, 0, sizeof(payload));
		otel_exporter_encode(sig, refs, n, &payload);
		MemoryContextSwitchTo(old);
		/* the payload holds its own copy: give the ring space back now */
		otel_buffer_release(sig, &consumed);
		last_export[sig] = GetCurrentTimestamp();

		if (n > payload.nrecords)
			count_failed(sig, n - payload.nrecords);
		if (payload.nrecords > 0 && !deliver(&payload))
			all_ok = false;
		MemoryContextReset(batch_cxt);

		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
		{
			all_ok = false;
			break;
		}
		reload_if_needed();
		dest = otel_exporter_dest(sig);
	}
	return all_ok;
}

/*
 * Metrics are not in a ring: every metrics interval (or when forced) the
 * whole store is snapshotted and sent in parts of at most the batch size
 * (series), each through deliver() like any other payload.  Sample
 * timestamps strictly increase from one snapshot to the next, so a retried
 * part is an exact duplicate and never out of order.
 */
static TimestampTz last_metrics_export = 0;
static int64 last_metrics_ms = 0;

static bool
export_metrics(bool force, TimestampTz deadline)
{
	int			batch,
				interval;
	bool		ok = true;
	OtelMetricsSnapshot *snap;
	MemoryContext old;
	int64		ms;

	otel_exporter_batch_policy(OTEL_SIGNAL_METRICS, &batch, &interval);
	if (!force && last_metrics_export != 0 &&
		!TimestampDifferenceExceeds(last_metrics_export, GetCurrentTimestamp(),
									interval))
		return true;
	last_metrics_export = GetCurrentTimestamp();
	if (otel_exporter_dest(OTEL_SIGNAL_METRICS) == OTEL_DEST_NONE)
		return true;

	/* a flush exports fresh database statistics (not during shutdown) */
	if (force && deadline == 0 && !shutdown_requested)
		(void) otel_metrics_collect_now(COLLECT_WAIT_MS);
	otel_metrics_exporter_refresh();
	old = MemoryContextSwitchTo(batch_cxt);
	snap = otel_metrics_snapshot();
	MemoryContextSwitchTo(old);
	if (snap == NULL)
	{
		MemoryContextReset(batch_cxt);
		otel_stats_set_error(OTEL_SIGNAL_METRICS, "out of memory taking a snapshot of the metric store");
		return false;
	}
	ms = snap->time_ns / 1000000;
	if (ms <= last_metrics_ms)
		ms = last_metrics_ms + 1;
	last_metrics_ms = ms;
	otel_stats_add(OTEL_SIGNAL_METRICS, OTEL_STAT_PRODUCED, snap->nseries);

	for (int from = 0; from < snap->nseries; from += Max(batch, 1))
	{
		OtelPayload payload;

		CHECK_FOR_INTERRUPTS();
		old = MemoryContextSwitchTo(batch_cxt);
		otel_exporter_encode_metrics(snap, from, from + Max(batch, 1),
									 ms * 1000000, &payload);
		MemoryContextSwitchTo(old);
		if (payload.dest == OTEL_DEST_NONE)
			break;
		if (payload.nrecords > 0 && !deliver(&payload))
			ok = false;
		pfree(payload.body.data);
		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
		{
			ok = false;
			break;
		}
	}
	MemoryContextReset(batch_cxt);
	return ok;
}

static bool
export_all(bool force, TimestampTz deadline)
{
	bool		ok = true;

	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
	{
		uint64		used,
					cap;

		otel_buffer_usage(s, &used, &cap);
		if (cap == 0)
			continue;
		if (!export_signal(s, force, deadline))
			ok = false;
	}
	if (!export_metrics(force, deadline))
		ok = false;
	return ok;
}

static void
answer_flush(void)
{
	uint64		req = pg_atomic_read_u64(&otel_worker->flush_requested);
	uint64		done;
	bool		ok;

	SpinLockAcquire(&otel_worker->mutex);
	done = otel_worker->flush_done;
	SpinLockRelease(&otel_worker->mutex);
	if (req <= done)
		return;

	ok = export_all(true, 0);
	SpinLockAcquire(&otel_worker->mutex);
	otel_worker->flush_done = req;
	otel_worker->flush_ok = ok;
	SpinLockRelease(&otel_worker->mutex);
	ConditionVariableBroadcast(&otel_worker->flush_cv);
}

void
otel_worker_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, otel_worker_sigterm);
	BackgroundWorkerUnblockSignals();

	/*
	 * Batches allocate and free the same few hundred kilobytes every time:
	 * keep freed memory in the heap instead of giving it back to the kernel
	 * (munmap) and faulting it in again for the next batch.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 128 * 1024 * 1024);
	batch_cxt = AllocSetContextCreate(TopMemoryContext, "otel_aliyun batch",
									  ALLOCSET_DEFAULT_SIZES);
	refs_size = 65536;
	refs = MemoryContextAlloc(TopMemoryContext, sizeof(OtelRecordRef) * refs_size);

	SpinLockAcquire(&otel_worker->mutex);
	otel_worker->pid = MyProcPid;
	SpinLockRelease(&otel_worker->mutex);
	on_shmem_exit(otel_worker_detach, (Datum) 0);
	otel_buffer_set_worker_latch(MyLatch);

	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
		last_export[s] = GetCurrentTimestamp();

	ereport(LOG, (errmsg("otel_aliyun exporter started")));

	while (!shutdown_requested)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		reload_if_needed();
		otel_metrics_collector_sync();

		answer_flush();
		(void) export_all(false, 0);

		/* also answers scrapes of the pull endpoint (prom_http.c) */
		(void) otel_prom_http_wait(Max(10, Min(otel_export_interval_ms, 1000)));
	}

	/* last bounded flush: one attempt per batch, a few seconds at most */
	(void) export_all(true,
					  TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												  Min(otel_export_timeout_ms, SHUTDOWN_BUDGET_MS)));
	answer_flush();

	/*
	 * Exit code 1: a worker that exits 0 is unregistered by the postmaster,
	 * and one stopped on its own (kill -TERM) must come back.  At server
	 * shutdown the postmaster does not restart anything.
	 */
	proc_exit(1);
}
