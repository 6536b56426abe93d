/*-------------------------------------------------------------------------
 * record.h
 *		The byte format of span and log records as they travel through the
 *		ring, a builder that writes them into caller-provided memory, and a
 *		reader for the worker's encoders.  record.c owns only code, no state.
 *
 *		A record is: OtelRecordHeader, then a signal-specific fixed header,
 *		then variable-length strings, then an attribute list.  Integers are
 *		native-endian and NOT aligned: always read them through the accessors
 *		or memcpy.  Strings are not NUL-terminated; lengths are explicit.
 *
 *		Attribute list: a sequence of entries
 *			uint8 type, uint8 pad, uint16 key_len, uint32 val_len,
 *			key bytes, value bytes
 *		INT and DOUBLE values are 8 bytes, BOOL 1 byte, STRING/BYTES raw;
 *		ARRAY and KVLIST values are themselves attribute lists (array elements
 *		have key_len 0).  SPAN_PB (span records only, key_len 0) holds
 *		attributes already encoded as protobuf Span.attributes fields (tag,
 *		length, KeyValue; repeated), valid UTF-8: the capture side encodes the
 *		attributes that repeat (session, query id) once and the protobuf
 *		encoder copies them as they are.
 *
 *		The builder never fails and never allocates: when the memory is too
 *		small it stops appending, sets overflow, and the record is dropped by
 *		the caller (counted as truncated).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_RECORD_H
#define OTEL_RECORD_H

typedef enum OtelRecordType
{
	OTEL_REC_SPAN = 1,
	OTEL_REC_LOG = 2,
	OTEL_REC_SPAN_OTLP = 3		/* a span already in OTLP form: below */
} OtelRecordType;

typedef enum OtelAttrType
{
	OTEL_ATTR_STRING = 1,
	OTEL_ATTR_INT = 2,
	OTEL_ATTR_DOUBLE = 3,
	OTEL_ATTR_BOOL = 4,
	OTEL_ATTR_BYTES = 5,
	OTEL_ATTR_ARRAY = 6,
	OTEL_ATTR_KVLIST = 7,
	OTEL_ATTR_SPAN_PB = 8
} OtelAttrType;

/* OTLP enum values, used as-is in records */
#define OTEL_SPAN_KIND_INTERNAL 1
#define OTEL_SPAN_KIND_SERVER	2
#define OTEL_SPAN_KIND_CLIENT	3
#define OTEL_STATUS_UNSET		0
#define OTEL_STATUS_OK			1
#define OTEL_STATUS_ERROR		2

typedef struct OtelRecordHeader
{
	uint8		type;			/* OtelRecordType */
	uint8		version;		/* 1 */
	uint16		flags;			/* OTEL_REC_FLAG_* */
} OtelRecordHeader;

/*
 * Every string of the record is valid UTF-8 (it was made in a UTF8
 * database), so encoders need not check it again.
 */
#define OTEL_REC_FLAG_UTF8		0x0001

typedef struct OtelSpanHeader
{
	uint8		trace_id[16];
	uint8		span_id[8];
	uint8		parent_span_id[8];	/* all zero for a root span */
	int64		start_ns;		/* Unix epoch nanoseconds */
	int64		end_ns;
	uint8		kind;			/* OTEL_SPAN_KIND_* */
	uint8		status;			/* OTEL_STATUS_* */
	uint8		flags;			/* W3C trace-flags (bit 0 = sampled) */
	uint8		pad;
	uint16		name_len;
	uint16		tracestate_len;
	uint32		status_msg_len;
	uint32		attrs_len;
	/* then: name, tracestate, status message, attribute list */
} OtelSpanHeader;

/*
 * OTEL_REC_SPAN_OTLP: OtelRecordHeader, OtelSpanOtlpHeader, then the body
 * of an OTLP Span message as the worker sends it, its fields in this order
 * (the header says where the parts are, for the gzip pieces):
 *
 *	A: name (5), kind (6), trace_state (3), attributes (9, repeated)
 *	   a_len bytes; each present only when not empty or zero
 *	trace_id (1, 16 bytes), span_id (2, 8 bytes)
 *	parent_span_id (4, 8 bytes): only when has_parent
 *	start_time_unix_nano (7), end_time_unix_nano (8): fixed64, always
 *	C: status (15) when set or with a message, flags (16, fixed32) when not
 *	   zero: c_len bytes
 *
 * Written in UTF8 databases only (OTEL_REC_FLAG_UTF8 set), so every string
 * is valid UTF-8 as it is; encode_otlp.h writes and reads these.
 */
typedef struct OtelSpanOtlpHeader
{
	uint32		a_len;
	uint16		c_len;
	uint16		name_len;		/* the name's bytes start at name_off */
	uint8		name_off;
	uint8		kind;			/* OTEL_SPAN_KIND_*, as in A */
	uint8		has_parent;
	uint8		pad;
} OtelSpanOtlpHeader;

typedef struct OtelLogHeader
{
	int64		time_ns;
	int64		observed_ns;
	uint8		trace_id[16];	/* all zero when not in a traced statement */
	uint8		span_id[8];
	uint8		severity_number;	/* OTLP SeverityNumber 1..24 */
	uint8		flags;			/* W3C trace-flags */
	uint16		severity_text_len;
	uint32		body_len;
	uint32		attrs_len;
	/* then: severity text, body, attribute list */
} OtelLogHeader;

