/*-------------------------------------------------------------------------
 *
 * record.c
 *		Writing and reading span and log records (format in record.h).
 *
 * The builder appends into memory the caller owns (a static scratch area
 * in the hooks), so building a span costs no allocation.  The reader checks
 * every length against the record's end before handing out pointers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "record.h"

StaticAssertDecl(sizeof(OtelAttrHdr) == OTEL_ATTR_HDR_SIZE, "attribute header size");

void
otel_rec_init(OtelRecBuf *b, char *mem, Size cap)
{
	b->data = mem;
	b->len = 0;
	b->cap = cap;
	b->overflow = false;
}

/* inline here: a span's record is some thirty appends */
static pg_attribute_always_inline void
rec_append(OtelRecBuf *b, const void *p, Size n)
{
	if (unlikely(b->overflow || n > b->cap - b->len))
	{
		b->overflow = true;
		return;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void
attr_put(OtelRecBuf *b, OtelAttrType type, const char *key,
		 const void *val, Size vlen)
{
	OtelAttrHdr h;
	Size		klen = strlen(key);

	if (klen > PG_UINT16_MAX || vlen > PG_UINT32_MAX)
	{
		b->overflow = true;
		return;
	}
	h.type = (uint8) type;
	h.pad = 0;
	h.key_len = (uint16) klen;
	h.val_len = (uint32) vlen;
	rec_append(b, &h, OTEL_ATTR_HDR_SIZE);
	rec_append(b, key, klen);
	if (vlen)
		rec_append(b, val, vlen);
}

void
otel_attr_str(OtelRecBuf *b, const char *key, const char *val, int vlen)
{
	if (val == NULL)
		return;
	attr_put(b, OTEL_ATTR_STRING, key, val, vlen < 0 ? strlen(val) : (Size) vlen);
}

void
otel_attr_int(OtelRecBuf *b, const char *key, int64 val)
{
	attr_put(b, OTEL_ATTR_INT, key, &val, sizeof(val));
}

void
otel_attr_double(OtelRecBuf *b, const char *key, double val)
{
	attr_put(b, OTEL_ATTR_DOUBLE, key, &val, sizeof(val));
}

void
otel_attr_bool(OtelRecBuf *b, const char *key, bool val)
{
	uint8		v = val ? 1 : 0;

	attr_put(b, OTEL_ATTR_BOOL, key, &v, 1);
}

void
otel_attr_span_pb(OtelRecBuf *b, const char *pb, Size len)
{
	attr_put(b, OTEL_ATTR_SPAN_PB, "", pb, len);
}

Size
otel_attr_begin_nested(OtelRecBuf *b, OtelAttrType type, const char *key)
{
	Size		mark = b->len;

	attr_put(b, type, key, NULL, 0);
	return mark;
}

void
otel_attr_end_nested(OtelRecBuf *b, Size mark)
{
	OtelAttrHdr h;

	if (b->overflow)
		return;
	memcpy(&h, b->data + mark, OTEL_ATTR_HDR_SIZE);
	h.val_len = (uint32) (b->len - mark - OTEL_ATTR_HDR_SIZE - h.key_len);
	memcpy(b->data + mark, &h, OTEL_ATTR_HDR_SIZE);
}

/* ---- spans ---- */

#define SPAN_FIXED (sizeof(OtelRecordHeader) + sizeof(OtelSpanHeader))
#define LOG_FIXED (sizeof(OtelRecordHeader) + sizeof(OtelLogHeader))

void
otel_span_begin(OtelRecBuf *b, const OtelSpanHeader *h,
				const char *name, int name_len,
				const char *tracestate, int tracestate_len,
				const char *status_msg, int status_msg_len)
{
	OtelRecordHeader rh = {OTEL_REC_SPAN, 1, 0};
	OtelSpanHeader sh = *h;

	/* the server checked every string it holds against its encoding */
	if (GetDatabaseEncoding() == PG_UTF8)
		rh.flags |= OTEL_REC_FLAG_UTF8;

	if (name == NULL)
		name_len = 0;
	if (tracestate == NULL)
		tracestate_len = 0;
	if (status_msg == NULL)
		status_msg_len = 0;
	sh.name_len = (uint16) Min(name_len, PG_UINT16_MAX);
	sh.tracestate_len = (uint16) Min(tracestate_len, PG_UINT16_MAX);
	sh.status_msg_len = (uint32) status_msg_len;
	sh.attrs_len = 0;
	rec_append(b, &rh, sizeof(rh));
	rec_append(b, &sh, sizeof(sh));
	rec_append(b, name, sh.name_len);
	rec_append(b, tracestate, sh.tracestate_len);
	rec_append(b, status_msg, sh.status_msg_len);
}

bool
otel_span_finish(OtelRecBuf *b)
{
	OtelSpanHeader sh;
	Size		fixed;

	if (b->overflow || b->len < SPAN_FIXED)
		return false;
	memcpy(&sh, b->data + sizeof(OtelRecordHeader), sizeof(sh));
	fixed = SPAN_FIXED + sh.name_len + sh.tracestate_len + sh.status_msg_len;
	sh.attrs_len = (uint32) (b->len - fixed);
	memcpy(b->data + sizeof(OtelRecordHeader), &sh, sizeof(sh));
	return true;
}

void
otel_log_begin(OtelRecBuf *b, const OtelLogHeader *h,
			   const char *severity_text, const char *body, int body_len)
{
	OtelRecordHeader rh = {OTEL_REC_LOG, 1, 0};
	OtelLogHeader lh = *h;
	Size		sev_len = severity_text ? strlen(severity_text) : 0;

	if (body == NULL)
		body_len = 0;
	lh.severity_text_len = (uint16) Min(sev_len, PG_UINT16_MAX);
	lh.body_len = (uint32) body_len;
	lh.attrs_len = 0;
	rec_append(b, &rh, sizeof(rh));
	rec_append(b, &lh, sizeof(lh));
	rec_append(b, severity_text, lh.severity_text_len);
	rec_append(b, body, lh.body_len);
}

bool
otel_log_finish(OtelRecBuf *b)
{
	OtelLogHeader lh;
	Size		fixed;

	if (b->overflow || b->len < LOG_FIXED)
		return false;
	memcpy(&lh, b->data + sizeof(OtelRecordHeader), sizeof(lh));
	fixed = LOG_FIXED + lh.severity_text_len + lh.body_len;
	lh.attrs_len = (uint32) (b->len - fixed);
	memcpy(b->data + sizeof(OtelRecordHeader), &lh, sizeof(lh));
	return true;
}

/* ---- reader ---- */

OtelRecordType
otel_record_type(const char *data, uint32 len)
{
	OtelRecordHeader rh;

	if (len < sizeof(rh))
		return 0;
	memcpy(&rh, data, sizeof(rh));
	return (OtelRecordType) rh.type;
}

uint16
otel_record_flags(const char *data, uint32 len)
{
	OtelRecordHeader rh;

	if (len < sizeof(rh))
		return 0;
	memcpy(&rh, data, sizeof(rh));
	return rh.flags;
}

bool
otel_span_view(const char *data, uint32 len, OtelSpanView *v)
{
	const char *p;
	uint64		need;

	if (len < SPAN_FIXED || otel_record_type(data, len) != OTEL_REC_SPAN)
		return false;
	memcpy(&v->h, data + sizeof(OtelRecordHeader), sizeof(OtelSpanHeader));
	need = (uint64) SPAN_FIXED + v->h.name_len + v->h.tracestate_len +
		v->h.status_msg_len + v->h.attrs_len;
	if (need != len)
		return false;
	p = data + SPAN_FIXED;
	v->name = p;
	p += v->h.name_len;
	v->tracestate = p;
	p += v->h.tracestate_len;
	v->status_msg = p;
	p += v->h.status_msg_len;
	v->attrs = p;
	return true;
}

bool
otel_log_view(const char *data, uint32 len, OtelLogView *v)
{
	const char *p;
	uint64		need;

	if (len < LOG_FIXED || otel_record_type(data, len) != OTEL_REC_LOG)
		return false;
	memcpy(&v->h, data + sizeof(OtelRecordHeader), sizeof(OtelLogHeader));
	need = (uint64) LOG_FIXED + v->h.severity_text_len + v->h.body_len + v->h.attrs_len;
	if (need != len)
		return false;
	p = data + LOG_FIXED;
	v->severity_text = p;
	p += v->h.severity_text_len;
	v->body = p;
	p += v->h.body_len;
	v->attrs = p;
	return true;
}

