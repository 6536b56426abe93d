/*-------------------------------------------------------------------------
 *
 * encode_otlp.c
 *		Span records (record.h) to OTLP: the protobuf ExportTraceServiceRequest
 *		through protobuf-c, and the OTLP/JSON encoding on one line.
 *
 * Each call works in a private memory context that is deleted before
 * returning.  The protobuf-c message tree is carved out of that context by
 * a bump allocator, so a batch costs a handful of large allocations rather
 * than several per attribute.  bytes fields point straight into the
 * records; string fields must be NUL-terminated for protobuf-c, so strings
 * are copied once into the same arena.
 *
 * Strings are made valid UTF-8 on the way out, in both encodings and in the
 * same way: every byte that does not start a well-formed UTF-8 sequence, and
 * every NUL byte, becomes U+FFFD.  OTLP receivers reject a whole request for
 * one ill-formed string, and query text of a SQL_ASCII database can be
 * anything.
 *
 * The JSON follows the OTLP/JSON rules (lowerCamelCase names, trace and
 * span ids in lowercase hex, enums as integers, 64-bit integers as decimal
 * strings, bytes in base64) and omits fields holding their default value,
 * as the canonical proto3 JSON mapping does.
 *
 * IDENTIFICATION
 *		src/encode_otlp.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/base64.h"
#include "common/shortest_dec.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "encode_otlp.h"
#include "otel_aliyun.h"
#include "record.h"
#include "resource.h"

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue PbAnyValue;
typedef Opentelemetry__Proto__Common__V1__ArrayValue PbArrayValue;
typedef Opentelemetry__Proto__Common__V1__KeyValueList PbKeyValueList;
typedef Opentelemetry__Proto__Common__V1__KeyValue PbKeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope PbScope;
typedef Opentelemetry__Proto__Resource__V1__Resource PbResource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans PbResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans PbScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span PbSpan;
typedef Opentelemetry__Proto__Trace__V1__Status PbStatus;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest PbTraceRequest;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse PbTraceResponse;

/* Nesting deeper than this is emitted as an empty value. */
#define OTEL_MAX_ATTR_DEPTH 16

static const PbAnyValue anyvalue_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const PbArrayValue arrayvalue_init = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
static const PbKeyValueList kvlist_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
static const PbKeyValue keyvalue_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static const PbSpan span_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
static const PbStatus status_init = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;

static const char hexdig[] = "0123456789abcdef";

/* protobuf-c wants char * for string fields; it never writes through them */
static char empty_str[] = "";
static char scope_name[] = OTEL_ALIYUN_SCOPE_NAME;
static char scope_version[] = OTEL_ALIYUN_VERSION;

/* ---- UTF-8 ---- */

/*
 * Length of the well-formed UTF-8 sequence starting at s (n > 0 bytes
 * available), or 0 if it is ill-formed (overlong forms, surrogates and code
 * points past U+10FFFF included).  NUL counts as ill-formed here.
 */
