/*-------------------------------------------------------------------------
 * worker.h
 *		The export background worker and the flush handshake with backends.
 *		worker.c owns the worker's shared state (pid, flush generation
 *		counters, condition variable) and the worker process itself: latch
 *		loop, batching, retries with backoff and jitter, SIGHUP reload, last
 *		bounded flush on SIGTERM.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_WORKER_H
#define OTEL_WORKER_H

extern Size otel_worker_shmem_size(void);
extern void otel_worker_shmem_init(void);	/* under AddinShmemInitLock */
extern void otel_worker_register(void); /* from _PG_init */

PGDLLEXPORT void otel_worker_main(Datum arg);

/*
 * Backend side of otel_aliyun.flush(): wake the worker, wait (interruptibly)
 * up to timeout_ms until everything buffered before the call was exported
 * or given up.  Returns true only if all of it was delivered: false also
 * when a batch already on its way at the call (out of the ring, being sent)
 * fails before the answer.
 */
extern bool otel_worker_flush(int timeout_ms);

/* pid of the running worker, 0 if none */
extern int	otel_worker_pid(void);

#endif							/* OTEL_WORKER_H */
