/*-------------------------------------------------------------------------
 *
 * encode_otlp.c
 *		Span records (record.h) to OTLP: the protobuf ExportTraceServiceRequest
 *		written directly in the protobuf wire format, and the OTLP/JSON
 *		encoding on one line.
 *
 * The protobuf request is written in two passes over the batch, with no
 * allocation per span or per attribute.  Pass 1 computes the exact encoded
 * size of every span (sanitized string lengths included) into one array;
 * the sizes of the ScopeSpans, ResourceSpans and the request follow, the
 * output is enlarged once, and pass 2 writes every byte at its place.  A
 * length-delimited field's length is known before its contents are
 * written: nested messages (KeyValue, AnyValue, Status) are sized on the
 * spot from the record's lengths, which is plain arithmetic unless the
 * attribute is an ARRAY or KVLIST.  Pass 1 also notes which spans hold a
 * string needing UTF-8 repair; the strings of all other spans are copied in
 * pass 2 without being looked at again.  The Resource and the
 * InstrumentationScope are encoded once per process and reused for every
 * request until the resource attribute list changes (after SIGHUP).
 *
 * Field numbers are those of opentelemetry-proto (trace.proto, common.proto,
 * resource.proto, trace_service.proto).  As with any proto3 encoder, span
 * fields holding their default value are left out, while a oneof member of
 * AnyValue is always written, even when it is empty or zero.
 *
 * Strings are made valid UTF-8 on the way out, in both encodings and in the
 * same way: every byte that does not start a well-formed UTF-8 sequence, and
 * every NUL byte, becomes U+FFFD.  OTLP receivers reject a whole request for
 * one ill-formed string, and query text of a SQL_ASCII database can be
 * anything.
 *
 * The protobuf-c message structs (common.pb-c.h) are still built here for
 * the other OTLP encoders that use the otel_enc_pb_* building blocks; the
 * trace encoder does not use them.  Responses are decoded with protobuf-c.
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
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse PbTraceResponse;

/* Nesting deeper than this is emitted as an empty value. */
#define OTEL_MAX_ATTR_DEPTH 16

static const PbAnyValue anyvalue_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const PbArrayValue arrayvalue_init = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
static const PbKeyValueList kvlist_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
static const PbKeyValue keyvalue_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;

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

/*
 * Length of the longest prefix of s that is clean (valid, no NUL).  Runs of
 * ASCII are checked eight bytes at a time: a word holds only bytes 0x01 ..
 * 0x7F exactly when neither it nor the word minus 0x01 in every byte has a
 * high bit set (no byte borrows unless one is 0).
 */
