/*-------------------------------------------------------------------------
 *
 * sql_metrics.c
 *		The SQL face of metrics: otel_aliyun.counter_add(), updown_add(),
 *		gauge_set(), histogram_record(), define_metric() and the
 *		otel_aliyun.metrics view.
 *
 * Every argument is checked against what Prometheus accepts, so that a
 * series that gets into the store can always be exported: metric names
 * match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*,
 * neither starts with "__" (reserved by Prometheus), labels are a flat JSON
 * object of at most OTEL_METRIC_MAX_LABELS strings, numbers or booleans,
 * counters only go up, and NaN or infinite values are refused wherever they
 * would poison a sum.  Every refusal is an ERROR with a hint.
 *
 * The functions only touch shared memory (metrics_store.h); nothing waits on
 * the export worker or the network.
 *
 * IDENTIFICATION
 *	  src/sql_metrics.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "metrics_builtin.h"
#include "metrics_store.h"
#include "otel_aliyun.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(otel_aliyun_counter_add);
PG_FUNCTION_INFO_V1(otel_aliyun_updown_add);
PG_FUNCTION_INFO_V1(otel_aliyun_gauge_set);
PG_FUNCTION_INFO_V1(otel_aliyun_histogram_record);
PG_FUNCTION_INFO_V1(otel_aliyun_define_metric);
PG_FUNCTION_INFO_V1(otel_aliyun_metrics);

#define METRICS_COLS 12

static void
require_preload(void)
{
	if (!otel_is_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("otel_aliyun must be loaded via shared_preload_libraries"),
				 errhint("Add otel_aliyun to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* ---- validation ---- */

static inline bool
is_alpha_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
check_metric_name(const char *name)
{
	Size		len = strlen(name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metric name must not be empty")));
	if (len > OTEL_METRIC_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("metric name is too long (%zu bytes)", len),
				 errhint("Use at most %d bytes.", OTEL_METRIC_NAME_MAX)));
	for (Size i = 0; i < len; i++)
	{
		char		c = name[i];

		if (is_alpha_(c) || c == ':' || (i > 0 && is_digit(c)))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid metric name \"%s\"", name),
				 errdetail("Character %zu is not allowed in a Prometheus metric name.", i + 1),
				 errhint("Metric names must match [a-zA-Z_:][a-zA-Z0-9_:]*, e.g. orders_processed.")));
	}
	if (name[0] == '_' && name[1] == '_')
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("invalid metric name \"%s\"", name),
				 errdetail("Names starting with \"__\" are reserved by Prometheus."),
				 errhint("Choose a name that does not start with two underscores.")));
	if (otel_metrics_is_builtin_name(name))
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("metric name \"%s\" is reserved for a built-in metric", name),
				 errhint("Names starting with otel_aliyun_ and the names of the built-in database metrics cannot be recorded from SQL.")));
}

static void
check_label_name(const char *key, Size len, OtelMetricType type)
{
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("label name must not be empty")));
	if (len > OTEL_METRIC_LABEL_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("label name \"%.*s...\" is too long", 32, key),
				 errhint("Use at most %d bytes.", OTEL_METRIC_LABEL_NAME_MAX)));
	for (Size i = 0; i < len; i++)
	{
		if (is_alpha_(key[i]) || (i > 0 && is_digit(key[i])))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid label name \"%.*s\"", (int) len, key),
				 errhint("Label names must match [a-zA-Z_][a-zA-Z0-9_]*, e.g. {\"region\": \"hz\"}.")));
	}
	if (len >= 2 && key[0] == '_' && key[1] == '_')
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("invalid label name \"%.*s\"", (int) len, key),
				 errdetail("Label names starting with \"__\" are reserved by Prometheus.")));
	if (type == OTEL_METRIC_HISTOGRAM && len == 2 && key[0] == 'l' && key[1] == 'e')
		ereport(ERROR,
				(errcode(ERRCODE_RESERVED_NAME),
				 errmsg("label name \"le\" is reserved for histogram buckets"),
				 errhint("Rename the label.")));
}

static double
check_value(const char *name, OtelMetricType type, double v)
{
	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value of metric \"%s\" must not be NaN", name)));
	if (isinf(v) && type != OTEL_METRIC_GAUGE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value of metric \"%s\" must be finite", name),
				 errhint("Only gauges accept Infinity and -Infinity.")));
	if (type == OTEL_METRIC_COUNTER && v < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("counter \"%s\" cannot be decreased (increment %g)", name, v),
				 errhint("Counters only go up; use otel_aliyun.updown_add() for a value that can go down, or otel_aliyun.gauge_set().")));
	return v;
}

