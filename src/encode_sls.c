/*-------------------------------------------------------------------------
 *
 * encode_sls.c
 *		Log records to sls.LogGroup protobuf bodies for SLS PutLogs.
 *
 * SLS keeps a log as a flat list of string key/value "contents", so the
 * typed OTel attributes are flattened by one rule, documented in
 * encode_sls.h and README:
 *	 - string: as is (made valid UTF-8, like every string we send);
 *	 - int: decimal; double: shortest text that reads back the same
 *	   (NaN, Infinity, -Infinity); bool: true / false; bytes: base64;
 *	 - map: each member under "<key>.<member>", recursively (an empty map
 *	   is "{}");
 *	 - array: its JSON text, e.g. ["a",1,true,{"k":"v"}].
 * Nesting deeper than MAX_DEPTH is given as JSON text.
 *
 * One pass builds every sls.Log in an arena (encode_otlp.h) and measures
 * it; then the logs are cut into consecutive groups within the count and
 * size limits and each group is packed after the previous one.
 *
 * IDENTIFICATION
 *		src/encode_sls.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "encode_otlp.h"
#include "encode_sls.h"
#include "guc.h"
#include "record.h"
#include "resource.h"

#include "sls/log.pb-c.h"

#define MAX_DEPTH		16

typedef Sls__Log SlsLog;
typedef Sls__Log__Content SlsContent;
typedef Sls__LogTag SlsTag;
typedef Sls__LogGroup SlsGroup;

static const SlsLog log_init = SLS__LOG__INIT;
static const SlsContent content_init = SLS__LOG__CONTENT__INIT;
static const SlsTag tag_init = SLS__LOG_TAG__INIT;

/* content keys we set ourselves; attributes may not take them */
static const char *const reserved_keys[] = {
	"content", "severityText", "severityNumber", "traceID", "spanID", "flags",
	NULL
};

static const char hexdig[] = "0123456789abcdef";

/* ---- values as text ---- */

static void plain_json(StringInfo out, const OtelAttr *at, int depth);

static void
append_double(StringInfo out, double d)
{
	char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d))
		appendStringInfoString(out, "NaN");
	else if (isinf(d))
		appendStringInfoString(out, d > 0 ? "Infinity" : "-Infinity");
	else
		appendBinaryStringInfo(out, buf, double_to_shortest_decimal_bufn(d, buf));
}

static void
append_int(StringInfo out, int64 v)
{
	char		buf[MAXINT8LEN + 1];

	appendBinaryStringInfo(out, buf, pg_lltoa(v, buf));
}

/* text of a scalar (string, number, bool, bytes) */
static void
scalar_text(StringInfo out, const OtelAttr *at)
{
	switch (at->type)
	{
		case OTEL_ATTR_STRING:
			appendBinaryStringInfo(out, at->val, at->val_len);
			break;
		case OTEL_ATTR_INT:
			append_int(out, otel_attr_get_int(at));
			break;
		case OTEL_ATTR_DOUBLE:
			append_double(out, otel_attr_get_double(at));
			break;
		case OTEL_ATTR_BOOL:
			appendStringInfoString(out, otel_attr_get_bool(at) ? "true" : "false");
			break;
		case OTEL_ATTR_BYTES:
			{
				/* otel_enc_json_base64 writes a quoted string: drop the quotes */
				int			start = out->len;

				otel_enc_json_base64(out, at->val, at->val_len);
				memmove(out->data + start, out->data + start + 1, out->len - start - 2);
				out->len -= 2;
				out->data[out->len] = '\0';
			}
			break;
		case OTEL_ATTR_ARRAY:
		case OTEL_ATTR_KVLIST:
			plain_json(out, at, 0);
			break;
		case OTEL_ATTR_SPAN_PB:
			break;				/* span records only: never in a log */
	}
}