static inline Size
utf8_clean_prefix(const char *s, Size len)
{
	const unsigned char *u = (const unsigned char *) s;
	Size		i = 0;

	while (i < len)
	{
		int			l;

		while (len - i >= 8)
		{
			uint64		w;

			memcpy(&w, u + i, 8);
			if (((w - UINT64CONST(0x0101010101010101)) | w) &
				UINT64CONST(0x8080808080808080))
				break;
			i += 8;
		}
		if (i >= len)
			break;

		/*
		 * Fewer than eight bytes left: check the last eight of the string at
		 * once (those before i are known to be clean already).
		 */
		if (len - i < 8 && len >= 8)
		{
			uint64		w;

			memcpy(&w, u + len - 8, 8);
			if ((((w - UINT64CONST(0x0101010101010101)) | w) &
				 UINT64CONST(0x8080808080808080)) == 0)
				return len;
		}
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

/* Length of s once sanitized, s known not to be clean (slow path). */
static pg_noinline Size
utf8_repaired_len(const char *s, Size len)
{
	const unsigned char *u = (const unsigned char *) s;
	Size		out = 0;

	for (Size i = 0; i < len;)
	{
		int			l = utf8_seq_len(u + i, len - i);

		if (l == 0)
		{
			out += 3;
			i++;
		}
		else
		{
			out += l;
			i += l;
		}
	}
	return out;
}

/* Length of s once sanitized; equal to len exactly when s is clean. */
static inline Size
utf8_sanitized_len(const char *s, Size len)
{
	Size		clean = utf8_clean_prefix(s, len);

	if (likely(clean == len))
		return len;
	return clean + utf8_repaired_len(s + clean, len - clean);
}

/*
 * Write s sanitized at o (room for utf8_sanitized_len bytes) and return the
 * end: every bad byte becomes the 3-byte U+FFFD.
 */
static char *
utf8_put_sanitized(char *o, const char *s, Size len)
{
	const unsigned char *u = (const unsigned char *) s;
	Size		clean = utf8_clean_prefix(s, len);

	memcpy(o, s, clean);
	o += clean;
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
	return o;
}

/* ---- per-call arena ---- */

#define ARENA_BLOCK		(64 * 1024)
#define ARENA_BIG		(ARENA_BLOCK / 4)

typedef OtelEncArena EncArena;	/* see encode_otlp.h */

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
	o = utf8_put_sanitized(out, s, len);
	*o = '\0';
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

/* ---- protobuf-c message trees (the otel_enc_pb_* building blocks) ---- */

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
		case OTEL_ATTR_SPAN_PB:
			break;				/* never a value: pb_kvs skips it */
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
		/* span records only, and spans use the direct encoder */
		if (at.type == OTEL_ATTR_SPAN_PB)
			continue;
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

/* ---- direct protobuf wire format ---- */

/*
 * One-byte tags of the fields written here: (field number << 3) | wire type.
 * Field numbers from opentelemetry-proto.
 */
#define TAG_LEN(f)		((char) (((f) << 3) | OTEL_PB_WT_LEN))
#define TAG_VARINT(f)	((char) (((f) << 3) | OTEL_PB_WT_VARINT))
#define TAG_I64(f)		((char) (((f) << 3) | OTEL_PB_WT_I64))

/* ExportTraceServiceRequest.resource_spans */
#define F_REQ_RESOURCE_SPANS	1
/* ResourceSpans */
#define F_RS_RESOURCE			1
#define F_RS_SCOPE_SPANS		2
/* ScopeSpans */
#define F_SS_SCOPE				1
#define F_SS_SPANS				2
/* Span */
#define F_SPAN_TRACE_ID			1
#define F_SPAN_SPAN_ID			2
#define F_SPAN_TRACE_STATE		3
#define F_SPAN_PARENT_SPAN_ID	4
#define F_SPAN_NAME				5
#define F_SPAN_KIND				6
#define F_SPAN_START			7
#define F_SPAN_END				8
#define F_SPAN_ATTRIBUTES		9
#define F_SPAN_STATUS			15
#define F_SPAN_FLAGS			16	/* fixed32; the only two-byte tag */
/* Status */
#define F_STATUS_MESSAGE		2
#define F_STATUS_CODE			3
/* Resource.attributes, KeyValueList.values, ArrayValue.values */
#define F_RESOURCE_ATTRIBUTES	1
#define F_LIST_VALUES			1
/* InstrumentationScope */
#define F_SCOPE_NAME			1
#define F_SCOPE_VERSION			2
/* KeyValue */
#define F_KV_KEY				1
#define F_KV_VALUE				2
/* AnyValue (oneof value) */
#define F_AV_STRING				1
#define F_AV_BOOL				2
#define F_AV_INT				3
#define F_AV_DOUBLE				4
#define F_AV_ARRAY				5
#define F_AV_KVLIST				6
#define F_AV_BYTES				7

#define vsize(v)	otel_pb_varint_size(v)
#define put_varint	otel_pb_put_varint

/*
 * The size functions below take "dirty": NULL means the strings are known
 * to be clean and their lengths are used as they are (pass 2 of a clean
 * span); otherwise every string is scanned, its sanitized length used, and
 * *dirty set when one needs repair.  The writers take the matching "clean".
 */
static inline Size
pb_strlen(const char *s, Size len, bool *dirty)
{
	Size		n;

	if (dirty == NULL)
		return len;
	n = utf8_sanitized_len(s, len);
	if (n != len)
		*dirty = true;
	return n;
}

/* Write the n sanitized bytes of s (n from pb_strlen). */
static inline char *
pb_putstr(char *p, const char *s, Size len, Size n, bool clean)
{
	if (clean || n == len)
	{
		memcpy(p, s, len);
		return p + len;
	}
	return utf8_put_sanitized(p, s, len);
}

static Size pb_kvlist_size(const char *attrs, uint32 len, int depth, bool *dirty);
static Size pb_array_size(const char *attrs, uint32 len, int depth, bool *dirty);
static char *pb_put_kvlist(char *p, char tag, const char *attrs, uint32 len,
						   int depth, bool clean);
static char *pb_put_array(char *p, const char *attrs, uint32 len, int depth,
						  bool clean);

/* Size of the AnyValue message body for an attribute. */
static pg_attribute_always_inline Size
pb_value_size(const OtelAttr *at, int depth, bool *dirty)
{
	Size		n;

	switch (at->type)
	{
		case OTEL_ATTR_STRING:
			n = pb_strlen(at->val, at->val_len, dirty);
			return 1 + vsize(n) + n;
		case OTEL_ATTR_INT:
			return 1 + vsize((uint64) otel_attr_get_int(at));
		case OTEL_ATTR_DOUBLE:
			return 1 + 8;
		case OTEL_ATTR_BOOL:
			return 1 + 1;
		case OTEL_ATTR_BYTES:
			return 1 + vsize(at->val_len) + at->val_len;
		case OTEL_ATTR_ARRAY:
			if (depth >= OTEL_MAX_ATTR_DEPTH)
				return 0;
			n = pb_array_size(at->val, at->val_len, depth + 1, dirty);
			return 1 + vsize(n) + n;
		case OTEL_ATTR_KVLIST:
			if (depth >= OTEL_MAX_ATTR_DEPTH)
				return 0;
			n = pb_kvlist_size(at->val, at->val_len, depth + 1, dirty);
			return 1 + vsize(n) + n;
		case OTEL_ATTR_SPAN_PB:
			break;				/* never a value: see pb_kvlist_size */
	}
	return 0;					/* the reader returns no other type */
}

/* Write the AnyValue message body whose size is pb_value_size(). */
static pg_attribute_always_inline char *
pb_put_value(char *p, const OtelAttr *at, int depth, bool clean)
{
	bool		scratch = false;
	Size		n;

	switch (at->type)
	{
		case OTEL_ATTR_STRING:
			n = pb_strlen(at->val, at->val_len, clean ? NULL : &scratch);
			*p++ = TAG_LEN(F_AV_STRING);
			p = put_varint(p, n);
			return pb_putstr(p, at->val, at->val_len, n, clean);
		case OTEL_ATTR_INT:
			*p++ = TAG_VARINT(F_AV_INT);
			return put_varint(p, (uint64) otel_attr_get_int(at));
		case OTEL_ATTR_DOUBLE:
			*p++ = TAG_I64(F_AV_DOUBLE);
			return otel_pb_put_double(p, otel_attr_get_double(at));
		case OTEL_ATTR_BOOL:
			*p++ = TAG_VARINT(F_AV_BOOL);
			*p++ = otel_attr_get_bool(at) ? 1 : 0;
			return p;
		case OTEL_ATTR_BYTES:
			*p++ = TAG_LEN(F_AV_BYTES);
			p = put_varint(p, at->val_len);
			memcpy(p, at->val, at->val_len);
			return p + at->val_len;
		case OTEL_ATTR_ARRAY:
			if (depth >= OTEL_MAX_ATTR_DEPTH)
				return p;
			n = pb_array_size(at->val, at->val_len, depth + 1,
							  clean ? NULL : &scratch);
			*p++ = TAG_LEN(F_AV_ARRAY);
			p = put_varint(p, n);
			return pb_put_array(p, at->val, at->val_len, depth + 1, clean);
		case OTEL_ATTR_KVLIST:
			if (depth >= OTEL_MAX_ATTR_DEPTH)
				return p;
			n = pb_kvlist_size(at->val, at->val_len, depth + 1,
							   clean ? NULL : &scratch);
			*p++ = TAG_LEN(F_AV_KVLIST);
			p = put_varint(p, n);
			return pb_put_kvlist(p, TAG_LEN(F_LIST_VALUES), at->val, at->val_len,
								 depth + 1, clean);
		case OTEL_ATTR_SPAN_PB:
			break;				/* never a value: see pb_kvlist_size */
	}
	return p;
}

/* Size of the KeyValue message body for an attribute. */
static pg_attribute_always_inline Size
pb_kv_size(const OtelAttr *at, int depth, bool *dirty)
{
	Size		n = pb_value_size(at, depth, dirty);
	Size		sz = 1 + vsize(n) + n;

	if (at->key_len > 0)
	{
		n = pb_strlen(at->key, at->key_len, dirty);
		sz += 1 + vsize(n) + n;
	}
	return sz;
}

/*
 * Size of a repeated KeyValue field with one-byte tags: the body of a
 * KeyValueList or a Resource, or the attributes of a span.
 */
static Size
pb_kvlist_size(const char *attrs, uint32 len, int depth, bool *dirty)
{
	OtelAttrIter it;
	OtelAttr	at;
	Size		sz = 0;

	otel_attr_iter_init(&it, attrs, len);
	while (otel_attr_next(&it, &at))
	{
		Size		n;

		/* pre-encoded Span.attributes fields (span records): copied as is */
		if (unlikely(at.type == OTEL_ATTR_SPAN_PB))
		{
			if (depth == 0)
				sz += at.val_len;
			continue;
		}
		n = pb_kv_size(&at, depth, dirty);
		sz += 1 + vsize(n) + n;
	}
	return sz;
}

static char *
pb_put_kvlist(char *p, char tag, const char *attrs, uint32 len, int depth,
			  bool clean)
{
	OtelAttrIter it;
	OtelAttr	at;
	bool		scratch = false;
	bool	   *dirty = clean ? NULL : &scratch;

	otel_attr_iter_init(&it, attrs, len);
	while (otel_attr_next(&it, &at))
	{
		Size		vn;
		Size		kn = 0;
		Size		n;

		if (unlikely(at.type == OTEL_ATTR_SPAN_PB))
		{
			if (depth == 0)
			{
				memcpy(p, at.val, at.val_len);
				p += at.val_len;
			}
			continue;
		}
		vn = pb_value_size(&at, depth, dirty);
		n = 1 + vsize(vn) + vn;

		if (at.key_len > 0)
		{
			kn = pb_strlen(at.key, at.key_len, dirty);
			n += 1 + vsize(kn) + kn;
		}
		*p++ = tag;
		p = put_varint(p, n);
		if (at.key_len > 0)
		{
			*p++ = TAG_LEN(F_KV_KEY);
			p = put_varint(p, kn);
			p = pb_putstr(p, at.key, at.key_len, kn, clean);
		}
		*p++ = TAG_LEN(F_KV_VALUE);
		p = put_varint(p, vn);
		p = pb_put_value(p, &at, depth, clean);
	}
	return p;
}

/* Size of an ArrayValue body: repeated AnyValue values = 1. */
static Size
pb_array_size(const char *attrs, uint32 len, int depth, bool *dirty)
{
	OtelAttrIter it;
	OtelAttr	at;
	Size		sz = 0;

	otel_attr_iter_init(&it, attrs, len);
	while (otel_attr_next(&it, &at))
	{
		Size		n = pb_value_size(&at, depth, dirty);

		sz += 1 + vsize(n) + n;
	}
	return sz;
}

static char *
pb_put_array(char *p, const char *attrs, uint32 len, int depth, bool clean)
{
	OtelAttrIter it;
	OtelAttr	at;
	bool		scratch = false;

	otel_attr_iter_init(&it, attrs, len);
	while (otel_attr_next(&it, &at))
	{
		Size		n = pb_value_size(&at, depth, clean ? NULL : &scratch);

		*p++ = TAG_LEN(F_LIST_VALUES);
		p = put_varint(p, n);
		p = pb_put_value(p, &at, depth, clean);
	}
	return p;
}

static inline bool
id_is_zero(const uint8 *id8)
{
	uint64		w;

	memcpy(&w, id8, 8);
	return w == 0;
}

/* Size of the Status message body; 0 when the span has no Status. */
static inline Size
pb_status_size(const OtelSpanView *v, bool *dirty)
{
	Size		sz = 0;

	if (v->h.status_msg_len > 0)
	{
		Size		n = pb_strlen(v->status_msg, v->h.status_msg_len, dirty);

		sz += 1 + vsize(n) + n;
	}
	if (v->h.status != OTEL_STATUS_UNSET)
		sz += 1 + vsize(v->h.status);
	return sz;
}

static inline bool
pb_has_status(const OtelSpanView *v)
{
	return v->h.status != OTEL_STATUS_UNSET || v->h.status_msg_len > 0;
}

/*
 * The trace id, the span id and, when there is one, the parent, each with
 * its tag and length: 28 or 38 bytes, in the order every span body has them
 * (record.h OTEL_REC_SPAN_OTLP).
 */
static inline char *
pb_put_ids(char *p, const OtelSpanHeader *h)
{
	*p++ = TAG_LEN(F_SPAN_TRACE_ID);
	*p++ = (char) sizeof(h->trace_id);
	memcpy(p, h->trace_id, sizeof(h->trace_id));
	p += sizeof(h->trace_id);
	*p++ = TAG_LEN(F_SPAN_SPAN_ID);
	*p++ = (char) sizeof(h->span_id);
	memcpy(p, h->span_id, sizeof(h->span_id));
	p += sizeof(h->span_id);
	if (!id_is_zero(h->parent_span_id))
	{
		*p++ = TAG_LEN(F_SPAN_PARENT_SPAN_ID);
		*p++ = (char) sizeof(h->parent_span_id);
		memcpy(p, h->parent_span_id, sizeof(h->parent_span_id));
		p += sizeof(h->parent_span_id);
	}
	return p;
}

/* Size of the Span message body. */
static Size
pb_span_size(const OtelSpanView *v, bool *dirty)
{
	Size		sz;
	Size		n;

	/* trace_id and span_id: tag, length, the bytes */
	sz = (2 + sizeof(v->h.trace_id)) + (2 + sizeof(v->h.span_id));
	if (v->h.tracestate_len > 0)
	{
		n = pb_strlen(v->tracestate, v->h.tracestate_len, dirty);
		sz += 1 + vsize(n) + n;
	}
	StaticAssertStmt(sizeof(v->h.parent_span_id) == 8, "span id size");
	if (!id_is_zero(v->h.parent_span_id))
		sz += 2 + sizeof(v->h.parent_span_id);
	if (v->h.name_len > 0)
	{
		n = pb_strlen(v->name, v->h.name_len, dirty);
		sz += 1 + vsize(n) + n;
	}
	if (v->h.kind != 0)
		sz += 1 + vsize(v->h.kind);
	if (v->h.start_ns != 0)
		sz += 1 + 8;
	if (v->h.end_ns != 0)
		sz += 1 + 8;
	sz += pb_kvlist_size(v->attrs, v->h.attrs_len, 0, dirty);
	if (pb_has_status(v))
	{
		n = pb_status_size(v, dirty);
		sz += 1 + vsize(n) + n;
	}
	if (v->h.flags != 0)
		sz += 2 + 4;
	return sz;
}

/*
 * Where pb_put_span() put a span's parts, as offsets from the start of the
 * body, for the gzip pieces (gzip_delta.h).  0 means absent.
 */
typedef struct SpanLayout
{
	uint32		key;			/* name and kind: span_key() */
	uint32		a_off;			/* name, kind, trace state, attributes */
	uint32		a_len;
	uint32		trace_id;		/* where each id or time's value starts */
	uint32		span_id;
	uint32		parent_id;
	uint32		start;
	uint32		end;
	uint32		c_off;			/* status and flags */
	uint32		c_len;
} SpanLayout;

/*
 * Write the Span message body sized by pb_span_size().  The fields go in an
 * order of their own (protobuf readers take any): first those that repeat
 * from one span of a kind to the next (name, kind, attributes), then the
 * ids and times, which are new or repeat another span's, then the status.
 * When lay is not NULL, base is the start of the body and *lay says where
 * the parts went.
 */
static char *
pb_put_span(char *p, const OtelSpanView *v, bool clean, const char *base,
			SpanLayout *lay)
{
	bool		scratch = false;
	bool	   *dirty = clean ? NULL : &scratch;
	Size		n;
	char	   *a = p;

	if (v->h.name_len > 0)
	{
		n = pb_strlen(v->name, v->h.name_len, dirty);
		*p++ = TAG_LEN(F_SPAN_NAME);
		p = put_varint(p, n);
		p = pb_putstr(p, v->name, v->h.name_len, n, clean);
	}
	if (v->h.kind != 0)
	{
		*p++ = TAG_VARINT(F_SPAN_KIND);
		p = put_varint(p, v->h.kind);
	}
	if (v->h.tracestate_len > 0)
	{
		n = pb_strlen(v->tracestate, v->h.tracestate_len, dirty);
		*p++ = TAG_LEN(F_SPAN_TRACE_STATE);
		p = put_varint(p, n);
		p = pb_putstr(p, v->tracestate, v->h.tracestate_len, n, clean);
	}
	p = pb_put_kvlist(p, TAG_LEN(F_SPAN_ATTRIBUTES), v->attrs, v->h.attrs_len,
					  0, clean);
	if (lay)
	{
		memset(lay, 0, sizeof(*lay));
		lay->a_off = (uint32) (a - base);
		lay->a_len = (uint32) (p - a);
		lay->trace_id = (uint32) (p + 2 - base);
	}

	if (lay)
	{
		lay->span_id = lay->trace_id + 18;
		if (!id_is_zero(v->h.parent_span_id))
			lay->parent_id = lay->trace_id + 28;
	}
	p = pb_put_ids(p, &v->h);
	if (v->h.start_ns != 0)
	{
		*p++ = TAG_I64(F_SPAN_START);
		if (lay)
			lay->start = (uint32) (p - base);
		p = otel_pb_put_fixed64(p, (uint64) v->h.start_ns);
	}
	if (v->h.end_ns != 0)
	{
		*p++ = TAG_I64(F_SPAN_END);
		if (lay)
			lay->end = (uint32) (p - base);
		p = otel_pb_put_fixed64(p, (uint64) v->h.end_ns);
	}

	a = p;
	if (pb_has_status(v))
	{
		*p++ = TAG_LEN(F_SPAN_STATUS);
		p = put_varint(p, pb_status_size(v, dirty));
		if (v->h.status_msg_len > 0)
		{
			n = pb_strlen(v->status_msg, v->h.status_msg_len, dirty);
			*p++ = TAG_LEN(F_STATUS_MESSAGE);
			p = put_varint(p, n);
			p = pb_putstr(p, v->status_msg, v->h.status_msg_len, n, clean);
		}
		if (v->h.status != OTEL_STATUS_UNSET)
		{
			*p++ = TAG_VARINT(F_STATUS_CODE);
			p = put_varint(p, v->h.status);
		}
	}
	if (v->h.flags != 0)
	{
		p = otel_pb_put_tag(p, F_SPAN_FLAGS, OTEL_PB_WT_I32);
		p = otel_pb_put_fixed32(p, v->h.flags);
	}
	if (lay)
	{
		lay->c_off = (uint32) (a - base);
		lay->c_len = (uint32) (p - a);
	}
	return p;
}

/*
 * Per-process cache of the encoded Resource and InstrumentationScope.  The
 * Resource is keyed on a copy of the attribute list it was encoded from:
 * resource.c rebuilds its list in a reset context, so neither the pointer
 * nor the length alone tells that it changed.
 */
static char *res_src = NULL;	/* copy of the attribute list */
static uint32 res_src_len = 0;
static char *res_pb = NULL;		/* Resource message body */
static Size res_pb_len = 0;
static bool res_cached = false;

static char scope_pb[2 * (2 + 8) + sizeof(OTEL_ALIYUN_SCOPE_NAME) +
					 sizeof(OTEL_ALIYUN_VERSION)];
static Size scope_pb_len = 0;

static void
pb_resource_refresh(void)
{
	const char *attrs;
	uint32		len;
	Size		sz;
	char	   *src;
	char	   *pb;
	char	   *end;
	bool		dirty = false;

	attrs = otel_resource_attrs(&len);
	if (res_cached && len == res_src_len &&
		(len == 0 || memcmp(attrs, res_src, len) == 0))
		return;

	sz = pb_kvlist_size(attrs, len, 0, &dirty);
	/* allocate both before changing anything: an ERROR keeps the old cache */
	src = MemoryContextAlloc(TopMemoryContext, Max(len, 1));
	pb = MemoryContextAlloc(TopMemoryContext, Max(sz, 1));
	memcpy(src, attrs, len);
	end = pb_put_kvlist(pb, TAG_LEN(F_RESOURCE_ATTRIBUTES), attrs, len, 0, false);
	if ((Size) (end - pb) != sz)
		elog(ERROR, "resource encoded to %zu bytes, expected %zu",
			 (Size) (end - pb), sz);

	if (res_src)
		pfree(res_src);
	if (res_pb)
		pfree(res_pb);
	res_src = src;
	res_src_len = len;
	res_pb = pb;
	res_pb_len = sz;
	res_cached = true;
}

static void
pb_scope_init(void)
{
	char	   *p = scope_pb;

	if (scope_pb_len > 0)
		return;
	p = otel_pb_put_str_field(p, F_SCOPE_NAME, OTEL_ALIYUN_SCOPE_NAME,
							  strlen(OTEL_ALIYUN_SCOPE_NAME));
	p = otel_pb_put_str_field(p, F_SCOPE_VERSION, OTEL_ALIYUN_VERSION,
							  strlen(OTEL_ALIYUN_VERSION));
	Assert(p - scope_pb <= (ptrdiff_t) sizeof(scope_pb));
	scope_pb_len = p - scope_pb;
}

/* records already in OTLP form: at the end of this file */
static inline bool span_otlp_body(const char *data, uint32 len, OtelSpanOtlpHeader *oh,
						   const char **body, uint32 *body_len);
static bool span_otlp_view(const char *data, uint32 len, OtelSpanView *v,
						   char **attrs_copy);

/* Per-record result of pass 1. */
typedef struct SpanSize
{
	Size		size;			/* Span message body */
	uint8		state;			/* SPAN_BAD, SPAN_CLEAN, SPAN_DIRTY, SPAN_OTLP */
	OtelSpanOtlpHeader oh;		/* SPAN_OTLP: the record's header */
	const char *body;			/* and where the Span's body is */
} SpanSize;

#define SPAN_BAD	0
#define SPAN_CLEAN	1
#define SPAN_DIRTY	2
#define SPAN_OTLP	3			/* the record's body is the Span */

/*
 * Spans with equal keys share most of their bytes: same name, same kind.
 * The key takes the name's length and its first and last eight bytes: two
 * names that agree on those only compress less well.
 */
static inline uint32
span_key(uint8 kind, const char *name, int name_len)
{
	uint64		h = ((uint64) kind << 32) | (uint32) name_len;
	uint64		a = 0,
				b = 0;
	int			n = Min(name_len, 8);

	memcpy(&a, name, n);
	memcpy(&b, name + name_len - n, n);
	h ^= a * 0x9E3779B97F4A7C15ULL;
	h ^= (b + h) * 0xC2B2AE3D27D4EB4FULL;
	return (uint32) (h ^ (h >> 32));
}

#define SPAN_KEY_BITS	10		/* span kinds remembered, direct-mapped */
#define SPAN_PIECES_MAX	7

static inline bool
same8(const char *body, uint32 a, uint32 b)
{
	uint64		x,
				y;

	if (a == 0 || b == 0)
		return false;
	memcpy(&x, body + a, 8);
	memcpy(&y, body + b, 8);
	return x == y;
}

static inline OtelGzipSeg *
add_piece(OtelGzipSeg *sg, uint32 off, uint32 len, uint32 ref, uint32 ref_len)
{
	sg->off = off;
	sg->len = len;
	sg->ref = ref;
	sg->ref_len = ref_len;
	return sg + 1;
}

/*
 * The gzip pieces of span lays[k] (gzip_delta.h), into sg: its first part
 * and its status against those of ref, the previous span of its kind (NULL:
 * none); each id or time that equals one of the two spans before it against
 * that one: a statement's spans share a trace id, the statement span's id is
 * its children's parent, it starts with its planning and ends with its
 * execution.  Returns the number of pieces, at most SPAN_PIECES_MAX.
 */
static int
span_pieces(const char *body, const SpanLayout *lays, int k,
			const SpanLayout *ref, OtelGzipSeg *sg)
{
	const SpanLayout *l = &lays[k];
	const SpanLayout *p1 = k > 0 ? &lays[k - 1] : NULL;
	const SpanLayout *p2 = k > 1 ? &lays[k - 2] : NULL;
	OtelGzipSeg *s0 = sg;

	if (ref)
		sg = add_piece(sg, l->a_off, l->a_len, ref->a_off, ref->a_len);
	if (p1)
	{
		/* with its tag and length: the fields are the same */
		if (same8(body, l->trace_id, p1->trace_id) &&
			same8(body, l->trace_id + 8, p1->trace_id + 8))
			sg = add_piece(sg, l->trace_id - 2, 18, p1->trace_id - 2, 18);
		if (same8(body, l->span_id, p1->parent_id))
			sg = add_piece(sg, l->span_id, 8, p1->parent_id, 8);
		if (same8(body, l->parent_id, p1->parent_id))
			sg = add_piece(sg, l->parent_id - 2, 10, p1->parent_id - 2, 10);
		else if (same8(body, l->parent_id, p1->span_id))
			sg = add_piece(sg, l->parent_id, 8, p1->span_id, 8);
		if (same8(body, l->start, p1->start))
			sg = add_piece(sg, l->start - 1, 9, p1->start - 1, 9);
		else if (p2 && same8(body, l->start, p2->start))
			sg = add_piece(sg, l->start - 1, 9, p2->start - 1, 9);
		if (same8(body, l->end, p1->end))
			sg = add_piece(sg, l->end - 1, 9, p1->end - 1, 9);
	}
	if (ref && l->c_len > 0 && ref->c_len > 0)
		sg = add_piece(sg, l->c_off, l->c_len, ref->c_off, ref->c_len);
	Assert(sg - s0 <= SPAN_PIECES_MAX);
	return (int) (sg - s0);
}

void
otel_encode_traces_pb(const OtelRecordRef *refs, int n, StringInfo out,
					  int *nbad, OtelGzipSeg **segs, int *nsegs)
{
	SpanSize   *sizes;
	int			nspans = 0;
	int			bad = 0;
	const char *res;
	Size		res_len;
	const char *scope;
	Size		scope_len;
	Size		ss_len;
	Size		rs_len;
	Size		total;
	char	   *p;
	char	   *start;
	SpanLayout *lays = NULL;
	int			nlays = 0;
	int			last_of_key[1 << SPAN_KEY_BITS];

	if (nbad)
		*nbad = 0;
	if (segs)
	{
		*segs = NULL;
		*nsegs = 0;
	}
	if (n <= 0)
		return;

	/* pass 1: validate and size every span */
	sizes = palloc(sizeof(SpanSize) * n);
	ss_len = 0;
	for (int i = 0; i < n; i++)
	{
		OtelSpanView v;
		bool		dirty = false;
		uint32		body_len;

		if (span_otlp_body(refs[i].data, refs[i].len, &sizes[i].oh,
						   &sizes[i].body, &body_len))
		{
			sizes[i].size = body_len;
			sizes[i].state = SPAN_OTLP;
			ss_len += 1 + vsize(body_len) + body_len;
			nspans++;
			continue;
		}
		if (!otel_span_view(refs[i].data, refs[i].len, &v))
		{
			sizes[i].state = SPAN_BAD;
			bad++;
			continue;
		}
		/* strings made in a UTF8 database need no second check */
		if (otel_record_flags(refs[i].data, refs[i].len) & OTEL_REC_FLAG_UTF8)
			sizes[i].size = pb_span_size(&v, NULL);
		else
			sizes[i].size = pb_span_size(&v, &dirty);
		sizes[i].state = dirty ? SPAN_DIRTY : SPAN_CLEAN;
		ss_len += 1 + vsize(sizes[i].size) + sizes[i].size;
		nspans++;
	}
	if (nbad)
		*nbad = bad;
	if (nspans == 0)
	{
		/* nothing valid: leave out as it was */
		pfree(sizes);
		return;
	}

	/* the envelope */
	res = otel_pb_resource(&res_len);
	scope = otel_pb_scope(&scope_len);
	ss_len += 1 + vsize(scope_len) + scope_len;
	rs_len = (1 + vsize(res_len) + res_len) + (1 + vsize(ss_len) + ss_len);
	total = 1 + vsize(rs_len) + rs_len;

	start = p = otel_pb_reserve(out, total, "OTLP trace request",
								"Lower otel_aliyun.max_export_batch_size.");
	*p++ = TAG_LEN(F_REQ_RESOURCE_SPANS);
	p = put_varint(p, rs_len);
	*p++ = TAG_LEN(F_RS_RESOURCE);
	p = put_varint(p, res_len);
	memcpy(p, res, res_len);
	p += res_len;
	*p++ = TAG_LEN(F_RS_SCOPE_SPANS);
	p = put_varint(p, ss_len);
	*p++ = TAG_LEN(F_SS_SCOPE);
	p = put_varint(p, scope_len);
	memcpy(p, scope, scope_len);
	p += scope_len;
	if (segs)
	{
		*segs = palloc(sizeof(OtelGzipSeg) * nspans * SPAN_PIECES_MAX);
		lays = palloc(sizeof(SpanLayout) * nspans);
		memset(last_of_key, -1, sizeof(last_of_key));
	}

	/* pass 2: write the spans */
	for (int i = 0; i < n; i++)
	{
		OtelSpanView v;
		char	   *span_start = p;
		SpanLayout *lay = segs ? &lays[nlays] : NULL;
		uint32		slot;

		if (sizes[i].state == SPAN_BAD)
			continue;
		*p++ = TAG_LEN(F_SS_SPANS);
		p = put_varint(p, sizes[i].size);
		if (sizes[i].state == SPAN_OTLP)
		{
			const OtelSpanOtlpHeader *oh = &sizes[i].oh;
			const char *body = sizes[i].body;
			uint32		at;

			/* checked in pass 1; the worker owns peeked records */
			memcpy(p, body, sizes[i].size);
			if (lay)
			{
				/* where record.h says the parts are */
				at = (uint32) (p - out->data);
				lay->key = span_key(oh->kind, body + oh->name_off, oh->name_len);
				lay->a_off = (uint32) (span_start - out->data);
				lay->a_len = at + oh->a_len - lay->a_off;
				at += oh->a_len;
				lay->trace_id = at + 2;
				lay->span_id = at + 20;
				at += 28;
				lay->parent_id = 0;
				if (oh->has_parent)
				{
					lay->parent_id = at + 2;
					at += 10;
				}
				lay->start = at + 1;
				lay->end = at + 10;
				lay->c_off = at + 18;
				lay->c_len = oh->c_len;
			}
			p += sizes[i].size;
		}
		else
		{
			if (!otel_span_view(refs[i].data, refs[i].len, &v))
				elog(ERROR, "span record changed while being encoded");
			p = pb_put_span(p, &v, sizes[i].state == SPAN_CLEAN,
							lay ? out->data : NULL, lay);
			if (lay)
			{
				/* the span's tag and length go with its first part */
				lay->a_len += lay->a_off - (uint32) (span_start - out->data);
				lay->a_off = (uint32) (span_start - out->data);
				lay->key = span_key(v.h.kind, v.name, v.h.name_len);
			}
		}
		if (lay)
		{
			slot = (lay->key * 0x9E3779B1U) >> (32 - SPAN_KEY_BITS);
			*nsegs += span_pieces(out->data, lays, nlays,
								  last_of_key[slot] >= 0 &&
								  lays[last_of_key[slot]].key == lay->key ?
								  &lays[last_of_key[slot]] : NULL,
								  *segs + *nsegs);
			last_of_key[slot] = nlays++;
		}
	}

	if ((Size) (p - start) != total)
		elog(ERROR, "OTLP trace request encoded to %zu bytes, expected %zu",
			 (Size) (p - start), total);
	otel_pb_commit(out, p);
	pfree(sizes);
	if (lays)
		pfree(lays);
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

/* An AnyValue object for an encoded AnyValue, in the forms the encoder writes. */
static void
json_pb_value(StringInfo out, const uint8 *p, const uint8 *end)
{
	uint32		field;
	int			wt;
	const uint8 *d = NULL;
	Size		l = 0;
	uint64		v = 0;

	if (p == NULL || !otel_pb_read_field(&p, end, &field, &wt, &d, &l, &v))
		APPEND_LIT(out, "{");
	else if (field == F_AV_STRING && wt == OTEL_PB_WT_LEN)
	{
		APPEND_LIT(out, "{\"stringValue\":");
		json_str(out, (const char *) d, l);
	}
	else if (field == F_AV_INT && wt == OTEL_PB_WT_VARINT)
	{
		APPEND_LIT(out, "{\"intValue\":");
		json_int64(out, (int64) v);
	}
	else if (field == F_AV_BOOL && wt == OTEL_PB_WT_VARINT)
	{
		if (v)
			APPEND_LIT(out, "{\"boolValue\":true");
		else
			APPEND_LIT(out, "{\"boolValue\":false");
	}
	else if (field == F_AV_DOUBLE && wt == OTEL_PB_WT_I64)
	{
		uint64		u;
		double		dv;

		memcpy(&u, d, 8);
#ifdef WORDS_BIGENDIAN
		u = pg_bswap64(u);
#endif
		memcpy(&dv, &u, 8);
		APPEND_LIT(out, "{\"doubleValue\":");
		json_double(out, dv);
	}
	else
		APPEND_LIT(out, "{");
	appendStringInfoCharMacro(out, '}');
}

/*
 * KeyValue objects, each after a comma unless *first, for pre-encoded
 * Span.attributes fields (record.h's SPAN_PB, written by
 * otel_pb_put_span_attrs() and otel_pb_put_span_kv_*()).  Stops at anything
 * they did not write.
 */
static void
json_span_pb(StringInfo out, const char *data, uint32 len, bool *first)
{
	const uint8 *p = (const uint8 *) data;
	const uint8 *end = p + len;
	uint32		field;
	int			wt;
	const uint8 *kv;
	Size		kv_len;
	uint64		v;

	while (p < end &&
		   otel_pb_read_field(&p, end, &field, &wt, &kv, &kv_len, &v) &&
		   field == F_SPAN_ATTRIBUTES && wt == OTEL_PB_WT_LEN)
	{
		const uint8 *q = kv;
		const uint8 *kv_end = kv + kv_len;
		const uint8 *key = NULL;
		const uint8 *val = NULL;
		Size		key_len = 0;
		Size		val_len = 0;

		while (q < kv_end)
		{
			const uint8 *d;
			Size		l;

			if (!otel_pb_read_field(&q, kv_end, &field, &wt, &d, &l, &v) ||
				wt != OTEL_PB_WT_LEN)
				return;
			if (field == F_KV_KEY)
			{
				key = d;
				key_len = l;
			}
			else if (field == F_KV_VALUE)
			{
				val = d;
				val_len = l;
			}
		}
		if (!*first)
			appendStringInfoCharMacro(out, ',');
		*first = false;
		APPEND_LIT(out, "{\"key\":");
		json_str(out, key ? (const char *) key : "", key_len);
		APPEND_LIT(out, ",\"value\":");
		json_pb_value(out, val, val ? val + val_len : NULL);
		appendStringInfoCharMacro(out, '}');
	}
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
		if (unlikely(at.type == OTEL_ATTR_SPAN_PB))
		{
			if (depth == 0)
				json_span_pb(out, at.val, at.val_len, &first);
			continue;
		}
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

static bool
json_span_record(StringInfo out, const char *data, uint32 len)
{
	OtelSpanView v;
	char	   *attrs_copy;

	if (otel_record_type(data, len) == OTEL_REC_SPAN_OTLP)
	{
		if (!span_otlp_view(data, len, &v, &attrs_copy))
		{
			if (attrs_copy)
				pfree(attrs_copy);
			return false;
		}
		json_span(out, &v);
		pfree(attrs_copy);
		return true;
	}
	if (!otel_span_view(data, len, &v))
		return false;
	json_span(out, &v);
	return true;
}

void
otel_encode_traces_json(const OtelRecordRef *refs, int n, StringInfo out,
						int *nbad)
{
	otel_enc_json_request(out, "Spans", "spans", refs, n, json_span_record,
						  nbad);
}

/* ---- responses ---- */

bool
otel_decode_traces_response(const char *body, Size len,
							int64 *rejected, char *errbuf, Size errlen)
{
	return otel_enc_decode_export_response(&opentelemetry__proto__collector__trace__v1__export_trace_service_response__descriptor,
										   body, len, rejected, errbuf, errlen);
}


/* ---- shared with the other OTLP encoders (encode_otlp.h) ---- */

void
otel_enc_arena_init(OtelEncArena *a, MemoryContext cxt)
{
	a->cxt = cxt;
	a->cur = a->end = NULL;
}

void *
otel_enc_alloc(OtelEncArena *a, Size size)
{
	return arena_alloc(a, size);
}

char *
otel_enc_str(OtelEncArena *a, const char *s, Size len)
{
	return arena_str(a, s, len);
}

Size
otel_enc_utf8_clean_prefix(const char *s, Size len)
{
	return utf8_clean_prefix(s, len);
}

int
otel_enc_attr_count(const char *attrs, uint32 len)
{
	return attr_count(attrs, len);
}

bool
otel_enc_all_zero(const uint8 *p, int n)
{
	return all_zero(p, n);
}

PbKeyValue **
otel_enc_pb_kvs(OtelEncArena *a, const char *attrs, uint32 len, size_t *n_out)
{
	return pb_kvs(a, attrs, len, n_out, 0);
}

void
otel_enc_pb_resource_scope(OtelEncArena *a, PbResource *res, PbScope *scope)
{
	const char *rattrs;
	uint32		rlen;

	rattrs = otel_resource_attrs(&rlen);
	res->attributes = pb_kvs(a, rattrs, rlen, &res->n_attributes, 0);
	scope->name = scope_name;
	scope->version = scope_version;
}

void
otel_enc_pb_pack(const ProtobufCMessage *msg, StringInfo out,
				 const char *what, const char *hint)
{
	size_t		size = protobuf_c_message_get_packed_size(msg);

	if (size >= (size_t) (MaxAllocSize - out->len - 1))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of %zu bytes is too large", what, size),
				 errhint("%s", hint)));
	enlargeStringInfo(out, (int) size);
	protobuf_c_message_pack(msg, (uint8_t *) out->data + out->len);
	out->len += (int) size;
	out->data[out->len] = '\0';
}

void
otel_enc_json_str(StringInfo out, const char *s, Size len)
{
	json_str(out, s, len);
}

void
otel_enc_json_hex(StringInfo out, const uint8 *p, int n)
{
	json_hex(out, p, n);
}

void
otel_enc_json_int64(StringInfo out, int64 v)
{
	json_int64(out, v);
}

void
otel_enc_json_uint64(StringInfo out, uint64 v)
{
	json_uint64(out, v);
}

void
otel_enc_json_uint32(StringInfo out, uint32 v)
{
	json_uint32(out, v);
}

void
otel_enc_json_double(StringInfo out, double d)
{
	json_double(out, d);
}

void
otel_enc_json_base64(StringInfo out, const char *p, uint32 len)
{
	json_base64(out, p, len);
}

void
otel_enc_json_kvs(StringInfo out, const char *attrs, uint32 len)
{
	json_kvs(out, attrs, len, 0);
}

void
otel_enc_json_resource(StringInfo out)
{
	const char *rattrs;
	uint32		rlen;

	rattrs = otel_resource_attrs(&rlen);
	appendStringInfoCharMacro(out, '{');
	if (attr_count(rattrs, rlen) > 0)
	{
		APPEND_LIT(out, "\"attributes\":");
		json_kvs(out, rattrs, rlen, 0);
	}
	appendStringInfoCharMacro(out, '}');
}

/*
 * One OTLP/JSON Export*ServiceRequest of n records: resource<kind>,
 * scope<kind> and the items array, each item written by fn (false for a
 * malformed record: it is skipped and counted).  Nothing is appended when
 * no record is valid.
 */
void
otel_enc_json_request(StringInfo out, const char *kind, const char *items,
					  const OtelRecordRef *refs, int n, OtelJsonItemFn fn,
					  int *nbad)
{
	int			start = out->len;
	int			nitems = 0;
	int			bad = 0;

	if (nbad)
		*nbad = 0;
	if (n <= 0)
		return;

	appendStringInfo(out, "{\"resource%s\":[{\"resource\":", kind);
	otel_enc_json_resource(out);
	appendStringInfo(out, ",\"scope%s\":[{\"scope\":", kind);
	otel_enc_json_scope(out);
	appendStringInfo(out, ",\"%s\":[", items);

	for (int i = 0; i < n; i++)
	{
		int			mark = out->len;

		if (nitems > 0)
			appendStringInfoCharMacro(out, ',');
		if (!fn(out, refs[i].data, refs[i].len))
		{
			out->len = mark;
			out->data[mark] = '\0';
			bad++;
			continue;
		}
		nitems++;
	}

	if (nitems == 0)
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

/*
 * Any OTLP Export*ServiceResponse (desc): field 1 is partial_success, whose
 * field 1 is the number of rejected items and field 2 error_message.
 */
bool
otel_enc_decode_export_response(const ProtobufCMessageDescriptor *desc,
								const char *body, Size len,
								int64 *rejected, char *errbuf, Size errlen)
{
	ProtobufCMessage *resp;
	const ProtobufCFieldDescriptor *f;
	ProtobufCMessage *ps = NULL;

	if (rejected)
		*rejected = 0;
	if (errbuf && errlen > 0)
		errbuf[0] = '\0';
	if (len == 0)
		return true;
	if (body == NULL)
		return false;

	/* the default allocator (malloc) never raises */
	resp = protobuf_c_message_unpack(desc, NULL, len, (const uint8_t *) body);
	if (resp == NULL)
		return false;
	f = protobuf_c_message_descriptor_get_field(desc, 1);
	if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE)
		ps = *(ProtobufCMessage **) ((char *) resp + f->offset);
	if (ps != NULL)
	{
		const ProtobufCFieldDescriptor *fr = protobuf_c_message_descriptor_get_field(ps->descriptor, 1);
		const ProtobufCFieldDescriptor *fe = protobuf_c_message_descriptor_get_field(ps->descriptor, 2);

		if (rejected && fr != NULL && fr->type == PROTOBUF_C_TYPE_INT64)
			*rejected = *(int64_t *) ((char *) ps + fr->offset);
		if (errbuf && errlen > 0 && fe != NULL && fe->type == PROTOBUF_C_TYPE_STRING)
		{
			const char *msg = *(char **) ((char *) ps + fe->offset);

			if (msg != NULL)
				strlcpy(errbuf, msg, errlen);
		}
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return true;
}

void
otel_enc_json_scope(StringInfo out)
{
	APPEND_LIT(out, "{\"name\":");
	json_str(out, OTEL_ALIYUN_SCOPE_NAME, strlen(OTEL_ALIYUN_SCOPE_NAME));
	APPEND_LIT(out, ",\"version\":");
	json_str(out, OTEL_ALIYUN_VERSION, strlen(OTEL_ALIYUN_VERSION));
	appendStringInfoCharMacro(out, '}');
}

Size
otel_pb_str_size(const char *s, Size len)
{
	return utf8_sanitized_len(s, len);
}

char *
otel_pb_put_str(char *p, const char *s, Size len)
{
	return utf8_put_sanitized(p, s, len);
}

Size
otel_pb_str_field_size(int field_no, const char *s, Size len)
{
	return otel_pb_len_field_size(field_no, utf8_sanitized_len(s, len));
}

char *
otel_pb_put_str_field(char *p, int field_no, const char *s, Size len)
{
	Size		n = utf8_sanitized_len(s, len);

	p = otel_pb_put_tag(p, field_no, OTEL_PB_WT_LEN);
	p = put_varint(p, n);
	return pb_putstr(p, s, len, n, false);
}

Size
otel_pb_span_attrs_size(const char *attrs, uint32 len)
{
	bool		dirty = false;

	return pb_kvlist_size(attrs, len, 0, &dirty);
}

char *
otel_pb_put_span_attrs(char *p, const char *attrs, uint32 len)
{
	return pb_put_kvlist(p, TAG_LEN(F_SPAN_ATTRIBUTES), attrs, len, 0, false);
}

/* The Span.attributes tag, the KeyValue's length and key, the value's tag. */
static inline char *
pb_span_kv_head(char *p, const char *key, int key_len, Size any_len)
{
	Size		kv_len = 1 + vsize(key_len) + key_len + 1 + vsize(any_len) + any_len;

	*p++ = TAG_LEN(F_SPAN_ATTRIBUTES);
	p = put_varint(p, kv_len);
	*p++ = TAG_LEN(F_KV_KEY);
	p = put_varint(p, key_len);
	memcpy(p, key, key_len);
	p += key_len;
	*p++ = TAG_LEN(F_KV_VALUE);
	return put_varint(p, any_len);
}

char *
otel_pb_put_span_kv_int(char *p, const char *key, int key_len, int64 v)
{
	p = pb_span_kv_head(p, key, key_len, 1 + vsize((uint64) v));
	*p++ = TAG_VARINT(F_AV_INT);
	return put_varint(p, (uint64) v);
}

char *
otel_pb_put_span_kv_double(char *p, const char *key, int key_len, double v)
{
	p = pb_span_kv_head(p, key, key_len, 1 + 8);
	*p++ = TAG_I64(F_AV_DOUBLE);
	return otel_pb_put_double(p, v);
}

char *
otel_pb_put_span_kv_ascii(char *p, const char *key, int key_len,
						  const char *v, int v_len)
{
	p = pb_span_kv_head(p, key, key_len, 1 + vsize(v_len) + v_len);
	*p++ = TAG_LEN(F_AV_STRING);
	p = put_varint(p, v_len);
	memcpy(p, v, v_len);
	return p + v_len;
}

bool
otel_pb_read_varint(const uint8 **p, const uint8 *end, uint64 *v)
{
	uint64		r = 0;

	for (int shift = 0; shift < 64; shift += 7)
	{
		uint8		b;

		if (*p >= end)
			return false;
		b = *(*p)++;
		r |= (uint64) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*v = r;
			return true;
		}
	}
	return false;
}

bool
otel_pb_read_field(const uint8 **p, const uint8 *end, uint32 *field, int *wtype,
				   const uint8 **data, Size *len, uint64 *v)
{
	uint64		key;
	uint64		l;

	if (!otel_pb_read_varint(p, end, &key))
		return false;
	*field = (uint32) (key >> 3);
	*wtype = (int) (key & 7);
	switch (*wtype)
	{
		case OTEL_PB_WT_VARINT:
			return otel_pb_read_varint(p, end, v);
		case OTEL_PB_WT_I64:
			l = 8;
			break;
		case OTEL_PB_WT_I32:
			l = 4;
			break;
		case OTEL_PB_WT_LEN:
			if (!otel_pb_read_varint(p, end, &l))
				return false;
			break;
		default:
			return false;
	}
	if (l > (uint64) (end - *p))
		return false;
	*data = *p;
	*len = (Size) l;
	*p += l;
	return true;
}

Size
otel_pb_attrs_size(const char *attrs, uint32 len)
{
	bool		dirty = false;

	return pb_kvlist_size(attrs, len, 0, &dirty);
}

char *
otel_pb_put_attrs(char *p, int field_no, const char *attrs, uint32 len)
{
	Assert(field_no >= 1 && field_no <= 15);
	return pb_put_kvlist(p, TAG_LEN(field_no), attrs, len, 0, false);
}

void
otel_pb_write_attrs(StringInfo out, int field_no, const char *attrs,
					uint32 len)
{
	Size		sz = otel_pb_attrs_size(attrs, len);
	char	   *start;
	char	   *end;

	if (field_no < 1 || field_no > 15)
		elog(ERROR, "attributes field number %d out of range", field_no);
	start = otel_pb_reserve(out, sz, "OTLP attribute list",
							"Use shorter attribute values.");
	end = otel_pb_put_attrs(start, field_no, attrs, len);
	if ((Size) (end - start) != sz)
		elog(ERROR, "attribute list encoded to %zu bytes, expected %zu",
			 (Size) (end - start), sz);
	otel_pb_commit(out, end);
}

char *
otel_pb_reserve(StringInfo out, Size n, const char *what, const char *hint)
{
	if (n >= (Size) (MaxAllocSize - out->len - 1))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of %zu bytes is too large", what, n),
				 errhint("%s", hint)));
	enlargeStringInfo(out, (int) n);
	return out->data + out->len;
}

