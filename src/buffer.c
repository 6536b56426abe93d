/*-------------------------------------------------------------------------
 *
 * buffer.c
 *		Shared-memory rings that carry records from backends to the worker.
 *
 * Each signal has one ring of slots, split in up to OTEL_RING_MAX_PARTS
 * partitions of at least 4 MB each when it is large enough.  A process
 * writes to its own partition (by its PGPROC number), and to another only
 * when its own is full, so that two backends' puts neither pass one
 * spinlock's cache line between CPUs on every statement nor write to the
 * two ends of one cache line (perf, pgbench -S at rate 1: the put's cost
 * halved).  A slot is an 8-byte header followed by the record, padded to 8
 * bytes.  Positions (head, tail) grow forever; the offset in a partition is
 * the position modulo its size.
 *
 * A producer takes its partition's spinlock only to move the head and to
 * zero the header of the slot it reserved; it copies (or writes) the record
 * afterwards without any lock and then publishes it by writing the length
 * into the header after a write barrier.  The consumer (the worker) reads
 * each partition's records in order and stops at the first one that is not
 * yet published; a batch takes records from several partitions, starting
 * each time after the partition the last full batch ended in, so that none
 * waits behind a busier one.  Nothing between reservation and publication
 * can fail, so a slot is never left unpublished by a live process.  When a
 * record does not fit before the end of its partition, the rest is filled
 * with a padding slot and the record goes to the start.
 *
 * The worker is woken when a partition holds a full batch of records (the
 * count is kept under the same spinlock, so it costs nothing more) or
 * passes half full: it then reads records that were written moments ago and
 * are still in the CPU caches, instead of megabytes that went cold.
 * wake_pending keeps that to one SetLatch per batch the worker takes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/proc.h"
#include "storage/spin.h"

#include "buffer.h"
#include "guc.h"
#include "stats.h"

#define SLOT_HDR		8

/*
 * A ring of at least twice this size is split in partitions of at least
 * this size, at most OTEL_RING_MAX_PARTS of them.
 */
#define PART_MIN_BYTES	((uint64) 4 * 1024 * 1024)

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

/* One partition of a signal's ring. */
typedef struct OtelRing
{
	slock_t		mutex;			/* protects head, tail and nrecords */
	uint64		head;			/* next position to reserve */
	uint64		tail;			/* oldest position not released */
	uint64		size;			/* bytes of data, multiple of 8 */
	uint64		nrecords;		/* records between tail and head */
	Size		data_offset;	/* from the start of OtelBufferShared */
} OtelRing;

/* each partition's header on its own cache line: written by every put */
typedef union OtelRingPadded
{
	OtelRing	ring;
	char		pad[PG_CACHE_LINE_SIZE];
} OtelRingPadded;

StaticAssertDecl(sizeof(OtelRing) <= PG_CACHE_LINE_SIZE,
				 "a ring header must fit in one cache line");

/* What all partitions of a signal share: read by puts, written rarely. */
typedef struct OtelSignalRing
{
	int			nparts;
	pg_atomic_uint32 wake_pending;	/* worker woken and not yet drained */
	pg_atomic_uint32 wake_records;	/* wake the worker at this many records */
} OtelSignalRing;

typedef union OtelSignalRingPadded
{
	OtelSignalRing sr;
	char		pad[PG_CACHE_LINE_SIZE];
} OtelSignalRingPadded;

typedef struct OtelBufferShared
{
	/* first: line-aligned */
	OtelRingPadded parts[OTEL_NUM_SIGNALS][OTEL_RING_MAX_PARTS];
	OtelSignalRingPadded sigs[OTEL_NUM_SIGNALS];
	Latch	   *worker_latch;
	/* ring data follows */
} OtelBufferShared;

static OtelBufferShared *otel_buf = NULL;

/*
 * Each partition's data and size never change once shared memory is set
 * up: this process's copy, so that a producer's first touch of shared
 * state is its partition's spinlock.
 */
static char *part_base[OTEL_NUM_SIGNALS][OTEL_RING_MAX_PARTS];
static uint64 part_size[OTEL_NUM_SIGNALS];
static int	part_count[OTEL_NUM_SIGNALS];

/* worker only: the partition the next peek starts at */
static int	peek_start[OTEL_NUM_SIGNALS];

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