/* Text of a description or unit argument (NULL when absent). */
static char *
text_arg(FunctionCallInfo fcinfo, int argno, int maxlen, const char *what,
		 bool is_unit)
{
	char	   *s;
	Size		len;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	s = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(s);
	if (len > (Size) maxlen)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("metric %s is too long (%zu bytes)", what, len),
				 errhint("Use at most %d bytes.", maxlen)));
	if (is_unit)
	{
		for (Size i = 0; i < len; i++)
			if (s[i] <= ' ' || s[i] >= 0x7f)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid metric unit \"%s\"", s),
						 errhint("Use a UCUM unit of printable ASCII without spaces, e.g. s, ms, By or {request}.")));
	}
	else if (GetDatabaseEncoding() != PG_UTF8)
		s = pg_server_to_any(s, len, PG_UTF8);
	return s;
}

/* ---- Prometheus name clashes ---- */

static bool
ends_with(const char *s, Size len, const char *suffix)
{
	Size		sl = strlen(suffix);

	return len >= sl && memcmp(s + len - sl, suffix, sl) == 0;
}

/*
 * The names a metric becomes in Prometheus (encode_prom.c's rule): a
 * counter gets _total unless it has it, a histogram _bucket, _sum and
 * _count, anything else keeps its name.  Returns how many (at most 3).
 */
static int
exported_names(const char *name, OtelMetricType type, uint32 flags, char **out)
{
	Size		len = strlen(name);

	switch (type)
	{
		case OTEL_METRIC_COUNTER:
			if ((flags & OTEL_MF_RAW_NAME) || ends_with(name, len, "_total"))
				out[0] = pstrdup(name);
			else
				out[0] = psprintf("%s_total", name);
			return 1;
		case OTEL_METRIC_HISTOGRAM:
			out[0] = psprintf("%s_bucket", name);
			out[1] = psprintf("%s_sum", name);
			out[2] = psprintf("%s_count", name);
			return 3;
		case OTEL_METRIC_UPDOWN:
		case OTEL_METRIC_GAUGE:
			break;
	}
	out[0] = pstrdup(name);
	return 1;
}

/*
 * Before a metric is created: refuse it if one of its Prometheus names is
 * a Prometheus name of another metric (e.g. counter "x" and gauge
 * "x_total"), since Prometheus would reject every push holding both.  The
 * metrics that could export a name e are named e, e without _total, or e
 * without _bucket/_sum/_count.
 */
static void
check_prometheus_clash(const char *name, OtelMetricType type)
{
	char	   *mine[3];
	int			n;
	OtelMetricType t;
	uint32		flags;

	if (otel_metrics_lookup(name, &t, &flags))
		return;					/* exists: checked when it was created */

	n = exported_names(name, type, 0, mine);
	for (int i = 0; i < n; i++)
	{
		const char *e = mine[i];
		Size		elen = strlen(e);
		char	   *cand[3];
		int			ncand = 0;
		static const char *const suffixes[] = {"_total", "_bucket", "_sum", "_count"};

		cand[ncand++] = pstrdup(e);
		for (int k = 0; k < lengthof(suffixes) && ncand < 3; k++)
			if (ends_with(e, elen, suffixes[k]) && elen > strlen(suffixes[k]))
				cand[ncand++] = pnstrdup(e, elen - strlen(suffixes[k]));

		for (int c = 0; c < ncand; c++)
		{
			char	   *theirs[3];
			int			m;

			if (strcmp(cand[c], name) == 0)
				continue;
			if (otel_metrics_is_builtin_name(cand[c]))
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("metric \"%s\" would be exported as \"%s\", which a built-in metric may use",
								name, e),
						 errhint("Choose another name.")));
			if (!otel_metrics_lookup(cand[c], &t, &flags))
				continue;
			m = exported_names(cand[c], t, flags, theirs);
			for (int j = 0; j < m; j++)
				if (strcmp(theirs[j], e) == 0)
					ereport(ERROR,
							(errcode(ERRCODE_DUPLICATE_OBJECT),
							 errmsg("metric \"%s\" would be exported as \"%s\", like the %s \"%s\"",
									name, e, otel_metric_type_name(t), cand[c]),
							 errdetail("In Prometheus a counter gets the suffix _total and a histogram the suffixes _bucket, _sum and _count."),
							 errhint("Choose a name that does not clash.")));
		}
	}
}

