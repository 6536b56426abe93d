/*-------------------------------------------------------------------------
 *
 * metrics_store.c
 *		The shared-memory metric store.
 *
 * Layout (one ShmemInitStruct, sized from otel_aliyun.max_series):
 *
 *	 MetricsShared		counters and offsets
 *	 MFamily[F]			metric definitions (F = max_series)
 *	 MSeries[S]			series (S = max_series)
 *	 int32[2^k]			open-addressing index of families by name
 *	 int32[2^k]			open-addressing index of series by (family, labels)
 *	 arena				names, descriptions, units, bucket bounds, label
 *						strings and bucket counters, bump-allocated
 *
 * Nothing is ever removed, so indexes into the arrays stay valid and an
 * entry once published never moves.  The LWLock protects the indexes, the
 * counts, the arena pointer and the family texts; it is held shared for a
 * lookup and exclusive for an insert, never across anything that can fail
 * or wait.  A series' values sit behind its own spinlock.
 *
 * A series key is its family index plus its labels sorted by key and
 * serialised as "key\0value\0key\0value\0...".
 *
 * A histogram of a family flagged OTEL_MF_STRIPED (the built-in query
 * duration, recorded by every statement of every backend) keeps its
 * count, sum and buckets in NSTRIPES cache-line-aligned stripes, each with
 * its own spinlock; a backend always updates the stripe of its backend id,
 * so concurrent statements do not fight over one cache line.  A snapshot
 * adds the stripes up.
 *
 * IDENTIFICATION
 *	  src/metrics_store.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"

#include "guc.h"
#include "metrics_store.h"
#include "otel_aliyun.h"

#define TRANCHE_NAME		"otel_aliyun metrics"
#define NSTRIPES			8
#define ARENA_PER_SERIES	320
#define ARENA_BASE			(128 * 1024)
#define LABELS_BUF_MAX		(OTEL_METRIC_MAX_LABELS * \
							 (OTEL_METRIC_LABEL_NAME_MAX + OTEL_METRIC_LABEL_VALUE_MAX + 2))

const double otel_metric_default_bounds[] = {
	0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10
};
const int	otel_metric_default_nbounds = lengthof(otel_metric_default_bounds);

typedef struct MFamily
{
	uint32		hash;
	uint8		type;
	uint8		flags;
	uint16		nbounds;
	uint32		name_off;
	uint32		name_len;
	uint32		otlp_name_off;
	uint32		otlp_name_len;
	uint32		desc_off;
	uint32		desc_len;
	uint32		unit_off;
	uint32		unit_len;
	uint32		bounds_off;
	int32		nseries;
} MFamily;

typedef struct MSeries
{
	slock_t		mutex;			/* protects value, count, buckets */
	int32		family;
	uint32		hash;
	uint32		labels_off;
	uint32		labels_len;
	uint32		nlabels;
	uint32		buckets_off;	/* histograms: nbounds + 1 uint64 */
	int64		start_ns;
	double		value;
	uint64		count;
} MSeries;

typedef struct MStripe
{
	slock_t		mutex;
	uint64		count;
	double		sum;
	uint64		buckets[FLEXIBLE_ARRAY_MEMBER];	/* nbounds + 1 */
} MStripe;

static inline Size
stripe_stride(int nbounds)
{
	return TYPEALIGN(PG_CACHE_LINE_SIZE,
					 offsetof(MStripe, buckets) + sizeof(uint64) * (nbounds + 1));
}

typedef struct MetricsShared
{
	LWLock	   *lock;
	int			max_series;
	int			max_families;
	int			nseries;
	int			nfamilies;
	uint32		findex_mask;
	uint32		sindex_mask;
	Size		arena_size;
	Size		arena_used;
	Size		off_families;
	Size		off_series;
	Size		off_findex;
	Size		off_sindex;
	Size		off_arena;
} MetricsShared;

static MetricsShared *mstore = NULL;
static MFamily *mfamilies;
static MSeries *mseries;
static int32 *mfindex;
static int32 *msindex;
static char *marena;