/* A value as plain JSON (not OTLP/JSON): arrays, objects, literals. */
static void
plain_json(StringInfo out, const OtelAttr *at, int depth)
{
	OtelAttrIter it;
	OtelAttr	el;
	bool		first = true;

	switch (at->type)
	{
		case OTEL_ATTR_STRING:
			otel_enc_json_str(out, at->val, at->val_len);
			return;
		case OTEL_ATTR_INT:
			append_int(out, otel_attr_get_int(at));
			return;
		case OTEL_ATTR_DOUBLE:
			{
				double		d = otel_attr_get_double(at);

				if (isnan(d) || isinf(d))
					otel_enc_json_double(out, d);	/* quoted */
				else
					append_double(out, d);
			}
			return;
		case OTEL_ATTR_BOOL:
			appendStringInfoString(out, otel_attr_get_bool(at) ? "true" : "false");
			return;
		case OTEL_ATTR_BYTES:
			otel_enc_json_base64(out, at->val, at->val_len);
			return;
		case OTEL_ATTR_SPAN_PB:
			appendStringInfoString(out, "null");	/* span records only */
			return;
		case OTEL_ATTR_ARRAY:
		case OTEL_ATTR_KVLIST:
			break;
	}

	if (depth >= MAX_DEPTH)
	{
		appendStringInfoString(out, "null");
		return;
	}
	appendStringInfoChar(out, at->type == OTEL_ATTR_ARRAY ? '[' : '{');
	otel_attr_iter_init(&it, at->val, at->val_len);
	while (otel_attr_next(&it, &el))
	{
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		if (at->type == OTEL_ATTR_KVLIST)
		{
			otel_enc_json_str(out, el.key, el.key_len);
			appendStringInfoChar(out, ':');
		}
		plain_json(out, &el, depth + 1);
	}
	appendStringInfoChar(out, at->type == OTEL_ATTR_ARRAY ? ']' : '}');
}

/* ---- contents ---- */

typedef struct ContentList
{
	OtelEncArena *a;
	SlsContent **items;
	int			n;
	int			cap;
	StringInfoData key;			/* scratch: the dotted key being built */
	StringInfoData val;			/* scratch: the value being built */
} ContentList;

static void
add_content(ContentList *cl, const char *key, Size klen,
			const char *val, Size vlen)
{
	SlsContent *c;

	if (cl->n == cl->cap)
	{
		int			cap = Max(16, cl->cap * 2);
		SlsContent **items = otel_enc_alloc(cl->a, sizeof(SlsContent *) * cap);

		if (cl->n > 0)
			memcpy(items, cl->items, sizeof(SlsContent *) * cl->n);
		cl->items = items;
		cl->cap = cap;
	}
	c = otel_enc_alloc(cl->a, sizeof(SlsContent));
	*c = content_init;
	c->key = otel_enc_str(cl->a, key, klen);
	c->value = otel_enc_str(cl->a, val, vlen);
	cl->items[cl->n++] = c;
}

static bool
reserved_key(const char *key, Size len)
{
	if (len >= 2 && key[0] == '_' && key[1] == '_')
		return true;			/* __time__, __topic__, __tag__:... */
	for (int i = 0; reserved_keys[i]; i++)
	{
		if (strlen(reserved_keys[i]) == len &&
			memcmp(reserved_keys[i], key, len) == 0)
			return true;
	}
	return false;
}

/* flatten the attribute list attrs under cl->key (which ends in "prefix.") */
static void
flatten(ContentList *cl, const char *attrs, uint32 len, int depth)
{
	OtelAttrIter it;
	OtelAttr	at;
	int			keylen = cl->key.len;

	otel_attr_iter_init(&it, attrs, len);
	while (otel_attr_next(&it, &at))
	{
		cl->key.len = keylen;
		cl->key.data[keylen] = '\0';
		if (depth == 0 && reserved_key(at.key, at.key_len))
			appendStringInfoString(&cl->key, "attr.");
		appendBinaryStringInfo(&cl->key, at.key, at.key_len);

		if (at.type == OTEL_ATTR_KVLIST && depth < MAX_DEPTH &&
			otel_enc_attr_count(at.val, at.val_len) > 0)
		{
			appendStringInfoChar(&cl->key, '.');
			flatten(cl, at.val, at.val_len, depth + 1);
			continue;
		}
		resetStringInfo(&cl->val);
		scalar_text(&cl->val, &at);
		add_content(cl, cl->key.data, cl->key.len, cl->val.data, cl->val.len);
	}
	cl->key.len = keylen;
	cl->key.data[keylen] = '\0';
}