/* ---- labels ---- */

typedef struct LabelSet
{
	int			n;
	OtelLabel	labels[OTEL_METRIC_MAX_LABELS];
} LabelSet;

static char *
jsonb_scalar_text(const JsonbValue *v, const char *key)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		case jbvNull:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("value of label \"%s\" must not be null", key),
					 errhint("Leave the label out instead.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("value of label \"%s\" must be a string, number or boolean", key),
					 errhint("Labels are a flat JSON object, e.g. {\"region\": \"hz\", \"tier\": 2}.")));
	}
	return NULL;				/* keep compiler quiet */
}

static void
parse_labels(Jsonb *jb, OtelMetricType type, LabelSet *ls)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	char	   *key = NULL;

	ls->n = 0;
	if (jb == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metric labels must be a JSON object"),
				 errhint("Pass labels as jsonb, e.g. '{\"region\": \"hz\"}', or '{}' for none.")));

	it = JsonbIteratorInit(&jb->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			check_label_name(v.val.string.val, v.val.string.len, type);
			key = pnstrdup(v.val.string.val, v.val.string.len);
		}
		else if (tok == WJB_VALUE)
		{
			char	   *val = jsonb_scalar_text(&v, key);
			Size		vlen = strlen(val);

			if (GetDatabaseEncoding() != PG_UTF8)
			{
				val = pg_server_to_any(val, vlen, PG_UTF8);
				vlen = strlen(val);
			}
			/* as in Prometheus, an empty value is no label at all */
			if (vlen == 0)
				continue;
			if (vlen > OTEL_METRIC_LABEL_VALUE_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
						 errmsg("value of label \"%s\" is too long (%zu bytes)", key, vlen),
						 errhint("Use at most %d bytes.", OTEL_METRIC_LABEL_VALUE_MAX)));
			if (ls->n >= OTEL_METRIC_MAX_LABELS)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("too many metric labels"),
						 errhint("A series has at most %d labels.", OTEL_METRIC_MAX_LABELS)));
			ls->labels[ls->n].key = key;
			ls->labels[ls->n].value = val;
			ls->n++;
		}
	}
}

/* ---- store errors ---- */

static void
report_status(OtelMetricStatus st, const char *name, OtelMetricType type)
{
	switch (st)
	{
		case OTEL_METRIC_OK:
			return;
		case OTEL_METRIC_TYPE_MISMATCH:
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("metric \"%s\" already exists with another type", name),
					 errdetail("It cannot be recorded as a %s.", otel_metric_type_name(type)),
					 errhint("A metric name has one type; see otel_aliyun.metrics, or choose another name.")));
			break;
		case OTEL_METRIC_BOUNDS_MISMATCH:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("histogram \"%s\" already exists with other bucket boundaries", name),
					 errhint("Define the buckets with otel_aliyun.define_metric() before the first value is recorded.")));
			break;
		case OTEL_METRIC_BUILTIN:
			ereport(ERROR,
					(errcode(ERRCODE_RESERVED_NAME),
					 errmsg("metric name \"%s\" is reserved for a built-in metric", name)));
			break;
		case OTEL_METRIC_SERIES_FULL:
		case OTEL_METRIC_MEMORY_FULL:
			if (otel_series_overflow == OTEL_SERIES_OVERFLOW_DROP)
			{
				otel_stats_add(OTEL_SIGNAL_METRICS, OTEL_STAT_DROPPED, 1);
				return;
			}
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("cannot record metric \"%s\": the metric store is full", name),
					 errdetail("otel_aliyun.max_series = %d series are in use.", otel_max_series),
					 errhint("Use fewer label combinations, raise otel_aliyun.max_series (needs a restart), or set otel_aliyun.metrics_overflow = drop to drop and count new series instead.")));
			break;
		case OTEL_METRIC_TOO_LONG:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("metric \"%s\": a name, label or text is too long", name)));
			break;
		case OTEL_METRIC_NO_STORE:
			require_preload();
			elog(ERROR, "otel_aliyun metric store is not initialised");
			break;
	}
}

/* ---- recording ---- */

/*
 * Arguments: name text, value float8, labels jsonb, description text,
 * unit text (the last three may be NULL or absent).
 */