/* ---- sizing ---- */

static uint32
index_slots(int n)
{
	uint32		slots = 64;

	while (slots < (uint32) n * 2)
		slots <<= 1;
	return slots;
}

typedef struct Layout
{
	Size		off_families;
	Size		off_series;
	Size		off_findex;
	Size		off_sindex;
	Size		off_arena;
	Size		arena_size;
	Size		total;
} Layout;

static void
compute_layout(Layout *l)
{
	int			n = otel_max_series;
	Size		off = MAXALIGN(sizeof(MetricsShared));

	l->off_families = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(MFamily), n)));
	l->off_series = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(MSeries), n)));
	l->off_findex = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(int32), index_slots(n))));
	l->off_sindex = off;
	off = add_size(off, MAXALIGN(mul_size(sizeof(int32), index_slots(n))));
	l->off_arena = off;
	l->arena_size = add_size(mul_size(ARENA_PER_SERIES, n), ARENA_BASE);
	/* arena offsets are uint32 */
	if (l->arena_size > PG_UINT32_MAX)
		l->arena_size = PG_UINT32_MAX;
	off = add_size(off, l->arena_size);
	l->total = off;
}

void
otel_metrics_shmem_request(void)
{
	RequestNamedLWLockTranche(TRANCHE_NAME, 1);
}

Size
otel_metrics_shmem_size(void)
{
	Layout		l;

	compute_layout(&l);
	return l.total;
}

void
otel_metrics_shmem_init(void)
{
	bool		found;
	Layout		l;

	compute_layout(&l);
	mstore = ShmemInitStruct("otel_aliyun metrics", l.total, &found);
	if (!found)
	{
		memset(mstore, 0, sizeof(MetricsShared));
		mstore->lock = &(GetNamedLWLockTranche(TRANCHE_NAME))->lock;
		mstore->max_series = otel_max_series;
		mstore->max_families = otel_max_series;
		mstore->findex_mask = index_slots(otel_max_series) - 1;
		mstore->sindex_mask = index_slots(otel_max_series) - 1;
		mstore->arena_size = l.arena_size;
		mstore->arena_used = 0;
		mstore->off_families = l.off_families;
		mstore->off_series = l.off_series;
		mstore->off_findex = l.off_findex;
		mstore->off_sindex = l.off_sindex;
		mstore->off_arena = l.off_arena;
		memset((char *) mstore + l.off_findex, 0xff,
			   sizeof(int32) * (mstore->findex_mask + 1));
		memset((char *) mstore + l.off_sindex, 0xff,
			   sizeof(int32) * (mstore->sindex_mask + 1));
	}
	mfamilies = (MFamily *) ((char *) mstore + mstore->off_families);
	mseries = (MSeries *) ((char *) mstore + mstore->off_series);
	mfindex = (int32 *) ((char *) mstore + mstore->off_findex);
	msindex = (int32 *) ((char *) mstore + mstore->off_sindex);
	marena = (char *) mstore + mstore->off_arena;
}

/* ---- arena (exclusive lock held) ---- */

static bool
arena_alloc_aligned(Size len, Size align, uint32 *off)
{
	/* the arena itself starts MAXALIGNed; align offsets within the segment */
	Size		base = (Size) (uintptr_t) marena;
	Size		start = TYPEALIGN(align, base + mstore->arena_used) - base;

	if (start + len > mstore->arena_size)
		return false;
	*off = (uint32) start;
	mstore->arena_used = start + len;
	return true;
}

static bool
arena_alloc(Size len, uint32 *off)
{
	Size		start = TYPEALIGN(8, mstore->arena_used);

	if (start + len > mstore->arena_size)
		return false;
	*off = (uint32) start;
	mstore->arena_used = start + len;
	return true;
}

static bool
arena_strdup(const char *s, Size len, uint32 *off)
{
	if (!arena_alloc(len + 1, off))
		return false;
	memcpy(marena + *off, s, len);
	marena[*off + len] = '\0';
	return true;
}