static int
ring_parts(uint64 bytes)
{
	return (int) Max(1, Min((uint64) OTEL_RING_MAX_PARTS, bytes / PART_MIN_BYTES));
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
			OtelSignalRing *sr = &otel_buf->sigs[s].sr;
			uint64		bytes = ring_bytes(s);
			int			nparts = ring_parts(bytes);
			uint64		psize = TYPEALIGN_DOWN(8, bytes / nparts);

			sr->nparts = nparts;
			pg_atomic_init_u32(&sr->wake_pending, 0);
			pg_atomic_init_u32(&sr->wake_records, PG_UINT32_MAX);
			for (int p = 0; p < OTEL_RING_MAX_PARTS; p++)
			{
				OtelRing   *r = &otel_buf->parts[s][p].ring;

				SpinLockInit(&r->mutex);
				r->head = r->tail = 0;
				r->nrecords = 0;
				r->size = p < nparts ? psize : 0;
				r->data_offset = off;
				off += r->size;
			}
			/* what rounding left over stays unused at the end */
			off += bytes - psize * nparts;
		}
	}
	for (int s = 0; s < OTEL_NUM_SIGNALS; s++)
	{
		part_count[s] = otel_buf->sigs[s].sr.nparts;
		part_size[s] = otel_buf->parts[s][0].ring.size;
		for (int p = 0; p < OTEL_RING_MAX_PARTS; p++)
			part_base[s][p] = (char *) otel_buf + otel_buf->parts[s][p].ring.data_offset;
	}
}

/*
 * A partition past half full: producers wake the worker, and the worker
 * sends at once (the two must agree, or every put wakes it for nothing).
 */
static inline bool
past_half(OtelSignal sig, uint64 used)
{
	return used > part_size[sig] / 2;
}

static inline OtelSlotHeader *
slot_at(OtelSignal sig, int part, uint64 pos)
{
	return (OtelSlotHeader *) (part_base[sig][part] + (pos % part_size[sig]));
}

/*
 * This process's own partition: processes write to different ones, so that
 * their puts do not pass one spinlock's cache line back and forth between
 * CPUs on every statement.
 */