/* ---- builder ---- */

typedef struct OtelRecBuf
{
	char	   *data;
	Size		len;
	Size		cap;
	bool		overflow;
} OtelRecBuf;

extern void otel_rec_init(OtelRecBuf *b, char *mem, Size cap);

/* Attribute appenders; vlen < 0 means strlen(val).  NULL val is skipped. */
extern void otel_attr_str(OtelRecBuf *b, const char *key, const char *val, int vlen);
extern void otel_attr_int(OtelRecBuf *b, const char *key, int64 val);
extern void otel_attr_double(OtelRecBuf *b, const char *key, double val);
extern void otel_attr_bool(OtelRecBuf *b, const char *key, bool val);
/* pre-encoded Span.attributes fields (see SPAN_PB above) */
extern void otel_attr_span_pb(OtelRecBuf *b, const char *pb, Size len);
/* nested ARRAY / KVLIST: begin returns a mark to pass to end */
extern Size otel_attr_begin_nested(OtelRecBuf *b, OtelAttrType type, const char *key);
extern void otel_attr_end_nested(OtelRecBuf *b, Size mark);

/*
 * Span building: start writes the headers and strings (name, tracestate and
 * status message may be NULL), attributes follow, finish patches attrs_len.
 * Returns false if the buffer overflowed.
 */
extern void otel_span_begin(OtelRecBuf *b, const OtelSpanHeader *h,
							const char *name, int name_len,
							const char *tracestate, int tracestate_len,
							const char *status_msg, int status_msg_len);
extern bool otel_span_finish(OtelRecBuf *b);

extern void otel_log_begin(OtelRecBuf *b, const OtelLogHeader *h,
						   const char *severity_text,
						   const char *body, int body_len);
extern bool otel_log_finish(OtelRecBuf *b);

/* ---- reader (worker side) ---- */

typedef struct OtelSpanView
{
	OtelSpanHeader h;			/* aligned copy */
	const char *name;
	const char *tracestate;
	const char *status_msg;
	const char *attrs;
} OtelSpanView;

typedef struct OtelLogView
{
	OtelLogHeader h;			/* aligned copy */
	const char *severity_text;
	const char *body;
	const char *attrs;
} OtelLogView;

/* Validate lengths and fill the view; false for a malformed record. */
extern OtelRecordType otel_record_type(const char *data, uint32 len);
extern uint16 otel_record_flags(const char *data, uint32 len);
extern bool otel_span_view(const char *data, uint32 len, OtelSpanView *v);
extern bool otel_log_view(const char *data, uint32 len, OtelLogView *v);

typedef struct OtelAttr
{
	OtelAttrType type;
	const char *key;
	uint16		key_len;
	const char *val;			/* raw bytes, unaligned */
	uint32		val_len;
} OtelAttr;

typedef struct OtelAttrIter
{
	const char *p;
	const char *end;
} OtelAttrIter;

/* The header of an attribute list entry (see the top of this file). */
typedef struct OtelAttrHdr
{
	uint8		type;
	uint8		pad;
	uint16		key_len;
	uint32		val_len;
} OtelAttrHdr;

#define OTEL_ATTR_HDR_SIZE	8

/*
 * The reader, inline: the worker calls it for every attribute of every
 * span, twice.
 */
static inline void
otel_attr_iter_init(OtelAttrIter *it, const char *attrs, uint32 len)
{
	it->p = attrs;
	it->end = attrs + len;
}

/* false at the end or on a malformed entry */
static inline bool
otel_attr_next(OtelAttrIter *it, OtelAttr *a)
{
	OtelAttrHdr h;
	Size		left = it->end - it->p;

	if (left < OTEL_ATTR_HDR_SIZE)
		return false;
	memcpy(&h, it->p, OTEL_ATTR_HDR_SIZE);
	if ((uint64) OTEL_ATTR_HDR_SIZE + h.key_len + h.val_len > left)
		return false;
	a->type = (OtelAttrType) h.type;
	a->key = it->p + OTEL_ATTR_HDR_SIZE;
	a->key_len = h.key_len;
	a->val = a->key + h.key_len;
	a->val_len = h.val_len;
	switch (a->type)
	{
		case OTEL_ATTR_INT:
		case OTEL_ATTR_DOUBLE:
			if (h.val_len != 8)
				return false;
			break;
		case OTEL_ATTR_BOOL:
			if (h.val_len != 1)
				return false;
			break;
		case OTEL_ATTR_STRING:
		case OTEL_ATTR_BYTES:
		case OTEL_ATTR_ARRAY:
		case OTEL_ATTR_KVLIST:
		case OTEL_ATTR_SPAN_PB:
			break;
		default:
			return false;
	}
	it->p = a->val + h.val_len;
	return true;
}

static inline int64
otel_attr_get_int(const OtelAttr *a)
{
	int64		v;

	memcpy(&v, a->val, sizeof(v));
	return v;
}

static inline double
otel_attr_get_double(const OtelAttr *a)
{
	double		v;

	memcpy(&v, a->val, sizeof(v));
	return v;
}

static inline bool
otel_attr_get_bool(const OtelAttr *a)
{
	return a->val[0] != 0;
}

#endif							/* OTEL_RECORD_H */