static inline int
utf8_seq_len(const unsigned char *s, Size n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return c != 0 ? 1 : 0;
	if (c < 0xC2)
		return 0;
	if (c < 0xE0)
		return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
	if (c < 0xF0)
	{
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
			return 0;
		return 3;
	}
	if (c < 0xF5)
	{
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
			(s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

/* Length of the longest prefix of s that is clean (valid, no NUL). */
static inline Size
utf8_clean_prefix(const char *s, Size len)
{
	const unsigned char *u = (const unsigned char *) s;
	Size		i = 0;

	while (i < len)
	{
		int			l;

		if (u[i] - 1u < 0x7Fu)	/* 0x01 .. 0x7F */
		{
			i++;
			continue;
		}
		l = utf8_seq_len(u + i, len - i);
		if (l == 0)
			break;
		i += l;
	}
	return i;
}

/* ---- per-call arena ---- */

#define ARENA_BLOCK		(64 * 1024)
#define ARENA_BIG		(ARENA_BLOCK / 4)

typedef struct EncArena
{
	MemoryContext cxt;
	char	   *cur;
	char	   *end;
} EncArena;

static void *
arena_alloc(EncArena *a, Size size)
{
	char	   *p;

	size = MAXALIGN(size);
	if (size >= ARENA_BIG)
		return MemoryContextAlloc(a->cxt, size);
	if ((Size) (a->end - a->cur) < size)
	{
		a->cur = MemoryContextAlloc(a->cxt, ARENA_BLOCK);
		a->end = a->cur + ARENA_BLOCK;
	}
	p = a->cur;
	a->cur += size;
	return p;
}

/* NUL-terminated, sanitized copy of [s, s + len) in the arena. */
static char *
arena_str(EncArena *a, const char *s, Size len)
{
	Size		clean;
	char	   *out;
	char	   *o;
	const unsigned char *u = (const unsigned char *) s;

	if (len == 0)
		return empty_str;

	clean = utf8_clean_prefix(s, len);
	if (clean == len)
	{
		out = arena_alloc(a, len + 1);
		memcpy(out, s, len);
		out[len] = '\0';
		return out;
	}

	/* slow path: each bad byte becomes the 3-byte U+FFFD */
	out = arena_alloc(a, len * 3 + 1);
	memcpy(out, s, clean);
	o = out + clean;
	for (Size i = clean; i < len;)
	{
		int			l = utf8_seq_len(u + i, len - i);

		if (l == 0)
		{
			*o++ = (char) 0xEF;
			*o++ = (char) 0xBF;
			*o++ = (char) 0xBD;
			i++;
		}
		else
		{
			memcpy(o, s + i, l);
			o += l;
			i += l;
		}
	}
	*o = '\0';
	return out;
}

static uint8_t *
arena_bytes(EncArena *a, const uint8 *p, Size len)
{
	uint8_t    *out = arena_alloc(a, len);

	memcpy(out, p, len);
	return out;
}

static int
attr_count(const char *attrs, uint32 len)
{
	OtelAttrIter it;
	OtelAttr	a;
	int			n = 0;

	otel_attr_iter_init(&it, attrs, len);
	while (otel_attr_next(&it, &a))
		n++;
	return n;
}

static bool
all_zero(const uint8 *p, int n)
{
	for (int i = 0; i < n; i++)
	{
		if (p[i] != 0)
			return false;
	}
	return true;
}

/* ---- protobuf ---- */

static PbKeyValue **pb_kvs(EncArena *a, const char *attrs, uint32 len,
						   size_t *n_out, int depth);

static void
pb_value(EncArena *a, PbAnyValue *v, const OtelAttr *at, int depth)
{
	*v = anyvalue_init;
	switch (at->type)
	{
		case OTEL_ATTR_STRING:
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
			v->string_value = arena_str(a, at->val, at->val_len);
			break;
		case OTEL_ATTR_INT:
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			v->int_value = otel_attr_get_int(at);
			break;
		case OTEL_ATTR_DOUBLE:
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
			v->double_value = otel_attr_get_double(at);
			break;
		case OTEL_ATTR_BOOL:
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
			v->bool_value = otel_attr_get_bool(at) ? 1 : 0;
			break;
		case OTEL_ATTR_BYTES:
			v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
			v->bytes_value.len = at->val_len;
			/* read-only use by pack; the record outlives the call */
			v->bytes_value.data = (uint8_t *) unconstify(char *, at->val);
			break;
		case OTEL_ATTR_ARRAY:
			if (depth < OTEL_MAX_ATTR_DEPTH)
			{
				PbArrayValue *arr = arena_alloc(a, sizeof(PbArrayValue));
				int			n = attr_count(at->val, at->val_len);
				PbAnyValue *vals;
				OtelAttrIter it;
				OtelAttr	el;
				int			i = 0;

				*arr = arrayvalue_init;
				if (n > 0)
				{
					vals = arena_alloc(a, sizeof(PbAnyValue) * n);
					arr->values = arena_alloc(a, sizeof(PbAnyValue *) * n);
					otel_attr_iter_init(&it, at->val, at->val_len);
					while (i < n && otel_attr_next(&it, &el))
					{
						pb_value(a, &vals[i], &el, depth + 1);
						arr->values[i] = &vals[i];
						i++;
					}
					arr->n_values = i;
				}
				v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
				v->array_value = arr;
			}
			break;
		case OTEL_ATTR_KVLIST:
			if (depth < OTEL_MAX_ATTR_DEPTH)
			{
				PbKeyValueList *kl = arena_alloc(a, sizeof(PbKeyValueList));

				*kl = kvlist_init;
				kl->values = pb_kvs(a, at->val, at->val_len, &kl->n_values,
									depth + 1);
				v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
				v->kvlist_value = kl;
			}
			break;
	}
}

static PbKeyValue **
pb_kvs(EncArena *a, const char *attrs, uint32 len, size_t *n_out, int depth)
{
	int			n = attr_count(attrs, len);
	PbKeyValue **ptrs;
	PbKeyValue *kvs;
	PbAnyValue *vals;
	OtelAttrIter it;
	OtelAttr	at;
	int			i = 0;

	*n_out = 0;
	if (n == 0)
		return NULL;
	ptrs = arena_alloc(a, sizeof(PbKeyValue *) * n);
	kvs = arena_alloc(a, sizeof(PbKeyValue) * n);
	vals = arena_alloc(a, sizeof(PbAnyValue) * n);

	otel_attr_iter_init(&it, attrs, len);
	while (i < n && otel_attr_next(&it, &at))
	{
		kvs[i] = keyvalue_init;
		kvs[i].key = arena_str(a, at.key, at.key_len);
		pb_value(a, &vals[i], &at, depth);
		kvs[i].value = &vals[i];
		ptrs[i] = &kvs[i];
		i++;
	}
	*n_out = i;
	return ptrs;
}

static void
pb_span(EncArena *a, PbSpan *s, const OtelSpanView *v)
{
	*s = span_init;
	s->trace_id.len = sizeof(v->h.trace_id);
	s->trace_id.data = arena_bytes(a, v->h.trace_id, sizeof(v->h.trace_id));
	s->span_id.len = sizeof(v->h.span_id);
	s->span_id.data = arena_bytes(a, v->h.span_id, sizeof(v->h.span_id));
	if (!all_zero(v->h.parent_span_id, sizeof(v->h.parent_span_id)))
	{
		s->parent_span_id.len = sizeof(v->h.parent_span_id);
		s->parent_span_id.data = arena_bytes(a, v->h.parent_span_id,
											 sizeof(v->h.parent_span_id));
	}
	s->trace_state = arena_str(a, v->tracestate, v->h.tracestate_len);
	s->flags = v->h.flags;
	s->name = arena_str(a, v->name, v->h.name_len);
	s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind) v->h.kind;
	s->start_time_unix_nano = (uint64) v->h.start_ns;
	s->end_time_unix_nano = (uint64) v->h.end_ns;
	s->attributes = pb_kvs(a, v->attrs, v->h.attrs_len, &s->n_attributes, 0);
	if (v->h.status != OTEL_STATUS_UNSET || v->h.status_msg_len > 0)
	{
		PbStatus   *st = arena_alloc(a, sizeof(PbStatus));

		*st = status_init;
		st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode) v->h.status;
		st->message = arena_str(a, v->status_msg, v->h.status_msg_len);
		s->status = st;
	}
}

void
otel_encode_traces_pb(const OtelRecordRef *refs, int n, StringInfo out,
					  int *nbad)
{
	MemoryContext cxt;
	MemoryContext old;
	EncArena	a;
	PbTraceRequest req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	PbResourceSpans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	PbResourceSpans *rs_ptr = &rs;
	PbResource	res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	PbScopeSpans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	PbScopeSpans *ss_ptr = &ss;
	PbScope		scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	PbSpan	   *spans;
	PbSpan	  **span_ptrs;
	const char *rattrs;
	uint32		rlen;
	int			nspans = 0;
	int			bad = 0;
	size_t		size;

	if (nbad)
		*nbad = 0;
	if (n <= 0)
		return;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "otel_aliyun encode",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	a.cxt = cxt;
	a.cur = a.end = NULL;

	spans = arena_alloc(&a, sizeof(PbSpan) * n);
	span_ptrs = arena_alloc(&a, sizeof(PbSpan *) * n);
	for (int i = 0; i < n; i++)
	{
		OtelSpanView v;

		if (!otel_span_view(refs[i].data, refs[i].len, &v))
		{
			bad++;
			continue;
		}
		pb_span(&a, &spans[nspans], &v);
		span_ptrs[nspans] = &spans[nspans];
		nspans++;
	}

	if (nspans > 0)
	{
		rattrs = otel_resource_attrs(&rlen);
		res.attributes = pb_kvs(&a, rattrs, rlen, &res.n_attributes, 0);
		scope.name = scope_name;
		scope.version = scope_version;
		ss.scope = &scope;
		ss.n_spans = nspans;
		ss.spans = span_ptrs;
		rs.resource = &res;
		rs.n_scope_spans = 1;
		rs.scope_spans = &ss_ptr;
		req.n_resource_spans = 1;
		req.resource_spans = &rs_ptr;

		size = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
		if (size >= (size_t) (MaxAllocSize - out->len - 1))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("OTLP trace request of %zu bytes is too large", size),
					 errhint("Lower otel_aliyun.max_export_batch_size.")));
		enlargeStringInfo(out, (int) size);
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req,
																					 (uint8_t *) out->data + out->len);
		out->len += (int) size;
		out->data[out->len] = '\0';
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);

	if (nbad)
		*nbad = bad;
}