static inline const char *
arena_str(uint32 off)
{
	return marena + off;
}

/* ---- families ---- */

static inline uint32
name_hash(const char *name, Size len)
{
	return hash_bytes((const unsigned char *) name, (int) len);
}

/* index of the family named name, or -1 (lock held) */
static int
family_find(const char *name, Size len, uint32 h)
{
	uint32		i = h & mstore->findex_mask;

	for (;;)
	{
		int32		fi = mfindex[i];
		MFamily    *f;

		if (fi < 0)
			return -1;
		f = &mfamilies[fi];
		if (f->hash == h && f->name_len == len &&
			memcmp(arena_str(f->name_off), name, len) == 0)
			return fi;
		i = (i + 1) & mstore->findex_mask;
	}
}

static bool
text_equal(uint32 off, uint32 len, const char *s)
{
	Size		slen = s ? strlen(s) : 0;

	if (slen != len)
		return false;
	return len == 0 || memcmp(arena_str(off), s, len) == 0;
}

static bool
bounds_equal(const MFamily *f, const double *bounds, int nbounds)
{
	const double *b = (const double *) (marena + f->bounds_off);

	if (f->nbounds != nbounds)
		return false;
	for (int i = 0; i < nbounds; i++)
		if (b[i] != bounds[i])
			return false;
	return true;
}

/* Does f need its description or unit replaced by def's? */
static bool
texts_differ(const MFamily *f, const OtelMetricDef *def)
{
	if (def->description && !text_equal(f->desc_off, f->desc_len, def->description))
		return true;
	if (def->unit && !text_equal(f->unit_off, f->unit_len, def->unit))
		return true;
	return false;
}

static OtelMetricStatus
family_check(const MFamily *f, const OtelMetricDef *def, bool allow_builtin)
{
	if ((f->flags & OTEL_MF_BUILTIN) && !allow_builtin)
		return OTEL_METRIC_BUILTIN;
	if (f->type != def->type)
		return OTEL_METRIC_TYPE_MISMATCH;
	if (def->type == OTEL_METRIC_HISTOGRAM && def->bounds != NULL &&
		!bounds_equal(f, def->bounds, def->nbounds))
		return OTEL_METRIC_BOUNDS_MISMATCH;
	return OTEL_METRIC_OK;
}

/* Replace description/unit (exclusive lock held). */
static OtelMetricStatus
family_set_texts(MFamily *f, const OtelMetricDef *def)
{
	uint32		off;

	if (def->description &&
		!text_equal(f->desc_off, f->desc_len, def->description))
	{
		Size		len = strlen(def->description);

		if (!arena_strdup(def->description, len, &off))
			return OTEL_METRIC_MEMORY_FULL;
		f->desc_off = off;
		f->desc_len = (uint32) len;
	}
	if (def->unit && !text_equal(f->unit_off, f->unit_len, def->unit))
	{
		Size		len = strlen(def->unit);

		if (!arena_strdup(def->unit, len, &off))
			return OTEL_METRIC_MEMORY_FULL;
		f->unit_off = off;
		f->unit_len = (uint32) len;
	}
	return OTEL_METRIC_OK;
}