void
otel_pb_commit(StringInfo out, char *end)
{
	Assert(end >= out->data + out->len && end < out->data + out->maxlen);
	out->len = (int) (end - out->data);
	out->data[out->len] = '\0';
}

const char *
otel_pb_resource(Size *len)
{
	pb_resource_refresh();
	*len = res_pb_len;
	return res_pb;
}

const char *
otel_pb_scope(Size *len)
{
	pb_scope_init();
	*len = scope_pb_len;
	return scope_pb;
}

/* ---- spans already in OTLP form (record.h OTEL_REC_SPAN_OTLP) ---- */

#define SPAN_OTLP_FIXED (sizeof(OtelRecordHeader) + sizeof(OtelSpanOtlpHeader))
#define SPAN_IDS_TIMES(has_parent) (18 + 10 + ((has_parent) ? 10 : 0) + 9 + 9)

static inline uint64
le64_value(uint64 x)
{
#ifdef WORDS_BIGENDIAN
	return pg_bswap64(x);
#else
	return x;
#endif
}

Size
otel_span_otlp_plan(OtelSpanOtlpPlan *pl, const OtelSpanHeader *h,
					int name_len, int tracestate_len, int status_msg_len,
					const OtelPbPart *attrs, int nattrs)
{
	Size		a_len = 0;
	Size		c_len = 0;
	Size		st_len = 0;
	Size		total;

	pl->parent = !id_is_zero(h->parent_span_id);
	pl->name_off = 0;
	if (name_len > 0)
	{
		pl->name_off = (uint8) (1 + vsize(name_len));
		a_len += pl->name_off + name_len;
	}
	if (h->kind != 0)
		a_len += 1 + vsize(h->kind);
	if (tracestate_len > 0)
		a_len += 1 + vsize(tracestate_len) + tracestate_len;
	for (int i = 0; i < nattrs; i++)
		a_len += attrs[i].len;
	if (status_msg_len > 0)
		st_len += 1 + vsize(status_msg_len) + status_msg_len;
	if (h->status != OTEL_STATUS_UNSET)
		st_len += 1 + vsize(h->status);
	if (st_len > 0)
		c_len += 1 + vsize(st_len) + st_len;
	if (h->flags != 0)
		c_len += 2 + 4;
	total = SPAN_OTLP_FIXED + a_len + SPAN_IDS_TIMES(pl->parent) + c_len;
	if (name_len > PG_UINT16_MAX || c_len > PG_UINT16_MAX ||
		total > OTEL_MAX_RECORD_SIZE)
		return 0;
	pl->a_len = (uint32) a_len;
	pl->c_len = (uint16) c_len;
	pl->st_len = (uint16) st_len;
	pl->total = total;
	return total;
}

