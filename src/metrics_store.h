/*-------------------------------------------------------------------------
 * metrics_store.h
 *		The shared-memory metric store: every metric recorded from SQL or by
 *		the extension itself is aggregated here, one series per (metric name,
 *		sorted labels), until the worker takes a snapshot to export it.
 *		metrics_store.c owns the store; nothing else touches its memory.
 *
 *		A named LWLock is taken only to look a metric or a series up (shared)
 *		or to insert one (exclusive); values are updated under a per-series
 *		spinlock held for a few instructions.  Series are never removed, so
 *		a series reference stays valid for the life of the server and may be
 *		cached by a backend.  Nothing here does I/O, waits on the worker or
 *		raises an error: failures come back as an OtelMetricStatus and the
 *		caller decides (SQL functions raise, hooks count and go on).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_METRICS_STORE_H
#define OTEL_METRICS_STORE_H

/* limits, checked by the store and reported by the SQL functions */
#define OTEL_METRIC_NAME_MAX		200 /* bytes of a metric name */
#define OTEL_METRIC_MAX_LABELS		16	/* labels of one series */
#define OTEL_METRIC_LABEL_NAME_MAX	100 /* bytes of a label name */
#define OTEL_METRIC_LABEL_VALUE_MAX 256 /* bytes of a label value */
#define OTEL_METRIC_MAX_BOUNDS		40	/* histogram bucket boundaries */
#define OTEL_METRIC_DESC_MAX		1024	/* bytes of a description */
#define OTEL_METRIC_UNIT_MAX		64	/* bytes of a unit */

typedef enum OtelMetricType
{
	OTEL_METRIC_COUNTER = 1,	/* monotonic sum */
	OTEL_METRIC_UPDOWN = 2,		/* non-monotonic sum */
	OTEL_METRIC_GAUGE = 3,		/* last value */
	OTEL_METRIC_HISTOGRAM = 4	/* explicit buckets */
} OtelMetricType;

/* family flags */
#define OTEL_MF_BUILTIN		0x01	/* the extension's own: SQL may not record */
#define OTEL_MF_RAW_NAME	0x02	/* Prometheus name used as is (no _total) */
#define OTEL_MF_STRIPED		0x04	/* histogram kept in per-backend stripes */

typedef enum OtelMetricStatus
{
	OTEL_METRIC_OK = 0,
	OTEL_METRIC_TYPE_MISMATCH,	/* name already used with another type */
	OTEL_METRIC_BOUNDS_MISMATCH,	/* histogram exists with other buckets */
	OTEL_METRIC_BUILTIN,		/* name belongs to a built-in metric */
	OTEL_METRIC_SERIES_FULL,	/* otel_aliyun.max_series reached */
	OTEL_METRIC_MEMORY_FULL,	/* string/bucket space exhausted */
	OTEL_METRIC_TOO_LONG,		/* a name, label or text past its limit */
	OTEL_METRIC_NO_STORE		/* not preloaded */
} OtelMetricStatus;

/* How a value changes a series. */
typedef enum OtelMetricOp
{
	OTEL_METRIC_ADD,			/* counter, up-down counter */
	OTEL_METRIC_SET,			/* gauge; also absolute counter values */
	OTEL_METRIC_OBSERVE			/* histogram */
} OtelMetricOp;

/* A metric's definition.  Strings are NUL-terminated. */
typedef struct OtelMetricDef
{
	const char *name;			/* Prometheus-compatible name */
	const char *otlp_name;		/* OTLP name, NULL = name */
	OtelMetricType type;
	const char *description;	/* NULL = none (or keep the current one) */
	const char *unit;			/* NULL = none (or keep the current one) */
	const double *bounds;		/* histograms: NULL = the default buckets */
	int			nbounds;
	uint32		flags;			/* OTEL_MF_* */
} OtelMetricDef;

/* One label of a series, in any order. */
typedef struct OtelLabel
{
	const char *key;
	const char *value;
} OtelLabel;

/* the OpenTelemetry default duration buckets, in seconds */
extern const double otel_metric_default_bounds[];
extern const int otel_metric_default_nbounds;

extern void otel_metrics_shmem_request(void);	/* from shmem_request_hook */
extern Size otel_metrics_shmem_size(void);
extern void otel_metrics_shmem_init(void);	/* under AddinShmemInitLock */

/*
 * Find or create the metric (family) def->name.  An existing metric must
 * have the same type (and, when def->bounds is given, the same buckets);
 * a description or unit given here replaces the stored one.  *family gets
 * its index.  allow_builtin: whether def may name a built-in metric.
 */
extern OtelMetricStatus otel_metrics_define(const OtelMetricDef *def,
											bool allow_builtin, int *family);

/*
 * Apply op/value to the series (family, labels), creating it (with that
 * first value) if it does not exist.  *series (if not NULL) gets its index,
 * which stays valid and may be passed to otel_metrics_record_series().
 * Labels need not be sorted; keys must be distinct.
 */
extern OtelMetricStatus otel_metrics_record(int family, const OtelLabel *labels,
											int nlabels, OtelMetricOp op,
											double value, int *series);

/*
 * otel_metrics_define() then otel_metrics_record(), with a single shared
 * lock acquisition when the metric and the series exist already (the
 * usual case of the SQL functions).
 */
extern OtelMetricStatus otel_metrics_update(const OtelMetricDef *def,
											bool allow_builtin,
											const OtelLabel *labels, int nlabels,
											OtelMetricOp op, double value);

/* Does a metric of this name exist?  Its type and flags, if so. */
extern bool otel_metrics_lookup(const char *name, OtelMetricType *type,
								uint32 *flags);

/* Apply op/value to a series found earlier.  Lock-free but for its spinlock. */
extern void otel_metrics_record_series(int series, OtelMetricOp op, double value);

/* ---- snapshots, for the exporters and the otel_aliyun.metrics view ---- */

typedef struct OtelMetricFamilySnap
{
	const char *name;
	const char *otlp_name;		/* never NULL */
	const char *description;	/* "" when none */
	const char *unit;			/* "" when none */
	OtelMetricType type;
	uint32		flags;
	int			nbounds;
	const double *bounds;
	int			first_series;	/* its series are series[first..first+n) */
	int			nseries;
} OtelMetricFamilySnap;

typedef struct OtelMetricSeriesSnap
{
	int			family;
	int			nlabels;
	const char **keys;			/* sorted by key (strcmp) */
	const char **values;
	int64		start_ns;		/* when the series was created */
	double		value;			/* counter/up-down/gauge value; histogram sum */
	uint64		count;			/* histograms: observations */
	const uint64 *buckets;		/* histograms: nbounds + 1 per-bucket counts */
} OtelMetricSeriesSnap;

typedef struct OtelMetricsSnapshot
{
	int64		time_ns;		/* when it was taken */
	int			nfamilies;
	OtelMetricFamilySnap *families;
	int			nseries;		/* grouped by family, families in order */
	OtelMetricSeriesSnap *series;
} OtelMetricsSnapshot;

/*
 * Copy the whole store into the current memory context.  Families without
 * series are included (nseries 0).  NULL when out of memory or no store.
 */
extern OtelMetricsSnapshot *otel_metrics_snapshot(void);

/* series and families in use, and their limits */
extern void otel_metrics_usage(int *nseries, int *max_series,
							   int *nfamilies, Size *bytes_used, Size *bytes_max);

extern const char *otel_metric_type_name(OtelMetricType type);

#endif							/* OTEL_METRICS_STORE_H */
