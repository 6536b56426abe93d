/*-------------------------------------------------------------------------
 *
 * encode_otlp_metrics.c
 *		Metric snapshots as an OTLP ExportMetricsServiceRequest.
 *
 * The message tree is built with protobuf-c out of the bump allocator that
 * encode_otlp.c shares with the other OTLP encoders, together with its
 * Resource and InstrumentationScope, and packed once.  A snapshot lists the
 * series of one metric together, so a run of consecutive series with the
 * same family becomes one Metric.  Metric names are the OTLP names (for
 * the built-in query histogram postgresql.query.duration; otherwise the
 * name recorded), label keys are kept as recorded (db.namespace, ...).
 *
 * IDENTIFICATION
 *	  src/encode_otlp_metrics.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "encode_otlp.h"
#include "encode_otlp_metrics.h"
#include "otel_aliyun.h"

#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue PbAnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue PbKeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope PbScope;
typedef Opentelemetry__Proto__Resource__V1__Resource PbResource;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics PbResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics PbScopeMetrics;
typedef Opentelemetry__Proto__Metrics__V1__Metric PbMetric;
typedef Opentelemetry__Proto__Metrics__V1__Sum PbSum;
typedef Opentelemetry__Proto__Metrics__V1__Gauge PbGauge;
typedef Opentelemetry__Proto__Metrics__V1__Histogram PbHistogram;
typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint PbNumberPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint PbHistogramPoint;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceRequest PbMetricsRequest;
typedef Opentelemetry__Proto__Collector__Metrics__V1__ExportMetricsServiceResponse PbMetricsResponse;

#define CUMULATIVE OPENTELEMETRY__PROTO__METRICS__V1__AGGREGATION_TEMPORALITY__AGGREGATION_TEMPORALITY_CUMULATIVE

/* the series' labels as string KeyValues */
static PbKeyValue **
series_attrs(OtelEncArena *a, const OtelMetricSeriesSnap *s)
{
	PbKeyValue **ptrs;
	PbKeyValue *kvs;
	PbAnyValue *vals;

	if (s->nlabels == 0)
		return NULL;
	ptrs = otel_enc_alloc(a, sizeof(PbKeyValue *) * s->nlabels);
	kvs = otel_enc_alloc(a, sizeof(PbKeyValue) * s->nlabels);
	vals = otel_enc_alloc(a, sizeof(PbAnyValue) * s->nlabels);
	for (int i = 0; i < s->nlabels; i++)
	{
		opentelemetry__proto__common__v1__key_value__init(&kvs[i]);
		opentelemetry__proto__common__v1__any_value__init(&vals[i]);
		kvs[i].key = otel_enc_str(a, s->keys[i], strlen(s->keys[i]));
		vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
		vals[i].string_value = otel_enc_str(a, s->values[i], strlen(s->values[i]));
		kvs[i].value = &vals[i];
		ptrs[i] = &kvs[i];
	}
	return ptrs;
}

static PbNumberPoint *
number_point(OtelEncArena *a, const OtelMetricSeriesSnap *s, int64 time_ns)
{
	PbNumberPoint *p = otel_enc_alloc(a, sizeof(PbNumberPoint));

	opentelemetry__proto__metrics__v1__number_data_point__init(p);
	p->attributes = series_attrs(a, s);
	p->n_attributes = s->nlabels;
	p->start_time_unix_nano = (uint64) s->start_ns;
	p->time_unix_nano = (uint64) Max(time_ns, s->start_ns);
	p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
	p->as_double = s->value;
	return p;
}

static PbHistogramPoint *
histogram_point(OtelEncArena *a, const OtelMetricFamilySnap *f,
				const OtelMetricSeriesSnap *s, int64 time_ns)
{
	PbHistogramPoint *p = otel_enc_alloc(a, sizeof(PbHistogramPoint));

	opentelemetry__proto__metrics__v1__histogram_data_point__init(p);
	p->attributes = series_attrs(a, s);
	p->n_attributes = s->nlabels;
	p->start_time_unix_nano = (uint64) s->start_ns;
	p->time_unix_nano = (uint64) Max(time_ns, s->start_ns);
	p->count = s->count;
	p->_sum_case = OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
	p->sum = s->value;
	p->n_bucket_counts = f->nbounds + 1;
	p->bucket_counts = otel_enc_alloc(a, sizeof(uint64_t) * (f->nbounds + 1));
	for (int b = 0; b <= f->nbounds; b++)
		p->bucket_counts[b] = s->buckets[b];
	p->n_explicit_bounds = f->nbounds;
	p->explicit_bounds = otel_enc_alloc(a, sizeof(double) * Max(f->nbounds, 1));
	memcpy(p->explicit_bounds, f->bounds, sizeof(double) * f->nbounds);
	return p;
}