void
otel_span_otlp_write(char *dst, const OtelSpanOtlpPlan *pl, const OtelSpanHeader *h,
					 const char *name, int name_len,
					 const char *tracestate, int tracestate_len,
					 const char *status_msg, int status_msg_len,
					 const OtelPbPart *attrs, int nattrs)
{
	OtelRecordHeader rh = {OTEL_REC_SPAN_OTLP, 1, OTEL_REC_FLAG_UTF8};
	OtelSpanOtlpHeader oh;
	char	   *p;

	memset(&oh, 0, sizeof(oh));
	oh.a_len = pl->a_len;
	oh.c_len = pl->c_len;
	oh.name_len = (uint16) name_len;
	oh.name_off = pl->name_off;
	oh.kind = h->kind;
	oh.has_parent = pl->parent ? 1 : 0;
	memcpy(dst, &rh, sizeof(rh));
	memcpy(dst + sizeof(rh), &oh, sizeof(oh));
	p = dst + SPAN_OTLP_FIXED;

	/* A */
	if (name_len > 0)
	{
		*p++ = TAG_LEN(F_SPAN_NAME);
		p = put_varint(p, name_len);
		memcpy(p, name, name_len);
		p += name_len;
	}
	if (h->kind != 0)
	{
		*p++ = TAG_VARINT(F_SPAN_KIND);
		p = put_varint(p, h->kind);
	}
	if (tracestate_len > 0)
	{
		*p++ = TAG_LEN(F_SPAN_TRACE_STATE);
		p = put_varint(p, tracestate_len);
		memcpy(p, tracestate, tracestate_len);
		p += tracestate_len;
	}
	for (int i = 0; i < nattrs; i++)
	{
		memcpy(p, attrs[i].data, attrs[i].len);
		p += attrs[i].len;
	}

	/* ids and times */
	p = pb_put_ids(p, h);
	*p++ = TAG_I64(F_SPAN_START);
	p = otel_pb_put_fixed64(p, (uint64) h->start_ns);
	*p++ = TAG_I64(F_SPAN_END);
	p = otel_pb_put_fixed64(p, (uint64) h->end_ns);

	/* C */
	if (pl->st_len > 0)
	{
		*p++ = TAG_LEN(F_SPAN_STATUS);
		p = put_varint(p, pl->st_len);
		if (status_msg_len > 0)
		{
			*p++ = TAG_LEN(F_STATUS_MESSAGE);
			p = put_varint(p, status_msg_len);
			memcpy(p, status_msg, status_msg_len);
			p += status_msg_len;
		}
		if (h->status != OTEL_STATUS_UNSET)
		{
			*p++ = TAG_VARINT(F_STATUS_CODE);
			p = put_varint(p, h->status);
		}
	}
	if (h->flags != 0)
	{
		p = otel_pb_put_tag(p, F_SPAN_FLAGS, OTEL_PB_WT_I32);
		p = otel_pb_put_fixed32(p, h->flags);
	}
	Assert((Size) (p - dst) == pl->total);
}