/* ---- JSON ---- */

#define APPEND_LIT(out, lit) appendBinaryStringInfo((out), (lit), sizeof(lit) - 1)

/* JSON string literal, sanitized like arena_str(). */
static void
json_str(StringInfo out, const char *s, Size len)
{
	const unsigned char *u = (const unsigned char *) s;
	Size		run = 0;		/* start of the pending verbatim run */
	Size		i = 0;

	appendStringInfoCharMacro(out, '"');
	while (i < len)
	{
		unsigned char c = u[i];
		int			l;

		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
		{
			i++;
			continue;
		}
		if (c >= 0x80)
		{
			l = utf8_seq_len(u + i, len - i);
			if (l > 0)
			{
				i += l;
				continue;
			}
		}
		if (i > run)
			appendBinaryStringInfo(out, s + run, (int) (i - run));
		switch (c)
		{
			case '"':
				APPEND_LIT(out, "\\\"");
				break;
			case '\\':
				APPEND_LIT(out, "\\\\");
				break;
			case '\b':
				APPEND_LIT(out, "\\b");
				break;
			case '\f':
				APPEND_LIT(out, "\\f");
				break;
			case '\n':
				APPEND_LIT(out, "\\n");
				break;
			case '\r':
				APPEND_LIT(out, "\\r");
				break;
			case '\t':
				APPEND_LIT(out, "\\t");
				break;
			default:
				if (c == 0 || c >= 0x80)
					APPEND_LIT(out, "\\ufffd");
				else
				{
					char		esc[6];

					esc[0] = '\\';
					esc[1] = 'u';
					esc[2] = '0';
					esc[3] = '0';
					esc[4] = hexdig[c >> 4];
					esc[5] = hexdig[c & 0xF];
					appendBinaryStringInfo(out, esc, 6);
				}
				break;
		}
		i++;
		run = i;
	}
	if (i > run)
		appendBinaryStringInfo(out, s + run, (int) (i - run));
	appendStringInfoCharMacro(out, '"');
}

