/*-------------------------------------------------------------------------
 *
 * otel_aliyun.c
 *		Module entry point: refuses to do anything unless loaded from
 *		shared_preload_libraries, then defines the settings, requests shared
 *		memory, installs the hooks and registers the export worker.
 *
 * The shared-memory pieces are owned by stats.c, buffer.c and worker.c;
 * this file only asks each for its size and lets each initialise itself.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <time.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "buffer.h"
#include "guc.h"
#include "hooks.h"
#include "log_capture.h"
#include "metrics_builtin.h"
#include "metrics_store.h"
#include "otel_aliyun.h"
#include "stats.h"
#include "worker.h"

PG_MODULE_MAGIC;

const char *const otel_signal_names[OTEL_NUM_SIGNALS] = {"traces", "logs", "metrics"};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

int64
otel_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64) ts.tv_sec * INT64CONST(1000000000) + ts.tv_nsec;
}

static void
otel_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(otel_stats_shmem_size());
	RequestAddinShmemSpace(otel_buffer_shmem_size());
	RequestAddinShmemSpace(otel_worker_shmem_size());
	RequestAddinShmemSpace(otel_metrics_shmem_size());
	RequestAddinShmemSpace(otel_metrics_collector_shmem_size());
	otel_metrics_shmem_request();
}

static void
otel_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	otel_stats_shmem_init();
	otel_buffer_shmem_init();
	otel_worker_shmem_init();
	otel_metrics_shmem_init();
	otel_metrics_collector_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/* True when the library was preloaded and its shared memory exists. */
static bool preloaded = false;

bool
otel_is_preloaded(void)
{
	return preloaded;
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
	{
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("otel_aliyun is not loaded from shared_preload_libraries, so it records and exports nothing"),
				 errhint("Add otel_aliyun to shared_preload_libraries in postgresql.conf and restart the server.")));
		return;
	}

	preloaded = true;
	otel_define_gucs();

	/*
	 * Query ids, needed by the normalised query text and postgresql.query_id,
	 * are not enabled for every statement: hooks.c computes them for the
	 * statements that may become spans.
	 */

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = otel_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = otel_shmem_startup;

	otel_hooks_install();
	/* server-log capture: after the span hook, so it runs before it */
	otel_log_capture_install();
	/* it starts the database metrics' collector when wanted (metrics_builtin.h) */
	otel_worker_register();
	/* last: must run before our other emit_log_hooks */
	otel_guc_install_log_mask();
}