/*
 * The header and body of an OTEL_REC_SPAN_OTLP record, if its lengths hold
 * together.
 */
static inline bool
span_otlp_body(const char *data, uint32 len, OtelSpanOtlpHeader *oh,
			   const char **body, uint32 *body_len)
{
	if (len < SPAN_OTLP_FIXED ||
		(uint8) data[offsetof(OtelRecordHeader, type)] != OTEL_REC_SPAN_OTLP)
		return false;
	memcpy(oh, data + sizeof(OtelRecordHeader), sizeof(*oh));
	*body = data + SPAN_OTLP_FIXED;
	*body_len = len - SPAN_OTLP_FIXED;
	return (uint64) oh->a_len + SPAN_IDS_TIMES(oh->has_parent) + oh->c_len == *body_len &&
		(uint32) oh->name_off + oh->name_len <= oh->a_len &&
		(oh->name_len == 0 || oh->name_off > 0);
}

/*
 * An OTEL_REC_SPAN_OTLP record read back as a view, for the encoders that
 * do not send the body as it is (OTLP/JSON).  The attributes become one
 * SPAN_PB entry, copied into *attrs_copy (palloc'd; the caller frees it).
 */
static bool
span_otlp_view(const char *data, uint32 len, OtelSpanView *v, char **attrs_copy)
{
	OtelSpanOtlpHeader oh;
	const char *body;
	uint32		body_len;
	const uint8 *p;
	const uint8 *a_end;
	const uint8 *end;
	const char *ids;
	uint64		x;
	OtelAttrHdr ah;

	*attrs_copy = NULL;
	if (!span_otlp_body(data, len, &oh, &body, &body_len))
		return false;
	memset(v, 0, sizeof(*v));
	v->h.kind = oh.kind;
	v->h.name_len = oh.name_len;
	v->name = body + oh.name_off;
	p = (const uint8 *) body + (oh.name_len > 0 ? oh.name_off + oh.name_len : 0);
	a_end = (const uint8 *) body + oh.a_len;
	if (p < a_end && *p == (uint8) TAG_VARINT(F_SPAN_KIND))
	{
		p++;
		if (!otel_pb_read_varint(&p, a_end, &x))
			return false;
	}
	v->tracestate = "";
	if (p < a_end && *p == (uint8) TAG_LEN(F_SPAN_TRACE_STATE))
	{
		p++;
		if (!otel_pb_read_varint(&p, a_end, &x) || x > (uint64) (a_end - p) ||
			x > PG_UINT16_MAX)
			return false;
		v->tracestate = (const char *) p;
		v->h.tracestate_len = (uint16) x;
		p += x;
	}

	/* the attribute fields, as one SPAN_PB entry */
	ah.type = OTEL_ATTR_SPAN_PB;
	ah.pad = 0;
	ah.key_len = 0;
	ah.val_len = (uint32) (a_end - p);
	*attrs_copy = palloc(OTEL_ATTR_HDR_SIZE + ah.val_len);
	memcpy(*attrs_copy, &ah, OTEL_ATTR_HDR_SIZE);
	memcpy(*attrs_copy + OTEL_ATTR_HDR_SIZE, p, ah.val_len);
	v->attrs = *attrs_copy;
	v->h.attrs_len = ah.val_len > 0 ? OTEL_ATTR_HDR_SIZE + ah.val_len : 0;

	ids = (const char *) a_end;
	memcpy(v->h.trace_id, ids + 2, 16);
	memcpy(v->h.span_id, ids + 20, 8);
	ids += 28;
	if (oh.has_parent)
	{
		memcpy(v->h.parent_span_id, ids + 2, 8);
		ids += 10;
	}
	memcpy(&x, ids + 1, 8);
	v->h.start_ns = (int64) le64_value(x);
	memcpy(&x, ids + 10, 8);
	v->h.end_ns = (int64) le64_value(x);

	p = (const uint8 *) ids + 18;
	end = (const uint8 *) body + body_len;
	v->status_msg = "";
	if (p < end && *p == (uint8) TAG_LEN(F_SPAN_STATUS))
	{
		const uint8 *st_end;

		p++;
		if (!otel_pb_read_varint(&p, end, &x) || x > (uint64) (end - p))
			return false;
		st_end = p + x;
		while (p < st_end)
		{
			uint32		field;
			int			wtype;
			const uint8 *fdata;
			Size		flen;
			uint64		fv;

			if (!otel_pb_read_field(&p, st_end, &field, &wtype, &fdata, &flen, &fv))
				return false;
			if (field == F_STATUS_MESSAGE && wtype == OTEL_PB_WT_LEN)
			{
				v->status_msg = (const char *) fdata;
				v->h.status_msg_len = (uint32) flen;
			}
			else if (field == F_STATUS_CODE && wtype == OTEL_PB_WT_VARINT)
				v->h.status = (uint8) fv;
		}
	}
	if (end - p >= 6 && p[0] == 0x85 && p[1] == 0x01)
	{
		uint32		f;

		memcpy(&f, p + 2, 4);
#ifdef WORDS_BIGENDIAN
		f = pg_bswap32(f);
#endif
		v->h.flags = (uint8) f;
	}
	return true;
}
