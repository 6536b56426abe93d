/*-------------------------------------------------------------------------
 *
 * stats.c
 *		Per-signal export counters in shared memory.
 *
 * Counters are 64-bit atomics, so producers in any process bump them
 * without a lock.  The last error text and the two timestamps sit behind
 * one spinlock, taken only by the worker (writes) and the view (reads).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "stats.h"

#define OTEL_ERRMSG_LEN 256

typedef struct OtelStatsShared
{
	pg_atomic_uint64 counters[OTEL_NUM_SIGNALS][OTEL_NUM_COUNTERS];
	slock_t		mutex;			/* protects the fields below */
	TimestampTz last_success[OTEL_NUM_SIGNALS];
	TimestampTz last_error_time[OTEL_NUM_SIGNALS];
	char		last_error[OTEL_NUM_SIGNALS][OTEL_ERRMSG_LEN];
} OtelStatsShared;

static OtelStatsShared *otel_stats = NULL;

/*
 * Hot-path counts are kept per process and added to shared memory every
 * LOCAL_FLUSH_EVERY events and at process exit, so that backends do not
 * bounce one cache line between CPUs on every statement.
 */
#define LOCAL_FLUSH_EVERY 64
static uint64 local_counts[OTEL_NUM_SIGNALS][OTEL_NUM_COUNTERS];
static int	local_pending = 0;
static bool local_exit_registered = false;

Size
otel_stats_shmem_size(void)
{
	return MAXALIGN(sizeof(OtelStatsShared));
}

void
otel_stats_shmem_init(void)
{
	bool		found;

	otel_stats = ShmemInitStruct("otel_aliyun stats", otel_stats_shmem_size(), &found);
	if (!found)
	{
		memset(otel_stats, 0, sizeof(OtelStatsShared));
		for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
			for (int c = 0; c < OTEL_NUM_COUNTERS; c++)
				pg_atomic_init_u64(&otel_stats->counters[s][c], 0);
		SpinLockInit(&otel_stats->mutex);
	}
}

void
otel_stats_add(OtelSignal sig, OtelCounter c, uint64 n)
{
	if (otel_stats == NULL || n == 0)
		return;
	pg_atomic_fetch_add_u64(&otel_stats->counters[sig][c], n);
}

void
otel_stats_flush_local(void)
{
	if (local_pending == 0 || otel_stats == NULL)
		return;
	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
		for (int c = 0; c < OTEL_NUM_COUNTERS; c++)
			if (local_counts[s][c] != 0)
			{
				pg_atomic_fetch_add_u64(&otel_stats->counters[s][c], local_counts[s][c]);
				local_counts[s][c] = 0;
			}
	local_pending = 0;
}

static void
stats_at_exit(int code, Datum arg)
{
	otel_stats_flush_local();
}

void
otel_stats_add_local(OtelSignal sig, OtelCounter c, uint64 n)
{
	if (otel_stats == NULL)
		return;
	local_counts[sig][c] += n;
	if (!local_exit_registered)
	{
		before_shmem_exit(stats_at_exit, (Datum) 0);
		local_exit_registered = true;
	}
	if (++local_pending >= LOCAL_FLUSH_EVERY)
		otel_stats_flush_local();
}

uint64
otel_stats_get(OtelSignal sig, OtelCounter c)
{
	if (otel_stats == NULL)
		return 0;
	return pg_atomic_read_u64(&otel_stats->counters[sig][c]);
}

void
otel_stats_set_error(OtelSignal sig, const char *msg)
{
	TimestampTz now = msg ? GetCurrentTimestamp() : 0;

	if (otel_stats == NULL)
		return;
	SpinLockAcquire(&otel_stats->mutex);
	if (msg)
		strlcpy(otel_stats->last_error[sig], msg, OTEL_ERRMSG_LEN);
	else
		otel_stats->last_error[sig][0] = '\0';
	otel_stats->last_error_time[sig] = now;
	SpinLockRelease(&otel_stats->mutex);
}

void
otel_stats_set_success(OtelSignal sig)
{
	TimestampTz now = GetCurrentTimestamp();

	if (otel_stats == NULL)
		return;
	SpinLockAcquire(&otel_stats->mutex);
	otel_stats->last_success[sig] = now;
	SpinLockRelease(&otel_stats->mutex);
}

void
otel_stats_read(OtelSignal sig, uint64 *counters,
				TimestampTz *last_success, TimestampTz *last_error_time,
				char *errbuf, Size errlen)
{
	otel_stats_flush_local();
	for (int c = 0; c < OTEL_NUM_COUNTERS; c++)
		counters[c] = otel_stats ? pg_atomic_read_u64(&otel_stats->counters[sig][c]) : 0;
	*last_success = 0;
	*last_error_time = 0;
	if (errlen > 0)
		errbuf[0] = '\0';
	if (otel_stats == NULL)
		return;
	SpinLockAcquire(&otel_stats->mutex);
	*last_success = otel_stats->last_success[sig];
	*last_error_time = otel_stats->last_error_time[sig];
	if (errlen > 0)
		strlcpy(errbuf, otel_stats->last_error[sig], errlen);
	SpinLockRelease(&otel_stats->mutex);
}

void
otel_stats_reset(void)
{
	if (otel_stats == NULL)
		return;
	memset(local_counts, 0, sizeof(local_counts));
	local_pending = 0;
	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
		for (int c = 0; c < OTEL_NUM_COUNTERS; c++)
			pg_atomic_write_u64(&otel_stats->counters[s][c], 0);
	SpinLockAcquire(&otel_stats->mutex);
	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
	{
		otel_stats->last_error[s][0] = '\0';
		otel_stats->last_error_time[s] = 0;
		otel_stats->last_success[s] = 0;
	}
	SpinLockRelease(&otel_stats->mutex);
}