/* One Metric for the series [from, to) of family fi. */
static PbMetric *
build_metric(OtelEncArena *a, const OtelMetricsSnapshot *snap, int fi,
			 int from, int to, int64 time_ns)
{
	const OtelMetricFamilySnap *f = &snap->families[fi];
	PbMetric   *m = otel_enc_alloc(a, sizeof(PbMetric));
	int			n = to - from;

	opentelemetry__proto__metrics__v1__metric__init(m);
	m->name = otel_enc_str(a, f->otlp_name, strlen(f->otlp_name));
	m->description = otel_enc_str(a, f->description, strlen(f->description));
	m->unit = otel_enc_str(a, f->unit, strlen(f->unit));

	switch (f->type)
	{
		case OTEL_METRIC_COUNTER:
		case OTEL_METRIC_UPDOWN:
			{
				PbSum	   *sum = otel_enc_alloc(a, sizeof(PbSum));

				opentelemetry__proto__metrics__v1__sum__init(sum);
				sum->aggregation_temporality = CUMULATIVE;
				sum->is_monotonic = (f->type == OTEL_METRIC_COUNTER);
				sum->n_data_points = n;
				sum->data_points = otel_enc_alloc(a, sizeof(PbNumberPoint *) * n);
				for (int i = 0; i < n; i++)
					sum->data_points[i] = number_point(a, &snap->series[from + i], time_ns);
				m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM;
				m->sum = sum;
			}
			break;
		case OTEL_METRIC_GAUGE:
			{
				PbGauge    *g = otel_enc_alloc(a, sizeof(PbGauge));

				opentelemetry__proto__metrics__v1__gauge__init(g);
				g->n_data_points = n;
				g->data_points = otel_enc_alloc(a, sizeof(PbNumberPoint *) * n);
				for (int i = 0; i < n; i++)
					g->data_points[i] = number_point(a, &snap->series[from + i], time_ns);
				m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE;
				m->gauge = g;
			}
			break;
		case OTEL_METRIC_HISTOGRAM:
			{
				PbHistogram *h = otel_enc_alloc(a, sizeof(PbHistogram));

				opentelemetry__proto__metrics__v1__histogram__init(h);
				h->aggregation_temporality = CUMULATIVE;
				h->n_data_points = n;
				h->data_points = otel_enc_alloc(a, sizeof(PbHistogramPoint *) * n);
				for (int i = 0; i < n; i++)
					h->data_points[i] = histogram_point(a, f, &snap->series[from + i], time_ns);
				m->data_case = OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM;
				m->histogram = h;
			}
			break;
	}
	return m;
}

int
otel_encode_metrics_pb(const OtelMetricsSnapshot *snap, int from, int to,
					   int64 time_ns, StringInfo out)
{
	MemoryContext cxt;
	MemoryContext old;
	OtelEncArena a;
	PbMetricsRequest req = OPENTELEMETRY__PROTO__COLLECTOR__METRICS__V1__EXPORT_METRICS_SERVICE_REQUEST__INIT;
	PbResourceMetrics rm = OPENTELEMETRY__PROTO__METRICS__V1__RESOURCE_METRICS__INIT;
	PbResourceMetrics *rm_ptr = &rm;
	PbScopeMetrics sm = OPENTELEMETRY__PROTO__METRICS__V1__SCOPE_METRICS__INIT;
	PbScopeMetrics *sm_ptr = &sm;
	PbResource	res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	PbScope		scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	PbMetric  **metrics;
	int			nmetrics = 0;
	int			i;

	from = Max(from, 0);
	to = Min(to, snap->nseries);
	if (from >= to)
		return 0;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "otel_aliyun metrics encode",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	otel_enc_arena_init(&a, cxt);

	metrics = otel_enc_alloc(&a, sizeof(PbMetric *) * (to - from));
	i = from;
	while (i < to)
	{
		int			fi = snap->series[i].family;
		int			j = i;

		while (j < to && snap->series[j].family == fi)
			j++;
		metrics[nmetrics++] = build_metric(&a, snap, fi, i, j, time_ns);
		i = j;
	}

	otel_enc_pb_resource_scope(&a, &res, &scope);
	sm.scope = &scope;
	sm.n_metrics = nmetrics;
	sm.metrics = metrics;
	rm.resource = &res;
	rm.n_scope_metrics = 1;
	rm.scope_metrics = &sm_ptr;
	req.n_resource_metrics = 1;
	req.resource_metrics = &rm_ptr;

	MemoryContextSwitchTo(old);
	otel_enc_pb_pack(&req.base, out, "OTLP metrics request",
					 "Lower otel_aliyun.max_export_batch_size.");
	MemoryContextDelete(cxt);
	return to - from;
}

bool
otel_decode_metrics_response(const char *body, Size len,
							 int64 *rejected, char *errbuf, Size errlen)
{
	PbMetricsResponse *resp;

	if (rejected)
		*rejected = 0;
	if (errbuf && errlen > 0)
		errbuf[0] = '\0';
	if (len == 0)
		return true;
	if (body == NULL)
		return false;

	/* the default allocator (malloc) never raises */
	resp = opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__unpack(NULL, len,
																								 (const uint8_t *) body);
	if (resp == NULL)
		return false;
	if (resp->partial_success)
	{
		if (rejected)
			*rejected = resp->partial_success->rejected_data_points;
		if (errbuf && errlen > 0 && resp->partial_success->error_message)
			strlcpy(errbuf, resp->partial_success->error_message, errlen);
	}
	opentelemetry__proto__collector__metrics__v1__export_metrics_service_response__free_unpacked(resp, NULL);
	return true;
}
