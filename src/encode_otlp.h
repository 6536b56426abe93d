/*-------------------------------------------------------------------------
 * encode_otlp.h
 *		Span (and later log/metric) records to OTLP: the protobuf
 *		ExportTraceServiceRequest, written straight in the protobuf wire
 *		format (no message structs), and the OTLP/JSON encoding (hex ids,
 *		lowerCamelCase, int64 as strings) for the file exporter and
 *		http/json.  One ResourceSpans (resource.h) with one ScopeSpans (scope
 *		otel_aliyun, OTEL_ALIYUN_VERSION) per request.  Pure code: output goes
 *		to the caller's StringInfo; malformed records are skipped and counted
 *		in *nbad.  Works in the caller's memory context and frees what it
 *		used, except a small per-process cache of the encoded Resource.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_ENCODE_OTLP_H
#define OTEL_ENCODE_OTLP_H

#include "lib/stringinfo.h"
#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "buffer.h"
#include "gzip_delta.h"
#include "record.h"

#include "opentelemetry/proto/common/v1/common.pb-c.h"
#include "opentelemetry/proto/resource/v1/resource.pb-c.h"

/*
 * Capture side (hooks.c): an attribute list as protobuf Span.attributes
 * fields, for a span record's SPAN_PB entry (record.h), so that attributes
 * repeated in every span are encoded once instead of by the worker for each.
 * Size first, then write exactly that many bytes; no allocation, no error,
 * strings made valid UTF-8.
 */
extern Size otel_pb_span_attrs_size(const char *attrs, uint32 len);
extern char *otel_pb_put_span_attrs(char *p, const char *attrs, uint32 len);

/*
 * Capture side too: one Span.attributes field straight from a value measured
 * per statement, with an ASCII key and (for _ascii) an ASCII value, each
 * shorter than 100 bytes: at most OTEL_PB_SPAN_KV_MAX bytes each.
 */
#define OTEL_PB_SPAN_KV_MAX	224
extern char *otel_pb_put_span_kv_int(char *p, const char *key, int key_len, int64 v);
extern char *otel_pb_put_span_kv_double(char *p, const char *key, int key_len, double v);
extern char *otel_pb_put_span_kv_ascii(char *p, const char *key, int key_len,
									   const char *v, int v_len);

/*
 * Capture side: a whole span as an OTEL_REC_SPAN_OTLP record (record.h),
 * its attributes given as pre-encoded Span.attributes fields, in UTF8
 * databases only (strings are copied as they are).  plan sizes it and
 * returns its length, or 0 when a part is too long for the header or the
 * record too long for the ring (build an OTEL_REC_SPAN then); write puts
 * exactly that many bytes at dst, with the same arguments.  No allocation,
 * no error: write may go straight into a reserved ring slot (buffer.h).
 */
typedef struct OtelPbPart
{
	const char *data;
	Size		len;
} OtelPbPart;

typedef struct OtelSpanOtlpPlan
{
	Size		total;
	uint32		a_len;
	uint16		c_len;
	uint16		st_len;
	uint8		name_off;
	bool		parent;
} OtelSpanOtlpPlan;

extern Size otel_span_otlp_plan(OtelSpanOtlpPlan *pl, const OtelSpanHeader *h,
								int name_len, int tracestate_len, int status_msg_len,
								const OtelPbPart *attrs, int nattrs);
extern void otel_span_otlp_write(char *dst, const OtelSpanOtlpPlan *pl,
								 const OtelSpanHeader *h,
								 const char *name, int name_len,
								 const char *tracestate, int tracestate_len,
								 const char *status_msg, int status_msg_len,
								 const OtelPbPart *attrs, int nattrs);

/*
 * Append an ExportTraceServiceRequest for the spans to out.  When segs is
 * not NULL, *segs is set to a palloc'd array of gzip pieces (gzip_delta.h):
 * each span's name, kind and attributes, and its status, against those of
 * the previous span of its name and kind; each id or time that repeats one
 * of the two spans before it against that one.  *nsegs is its length.
 */
extern void otel_encode_traces_pb(const OtelRecordRef *refs, int n,
								  StringInfo out, int *nbad,
								  OtelGzipSeg **segs, int *nsegs);
extern void otel_encode_traces_json(const OtelRecordRef *refs, int n,
									StringInfo out, int *nbad);

/*
 * Read an ExportTraceServiceResponse body.  Returns the number of rejected
 * spans from partial_success (0 if none or body empty) and copies its
 * error_message into errbuf.  False if the body does not decode.
 */
extern bool otel_decode_traces_response(const char *body, Size len,
										int64 *rejected, char *errbuf, Size errlen);

