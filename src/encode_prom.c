/*-------------------------------------------------------------------------
 *
 * encode_prom.c
 *		Metric snapshots as a Prometheus remote write WriteRequest or in the
 *		text exposition format.
 *
 * Both formats start from the same expansion of a series into Prometheus
 * samples: one for a counter, up-down counter or gauge, nbounds + 3 for a
 * histogram (cumulative buckets, sum, count).  Each sample's labels are
 * __name__, the series' labels with their names made valid, le for a
 * bucket, and (remote write) job and instance; they are sorted by name, as
 * remote write requires, and a name already present is not added twice.
 * Label values are made valid UTF-8 (a stray byte becomes '?').
 *
 * IDENTIFICATION
 *	  src/encode_prom.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "mb/pg_wchar.h"
#include "utils/memutils.h"

#include "encode_prom.h"
#include "otel_aliyun.h"
#include "record.h"
#include "resource.h"

#include "prometheus/remote.pb-c.h"

#define MAX_SAMPLE_LABELS	(OTEL_METRIC_MAX_LABELS + 4)

typedef struct PromLabel
{
	const char *name;
	const char *value;
} PromLabel;

/* What one encoding call needs besides the snapshot. */
typedef struct PromCtx
{
	const OtelMetricsSnapshot *snap;
	char	  **family_names;	/* exported base name per family */
	char	  **bound_text;		/* per family: nbounds formatted le values */
	const char *job;
	const char *instance;
	int			ntarget;		/* target_info labels */
	PromLabel  *target;
} PromCtx;

/* ---- names and values ---- */

static inline bool
valid_label_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		(!first && c >= '0' && c <= '9');
}

/* A valid Prometheus label name for key (palloc'd, or key itself). */
static const char *
label_name(const char *key)
{
	bool		ok = key[0] != '\0';
	char	   *out;
	Size		len;
	int			o = 0;

	for (const char *p = key; *p && ok; p++)
		ok = valid_label_char(*p, p == key);
	if (ok)
		return key;
	len = strlen(key);
	out = palloc(len + 5);
	if (len == 0 || (key[0] >= '0' && key[0] <= '9'))
	{
		memcpy(out, "key_", 4);
		o = 4;
	}
	for (const char *p = key; *p; p++)
		out[o++] = valid_label_char(*p, false) ? *p : '_';
	out[o] = '\0';
	return out;
}

/* s if it is valid UTF-8, else a copy with every bad byte replaced by '?' */
static const char *
utf8_value(const char *s)
{
	Size		len = strlen(s);
	char	   *out = NULL;
	Size		i = 0;

	while (i < len)
	{
		const unsigned char *u = (const unsigned char *) s + i;
		int			l;

		if (*u < 0x80)
		{
			i++;
			continue;
		}
		l = pg_utf_mblen(u);
		if (i + l <= len && pg_utf8_islegal(u, l))
		{
			i += l;
			continue;
		}
		if (out == NULL)
			out = pstrdup(s);
		out[i++] = '?';
	}
	return out ? out : s;
}

/* Prometheus number text: shortest round trip, +Inf/-Inf/NaN. */
static void
format_double(double v, char *buf)
{
	if (isnan(v))
		strcpy(buf, "NaN");
	else if (isinf(v))
		strcpy(buf, v > 0 ? "+Inf" : "-Inf");
	else
		(void) double_to_shortest_decimal_buf(v, buf);
}

static char *
export_name(const OtelMetricFamilySnap *f)
{
	Size		len = strlen(f->name);

	if (f->type == OTEL_METRIC_COUNTER && !(f->flags & OTEL_MF_RAW_NAME) &&
		!(len >= 6 && strcmp(f->name + len - 6, "_total") == 0))
		return psprintf("%s_total", f->name);
	return pstrdup(f->name);
}

static void
resource_cb(PromCtx *ctx, const char *key, const char *value)
{
	if (strcmp(key, "service.name") == 0 ||
		strcmp(key, "service.namespace") == 0 ||
		strcmp(key, "service.instance.id") == 0)
		return;
	ctx->target[ctx->ntarget].name = label_name(key);
	ctx->target[ctx->ntarget].value = utf8_value(value);
	ctx->ntarget++;
}