static void
json_hex(StringInfo out, const uint8 *p, int n)
{
	char		buf[64];

	Assert(n * 2 + 2 <= (int) sizeof(buf));
	buf[0] = '"';
	for (int i = 0; i < n; i++)
	{
		buf[1 + 2 * i] = hexdig[p[i] >> 4];
		buf[2 + 2 * i] = hexdig[p[i] & 0xF];
	}
	buf[1 + 2 * n] = '"';
	appendBinaryStringInfo(out, buf, 2 * n + 2);
}

/* 64-bit integers go out as strings */
static void
json_int64(StringInfo out, int64 v)
{
	char		buf[MAXINT8LEN + 3];
	int			len;

	buf[0] = '"';
	len = pg_lltoa(v, buf + 1);
	buf[1 + len] = '"';
	appendBinaryStringInfo(out, buf, len + 2);
}

static void
json_uint64(StringInfo out, uint64 v)
{
	char		buf[MAXINT8LEN + 3];
	int			len;

	buf[0] = '"';
	len = pg_ulltoa_n(v, buf + 1);
	buf[1 + len] = '"';
	appendBinaryStringInfo(out, buf, len + 2);
}

static void
json_uint32(StringInfo out, uint32 v)
{
	char		buf[12];
	int			len = pg_ultoa_n(v, buf);

	appendBinaryStringInfo(out, buf, len);
}

static void
json_double(StringInfo out, double d)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];
	int			len;

	if (isnan(d))
		APPEND_LIT(out, "\"NaN\"");
	else if (isinf(d))
	{
		if (d > 0)
			APPEND_LIT(out, "\"Infinity\"");
		else
			APPEND_LIT(out, "\"-Infinity\"");
	}
	else
	{
		len = double_to_shortest_decimal_bufn(d, buf);
		appendBinaryStringInfo(out, buf, len);
	}
}