/*
 * ---- direct protobuf wire-format writing (traces; reusable for logs and
 * metrics) ----
 *
 * Protocol: compute the exact size of a length-delimited field first, then
 * write it.  Every *_size function returns exactly the number of bytes the
 * matching writer produces.  The otel_pb_put_* writers write at p, which
 * must have room (reserve it with otel_pb_reserve), and return the new end;
 * they never allocate and never fail.  Finish with otel_pb_commit.
 *
 *	char *p = otel_pb_reserve(out, total, "OTLP logs request", hint);
 *	p = otel_pb_put_tag(p, 1, OTEL_PB_WT_LEN);
 *	p = otel_pb_put_varint(p, body_len);
 *	...
 *	otel_pb_commit(out, p);
 *
 * Strings are sanitized like everywhere else (ill-formed UTF-8 and NUL
 * bytes become U+FFFD): otel_pb_str_size is the sanitized length, which
 * equals len for the usual, already valid, string (checked by a fast scan;
 * nothing is copied then).
 *
 * Attribute lists (record.h) become a repeated KeyValue field: one
 * "tag, length, KeyValue{key=1, value=2 AnyValue}" per entry, with AnyValue
 * string_value=1, bool_value=2, int_value=3 (plain varint of the two's
 * complement), double_value=4, array_value=5, kvlist_value=6,
 * bytes_value=7; nesting deeper than 16 levels becomes an empty AnyValue,
 * and the list ends at its first malformed entry.  field_no must be 1..15
 * (a one-byte tag: every OTLP "attributes" field is).
 */
#define OTEL_PB_WT_VARINT	0
#define OTEL_PB_WT_I64		1
#define OTEL_PB_WT_LEN		2
#define OTEL_PB_WT_I32		5

/* bytes of v as a varint: 1..10 */
static inline int
otel_pb_varint_size(uint64 v)
{
	if (v < 128)
		return 1;
	return (pg_leftmost_one_pos64(v) * 9 + 73) / 64;
}

static inline int
otel_pb_tag_size(int field_no)
{
	return otel_pb_varint_size((uint64) field_no << 3);
}

/* a whole length-delimited field holding body_len bytes */
static inline Size
otel_pb_len_field_size(int field_no, Size body_len)
{
	return otel_pb_tag_size(field_no) + otel_pb_varint_size(body_len) + body_len;
}