static void
prom_ctx_init(PromCtx *ctx, const OtelMetricsSnapshot *snap)
{
	const char *ns = otel_resource_get("service.namespace");
	const char *svc = otel_resource_get("service.name");
	const char *inst = otel_resource_get("service.instance.id");
	const char *attrs;
	uint32		alen;
	OtelAttrIter it;
	OtelAttr	a;
	int			n = 0;

	ctx->snap = snap;
	if (svc == NULL)
		svc = "postgresql";
	ctx->job = utf8_value(ns && ns[0] ? psprintf("%s/%s", ns, svc) : svc);
	ctx->instance = utf8_value(inst ? inst : "");

	/* the other resource attributes, for target_info */
	attrs = otel_resource_attrs(&alen);
	otel_attr_iter_init(&it, attrs, alen);
	while (otel_attr_next(&it, &a))
		n++;
	ctx->target = palloc(sizeof(PromLabel) * Max(n, 1));
	ctx->ntarget = 0;
	otel_attr_iter_init(&it, attrs, alen);
	while (otel_attr_next(&it, &a))
	{
		char	   *key = pnstrdup(a.key, a.key_len);
		char	   *val;

		switch (a.type)
		{
			case OTEL_ATTR_STRING:
				val = pnstrdup(a.val, a.val_len);
				break;
			case OTEL_ATTR_INT:
				val = psprintf(INT64_FORMAT, otel_attr_get_int(&a));
				break;
			case OTEL_ATTR_DOUBLE:
				val = palloc(32);
				format_double(otel_attr_get_double(&a), val);
				break;
			case OTEL_ATTR_BOOL:
				val = pstrdup(otel_attr_get_bool(&a) ? "true" : "false");
				break;
			default:
				continue;
		}
		resource_cb(ctx, key, val);
	}

	ctx->family_names = palloc(sizeof(char *) * Max(snap->nfamilies, 1));
	ctx->bound_text = palloc0(sizeof(char *) * Max(snap->nfamilies, 1));
	for (int i = 0; i < snap->nfamilies; i++)
	{
		const OtelMetricFamilySnap *f = &snap->families[i];

		ctx->family_names[i] = export_name(f);
		if (f->type == OTEL_METRIC_HISTOGRAM)
		{
			ctx->bound_text[i] = palloc(32 * f->nbounds + 1);
			for (int b = 0; b < f->nbounds; b++)
				format_double(f->bounds[b], ctx->bound_text[i] + 32 * b);
		}
	}
}

static int
label_cmp(const void *a, const void *b)
{
	return strcmp(((const PromLabel *) a)->name, ((const PromLabel *) b)->name);
}

static bool
has_label(const PromLabel *l, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(l[i].name, name) == 0)
			return true;
	return false;
}

/*
 * The sorted labels of one sample of series s: name, optional le, the
 * series' labels, and job/instance when with_resource.  Returns the count.
 */
static int
sample_labels(PromCtx *ctx, const OtelMetricSeriesSnap *s, const char *name,
			  const char *le, bool with_resource, PromLabel *out)
{
	int			n = 0;

	out[n].name = "__name__";
	out[n++].value = name;
	for (int i = 0; i < s->nlabels; i++)
	{
		const char *ln = label_name(s->keys[i]);

		/* two keys that sanitise to one name: the first one wins */
		if (has_label(out, n, ln))
			continue;
		out[n].name = ln;
		out[n++].value = utf8_value(s->values[i]);
	}
	if (le && !has_label(out, n, "le"))
	{
		out[n].name = "le";
		out[n++].value = le;
	}
	if (with_resource)
	{
		if (!has_label(out, n, "job"))
		{
			out[n].name = "job";
			out[n++].value = ctx->job;
		}
		if (ctx->instance[0] && !has_label(out, n, "instance"))
		{
			out[n].name = "instance";
			out[n++].value = ctx->instance;
		}
	}
	qsort(out, n, sizeof(PromLabel), label_cmp);
	return n;
}