/* Create a family (exclusive lock held, not found). */
static OtelMetricStatus
family_create(const OtelMetricDef *def, Size name_len, uint32 h, int *family)
{
	MFamily		f;
	Size		saved_used = mstore->arena_used;
	const double *bounds = def->bounds;
	int			nbounds = def->nbounds;
	uint32		i;
	int			fi;

	if (mstore->nfamilies >= mstore->max_families)
		return OTEL_METRIC_SERIES_FULL;

	memset(&f, 0, sizeof(f));
	f.hash = h;
	f.type = (uint8) def->type;
	f.flags = (uint8) def->flags;
	if (!arena_strdup(def->name, name_len, &f.name_off))
		goto full;
	f.name_len = (uint32) name_len;
	if (def->otlp_name && strcmp(def->otlp_name, def->name) != 0)
	{
		f.otlp_name_len = (uint32) strlen(def->otlp_name);
		if (!arena_strdup(def->otlp_name, f.otlp_name_len, &f.otlp_name_off))
			goto full;
	}
	else
	{
		f.otlp_name_off = f.name_off;
		f.otlp_name_len = f.name_len;
	}
	if (!arena_strdup("", 0, &f.desc_off))
		goto full;
	f.unit_off = f.desc_off;
	if (def->type == OTEL_METRIC_HISTOGRAM)
	{
		if (bounds == NULL)
		{
			bounds = otel_metric_default_bounds;
			nbounds = otel_metric_default_nbounds;
		}
		if (!arena_alloc(sizeof(double) * Max(nbounds, 1), &f.bounds_off))
			goto full;
		memcpy(marena + f.bounds_off, bounds, sizeof(double) * nbounds);
		f.nbounds = (uint16) nbounds;
	}
	fi = mstore->nfamilies;
	mfamilies[fi] = f;
	if (family_set_texts(&mfamilies[fi], def) != OTEL_METRIC_OK)
		goto full;

	i = h & mstore->findex_mask;
	while (mfindex[i] >= 0)
		i = (i + 1) & mstore->findex_mask;
	mfindex[i] = fi;
	mstore->nfamilies++;
	*family = fi;
	return OTEL_METRIC_OK;

full:
	mstore->arena_used = saved_used;
	return OTEL_METRIC_MEMORY_FULL;
}

OtelMetricStatus
otel_metrics_define(const OtelMetricDef *def, bool allow_builtin, int *family)
{
	Size		len;
	uint32		h;
	int			fi;
	OtelMetricStatus st;

	if (mstore == NULL)
		return OTEL_METRIC_NO_STORE;
	len = strlen(def->name);
	if (len == 0 || len > OTEL_METRIC_NAME_MAX ||
		(def->otlp_name && strlen(def->otlp_name) > OTEL_METRIC_NAME_MAX) ||
		(def->description && strlen(def->description) > OTEL_METRIC_DESC_MAX) ||
		(def->unit && strlen(def->unit) > OTEL_METRIC_UNIT_MAX) ||
		def->nbounds > OTEL_METRIC_MAX_BOUNDS)
		return OTEL_METRIC_TOO_LONG;
	h = name_hash(def->name, len);

	/* the common case: it exists and nothing changes */
	LWLockAcquire(mstore->lock, LW_SHARED);
	fi = family_find(def->name, len, h);
	if (fi >= 0)
	{
		st = family_check(&mfamilies[fi], def, allow_builtin);
		if (st != OTEL_METRIC_OK || !texts_differ(&mfamilies[fi], def))
		{
			LWLockRelease(mstore->lock);
			*family = fi;
			return st;
		}
	}
	LWLockRelease(mstore->lock);

	LWLockAcquire(mstore->lock, LW_EXCLUSIVE);
	fi = family_find(def->name, len, h);
	if (fi >= 0)
	{
		st = family_check(&mfamilies[fi], def, allow_builtin);
		if (st == OTEL_METRIC_OK)
			st = family_set_texts(&mfamilies[fi], def);
		*family = fi;
	}
	else
		st = family_create(def, len, h, family);
	LWLockRelease(mstore->lock);
	return st;
}

/* ---- series ---- */

