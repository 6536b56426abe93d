/*-------------------------------------------------------------------------
 * buffer.h
 *		Shared-memory rings, one per signal, that carry records from backends
 *		to the export worker.  buffer.c owns the rings.
 *
 *		Producers (any backend, any hook, emit_log_hook included) call
 *		otel_buffer_put() (or reserve, write in place, publish): the
 *		spinlock of the process's own partition of the ring is held only to
 *		move the head, the copy is done without any lock, and
 *		a full ring drops the record and counts it (OTEL_STAT_DROPPED)
 *		instead of waiting.  Nothing here can raise an error or allocate.
 *
 *		The single consumer is the worker: otel_buffer_peek() hands out
 *		pointers straight into the ring (no copy) to records that are
 *		complete, in order, and otel_buffer_release() gives the space back once
 *		they have been encoded.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_BUFFER_H
#define OTEL_BUFFER_H

#include "storage/latch.h"
#include "otel_aliyun.h"

/* Largest single record accepted (a bigger one is dropped and counted). */
#define OTEL_MAX_RECORD_SIZE	(256 * 1024)

extern Size otel_buffer_shmem_size(void);
extern void otel_buffer_shmem_init(void);	/* under AddinShmemInitLock */

/*
 * Copy len bytes into the signal's ring as one record.  Returns false (and
 * counts a drop) when there is no room.  Wakes the worker when the ring
 * passes its fill threshold.
 */
extern bool otel_buffer_put(OtelSignal sig, const void *data, Size len);

/* One complete record (pointing into shared memory when peeked). */
typedef struct OtelRecordRef
{
	const char *data;
	uint32		len;
} OtelRecordRef;

/*
 * Up to OTEL_BUFFER_PUT_MAX records in one reservation (one spinlock round
 * trip): all are kept, or all dropped and counted.
 */
#define OTEL_BUFFER_PUT_MAX	4
extern bool otel_buffer_put_many(OtelSignal sig, const OtelRecordRef *recs, int n);

/*
 * The same without a copy: reserve room for n records of lens[i] bytes in
 * one reservation (dst[i] is where each goes in the ring), write exactly
 * that many bytes at each, then publish.  Between the two nothing may fail,
 * raise an error or wait: the worker stops at a slot that is reserved and
 * not published.  false when there is no room: the records are dropped and
 * counted, and there is nothing to publish.
 */
typedef struct OtelBufferReservation
{
	OtelSignal	sig;
	int			n;
	bool		wake;			/* past the threshold: wake the worker */
	void	   *slots[OTEL_BUFFER_PUT_MAX];
	uint32		lens[OTEL_BUFFER_PUT_MAX];
} OtelBufferReservation;

extern bool otel_buffer_reserve(OtelSignal sig, const uint32 *lens, int n,
								OtelBufferReservation *res, char **dst);
extern void otel_buffer_publish(OtelBufferReservation *res);

/* A ring is split in at most this many partitions (see buffer.c). */
#define OTEL_RING_MAX_PARTS	4

/* Where a peek ended in each partition, to pass to otel_buffer_release(). */
typedef struct OtelBufferCursor
{
	uint64		pos[OTEL_RING_MAX_PARTS];	/* PG_UINT64_MAX: not visited */
	int			nrecords[OTEL_RING_MAX_PARTS];
} OtelBufferCursor;

/*
 * Worker only.  Fill refs[] with up to max complete records, each
 * partition's from its oldest on, returning how many, and *cur with where
 * they end, to pass to otel_buffer_release().  max_bytes bounds the sum of
 * their lengths (at least one record is returned if any is ready).  *full
 * says whether the batch should go at once: max records, a further record
 * ready that max_bytes left out, or a partition past half full.
 */
extern int	otel_buffer_peek(OtelSignal sig, OtelRecordRef *refs, int max,
							 Size max_bytes, OtelBufferCursor *cur, bool *full);
extern void otel_buffer_release(OtelSignal sig, const OtelBufferCursor *cur);

/*
 * Worker only: producers wake the worker once the ring holds this many
 * records (its batch size), besides when it passes half full.
 */
extern void otel_buffer_set_wake_records(OtelSignal sig, int nrecords);

/* Bytes in use and capacity, for the stats view and flush(). */
extern void otel_buffer_usage(OtelSignal sig, uint64 *used, uint64 *capacity);

/* The worker registers its latch here so producers can wake it. */
extern void otel_buffer_set_worker_latch(Latch *latch);
extern void otel_buffer_wake_worker(void);

#endif							/* OTEL_BUFFER_H */