static void
build_log(ContentList *cl, SlsLog *log, const OtelLogView *v)
{
	char		buf[64];

	*log = log_init;
	log->time = (uint32) (v->h.time_ns / INT64CONST(1000000000));
	log->has_time_ns = true;
	log->time_ns = (uint32) (v->h.time_ns % INT64CONST(1000000000));

	cl->n = 0;
	cl->cap = 0;
	cl->items = NULL;
	add_content(cl, "content", 7, v->body, v->h.body_len);
	add_content(cl, "severityText", 12, v->severity_text, v->h.severity_text_len);
	snprintf(buf, sizeof(buf), "%d", (int) v->h.severity_number);
	add_content(cl, "severityNumber", 14, buf, strlen(buf));
	if (!otel_enc_all_zero(v->h.trace_id, sizeof(v->h.trace_id)))
	{
		for (int i = 0; i < 16; i++)
		{
			buf[2 * i] = hexdig[v->h.trace_id[i] >> 4];
			buf[2 * i + 1] = hexdig[v->h.trace_id[i] & 0xF];
		}
		add_content(cl, "traceID", 7, buf, 32);
		for (int i = 0; i < 8; i++)
		{
			buf[2 * i] = hexdig[v->h.span_id[i] >> 4];
			buf[2 * i + 1] = hexdig[v->h.span_id[i] & 0xF];
		}
		add_content(cl, "spanID", 6, buf, 16);
		buf[0] = hexdig[v->h.flags >> 4];
		buf[1] = hexdig[v->h.flags & 0xF];
		add_content(cl, "flags", 5, buf, 2);
	}

	resetStringInfo(&cl->key);
	flatten(cl, v->attrs, v->h.attrs_len, 0);

	log->n_contents = cl->n;
	log->contents = cl->items;
}

/* Topic, Source and LogTags, shared by every group of the call. */
static void
build_group_header(OtelEncArena *a, SlsGroup *g)
{
	const char *rattrs;
	uint32		rlen;
	const char *host;
	int			n;
	OtelAttrIter it;
	OtelAttr	at;
	StringInfoData val;

	if (otel_sls_topic != NULL && otel_sls_topic[0] != '\0')
		g->topic = otel_enc_str(a, otel_sls_topic, strlen(otel_sls_topic));
	host = otel_resource_get("host.name");
	if (host != NULL)
		g->source = otel_enc_str(a, host, strlen(host));

	rattrs = otel_resource_attrs(&rlen);
	n = otel_enc_attr_count(rattrs, rlen);
	if (n == 0)
		return;
	g->logtags = otel_enc_alloc(a, sizeof(SlsTag *) * n);
	initStringInfo(&val);
	otel_attr_iter_init(&it, rattrs, rlen);
	while (g->n_logtags < (size_t) n && otel_attr_next(&it, &at))
	{
		SlsTag	   *t = otel_enc_alloc(a, sizeof(SlsTag));

		*t = tag_init;
		t->key = otel_enc_str(a, at.key, at.key_len);
		resetStringInfo(&val);
		scalar_text(&val, &at);
		t->value = otel_enc_str(a, val.data, val.len);
		g->logtags[g->n_logtags++] = t;
	}
	pfree(val.data);
}

/* bytes a field of n bytes adds to its message: tag, length, payload */
static Size
field_size(Size n)
{
	Size		varint = 1;

	for (Size v = n; v >= 0x80; v >>= 7)
		varint++;
	return 1 + varint + n;
}