static inline int
own_partition(OtelSignal sig)
{
	int			n = part_count[sig];

	if (n == 1)
		return 0;
	return (int) ((uint32) (MyProc ? MyProc->pgprocno : MyProcPid) % (uint32) n);
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

/*
 * Reserve need bytes for n slots of lens[] in one partition; false if it
 * has no room.
 */
static bool
reserve_in(OtelSignal sig, int part, const uint32 *lens, int n, uint64 need,
		   OtelBufferReservation *res, char **dst)
{
	OtelRing   *r = &otel_buf->parts[sig][part].ring;
	uint64		size = part_size[sig];
	uint64		off,
				pad = 0,
				pos,
				used,
				nrecords;

	/* all the slots, contiguous, in one reservation */
	SpinLockAcquire(&r->mutex);
	off = r->head % size;
	if (off + need > size)
		pad = size - off;
	if (r->head + pad + need - r->tail > size)
	{
		SpinLockRelease(&r->mutex);
		return false;
	}
	if (pad)
	{
		OtelSlotHeader *ps = slot_at(sig, part, r->head);

		/* nobody reads the pad's body: publish it at once */
		pg_atomic_write_u32(&ps->state, (uint32) pad | SLOT_PAD_FLAG);
	}
	pos = r->head + pad;
	for (int i = 0; i < n; i++)
	{
		OtelSlotHeader *slot = slot_at(sig, part, pos);

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
	res->wake = nrecords >= pg_atomic_read_u32(&otel_buf->sigs[sig].sr.wake_records) ||
		past_half(sig, used);
	return true;
}

bool
otel_buffer_reserve(OtelSignal sig, const uint32 *lens, int n,
					OtelBufferReservation *res, char **dst)
{
	uint64		need = 0;
	int			own,
				nparts;

	if (otel_buf == NULL || n <= 0)
		return false;
	for (int i = 0; i < n; i++)
	{
		if (lens[i] == 0 || lens[i] > OTEL_MAX_RECORD_SIZE)
			need = PG_UINT64_MAX / 2;
		else
			need += SLOT_HDR + TYPEALIGN(8, lens[i]);
	}
	if (part_size[sig] == 0 || n > OTEL_BUFFER_PUT_MAX || need > part_size[sig] / 4)
	{
		otel_stats_add_local(sig, OTEL_STAT_DROPPED, n);
		return false;
	}

	/* the own partition, else (it is full) any other with room */
	own = own_partition(sig);
	nparts = part_count[sig];
	for (int k = 0; k < nparts; k++)
	{
		int			part = own + k < nparts ? own + k : own + k - nparts;

		if (reserve_in(sig, part, lens, n, need, res, dst))
			return true;
	}
	otel_stats_add_local(sig, OTEL_STAT_DROPPED, n);
	return false;
}

void
otel_buffer_publish(OtelBufferReservation *res)
{
	OtelSignalRing *sr = &otel_buf->sigs[res->sig].sr;

	for (int i = 0; i < res->n; i++)
	{
		OtelSlotHeader *slot = (OtelSlotHeader *) res->slots[i];

		pg_write_barrier();
		pg_atomic_write_u32(&slot->state, res->lens[i]);
	}

	otel_stats_add_local(res->sig, OTEL_STAT_PRODUCED, res->n);

	if (res->wake && pg_atomic_read_u32(&sr->wake_pending) == 0 &&
		pg_atomic_exchange_u32(&sr->wake_pending, 1) == 0)
		otel_buffer_wake_worker();
}

/*
 * Peek at one partition, from its tail on, adding to refs[*n] (at most max
 * records, max_bytes in all).  Returns true if the batch is full.  *pressed
 * is set if the partition is past half full.
 */
static bool
peek_part(OtelSignal sig, int part, OtelRecordRef *refs, int *n, int max,
		  Size *bytes, Size max_bytes, OtelBufferCursor *cur, bool *pressed)
{
	OtelRing   *r = &otel_buf->parts[sig][part].ring;
	uint64		pos,
				head;
	uint64		ahead = 0;		/* prefetched up to here */
	int			n0 = *n;
	bool		full = false;

	SpinLockAcquire(&r->mutex);
	pos = r->tail;
	head = r->head;
	SpinLockRelease(&r->mutex);
	if (past_half(sig, head - pos))
		*pressed = true;

	while (pos < head)
	{
		OtelSlotHeader *slot = slot_at(sig, part, pos);
		uint32		state;
		uint32		len;

		if (*n >= max)
		{
			full = true;
			break;
		}
		state = pg_atomic_read_u32(&slot->state);
		if (state == 0)
			break;				/* still being written */
		pg_read_barrier();
		len = state & SLOT_LEN_MASK;
		if (state & SLOT_PAD_FLAG)
		{
			pos += len;
			continue;
		}
		if (*n > 0 && *bytes + len > max_bytes)
		{
			full = true;
			break;
		}
		/*
		 * Records were written by other CPUs, and the encoder reads every
		 * byte of them next: ask for the lines well ahead now (a miss takes
		 * longer than walking a dozen headers), so that neither the headers
		 * here nor the bodies there are misses waited for one by one.  (Past
		 * the partition's end this asks for lines it will not read:
		 * harmless.)
		 */
		if (ahead < pos)
			ahead = pos;
		for (; ahead < Min(pos + PREFETCH_AHEAD, head); ahead += PG_CACHE_LINE_SIZE)
			prefetch_line((const char *) slot + (ahead - pos));
		refs[*n].data = (const char *) slot + SLOT_HDR;
		refs[*n].len = len;
		(*n)++;
		*bytes += len;
		pos += SLOT_HDR + TYPEALIGN(8, len);
	}
	cur->pos[part] = pos;
	cur->nrecords[part] = *n - n0;
	return full;
}

int
otel_buffer_peek(OtelSignal sig, OtelRecordRef *refs, int max,
				 Size max_bytes, OtelBufferCursor *cur, bool *full)
{
	int			nparts = part_count[sig];
	int			n = 0;
	Size		bytes = 0;
	bool		pressed = false;

	pg_atomic_write_u32(&otel_buf->sigs[sig].sr.wake_pending, 0);
	for (int p = 0; p < OTEL_RING_MAX_PARTS; p++)
	{
		cur->pos[p] = PG_UINT64_MAX;	/* not visited: left as it is */
		cur->nrecords[p] = 0;
	}
	*full = false;
	for (int k = 0; k < nparts; k++)
	{
		int			part = (peek_start[sig] + k) % nparts;

		if (peek_part(sig, part, refs, &n, max, &bytes, max_bytes, cur, &pressed))
		{
			/* the next batch starts with the partition after this one */
			peek_start[sig] = (part + 1) % nparts;
			*full = true;
			break;
		}
	}
	/*
	 * A partition past half full is what woke the worker (besides a full
	 * batch): its records go now, or every put would wake it again.
	 */
	if (n >= max || pressed)
		*full = true;
	return n;
}

void
otel_buffer_release(OtelSignal sig, const OtelBufferCursor *cur)
{
	/* all reads of released slots must be done before they can be reused */
	pg_memory_barrier();
	for (int p = 0; p < part_count[sig]; p++)
	{
		OtelRing   *r = &otel_buf->parts[sig][p].ring;

		if (cur->pos[p] == PG_UINT64_MAX)
			continue;
		SpinLockAcquire(&r->mutex);
		Assert(cur->pos[p] >= r->tail && cur->pos[p] <= r->head);
		r->tail = cur->pos[p];
		r->nrecords -= Min((uint64) cur->nrecords[p], r->nrecords);
		SpinLockRelease(&r->mutex);
	}
}

void
otel_buffer_usage(OtelSignal sig, uint64 *used, uint64 *capacity)
{
	*used = *capacity = 0;
	if (otel_buf == NULL)
		return;
	for (int p = 0; p < part_count[sig]; p++)
	{
		OtelRing   *r = &otel_buf->parts[sig][p].ring;

		SpinLockAcquire(&r->mutex);
		*used += r->head - r->tail;
		SpinLockRelease(&r->mutex);
	}
	*capacity = part_size[sig] * part_count[sig];
}

void
otel_buffer_set_wake_records(OtelSignal sig, int nrecords)
{
	uint32		v = nrecords > 0 ? (uint32) nrecords : PG_UINT32_MAX;

	/* written only when it changes: every put reads this line */
	if (otel_buf &&
		pg_atomic_read_u32(&otel_buf->sigs[sig].sr.wake_records) != v)
		pg_atomic_write_u32(&otel_buf->sigs[sig].sr.wake_records, v);
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
