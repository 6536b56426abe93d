/*-------------------------------------------------------------------------
 *
 * buffer.c
 *		Shared-memory rings that carry records from backends to the worker.
 *
 * Each signal has one ring of slots.  A slot is an 8-byte header followed
 * by the record, padded to 8 bytes.  Positions (head, tail) grow forever;
 * the offset in the ring is the position modulo the ring size.
 *
 * A producer takes the ring's spinlock only to move the head and to zero
 * the header of the slot it reserved; it copies (or writes) the record
 * afterwards without any lock and then publishes it by writing the length
 * into the header after a write barrier.  The consumer (the worker) reads records in
 * order and stops at the first one that is not yet published.  Nothing
 * between reservation and publication can fail, so a slot is never left
 * unpublished by a live process.  When a record does not fit before the end
 * of the ring, the rest of the ring is filled with a padding slot and the
 * record goes to the start.
 *
 * The worker is woken when a ring holds a full batch of records (the count
 * is kept under the same spinlock, so it costs nothing more) or passes half
 * full: it then reads records that were written moments ago and are still in
 * the CPU caches, instead of megabytes that went cold.  wake_pending keeps
 * that to one SetLatch per batch the worker takes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "buffer.h"
#include "guc.h"
#include "stats.h"

#define SLOT_HDR		8

/* a hint: no fault even past the end of the mapping */
#if defined(__GNUC__) || defined(__clang__)
#define prefetch_line(p)	__builtin_prefetch(p)
#else
#define prefetch_line(p)	((void) 0)
#endif
#define PREFETCH_AHEAD	8192	/* bytes the worker's reads run ahead */
#define SLOT_PAD_FLAG	0x80000000U
#define SLOT_LEN_MASK	0x7FFFFFFFU

typedef struct OtelSlotHeader
{
	pg_atomic_uint32 state;		/* 0: not published; else len | flags */
	uint32		reserved;
} OtelSlotHeader;

typedef struct OtelRing
{
	slock_t		mutex;			/* protects head and tail */
	uint64		head;			/* next position to reserve */
	uint64		tail;			/* oldest position not released */
	uint64		size;			/* bytes of data, multiple of 8 */
	uint64		nrecords;		/* records between tail and head */
	Size		data_offset;	/* from the start of OtelBufferShared */
	pg_atomic_uint32 wake_pending;	/* worker woken and not yet drained */
	pg_atomic_uint32 wake_records;	/* wake the worker at this many records */
} OtelRing;

/* each ring's header on its own cache line: they are written by every put */
typedef union OtelRingPadded
{
	OtelRing	ring;
	char		pad[PG_CACHE_LINE_SIZE];
} OtelRingPadded;

StaticAssertDecl(sizeof(OtelRing) <= PG_CACHE_LINE_SIZE,
				 "a ring header must fit in one cache line");

typedef struct OtelBufferShared
{
	OtelRingPadded rings[OTEL_NUM_SIGNALS];	/* first: line-aligned */
	Latch	   *worker_latch;
	/* ring data follows */
} OtelBufferShared;

static OtelBufferShared *otel_buf = NULL;

/*
 * Each ring's data and size never change once shared memory is set up:
 * this process's copy, so that a producer's first touch of the ring's shared
 * header is the spinlock itself (that line moves between CPUs on every put).
 */
static char *ring_base[OTEL_NUM_SIGNALS];
static uint64 ring_size[OTEL_NUM_SIGNALS];

static uint64
ring_bytes(OtelSignal sig)
{
	switch (sig)
	{
		case OTEL_SIGNAL_TRACES:
			return (uint64) otel_buffer_size_mb * 1024 * 1024;
		case OTEL_SIGNAL_LOGS:
			return (uint64) otel_logs_buffer_size_mb * 1024 * 1024;
		default:
			return 0;			/* metrics aggregate elsewhere */
	}
}

Size
otel_buffer_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(OtelBufferShared));

	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
		size = add_size(size, ring_bytes(s));
	return size;
}