static Datum
record_metric(FunctionCallInfo fcinfo, OtelMetricType type, OtelMetricOp op)
{
	char	   *name;
	double		value;
	LabelSet	ls;
	OtelMetricDef def;
	OtelMetricStatus st;

	require_preload();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metric name must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metric value must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_metric_name(name);
	value = check_value(name, type, PG_GETARG_FLOAT8(1));
	parse_labels(PG_NARGS() > 2 && !PG_ARGISNULL(2) ? PG_GETARG_JSONB_P(2) : NULL,
				 type, &ls);

	if (!otel_enabled)
		PG_RETURN_VOID();

	memset(&def, 0, sizeof(def));
	def.name = name;
	def.type = type;
	def.description = text_arg(fcinfo, 3, OTEL_METRIC_DESC_MAX, "description", false);
	def.unit = text_arg(fcinfo, 4, OTEL_METRIC_UNIT_MAX, "unit", true);

	check_prometheus_clash(name, type);
	st = otel_metrics_update(&def, false, ls.labels, ls.n, op, value);
	report_status(st, name, type);
	PG_RETURN_VOID();
}

Datum
otel_aliyun_counter_add(PG_FUNCTION_ARGS)
{
	return record_metric(fcinfo, OTEL_METRIC_COUNTER, OTEL_METRIC_ADD);
}

Datum
otel_aliyun_updown_add(PG_FUNCTION_ARGS)
{
	return record_metric(fcinfo, OTEL_METRIC_UPDOWN, OTEL_METRIC_ADD);
}

Datum
otel_aliyun_gauge_set(PG_FUNCTION_ARGS)
{
	return record_metric(fcinfo, OTEL_METRIC_GAUGE, OTEL_METRIC_SET);
}

Datum
otel_aliyun_histogram_record(PG_FUNCTION_ARGS)
{
	return record_metric(fcinfo, OTEL_METRIC_HISTOGRAM, OTEL_METRIC_OBSERVE);
}

static OtelMetricType
parse_type(const char *s)
{
	if (pg_strcasecmp(s, "counter") == 0)
		return OTEL_METRIC_COUNTER;
	if (pg_strcasecmp(s, "updown_counter") == 0 || pg_strcasecmp(s, "updown") == 0)
		return OTEL_METRIC_UPDOWN;
	if (pg_strcasecmp(s, "gauge") == 0)
		return OTEL_METRIC_GAUGE;
	if (pg_strcasecmp(s, "histogram") == 0)
		return OTEL_METRIC_HISTOGRAM;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid metric type \"%s\"", s),
			 errhint("Use counter, updown_counter, gauge or histogram.")));
	return 0;					/* keep compiler quiet */
}

/* Bucket boundaries from a float8[]: 1..MAX, finite, strictly increasing. */
static double *
parse_bounds(ArrayType *arr, int *nbounds)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	double	   *b;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("bucket boundaries must be a one-dimensional array")));
	deconstruct_array(arr, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n == 0 || n > OTEL_METRIC_MAX_BOUNDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a histogram needs between 1 and %d bucket boundaries, not %d",
						OTEL_METRIC_MAX_BOUNDS, n),
				 errhint("The +Inf bucket is implicit; pass the finite upper bounds only.")));
	b = palloc(sizeof(double) * n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("bucket boundaries must not be null")));
		b[i] = DatumGetFloat8(elems[i]);
		if (isnan(b[i]) || isinf(b[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket boundaries must be finite"),
					 errhint("The +Inf bucket is implicit.")));
		if (i > 0 && b[i] <= b[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket boundaries must be strictly increasing"),
					 errdetail("Boundary %d (%g) is not greater than boundary %d (%g).",
							   i + 1, b[i], i, b[i - 1])));
	}
	*nbounds = n;
	return b;
}

/*
 * define_metric(name text, type text, description text, unit text,
 *				 buckets float8[])
 */