/* ---- remote write ---- */

typedef struct RWBuild
{
	Prometheus__TimeSeries *ts;
	Prometheus__TimeSeries **ts_ptrs;
	Prometheus__Sample *samples;
	Prometheus__Sample **sample_ptrs;
	int			nts;
	int64		timestamp_ms;
} RWBuild;

static void
rw_add(RWBuild *b, const PromLabel *labels, int nlabels, double value)
{
	Prometheus__TimeSeries *t = &b->ts[b->nts];
	Prometheus__Label *ls = palloc(sizeof(Prometheus__Label) * nlabels);
	Prometheus__Label **lp = palloc(sizeof(Prometheus__Label *) * nlabels);
	Prometheus__Sample *smp = &b->samples[b->nts];

	prometheus__time_series__init(t);
	for (int i = 0; i < nlabels; i++)
	{
		prometheus__label__init(&ls[i]);
		ls[i].name = unconstify(char *, labels[i].name);
		ls[i].value = unconstify(char *, labels[i].value);
		lp[i] = &ls[i];
	}
	t->n_labels = nlabels;
	t->labels = lp;
	prometheus__sample__init(smp);
	smp->value = value;
	smp->timestamp = b->timestamp_ms;
	b->sample_ptrs[b->nts] = smp;
	t->n_samples = 1;
	t->samples = &b->sample_ptrs[b->nts];
	b->ts_ptrs[b->nts] = t;
	b->nts++;
}

static Prometheus__MetricMetadata__MetricType
rw_type(OtelMetricType t)
{
	switch (t)
	{
		case OTEL_METRIC_COUNTER:
			return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__COUNTER;
		case OTEL_METRIC_UPDOWN:
		case OTEL_METRIC_GAUGE:
			return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE;
		case OTEL_METRIC_HISTOGRAM:
			return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__HISTOGRAM;
	}
	return PROMETHEUS__METRIC_METADATA__METRIC_TYPE__UNKNOWN;
}