int
otel_encode_sls(const OtelRecordRef *refs, int n, int max_logs,
				Size max_bytes, StringInfo out,
				OtelPayloadPart *parts, int *nbad)
{
	MemoryContext cxt;
	MemoryContext old;
	OtelEncArena a;
	SlsGroup	group = SLS__LOG_GROUP__INIT;
	SlsLog	   *logs;
	SlsLog	  **log_ptrs;
	Size	   *sizes;
	ContentList cl;
	Size		header_size;
	int			nlogs = 0;
	int			nparts = 0;
	int			bad = 0;
	int			start;

	if (nbad)
		*nbad = 0;
	if (n <= 0)
		return 0;
	max_logs = Max(1, Min(max_logs, OTEL_SLS_MAX_LOGS));

	cxt = AllocSetContextCreate(CurrentMemoryContext, "otel_aliyun encode sls",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	otel_enc_arena_init(&a, cxt);

	memset(&cl, 0, sizeof(cl));
	cl.a = &a;
	initStringInfo(&cl.key);
	initStringInfo(&cl.val);

	logs = otel_enc_alloc(&a, sizeof(SlsLog) * n);
	log_ptrs = otel_enc_alloc(&a, sizeof(SlsLog *) * n);
	sizes = otel_enc_alloc(&a, sizeof(Size) * n);
	for (int i = 0; i < n; i++)
	{
		OtelLogView v;

		if (!otel_log_view(refs[i].data, refs[i].len, &v))
		{
			bad++;
			continue;
		}
		build_log(&cl, &logs[nlogs], &v);
		log_ptrs[nlogs] = &logs[nlogs];
		sizes[nlogs] = field_size(sls__log__get_packed_size(&logs[nlogs]));
		nlogs++;
	}

	build_group_header(&a, &group);
	header_size = sls__log_group__get_packed_size(&group);

	start = 0;
	while (start < nlogs)
	{
		int			end = start + 1;
		Size		size = header_size + sizes[start];
		int			offset = out->len;

		while (end < nlogs && end - start < max_logs &&
			   size + sizes[end] <= max_bytes)
			size += sizes[end++];

		group.logs = &log_ptrs[start];
		group.n_logs = end - start;
		otel_enc_pb_pack(&group.base, out, "SLS LogGroup",
						 "Lower otel_aliyun.logs_batch_size.");
		parts[nparts].offset = offset;
		parts[nparts].len = out->len - offset;
		parts[nparts].raw_len = (Size) (out->len - offset);
		parts[nparts].nrecords = end - start;
		nparts++;
		start = end;
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);

	if (nbad)
		*nbad = bad;
	return nparts;
}

/* ---- error answers ---- */

/*
 * The JSON string value of "name" in body, decoded to printable ASCII
 * (escapes resolved; other characters become '?').  Empty if not found.
 */
static void
json_field(const char *body, Size len, const char *name, char *dst, Size dstlen)
{
	Size		nlen = strlen(name);
	const char *end = body + len;
	Size		o = 0;

	if (dstlen == 0)
		return;
	dst[0] = '\0';
	for (const char *p = body; p + nlen + 2 <= end; p++)
	{
		const char *q;

		if (p[0] != '"' || memcmp(p + 1, name, nlen) != 0 || p[nlen + 1] != '"')
			continue;
		q = p + nlen + 2;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		if (q >= end || *q != ':')
			continue;
		q++;
		while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		if (q >= end || *q != '"')
			continue;
		for (q++; q < end && *q != '"' && o + 1 < dstlen; q++)
		{
			unsigned char c = (unsigned char) *q;

			if (c == '\\' && q + 1 < end)
			{
				q++;
				switch (*q)
				{
					case 'n':
					case 'r':
					case 't':
						c = ' ';
						break;
					case 'u':
						c = '?';
						q += Min(4, end - q - 1);
						break;
					default:
						c = (unsigned char) *q;
						break;
				}
			}
			dst[o++] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
		}
		dst[o] = '\0';
		return;
	}
}

void
otel_sls_parse_error(const char *body, Size len,
					 char *code, Size codelen, char *msg, Size msglen)
{
	json_field(body, len, "errorCode", code, codelen);
	json_field(body, len, "errorMessage", msg, msglen);
}