void
otel_buffer_shmem_init(void)
{
	bool		found;

	otel_buf = ShmemInitStruct("otel_aliyun buffer", otel_buffer_shmem_size(), &found);
	if (!found)
	{
		Size		off = MAXALIGN(sizeof(OtelBufferShared));

		otel_buf->worker_latch = NULL;
		for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
		{
			OtelRing   *r = &otel_buf->rings[s].ring;

			SpinLockInit(&r->mutex);
			r->head = r->tail = 0;
			r->nrecords = 0;
			r->size = ring_bytes(s);
			r->data_offset = off;
			pg_atomic_init_u32(&r->wake_pending, 0);
			pg_atomic_init_u32(&r->wake_records, PG_UINT32_MAX);
			off += r->size;
		}
	}
	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
	{
		ring_base[s] = (char *) otel_buf + otel_buf->rings[s].ring.data_offset;
		ring_size[s] = otel_buf->rings[s].ring.size;
	}
}

static inline OtelSlotHeader *
slot_at(OtelSignal sig, uint64 pos)
{
	return (OtelSlotHeader *) (ring_base[sig] + (pos % ring_size[sig]));
}

bool
otel_buffer_put(OtelSignal sig, const void *data, Size len)
{
	OtelRecordRef rec;

	rec.data = data;
	rec.len = (uint32) Min(len, (Size) PG_UINT32_MAX);
	if (rec.len != len)
		rec.len = 0;			/* far too big: refused below */
	return otel_buffer_put_many(sig, &rec, 1);
}

bool
otel_buffer_put_many(OtelSignal sig, const OtelRecordRef *recs, int n)
{
	OtelBufferReservation res;
	uint32		lens[OTEL_BUFFER_PUT_MAX];
	char	   *dst[OTEL_BUFFER_PUT_MAX];

	if (n <= 0 || n > OTEL_BUFFER_PUT_MAX)
	{
		if (n > 0)
			otel_stats_add_local(sig, OTEL_STAT_DROPPED, n);
		return false;
	}
	for (int i = 0; i < n; i++)
		lens[i] = recs[i].len;
	if (!otel_buffer_reserve(sig, lens, n, &res, dst))
		return false;
	for (int i = 0; i < n; i++)
		memcpy(dst[i], recs[i].data, recs[i].len);
	otel_buffer_publish(&res);
	return true;
}

bool
otel_buffer_reserve(OtelSignal sig, const uint32 *lens, int n,
					OtelBufferReservation *res, char **dst)
{
	OtelRing   *r;
	uint64		need = 0,
				off,
				pad = 0,
				pos,
				used,
				nrecords,
				size;

	if (otel_buf == NULL || n <= 0)
		return false;
	r = &otel_buf->rings[sig].ring;
	size = ring_size[sig];
	for (int i = 0; i < n; i++)
	{
		if (lens[i] == 0 || lens[i] > OTEL_MAX_RECORD_SIZE)
			need = PG_UINT64_MAX / 2;
		else
			need += SLOT_HDR + TYPEALIGN(8, lens[i]);
	}
	if (size == 0 || n > OTEL_BUFFER_PUT_MAX || need > size / 4)
	{
		otel_stats_add_local(sig, OTEL_STAT_DROPPED, n);
		return false;
	}

	/* all the slots, contiguous, in one reservation */
	SpinLockAcquire(&r->mutex);
	off = r->head % size;
	if (off + need > size)
		pad = size - off;
	if (r->head + pad + need - r->tail > size)
	{
		SpinLockRelease(&r->mutex);
		otel_stats_add_local(sig, OTEL_STAT_DROPPED, n);
		return false;
	}
	if (pad)
	{
		OtelSlotHeader *ps = slot_at(sig, r->head);

		/* nobody reads the pad's body: publish it at once */
		pg_atomic_write_u32(&ps->state, (uint32) pad | SLOT_PAD_FLAG);
	}
	pos = r->head + pad;
	for (int i = 0; i < n; i++)
	{
		OtelSlotHeader *slot = slot_at(sig, pos);

		pg_atomic_write_u32(&slot->state, 0);
		res->slots[i] = slot;
		res->lens[i] = lens[i];
		dst[i] = (char *) slot + SLOT_HDR;
		pos += SLOT_HDR + TYPEALIGN(8, lens[i]);
	}
	r->head = pos;
	used = r->head - r->tail;
	r->nrecords += n;
	nrecords = r->nrecords;
	SpinLockRelease(&r->mutex);

	res->sig = sig;
	res->n = n;
	/* a batch is ready, or past half full: make sure the worker is draining */
	res->wake = nrecords >= pg_atomic_read_u32(&r->wake_records) || used > size / 2;
	return true;
}