int
otel_encode_prom_write(const OtelMetricsSnapshot *snap, int from, int to,
					   int64 timestamp_ms, bool with_target_info,
					   StringInfo out)
{
	MemoryContext cxt;
	MemoryContext old;
	PromCtx		ctx;
	RWBuild		b;
	Prometheus__WriteRequest req = PROMETHEUS__WRITE_REQUEST__INIT;
	Prometheus__MetricMetadata *md;
	Prometheus__MetricMetadata **md_ptrs;
	int			nmd = 0;
	int			total = 0;
	int			last_family = -1;
	PromLabel	labels[MAX_SAMPLE_LABELS];
	size_t		size;
	int			result;

	from = Max(from, 0);
	to = Min(to, snap->nseries);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "otel_aliyun prom encode",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	prom_ctx_init(&ctx, snap);

	for (int i = from; i < to; i++)
	{
		const OtelMetricFamilySnap *f = &snap->families[snap->series[i].family];

		total += f->type == OTEL_METRIC_HISTOGRAM ? f->nbounds + 3 : 1;
	}
	if (with_target_info)
		total++;

	memset(&b, 0, sizeof(b));
	b.ts = palloc(sizeof(Prometheus__TimeSeries) * Max(total, 1));
	b.ts_ptrs = palloc(sizeof(Prometheus__TimeSeries *) * Max(total, 1));
	b.samples = palloc(sizeof(Prometheus__Sample) * Max(total, 1));
	b.sample_ptrs = palloc(sizeof(Prometheus__Sample *) * Max(total, 1));
	b.timestamp_ms = timestamp_ms;
	md = palloc(sizeof(Prometheus__MetricMetadata) * (Max(to - from, 0) + 1));
	md_ptrs = palloc(sizeof(Prometheus__MetricMetadata *) * (Max(to - from, 0) + 1));

	if (with_target_info)
	{
		PromLabel  *tl = palloc(sizeof(PromLabel) * (ctx.ntarget + 3));
		int			n = 0;

		tl[n].name = "__name__";
		tl[n++].value = "target_info";
		tl[n].name = "job";
		tl[n++].value = ctx.job;
		if (ctx.instance[0])
		{
			tl[n].name = "instance";
			tl[n++].value = ctx.instance;
		}
		for (int i = 0; i < ctx.ntarget; i++)
			if (!has_label(tl, n, ctx.target[i].name))
				tl[n++] = ctx.target[i];
		qsort(tl, n, sizeof(PromLabel), label_cmp);
		rw_add(&b, tl, n, 1.0);

		prometheus__metric_metadata__init(&md[nmd]);
		md[nmd].type = PROMETHEUS__METRIC_METADATA__METRIC_TYPE__GAUGE;
		md[nmd].metric_family_name = "target_info";
		md[nmd].help = "Target metadata";
		md_ptrs[nmd] = &md[nmd];
		nmd++;
	}

	for (int i = from; i < to; i++)
	{
		const OtelMetricSeriesSnap *s = &snap->series[i];
		const OtelMetricFamilySnap *f = &snap->families[s->family];
		const char *base = ctx.family_names[s->family];
		int			n;

		if (s->family != last_family)
		{
			last_family = s->family;
			prometheus__metric_metadata__init(&md[nmd]);
			md[nmd].type = rw_type(f->type);
			md[nmd].metric_family_name = unconstify(char *, base);
			md[nmd].help = unconstify(char *, utf8_value(f->description));
			md[nmd].unit = unconstify(char *, f->unit);
			md_ptrs[nmd] = &md[nmd];
			nmd++;
		}

		if (f->type != OTEL_METRIC_HISTOGRAM)
		{
			n = sample_labels(&ctx, s, base, NULL, true, labels);
			rw_add(&b, labels, n, s->value);
			continue;
		}
		else
		{
			char	   *bucket_name = psprintf("%s_bucket", base);
			uint64		cum = 0;

			for (int k = 0; k <= f->nbounds; k++)
			{
				const char *le = k < f->nbounds ? ctx.bound_text[s->family] + 32 * k : "+Inf";

				cum += s->buckets[k];
				n = sample_labels(&ctx, s, bucket_name, le, true, labels);
				rw_add(&b, labels, n, (double) cum);
			}
			n = sample_labels(&ctx, s, psprintf("%s_sum", base), NULL, true, labels);
			rw_add(&b, labels, n, s->value);
			n = sample_labels(&ctx, s, psprintf("%s_count", base), NULL, true, labels);
			rw_add(&b, labels, n, (double) s->count);
		}
	}

	req.n_timeseries = b.nts;
	req.timeseries = b.ts_ptrs;
	req.n_metadata = nmd;
	req.metadata = md_ptrs;

	size = prometheus__write_request__get_packed_size(&req);
	if (size >= (size_t) (MaxAllocSize - out->len - 1))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Prometheus remote write request of %zu bytes is too large", size),
				 errhint("Lower otel_aliyun.max_export_batch_size.")));
	MemoryContextSwitchTo(old);
	enlargeStringInfo(out, (int) size);
	prometheus__write_request__pack(&req, (uint8_t *) out->data + out->len);
	out->len += (int) size;
	out->data[out->len] = '\0';
	result = b.nts;
	MemoryContextDelete(cxt);
	return result;
}

/* ---- text exposition format ---- */

static void
text_escaped(StringInfo out, const char *s, bool quote)
{
	for (; *s; s++)
	{
		if (*s == '\\')
			appendStringInfoString(out, "\\\\");
		else if (*s == '\n')
			appendStringInfoString(out, "\\n");
		else if (quote && *s == '"')
			appendStringInfoString(out, "\\\"");
		else
			appendStringInfoChar(out, *s);
	}
}

