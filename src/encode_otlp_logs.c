/*-------------------------------------------------------------------------
 *
 * encode_otlp_logs.c
 *		Log records to OTLP: ExportLogsServiceRequest (protobuf-c) and the
 *		OTLP/JSON encoding on one line.
 *
 * The record's body becomes a string AnyValue, its attributes go through
 * the same AnyValue mapping as span attributes (encode_otlp.h), and the
 * trace and span ids are sent only when the record was made inside a
 * traced statement (they are all zero otherwise, and OTLP wants them
 * absent then).  The low byte of flags carries the W3C trace flags.
 *
 * IDENTIFICATION
 *		src/encode_otlp_logs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "encode_otlp.h"
#include "encode_otlp_logs.h"
#include "record.h"

#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue PbAnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope PbScope;
typedef Opentelemetry__Proto__Resource__V1__Resource PbResource;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs PbResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs PbScopeLogs;
typedef Opentelemetry__Proto__Logs__V1__LogRecord PbLogRecord;
typedef Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest PbLogsRequest;

#define APPEND_LIT(out, lit) appendBinaryStringInfo((out), (lit), sizeof(lit) - 1)

static const PbLogRecord log_record_init = OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
static const PbAnyValue anyvalue_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;

static bool
is_traced(const OtelLogView *v)
{
	return !otel_enc_all_zero(v->h.trace_id, sizeof(v->h.trace_id));
}

/* ---- protobuf ---- */

static void
pb_log(OtelEncArena *a, PbLogRecord *r, const OtelLogView *v)
{
	PbAnyValue *body = otel_enc_alloc(a, sizeof(PbAnyValue));

	*r = log_record_init;
	r->time_unix_nano = (uint64) v->h.time_ns;
	r->observed_time_unix_nano = (uint64) v->h.observed_ns;
	r->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber) v->h.severity_number;
	r->severity_text = otel_enc_str(a, v->severity_text, v->h.severity_text_len);
	*body = anyvalue_init;
	body->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	body->string_value = otel_enc_str(a, v->body, v->h.body_len);
	r->body = body;
	r->attributes = otel_enc_pb_kvs(a, v->attrs, v->h.attrs_len, &r->n_attributes);
	if (is_traced(v))
	{
		/* read-only use by pack; the records outlive the call */
		r->trace_id.len = sizeof(v->h.trace_id);
		r->trace_id.data = otel_enc_alloc(a, sizeof(v->h.trace_id));
		memcpy(r->trace_id.data, v->h.trace_id, sizeof(v->h.trace_id));
		r->span_id.len = sizeof(v->h.span_id);
		r->span_id.data = otel_enc_alloc(a, sizeof(v->h.span_id));
		memcpy(r->span_id.data, v->h.span_id, sizeof(v->h.span_id));
		r->flags = v->h.flags;
	}
}

void
otel_encode_logs_pb(const OtelRecordRef *refs, int n, StringInfo out,
					int *nbad)
{
	MemoryContext cxt;
	MemoryContext old;
	OtelEncArena a;
	PbLogsRequest req = OPENTELEMETRY__PROTO__COLLECTOR__LOGS__V1__EXPORT_LOGS_SERVICE_REQUEST__INIT;
	PbResourceLogs rl = OPENTELEMETRY__PROTO__LOGS__V1__RESOURCE_LOGS__INIT;
	PbResourceLogs *rl_ptr = &rl;
	PbResource	res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	PbScopeLogs sl = OPENTELEMETRY__PROTO__LOGS__V1__SCOPE_LOGS__INIT;
	PbScopeLogs *sl_ptr = &sl;
	PbScope		scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	PbLogRecord *recs;
	PbLogRecord **rec_ptrs;
	int			nrecs = 0;
	int			bad = 0;

	if (nbad)
		*nbad = 0;
	if (n <= 0)
		return;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "otel_aliyun encode logs",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	otel_enc_arena_init(&a, cxt);

	recs = otel_enc_alloc(&a, sizeof(PbLogRecord) * n);
	rec_ptrs = otel_enc_alloc(&a, sizeof(PbLogRecord *) * n);
	for (int i = 0; i < n; i++)
	{
		OtelLogView v;

		if (!otel_log_view(refs[i].data, refs[i].len, &v))
		{
			bad++;
			continue;
		}
		pb_log(&a, &recs[nrecs], &v);
		rec_ptrs[nrecs] = &recs[nrecs];
		nrecs++;
	}

	if (nrecs > 0)
	{
		otel_enc_pb_resource_scope(&a, &res, &scope);
		sl.scope = &scope;
		sl.n_log_records = nrecs;
		sl.log_records = rec_ptrs;
		rl.resource = &res;
		rl.n_scope_logs = 1;
		rl.scope_logs = &sl_ptr;
		req.n_resource_logs = 1;
		req.resource_logs = &rl_ptr;
		otel_enc_pb_pack(&req.base, out, "OTLP logs request",
						 "Lower otel_aliyun.logs_batch_size.");
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);

	if (nbad)
		*nbad = bad;
}

/* ---- JSON ---- */

static void
json_log(StringInfo out, const OtelLogView *v)
{
	APPEND_LIT(out, "{\"timeUnixNano\":");
	otel_enc_json_uint64(out, (uint64) v->h.time_ns);
	APPEND_LIT(out, ",\"observedTimeUnixNano\":");
	otel_enc_json_uint64(out, (uint64) v->h.observed_ns);
	if (v->h.severity_number != 0)
	{
		APPEND_LIT(out, ",\"severityNumber\":");
		otel_enc_json_uint32(out, v->h.severity_number);
	}
	if (v->h.severity_text_len > 0)
	{
		APPEND_LIT(out, ",\"severityText\":");
		otel_enc_json_str(out, v->severity_text, v->h.severity_text_len);
	}
	APPEND_LIT(out, ",\"body\":{\"stringValue\":");
	otel_enc_json_str(out, v->body, v->h.body_len);
	appendStringInfoCharMacro(out, '}');
	if (otel_enc_attr_count(v->attrs, v->h.attrs_len) > 0)
	{
		APPEND_LIT(out, ",\"attributes\":");
		otel_enc_json_kvs(out, v->attrs, v->h.attrs_len);
	}
	if (is_traced(v))
	{
		if (v->h.flags != 0)
		{
			APPEND_LIT(out, ",\"flags\":");
			otel_enc_json_uint32(out, v->h.flags);
		}
		APPEND_LIT(out, ",\"traceId\":");
		otel_enc_json_hex(out, v->h.trace_id, sizeof(v->h.trace_id));
		APPEND_LIT(out, ",\"spanId\":");
		otel_enc_json_hex(out, v->h.span_id, sizeof(v->h.span_id));
	}
	appendStringInfoCharMacro(out, '}');
}

static bool
json_log_record(StringInfo out, const char *data, uint32 len)
{
	OtelLogView v;

	if (!otel_log_view(data, len, &v))
		return false;
	json_log(out, &v);
	return true;
}

void
otel_encode_logs_json(const OtelRecordRef *refs, int n, StringInfo out,
					  int *nbad)
{
	otel_enc_json_request(out, "Logs", "logRecords", refs, n, json_log_record,
						  nbad);
}

/* ---- responses ---- */

bool
otel_decode_logs_response(const char *body, Size len,
						  int64 *rejected, char *errbuf, Size errlen)
{
	return otel_enc_decode_export_response(&opentelemetry__proto__collector__logs__v1__export_logs_service_response__descriptor,
										   body, len, rejected, errbuf, errlen);
}