void
otel_buffer_publish(OtelBufferReservation *res)
{
	OtelRing   *r = &otel_buf->rings[res->sig].ring;

	for (int i = 0; i < res->n; i++)
	{
		OtelSlotHeader *slot = (OtelSlotHeader *) res->slots[i];

		pg_write_barrier();
		pg_atomic_write_u32(&slot->state, res->lens[i]);
	}

	otel_stats_add_local(res->sig, OTEL_STAT_PRODUCED, res->n);

	if (res->wake && pg_atomic_read_u32(&r->wake_pending) == 0 &&
		pg_atomic_exchange_u32(&r->wake_pending, 1) == 0)
		otel_buffer_wake_worker();
}

int
otel_buffer_peek(OtelSignal sig, OtelRecordRef *refs, int max,
				 Size max_bytes, uint64 *consumed, bool *full)
{
	OtelRing   *r = &otel_buf->rings[sig].ring;
	uint64		pos,
				head;
	int			n = 0;
	Size		bytes = 0;
	uint64		ahead = 0;		/* prefetched up to here */

	pg_atomic_write_u32(&r->wake_pending, 0);
	SpinLockAcquire(&r->mutex);
	pos = r->tail;
	head = r->head;
	SpinLockRelease(&r->mutex);

	while (pos < head && n < max)
	{
		OtelSlotHeader *slot = slot_at(sig, pos);
		uint32		state = pg_atomic_read_u32(&slot->state);
		uint32		len;

		if (state == 0)
			break;				/* still being written */
		pg_read_barrier();
		len = state & SLOT_LEN_MASK;
		if (state & SLOT_PAD_FLAG)
		{
			pos += len;
			continue;
		}
		if (n > 0 && bytes + len > max_bytes)
		{
			*full = true;
			*consumed = pos;
			return n;
		}
		/*
		 * Records were written by other CPUs, and the encoder reads every
		 * byte of them next: ask for the lines well ahead now (a miss takes
		 * longer than walking a dozen headers), so that neither the headers
		 * here nor the bodies there are misses waited for one by one.  (Past
		 * the ring's end this asks for lines it will not read: harmless.)
		 */
		if (ahead < pos)
			ahead = pos;
		for (; ahead < Min(pos + PREFETCH_AHEAD, head); ahead += PG_CACHE_LINE_SIZE)
			prefetch_line((const char *) slot + (ahead - pos));
		refs[n].data = (const char *) slot + SLOT_HDR;
		refs[n].len = len;
		n++;
		bytes += len;
		pos += SLOT_HDR + TYPEALIGN(8, len);
	}
	*full = (n >= max);
	*consumed = pos;
	return n;
}

void
otel_buffer_release(OtelSignal sig, uint64 consumed, int nrecords)
{
	OtelRing   *r = &otel_buf->rings[sig].ring;

	/* all reads of released slots must be done before they can be reused */
	pg_memory_barrier();
	SpinLockAcquire(&r->mutex);
	Assert(consumed >= r->tail && consumed <= r->head);
	r->tail = consumed;
	r->nrecords -= Min((uint64) nrecords, r->nrecords);
	SpinLockRelease(&r->mutex);
}

void
otel_buffer_usage(OtelSignal sig, uint64 *used, uint64 *capacity)
{
	OtelRing   *r;

	*used = *capacity = 0;
	if (otel_buf == NULL)
		return;
	r = &otel_buf->rings[sig].ring;
	SpinLockAcquire(&r->mutex);
	*used = r->head - r->tail;
	SpinLockRelease(&r->mutex);
	*capacity = r->size;
}

void
otel_buffer_set_wake_records(OtelSignal sig, int nrecords)
{
	if (otel_buf)
		pg_atomic_write_u32(&otel_buf->rings[sig].ring.wake_records,
							nrecords > 0 ? (uint32) nrecords : PG_UINT32_MAX);
}

void
otel_buffer_set_worker_latch(Latch *latch)
{
	if (otel_buf)
		otel_buf->worker_latch = latch;
}

void
otel_buffer_wake_worker(void)
{
	Latch	   *latch;

	if (otel_buf == NULL)
		return;
	latch = otel_buf->worker_latch;
	if (latch)
		SetLatch(latch);
}