static void
text_sample(StringInfo out, const PromLabel *labels, int n, double value)
{
	char		num[64];
	bool		first = true;

	/* labels[] is sorted and holds __name__ */
	for (int i = 0; i < n; i++)
		if (strcmp(labels[i].name, "__name__") == 0)
			appendStringInfoString(out, labels[i].value);
	for (int i = 0; i < n; i++)
	{
		if (strcmp(labels[i].name, "__name__") == 0)
			continue;
		appendStringInfoString(out, first ? "{" : ",");
		first = false;
		appendStringInfo(out, "%s=\"", labels[i].name);
		text_escaped(out, labels[i].value, true);
		appendStringInfoChar(out, '"');
	}
	if (!first)
		appendStringInfoChar(out, '}');
	format_double(value, num);
	appendStringInfo(out, " %s\n", num);
}

static const char *
text_type(OtelMetricType t)
{
	switch (t)
	{
		case OTEL_METRIC_COUNTER:
			return "counter";
		case OTEL_METRIC_UPDOWN:
		case OTEL_METRIC_GAUGE:
			return "gauge";
		case OTEL_METRIC_HISTOGRAM:
			return "histogram";
	}
	return "untyped";
}

void
otel_encode_prom_text(const OtelMetricsSnapshot *snap, StringInfo out)
{
	MemoryContext cxt;
	MemoryContext old;
	PromCtx		ctx;
	PromLabel	labels[MAX_SAMPLE_LABELS];
	StringInfoData buf;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "otel_aliyun prom text",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	prom_ctx_init(&ctx, snap);
	initStringInfo(&buf);

	if (ctx.ntarget > 0)
	{
		PromLabel  *tl = palloc(sizeof(PromLabel) * (ctx.ntarget + 1));
		int			n = 0;

		tl[n].name = "__name__";
		tl[n++].value = "target_info";
		for (int i = 0; i < ctx.ntarget; i++)
			if (!has_label(tl, n, ctx.target[i].name))
				tl[n++] = ctx.target[i];
		qsort(tl, n, sizeof(PromLabel), label_cmp);
		appendStringInfoString(&buf, "# HELP target_info Target metadata\n# TYPE target_info gauge\n");
		text_sample(&buf, tl, n, 1.0);
	}

	for (int fi = 0; fi < snap->nfamilies; fi++)
	{
		const OtelMetricFamilySnap *f = &snap->families[fi];
		const char *base = ctx.family_names[fi];
		char	   *bucket_name = NULL,
				   *sum_name = NULL,
				   *count_name = NULL;

		if (f->nseries == 0)
			continue;
		if (f->description[0])
		{
			appendStringInfo(&buf, "# HELP %s ", base);
			text_escaped(&buf, utf8_value(f->description), false);
			appendStringInfoChar(&buf, '\n');
		}
		appendStringInfo(&buf, "# TYPE %s %s\n", base, text_type(f->type));
		if (f->type == OTEL_METRIC_HISTOGRAM)
		{
			bucket_name = psprintf("%s_bucket", base);
			sum_name = psprintf("%s_sum", base);
			count_name = psprintf("%s_count", base);
		}

		for (int i = f->first_series; i < f->first_series + f->nseries; i++)
		{
			const OtelMetricSeriesSnap *s = &snap->series[i];
			int			n;

			if (f->type != OTEL_METRIC_HISTOGRAM)
			{
				n = sample_labels(&ctx, s, base, NULL, false, labels);
				text_sample(&buf, labels, n, s->value);
				continue;
			}
			{
				uint64		cum = 0;

				for (int k = 0; k <= f->nbounds; k++)
				{
					const char *le = k < f->nbounds ? ctx.bound_text[fi] + 32 * k : "+Inf";

					cum += s->buckets[k];
					n = sample_labels(&ctx, s, bucket_name, le, false, labels);
					text_sample(&buf, labels, n, (double) cum);
				}
				n = sample_labels(&ctx, s, sum_name, NULL, false, labels);
				text_sample(&buf, labels, n, s->value);
				n = sample_labels(&ctx, s, count_name, NULL, false, labels);
				text_sample(&buf, labels, n, (double) s->count);
			}
		}
	}

	MemoryContextSwitchTo(old);
	appendBinaryStringInfo(out, buf.data, buf.len);
	MemoryContextDelete(cxt);
}