static void
json_base64(StringInfo out, const char *p, uint32 len)
{
	int			enc_len = pg_b64_enc_len((int) len);
	int			written;

	appendStringInfoCharMacro(out, '"');
	enlargeStringInfo(out, enc_len + 1);
	written = pg_b64_encode(p, (int) len, out->data + out->len, enc_len);
	if (written > 0)
		out->len += written;
	out->data[out->len] = '\0';
	appendStringInfoCharMacro(out, '"');
}

static void json_kvs(StringInfo out, const char *attrs, uint32 len, int depth);

/* An AnyValue object. */
static void
json_value(StringInfo out, const OtelAttr *at, int depth)
{
	switch (at->type)
	{
		case OTEL_ATTR_STRING:
			APPEND_LIT(out, "{\"stringValue\":");
			json_str(out, at->val, at->val_len);
			break;
		case OTEL_ATTR_INT:
			APPEND_LIT(out, "{\"intValue\":");
			json_int64(out, otel_attr_get_int(at));
			break;
		case OTEL_ATTR_DOUBLE:
			APPEND_LIT(out, "{\"doubleValue\":");
			json_double(out, otel_attr_get_double(at));
			break;
		case OTEL_ATTR_BOOL:
			if (otel_attr_get_bool(at))
				APPEND_LIT(out, "{\"boolValue\":true");
			else
				APPEND_LIT(out, "{\"boolValue\":false");
			break;
		case OTEL_ATTR_BYTES:
			APPEND_LIT(out, "{\"bytesValue\":");
			json_base64(out, at->val, at->val_len);
			break;
		case OTEL_ATTR_ARRAY:
			if (depth >= OTEL_MAX_ATTR_DEPTH)
			{
				APPEND_LIT(out, "{");
				break;
			}
			{
				OtelAttrIter it;
				OtelAttr	el;
				bool		first = true;

				APPEND_LIT(out, "{\"arrayValue\":{");
				otel_attr_iter_init(&it, at->val, at->val_len);
				while (otel_attr_next(&it, &el))
				{
					if (first)
						APPEND_LIT(out, "\"values\":[");
					else
						appendStringInfoCharMacro(out, ',');
					first = false;
					json_value(out, &el, depth + 1);
				}
				if (!first)
					appendStringInfoCharMacro(out, ']');
				appendStringInfoCharMacro(out, '}');
			}
			break;
		case OTEL_ATTR_KVLIST:
			if (depth >= OTEL_MAX_ATTR_DEPTH)
			{
				APPEND_LIT(out, "{");
				break;
			}
			APPEND_LIT(out, "{\"kvlistValue\":{");
			if (attr_count(at->val, at->val_len) > 0)
			{
				APPEND_LIT(out, "\"values\":");
				json_kvs(out, at->val, at->val_len, depth + 1);
			}
			appendStringInfoCharMacro(out, '}');
			break;
		default:
			APPEND_LIT(out, "{");
			break;
	}
	appendStringInfoCharMacro(out, '}');
}

/* A non-empty JSON array of KeyValue objects. */
static void
json_kvs(StringInfo out, const char *attrs, uint32 len, int depth)
{
	OtelAttrIter it;
	OtelAttr	at;
	bool		first = true;

	appendStringInfoCharMacro(out, '[');
	otel_attr_iter_init(&it, attrs, len);
	while (otel_attr_next(&it, &at))
	{
		if (!first)
			appendStringInfoCharMacro(out, ',');
		first = false;
		appendStringInfoCharMacro(out, '{');
		if (at.key_len > 0)
		{
			APPEND_LIT(out, "\"key\":");
			json_str(out, at.key, at.key_len);
			appendStringInfoCharMacro(out, ',');
		}
		APPEND_LIT(out, "\"value\":");
		json_value(out, &at, depth);
		appendStringInfoCharMacro(out, '}');
	}
	appendStringInfoCharMacro(out, ']');
}