/* Serialise labels sorted by key into buf; false when too long. */
static bool
labels_key(const OtelLabel *labels, int nlabels, char *buf, Size *len)
{
	const OtelLabel *sorted[OTEL_METRIC_MAX_LABELS];
	Size		o = 0;

	if (nlabels > OTEL_METRIC_MAX_LABELS)
		return false;
	/* insertion sort: a handful of labels */
	for (int i = 0; i < nlabels; i++)
	{
		int			j = i;

		while (j > 0 && strcmp(sorted[j - 1]->key, labels[i].key) > 0)
		{
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &labels[i];
	}
	for (int i = 0; i < nlabels; i++)
	{
		Size		kl = strlen(sorted[i]->key);
		Size		vl = strlen(sorted[i]->value);

		if (kl == 0 || kl > OTEL_METRIC_LABEL_NAME_MAX ||
			vl > OTEL_METRIC_LABEL_VALUE_MAX)
			return false;
		memcpy(buf + o, sorted[i]->key, kl + 1);
		o += kl + 1;
		memcpy(buf + o, sorted[i]->value, vl + 1);
		o += vl + 1;
	}
	*len = o;
	return true;
}

static inline uint32
series_hash(int family, const char *key, Size len)
{
	uint32		h = hash_bytes_uint32((uint32) family);

	if (len > 0)
		h = hash_combine(h, hash_bytes((const unsigned char *) key, (int) len));
	return h;
}

static int
series_find(int family, const char *key, Size len, uint32 h)
{
	uint32		i = h & mstore->sindex_mask;

	for (;;)
	{
		int32		si = msindex[i];
		MSeries    *s;

		if (si < 0)
			return -1;
		s = &mseries[si];
		if (s->hash == h && s->family == family && s->labels_len == len &&
			(len == 0 || memcmp(marena + s->labels_off, key, len) == 0))
			return si;
		i = (i + 1) & mstore->sindex_mask;
	}
}

/* Apply op to s; f is its family.  Never fails. */
static inline void
series_apply(MSeries *s, const MFamily *f, OtelMetricOp op, double value)
{
	int			b = 0;

	if (op == OTEL_METRIC_OBSERVE)
	{
		const double *bounds = (const double *) (marena + f->bounds_off);

		/* bucket i holds (bounds[i-1], bounds[i]]; the last one the rest */
		while (b < f->nbounds && value > bounds[b])
			b++;
	}

	if (op == OTEL_METRIC_OBSERVE && (f->flags & OTEL_MF_STRIPED) &&
		f->type == OTEL_METRIC_HISTOGRAM)
	{
		int			id = MyBackendId > 0 ? MyBackendId : MyProcPid;
		MStripe    *st = (MStripe *) (marena + s->buckets_off +
									  stripe_stride(f->nbounds) * (id % NSTRIPES));

		SpinLockAcquire(&st->mutex);
		st->buckets[b]++;
		st->count++;
		st->sum += value;
		SpinLockRelease(&st->mutex);
		return;
	}

	SpinLockAcquire(&s->mutex);
	switch (op)
	{
		case OTEL_METRIC_ADD:
			s->value += value;
			break;
		case OTEL_METRIC_SET:
			s->value = value;
			break;
		case OTEL_METRIC_OBSERVE:
			if (f->type == OTEL_METRIC_HISTOGRAM)
			{
				((uint64 *) (marena + s->buckets_off))[b]++;
				s->count++;
				s->value += value;
			}
			break;
	}
	SpinLockRelease(&s->mutex);
}

static OtelMetricStatus
series_create(int family, const char *key, Size len, int nlabels, uint32 h,
			  int *series)
{
	MFamily    *f = &mfamilies[family];
	MSeries    *s;
	Size		saved_used = mstore->arena_used;
	uint32		labels_off = 0;
	uint32		buckets_off = 0;
	uint32		i;
	int			si;

	if (mstore->nseries >= mstore->max_series)
		return OTEL_METRIC_SERIES_FULL;
	if (len > 0 && !arena_alloc(len, &labels_off))
		return OTEL_METRIC_MEMORY_FULL;
	if (len > 0)
		memcpy(marena + labels_off, key, len);
	if (f->type == OTEL_METRIC_HISTOGRAM && (f->flags & OTEL_MF_STRIPED))
	{
		Size		stride = stripe_stride(f->nbounds);

		if (!arena_alloc_aligned(stride * NSTRIPES, PG_CACHE_LINE_SIZE, &buckets_off))
		{
			mstore->arena_used = saved_used;
			return OTEL_METRIC_MEMORY_FULL;
		}
		memset(marena + buckets_off, 0, stride * NSTRIPES);
		for (int k = 0; k < NSTRIPES; k++)
			SpinLockInit(&((MStripe *) (marena + buckets_off + stride * k))->mutex);
	}
	else if (f->type == OTEL_METRIC_HISTOGRAM)
	{
		Size		blen = sizeof(uint64) * (f->nbounds + 1);

		if (!arena_alloc(blen, &buckets_off))
		{
			mstore->arena_used = saved_used;
			return OTEL_METRIC_MEMORY_FULL;
		}
		memset(marena + buckets_off, 0, blen);
	}

	si = mstore->nseries;
	s = &mseries[si];
	SpinLockInit(&s->mutex);
	s->family = family;
	s->hash = h;
	s->labels_off = labels_off;
	s->labels_len = (uint32) len;
	s->nlabels = (uint32) nlabels;
	s->buckets_off = buckets_off;
	s->start_ns = otel_now_ns();
	s->value = 0;
	s->count = 0;

	i = h & mstore->sindex_mask;
	while (msindex[i] >= 0)
		i = (i + 1) & mstore->sindex_mask;
	msindex[i] = si;
	mstore->nseries++;
	f->nseries++;
	*series = si;
	return OTEL_METRIC_OK;
}

OtelMetricStatus
otel_metrics_record(int family, const OtelLabel *labels, int nlabels,
					OtelMetricOp op, double value, int *series)
{
	char		key[LABELS_BUF_MAX];
	Size		len = 0;
	uint32		h;
	int			si;
	OtelMetricStatus st = OTEL_METRIC_OK;

	if (mstore == NULL)
		return OTEL_METRIC_NO_STORE;
	if (family < 0 || family >= mstore->max_families)
		return OTEL_METRIC_NO_STORE;	/* not a family index: can't happen */
	if (!labels_key(labels, nlabels, key, &len))
		return OTEL_METRIC_TOO_LONG;
	h = series_hash(family, key, len);

	LWLockAcquire(mstore->lock, LW_SHARED);
	si = series_find(family, key, len, h);
	LWLockRelease(mstore->lock);

	if (si < 0)
	{
		LWLockAcquire(mstore->lock, LW_EXCLUSIVE);
		si = series_find(family, key, len, h);
		if (si < 0)
		{
			st = series_create(family, key, len, nlabels, h, &si);
			/* first value applied before anyone can snapshot it */
			if (st == OTEL_METRIC_OK)
				series_apply(&mseries[si], &mfamilies[family], op, value);
			LWLockRelease(mstore->lock);
			if (st == OTEL_METRIC_OK && series)
				*series = si;
			return st;
		}
		LWLockRelease(mstore->lock);
	}

	series_apply(&mseries[si], &mfamilies[family], op, value);
	if (series)
		*series = si;
	return OTEL_METRIC_OK;
}

bool
otel_metrics_lookup(const char *name, OtelMetricType *type, uint32 *flags)
{
	Size		len = strlen(name);
	int			fi;

	if (mstore == NULL || len == 0 || len > OTEL_METRIC_NAME_MAX)
		return false;
	LWLockAcquire(mstore->lock, LW_SHARED);
	fi = family_find(name, len, name_hash(name, len));
	if (fi >= 0)
	{
		*type = (OtelMetricType) mfamilies[fi].type;
		*flags = mfamilies[fi].flags;
	}
	LWLockRelease(mstore->lock);
	return fi >= 0;
}

OtelMetricStatus
otel_metrics_update(const OtelMetricDef *def, bool allow_builtin,
					const OtelLabel *labels, int nlabels,
					OtelMetricOp op, double value)
{
	char		key[LABELS_BUF_MAX];
	Size		key_len = 0;
	Size		name_len;
	uint32		h;
	int			fi;
	OtelMetricStatus st;

	if (mstore == NULL)
		return OTEL_METRIC_NO_STORE;
	name_len = strlen(def->name);

	/* fast path: metric and series exist, one shared lock for both lookups */
	if (name_len > 0 && name_len <= OTEL_METRIC_NAME_MAX &&
		labels_key(labels, nlabels, key, &key_len))
	{
		h = name_hash(def->name, name_len);
		LWLockAcquire(mstore->lock, LW_SHARED);
		fi = family_find(def->name, name_len, h);
		if (fi >= 0)
		{
			st = family_check(&mfamilies[fi], def, allow_builtin);
			if (st != OTEL_METRIC_OK)
			{
				LWLockRelease(mstore->lock);
				return st;
			}
			if (!texts_differ(&mfamilies[fi], def))
			{
				int			si = series_find(fi, key, key_len,
											 series_hash(fi, key, key_len));

				if (si >= 0)
				{
					LWLockRelease(mstore->lock);
					series_apply(&mseries[si], &mfamilies[fi], op, value);
					return OTEL_METRIC_OK;
				}
			}
		}
		LWLockRelease(mstore->lock);
	}

	st = otel_metrics_define(def, allow_builtin, &fi);
	if (st != OTEL_METRIC_OK)
		return st;
	return otel_metrics_record(fi, labels, nlabels, op, value, NULL);
}

void
otel_metrics_record_series(int series, OtelMetricOp op, double value)
{
	MSeries    *s;

	if (mstore == NULL || series < 0 || series >= mstore->max_series)
		return;
	s = &mseries[series];
	series_apply(s, &mfamilies[s->family], op, value);
}

/* ---- snapshots ---- */

OtelMetricsSnapshot *
otel_metrics_snapshot(void)
{
	OtelMetricsSnapshot *snap;
	int			nf,
				ns;
	int		   *fill;
	char	   *arena_copy;
	Size		arena_len;
	int			total_labels = 0;
	int			total_buckets = 0;
	const char **strs;
	uint64	   *buckets;
	int			stri = 0;
	int			bi = 0;

#define ALLOC(sz) MemoryContextAllocExtended(CurrentMemoryContext, (sz), \
											 MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE)

	if (mstore == NULL)
		return NULL;

	snap = ALLOC(sizeof(OtelMetricsSnapshot));
	if (snap == NULL)
		return NULL;
	snap->time_ns = otel_now_ns();

	LWLockAcquire(mstore->lock, LW_SHARED);
	nf = mstore->nfamilies;
	ns = mstore->nseries;
	arena_len = mstore->arena_used;
	for (int i = 0; i < ns; i++)
	{
		total_labels += mseries[i].nlabels;
		if (mfamilies[mseries[i].family].type == OTEL_METRIC_HISTOGRAM)
			total_buckets += mfamilies[mseries[i].family].nbounds + 1;
	}

	snap->nfamilies = nf;
	snap->nseries = ns;
	snap->families = ALLOC(sizeof(OtelMetricFamilySnap) * Max(nf, 1));
	snap->series = ALLOC(sizeof(OtelMetricSeriesSnap) * Max(ns, 1));
	fill = ALLOC(sizeof(int) * Max(nf, 1));
	arena_copy = ALLOC(Max(arena_len, 1));
	strs = ALLOC(sizeof(char *) * Max(2 * total_labels, 1));
	buckets = ALLOC(sizeof(uint64) * Max(total_buckets, 1));
	if (!snap->families || !snap->series || !fill || !arena_copy || !strs ||
		!buckets)
	{
		LWLockRelease(mstore->lock);
		return NULL;
	}

	/*
	 * Strings and bounds never change once written (replaced texts get new
	 * space), so one copy of the arena serves them all; bucket counters are
	 * copied again below under each series' spinlock.
	 */
	memcpy(arena_copy, marena, arena_len);

	for (int i = 0, first = 0; i < nf; i++)
	{
		MFamily    *f = &mfamilies[i];
		OtelMetricFamilySnap *fs = &snap->families[i];

		fs->name = arena_copy + f->name_off;
		fs->otlp_name = arena_copy + f->otlp_name_off;
		fs->description = arena_copy + f->desc_off;
		fs->unit = arena_copy + f->unit_off;
		fs->type = (OtelMetricType) f->type;
		fs->flags = f->flags;
		fs->nbounds = f->type == OTEL_METRIC_HISTOGRAM ? f->nbounds : 0;
		fs->bounds = (const double *) (arena_copy + f->bounds_off);
		fs->first_series = first;
		fs->nseries = f->nseries;
		fill[i] = first;
		first += f->nseries;
	}

	for (int i = 0; i < ns; i++)
	{
		MSeries    *s = &mseries[i];
		MFamily    *f = &mfamilies[s->family];
		OtelMetricSeriesSnap *ss = &snap->series[fill[s->family]++];
		const char *p = arena_copy + s->labels_off;

		ss->family = s->family;
		ss->nlabels = (int) s->nlabels;
		ss->keys = strs + stri;
		ss->values = strs + stri + s->nlabels;
		for (uint32 l = 0; l < s->nlabels; l++)
		{
			ss->keys[l] = p;
			p += strlen(p) + 1;
			ss->values[l] = p;
			p += strlen(p) + 1;
		}
		stri += 2 * s->nlabels;
		ss->start_ns = s->start_ns;
		ss->buckets = NULL;

		if (f->type == OTEL_METRIC_HISTOGRAM && (f->flags & OTEL_MF_STRIPED))
		{
			Size		stride = stripe_stride(f->nbounds);

			ss->value = 0;
			ss->count = 0;
			memset(buckets + bi, 0, sizeof(uint64) * (f->nbounds + 1));
			for (int k = 0; k < NSTRIPES; k++)
			{
				MStripe    *st = (MStripe *) (marena + s->buckets_off + stride * k);

				SpinLockAcquire(&st->mutex);
				ss->value += st->sum;
				ss->count += st->count;
				for (int b = 0; b <= f->nbounds; b++)
					buckets[bi + b] += st->buckets[b];
				SpinLockRelease(&st->mutex);
			}
			ss->buckets = buckets + bi;
			bi += f->nbounds + 1;
			continue;
		}

		SpinLockAcquire(&s->mutex);
		ss->value = s->value;
		ss->count = s->count;
		if (f->type == OTEL_METRIC_HISTOGRAM)
		{
			memcpy(buckets + bi, marena + s->buckets_off,
				   sizeof(uint64) * (f->nbounds + 1));
			ss->buckets = buckets + bi;
		}
		SpinLockRelease(&s->mutex);
		if (f->type == OTEL_METRIC_HISTOGRAM)
			bi += f->nbounds + 1;
	}
	LWLockRelease(mstore->lock);
	pfree(fill);
#undef ALLOC
	return snap;
}

void
otel_metrics_usage(int *nseries, int *max_series, int *nfamilies,
				   Size *bytes_used, Size *bytes_max)
{
	*nseries = *max_series = *nfamilies = 0;
	*bytes_used = *bytes_max = 0;
	if (mstore == NULL)
		return;
	LWLockAcquire(mstore->lock, LW_SHARED);
	*nseries = mstore->nseries;
	*max_series = mstore->max_series;
	*nfamilies = mstore->nfamilies;
	*bytes_used = mstore->arena_used;
	*bytes_max = mstore->arena_size;
	LWLockRelease(mstore->lock);
}

const char *
otel_metric_type_name(OtelMetricType type)
{
	switch (type)
	{
		case OTEL_METRIC_COUNTER:
			return "counter";
		case OTEL_METRIC_UPDOWN:
			return "updown_counter";
		case OTEL_METRIC_GAUGE:
			return "gauge";
		case OTEL_METRIC_HISTOGRAM:
			return "histogram";
	}
	return "unknown";
}