Datum
otel_aliyun_define_metric(PG_FUNCTION_ARGS)
{
	char	   *name;
	OtelMetricDef def;
	OtelMetricStatus st;
	int			family;

	require_preload();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("metric name and type must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	check_metric_name(name);

	memset(&def, 0, sizeof(def));
	def.name = name;
	def.type = parse_type(text_to_cstring(PG_GETARG_TEXT_PP(1)));
	def.description = text_arg(fcinfo, 2, OTEL_METRIC_DESC_MAX, "description", false);
	def.unit = text_arg(fcinfo, 3, OTEL_METRIC_UNIT_MAX, "unit", true);
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		if (def.type != OTEL_METRIC_HISTOGRAM)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("only histograms have bucket boundaries")));
		def.bounds = parse_bounds(PG_GETARG_ARRAYTYPE_P(4), &def.nbounds);
	}

	check_prometheus_clash(name, def.type);
	st = otel_metrics_define(&def, false, &family);
	if (st == OTEL_METRIC_SERIES_FULL || st == OTEL_METRIC_MEMORY_FULL)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("cannot define metric \"%s\": the metric store is full", name),
				 errhint("Raise otel_aliyun.max_series (needs a restart).")));
	report_status(st, name, def.type);
	PG_RETURN_VOID();
}

/* ---- the view ---- */

static Datum
labels_jsonb(const OtelMetricSeriesSnap *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int i = 0; i < s->nlabels; i++)
	{
		char	   *k = (char *) s->keys[i];
		char	   *v = (char *) s->values[i];

		if (GetDatabaseEncoding() != PG_UTF8)
		{
			k = pg_any_to_server(k, strlen(k), PG_UTF8);
			v = pg_any_to_server(v, strlen(v), PG_UTF8);
		}
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, k);
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, v);
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

static Datum
text_datum_utf8(const char *s)
{
	if (GetDatabaseEncoding() != PG_UTF8)
		s = pg_any_to_server(s, strlen(s), PG_UTF8);
	return CStringGetTextDatum(s);
}

static TimestampTz
unix_ns_to_timestamptz(int64 ns)
{
	return (TimestampTz) (ns / 1000) -
		(TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC;
}

Datum
otel_aliyun_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OtelMetricsSnapshot *snap;

	require_preload();
	InitMaterializedSRF(fcinfo, 0);

	snap = otel_metrics_snapshot();
	if (snap == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while copying the metric store")));

	for (int i = 0; i < snap->nseries; i++)
	{
		const OtelMetricSeriesSnap *s = &snap->series[i];
		const OtelMetricFamilySnap *f = &snap->families[s->family];
		Datum		values[METRICS_COLS];
		bool		nulls[METRICS_COLS];
		int			c = 0;

		memset(nulls, 0, sizeof(nulls));
		values[c++] = CStringGetTextDatum(f->name);
		values[c++] = CStringGetTextDatum(otel_metric_type_name(f->type));
		values[c++] = labels_jsonb(s);
		if (f->type == OTEL_METRIC_HISTOGRAM)
		{
			Datum	   *bd = palloc(sizeof(Datum) * f->nbounds);
			Datum	   *cd = palloc(sizeof(Datum) * (f->nbounds + 1));
			uint64		cum = 0;

			for (int b = 0; b < f->nbounds; b++)
				bd[b] = Float8GetDatum(f->bounds[b]);
			for (int b = 0; b <= f->nbounds; b++)
			{
				cum += s->buckets[b];
				cd[b] = Int64GetDatum((int64) cum);
			}
			nulls[c++] = true;	/* value */
			values[c++] = Int64GetDatum((int64) s->count);
			values[c++] = Float8GetDatum(s->value);
			values[c++] = PointerGetDatum(construct_array(bd, f->nbounds, FLOAT8OID,
														  sizeof(float8), FLOAT8PASSBYVAL,
														  TYPALIGN_DOUBLE));
			values[c++] = PointerGetDatum(construct_array(cd, f->nbounds + 1, INT8OID,
														  sizeof(int64), FLOAT8PASSBYVAL,
														  TYPALIGN_DOUBLE));
		}
		else
		{
			values[c++] = Float8GetDatum(s->value);
			nulls[c++] = true;	/* count */
			nulls[c++] = true;	/* sum */
			nulls[c++] = true;	/* bucket bounds */
			nulls[c++] = true;	/* bucket counts */
		}
		if (f->description[0])
			values[c++] = text_datum_utf8(f->description);
		else
			nulls[c++] = true;
		if (f->unit[0])
			values[c++] = CStringGetTextDatum(f->unit);
		else
			nulls[c++] = true;
		values[c++] = TimestampTzGetDatum(unix_ns_to_timestamptz(s->start_ns));
		values[c++] = BoolGetDatum((f->flags & OTEL_MF_BUILTIN) != 0);
		Assert(c == METRICS_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