static void
json_span(StringInfo out, const OtelSpanView *v)
{
	APPEND_LIT(out, "{\"traceId\":");
	json_hex(out, v->h.trace_id, sizeof(v->h.trace_id));
	APPEND_LIT(out, ",\"spanId\":");
	json_hex(out, v->h.span_id, sizeof(v->h.span_id));
	if (v->h.tracestate_len > 0)
	{
		APPEND_LIT(out, ",\"traceState\":");
		json_str(out, v->tracestate, v->h.tracestate_len);
	}
	if (!all_zero(v->h.parent_span_id, sizeof(v->h.parent_span_id)))
	{
		APPEND_LIT(out, ",\"parentSpanId\":");
		json_hex(out, v->h.parent_span_id, sizeof(v->h.parent_span_id));
	}
	if (v->h.flags != 0)
	{
		APPEND_LIT(out, ",\"flags\":");
		json_uint32(out, v->h.flags);
	}
	if (v->h.name_len > 0)
	{
		APPEND_LIT(out, ",\"name\":");
		json_str(out, v->name, v->h.name_len);
	}
	if (v->h.kind != 0)
	{
		APPEND_LIT(out, ",\"kind\":");
		json_uint32(out, v->h.kind);
	}
	if (v->h.start_ns != 0)
	{
		APPEND_LIT(out, ",\"startTimeUnixNano\":");
		json_uint64(out, (uint64) v->h.start_ns);
	}
	if (v->h.end_ns != 0)
	{
		APPEND_LIT(out, ",\"endTimeUnixNano\":");
		json_uint64(out, (uint64) v->h.end_ns);
	}
	if (attr_count(v->attrs, v->h.attrs_len) > 0)
	{
		APPEND_LIT(out, ",\"attributes\":");
		json_kvs(out, v->attrs, v->h.attrs_len, 0);
	}
	if (v->h.status != OTEL_STATUS_UNSET || v->h.status_msg_len > 0)
	{
		bool		comma = false;

		APPEND_LIT(out, ",\"status\":{");
		if (v->h.status_msg_len > 0)
		{
			APPEND_LIT(out, "\"message\":");
			json_str(out, v->status_msg, v->h.status_msg_len);
			comma = true;
		}
		if (v->h.status != OTEL_STATUS_UNSET)
		{
			if (comma)
				appendStringInfoCharMacro(out, ',');
			APPEND_LIT(out, "\"code\":");
			json_uint32(out, v->h.status);
		}
		appendStringInfoCharMacro(out, '}');
	}
	appendStringInfoCharMacro(out, '}');
}

void
otel_encode_traces_json(const OtelRecordRef *refs, int n, StringInfo out,
						int *nbad)
{
	int			start = out->len;
	int			nspans = 0;
	int			bad = 0;
	const char *rattrs;
	uint32		rlen;

	if (nbad)
		*nbad = 0;
	if (n <= 0)
		return;

	rattrs = otel_resource_attrs(&rlen);
	APPEND_LIT(out, "{\"resourceSpans\":[{\"resource\":{");
	if (attr_count(rattrs, rlen) > 0)
	{
		APPEND_LIT(out, "\"attributes\":");
		json_kvs(out, rattrs, rlen, 0);
	}
	APPEND_LIT(out, "},\"scopeSpans\":[{\"scope\":{\"name\":");
	json_str(out, OTEL_ALIYUN_SCOPE_NAME, strlen(OTEL_ALIYUN_SCOPE_NAME));
	APPEND_LIT(out, ",\"version\":");
	json_str(out, OTEL_ALIYUN_VERSION, strlen(OTEL_ALIYUN_VERSION));
	APPEND_LIT(out, "},\"spans\":[");

	for (int i = 0; i < n; i++)
	{
		OtelSpanView v;

		if (!otel_span_view(refs[i].data, refs[i].len, &v))
		{
			bad++;
			continue;
		}
		if (nspans > 0)
			appendStringInfoCharMacro(out, ',');
		json_span(out, &v);
		nspans++;
	}

	if (nspans == 0)
	{
		/* nothing valid: leave out as it was */
		out->len = start;
		out->data[start] = '\0';
	}
	else
		APPEND_LIT(out, "]}]}]}");

	if (nbad)
		*nbad = bad;
}

/* ---- responses ---- */

bool
otel_decode_traces_response(const char *body, Size len,
							int64 *rejected, char *errbuf, Size errlen)
{
	PbTraceResponse *resp;

	if (rejected)
		*rejected = 0;
	if (errbuf && errlen > 0)
		errbuf[0] = '\0';
	if (len == 0)
		return true;
	if (body == NULL)
		return false;

	/* the default allocator (malloc) never raises */
	resp = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(NULL, len,
																							 (const uint8_t *) body);
	if (resp == NULL)
		return false;
	if (resp->partial_success)
	{
		if (rejected)
			*rejected = resp->partial_success->rejected_spans;
		if (errbuf && errlen > 0 && resp->partial_success->error_message)
			strlcpy(errbuf, resp->partial_success->error_message, errlen);
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(resp, NULL);
	return true;
}