static inline char *
otel_pb_put_varint(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

static inline char *
otel_pb_put_tag(char *p, int field_no, int wire_type)
{
	return otel_pb_put_varint(p, ((uint64) field_no << 3) | (uint64) wire_type);
}

/*
 * Reading the wire format (answers, pre-encoded attributes): one varint;
 * the next field, with its number and wire type, and for varints its value
 * in v, for the others its bytes in data and len (fixed ones little-endian).
 * False on anything truncated or unknown.
 */
extern bool otel_pb_read_varint(const uint8 **p, const uint8 *end, uint64 *v);
extern bool otel_pb_read_field(const uint8 **p, const uint8 *end, uint32 *field,
							   int *wtype, const uint8 **data, Size *len, uint64 *v);

/* fixed32/fixed64/double payloads (little-endian), without the tag */
static inline char *
otel_pb_put_fixed32(char *p, uint32 v)
{
#ifdef WORDS_BIGENDIAN
	v = pg_bswap32(v);
#endif
	memcpy(p, &v, 4);
	return p + 4;
}

static inline char *
otel_pb_put_fixed64(char *p, uint64 v)
{
#ifdef WORDS_BIGENDIAN
	v = pg_bswap64(v);
#endif
	memcpy(p, &v, 8);
	return p + 8;
}

static inline char *
otel_pb_put_double(char *p, double d)
{
	uint64		v;

	memcpy(&v, &d, 8);
	return otel_pb_put_fixed64(p, v);
}

/* sanitized length of a string, and its sanitized bytes (no tag/length) */
extern Size otel_pb_str_size(const char *s, Size len);
extern char *otel_pb_put_str(char *p, const char *s, Size len);

/* a whole string field: tag, length, sanitized bytes */
extern Size otel_pb_str_field_size(int field_no, const char *s, Size len);
extern char *otel_pb_put_str_field(char *p, int field_no, const char *s, Size len);

/*
 * Repeated KeyValue field field_no (1..15) from an attribute list: its
 * exact size (tags included; 0 for an empty list, which writes nothing),
 * the writer, and the writer that reserves and commits in out itself.
 */
extern Size otel_pb_attrs_size(const char *attrs, uint32 len);
extern char *otel_pb_put_attrs(char *p, int field_no, const char *attrs, uint32 len);
extern void otel_pb_write_attrs(StringInfo out, int field_no,
								const char *attrs, uint32 len);

/*
 * Make room for n more bytes in out and return where they go; ERROR (with
 * what and hint) if out would exceed MaxAllocSize.  commit sets out->len to
 * end and NUL-terminates.
 */
extern char *otel_pb_reserve(StringInfo out, Size n,
							 const char *what, const char *hint);
extern void otel_pb_commit(StringInfo out, char *end);

/*
 * Message bodies (no tag/length) of the Resource (resource.h attributes as
 * field 1) and the InstrumentationScope {name=1, version=2}.  Cached per
 * process; the Resource is re-encoded when the contents of
 * otel_resource_attrs() change.  Valid until the next otel_pb_resource().
 */
extern const char *otel_pb_resource(Size *len);
extern const char *otel_pb_scope(Size *len);

/*
 * ---- building blocks shared by the OTLP encoders (logs, metrics) ----
 *
 * The protobuf-c way, slower than the writer above (a message struct per
 * value, then protobuf-c packs them); the trace encoder no longer uses it.
 * A bump allocator over a memory context the caller owns and deletes; the
 * protobuf-c message trees are carved out of it.  otel_enc_str returns a
 * NUL-terminated copy made valid UTF-8 (ill-formed bytes and NULs become
 * U+FFFD), which is what every string of the wire formats must be;
 * otel_enc_utf8_clean_prefix is the length of the longest prefix that
 * needs no such repair.
 */
typedef struct OtelEncArena
{
	MemoryContext cxt;
	char	   *cur;
	char	   *end;
} OtelEncArena;

extern void otel_enc_arena_init(OtelEncArena *a, MemoryContext cxt);
extern void *otel_enc_alloc(OtelEncArena *a, Size size);
extern char *otel_enc_str(OtelEncArena *a, const char *s, Size len);
extern Size otel_enc_utf8_clean_prefix(const char *s, Size len);
extern int	otel_enc_attr_count(const char *attrs, uint32 len);
extern bool otel_enc_all_zero(const uint8 *p, int n);

/* attribute list (record.h) -> repeated KeyValue / AnyValue */
extern Opentelemetry__Proto__Common__V1__KeyValue **otel_enc_pb_kvs(OtelEncArena *a,
																	 const char *attrs,
																	 uint32 len,
																	 size_t *n_out);
/* the Resource (resource.h) and the instrumentation scope otel_aliyun */
extern void otel_enc_pb_resource_scope(OtelEncArena *a,
									   Opentelemetry__Proto__Resource__V1__Resource *res,
									   Opentelemetry__Proto__Common__V1__InstrumentationScope *scope);
/* append the packed message to out; ERROR (with hint) if it cannot fit */
extern void otel_enc_pb_pack(const ProtobufCMessage *msg, StringInfo out,
							 const char *what, const char *hint);

/* OTLP/JSON pieces: string literal, hex id, numbers, AnyValue lists */
extern void otel_enc_json_str(StringInfo out, const char *s, Size len);
extern void otel_enc_json_hex(StringInfo out, const uint8 *p, int n);
extern void otel_enc_json_int64(StringInfo out, int64 v);	/* as a string */
extern void otel_enc_json_uint64(StringInfo out, uint64 v); /* as a string */
extern void otel_enc_json_uint32(StringInfo out, uint32 v);
extern void otel_enc_json_double(StringInfo out, double d);
extern void otel_enc_json_base64(StringInfo out, const char *p, uint32 len);
/* a non-empty attribute list as a JSON array of KeyValue objects */
extern void otel_enc_json_kvs(StringInfo out, const char *attrs, uint32 len);
/* {"attributes":[...]} of the Resource; {"name":...,"version":...} */
extern void otel_enc_json_resource(StringInfo out);
extern void otel_enc_json_scope(StringInfo out);

/*
 * A whole OTLP/JSON request ({"resource<kind>":[{"resource":...,
 * "scope<kind>":[{"scope":...,"<items>":[...]}]}]}), e.g. kind "Logs", items
 * "logRecords"; fn writes one item and returns false for a malformed
 * record, which is skipped and counted in *nbad.
 */
typedef bool (*OtelJsonItemFn) (StringInfo out, const char *data, uint32 len);
extern void otel_enc_json_request(StringInfo out, const char *kind,
								  const char *items, const OtelRecordRef *refs,
								  int n, OtelJsonItemFn fn, int *nbad);

/*
 * rejected count and error_message of the partial_success of any OTLP
 * Export*ServiceResponse (desc); false if the body does not decode.
 */
extern bool otel_enc_decode_export_response(const ProtobufCMessageDescriptor *desc,
											const char *body, Size len,
											int64 *rejected, char *errbuf,
											Size errlen);

#endif							/* OTEL_ENCODE_OTLP_H */
