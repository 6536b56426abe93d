/*-------------------------------------------------------------------------
 *
 * sql_log.c
 *		otel_aliyun.log(severity, body, attributes) and its shorthands
 *		log_trace, log_debug, log_info, log_warn, log_error and log_fatal:
 *		structured log records from SQL.
 *
 * A call builds one record (record.h) in a static scratch area and copies
 * it into the logs ring; the export worker does the rest.  No network I/O,
 * no waiting: when the ring is full the record is dropped and counted
 * (stats "dropped"), the call returns false, and raises a WARNING only
 * if otel_aliyun.logs_warn_on_drop is on.  It returns false without
 * recording anything when otel_aliyun.enabled is off or
 * otel_aliyun.logs_exporter is none.
 *
 * Severity: trace, debug, info, warn (or warning), error, fatal, each
 * optionally followed by 2, 3 or 4 (OTel's finer steps), in any case;
 * OTel SeverityNumber TRACE=1..4, DEBUG=5..8, INFO=9..12, WARN=13..16,
 * ERROR=17..20, FATAL=21..24.  Anything else is an error.
 *
 * Attributes, a jsonb object, map to OTel attributes (AnyValue):
 * strings, booleans, numbers (integers that fit int64 as int, others as
 * double), arrays and nested objects; JSON null values (members or array
 * elements) are left out, since OTel attributes cannot be null.  Limits:
 *	 - keys: non-empty, at most MAX_KEY_LEN bytes (ERROR);
 *	 - at most MAX_TOP_ATTRS keys at the top level, MAX_VALUES values in all
 *	   (nested members and array elements included), nesting depth at most
 *	   MAX_DEPTH (ERROR);
 *	 - string values longer than MAX_VALUE_LEN bytes and a body longer than
 *	   MAX_BODY_LEN bytes are cut at a character boundary and counted in
 *	   otel_aliyun.stats (truncated);
 *	 - the whole record may not pass the ring's largest record (ERROR).
 * Non-UTF-8 databases have text converted to UTF-8 (SQL_ASCII excepted).
 *
 * Every record also carries the session attributes of log_capture.h
 * (database, current role, application_name, backend pid; a user
 * attribute of the same name wins), the trace and span id and flags of
 * the statement running when it is traced, and the time in nanoseconds.
 *
 * IDENTIFICATION
 *		src/sql_log.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "common/string.h"
#include "fmgr.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"

#include "buffer.h"
#include "exporter.h"
#include "guc.h"
#include "hooks.h"
#include "log_capture.h"
#include "otel_aliyun.h"
#include "record.h"
#include "stats.h"

#define MAX_KEY_LEN		256
#define MAX_TOP_ATTRS	128
#define MAX_VALUES		1024
#define MAX_DEPTH		8
#define MAX_VALUE_LEN	8192
#define MAX_BODY_LEN	65536
/* the ring takes records up to this size whatever its size (buffer.c) */
#define MAX_RECORD		(OTEL_MAX_RECORD_SIZE - 8)

PG_FUNCTION_INFO_V1(otel_aliyun_log);
PG_FUNCTION_INFO_V1(otel_aliyun_log_trace);
PG_FUNCTION_INFO_V1(otel_aliyun_log_debug);
PG_FUNCTION_INFO_V1(otel_aliyun_log_info);
PG_FUNCTION_INFO_V1(otel_aliyun_log_warn);
PG_FUNCTION_INFO_V1(otel_aliyun_log_error);
PG_FUNCTION_INFO_V1(otel_aliyun_log_fatal);

typedef struct Severity
{
	const char *name;			/* lower case, as accepted */
	const char *text;			/* severity_text sent */
	int			number;
} Severity;

static const Severity severities[] = {
	{"trace", "TRACE", 1}, {"trace2", "TRACE2", 2}, {"trace3", "TRACE3", 3}, {"trace4", "TRACE4", 4},
	{"debug", "DEBUG", 5}, {"debug2", "DEBUG2", 6}, {"debug3", "DEBUG3", 7}, {"debug4", "DEBUG4", 8},
	{"info", "INFO", 9}, {"info2", "INFO2", 10}, {"info3", "INFO3", 11}, {"info4", "INFO4", 12},
	{"warn", "WARN", 13}, {"warn2", "WARN2", 14}, {"warn3", "WARN3", 15}, {"warn4", "WARN4", 16},
	{"warning", "WARN", 13},
	{"error", "ERROR", 17}, {"error2", "ERROR2", 18}, {"error3", "ERROR3", 19}, {"error4", "ERROR4", 20},
	{"fatal", "FATAL", 21}, {"fatal2", "FATAL2", 22}, {"fatal3", "FATAL3", 23}, {"fatal4", "FATAL4", 24},
};

#define SEV_TRACE	0
#define SEV_DEBUG	4
#define SEV_INFO	8
#define SEV_WARN	12
#define SEV_ERROR	17
#define SEV_FATAL	21

/* the record is built here: no allocation, no page faults after the first */
static char scratch[MAX_RECORD];

/* per-backend caches of the names put in every record */
static Oid	cached_role_id = InvalidOid;
static char cached_role[NAMEDATALEN];
static char *cached_db = NULL;

typedef struct Conv
{
	OtelRecBuf *b;
	int			nvalues;
	int			ntruncated;
	uint32		session_keys;	/* session attributes the user gave */
	bool		convert;		/* database encoding is not UTF-8 */
	char		key[MAX_KEY_LEN + 1];
} Conv;

static const Severity *
find_severity(text *t)
{
	char	   *s = text_to_cstring(t);
	char	   *p;

	for (p = s; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	for (int i = 0; i < lengthof(severities); i++)
	{
		if (strcmp(severities[i].name, s) == 0)
		{
			pfree(s);
			return &severities[i];
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid log severity \"%s\"", text_to_cstring(t)),
			 errhint("Valid severities are trace, debug, info, warn, error and fatal, optionally followed by 2, 3 or 4 (e.g. info2); warning is accepted for warn.")));
	return NULL;				/* keep compiler quiet */
}

/*
 * Text in UTF-8, at most max bytes, cut at a character boundary.  Returns
 * the pointer to use (maybe converted, palloc'd) and its length.
 */
static const char *
prepare_text(Conv *c, const char *s, int len, int max, int *outlen)
{
	if (c->convert && len > 0)
	{
		s = pg_server_to_any(s, len, PG_UTF8);
		len = strlen(s);
	}
	if (len > max)
	{
		/* s is UTF-8 now, or SQL_ASCII where every byte stands alone */
		len = pg_encoding_mbcliplen(GetDatabaseEncoding() == PG_SQL_ASCII ?
									PG_SQL_ASCII : PG_UTF8, s, len, max);
		c->ntruncated++;
	}
	*outlen = len;
	return s;
}

static void
count_value(Conv *c)
{
	if (++c->nvalues > MAX_VALUES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("log attributes hold more than %d values", MAX_VALUES),
				 errhint("Nested members and array elements count too; send fewer or move bulky data into the body.")));
}

/* c->key from a jsonb key string (not NUL-terminated) */
static void
set_key(Conv *c, const char *s, int len)
{
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("log attribute keys must not be empty")));
	if (len > MAX_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("log attribute key \"%.32s...\" is longer than %d bytes",
						s, MAX_KEY_LEN)));
	memcpy(c->key, s, len);
	c->key[len] = '\0';
	if (c->convert)
	{
		char	   *u = pg_server_to_any(c->key, len, PG_UTF8);

		if (u != c->key)
		{
			strlcpy(c->key, u, sizeof(c->key));
			pfree(u);
		}
	}
}

static void
put_numeric(Conv *c, const char *key, Numeric num)
{
	char	   *s = numeric_normalize(num);
	int64		i;

	if (strchr(s, '.') == NULL && strchr(s, 'e') == NULL &&
		strchr(s, 'E') == NULL)
	{
		char	   *end;

		errno = 0;
		i = strtoi64(s, &end, 10);
		if (errno == 0 && *end == '\0')
		{
			otel_attr_int(c->b, key, i);
			pfree(s);
			return;
		}
	}
	otel_attr_double(c->b, key, strtod(s, NULL));
	pfree(s);
}

/* one scalar jsonb value under key ("" for array elements) */
static void
put_scalar(Conv *c, const char *key, JsonbValue *v)
{
	const char *s;
	int			len;

	switch (v->type)
	{
		case jbvNull:
			return;				/* left out, see the header comment */
		case jbvString:
			count_value(c);
			s = prepare_text(c, v->val.string.val, v->val.string.len,
							 MAX_VALUE_LEN, &len);
			otel_attr_str(c->b, key, s, len);
			return;
		case jbvNumeric:
			count_value(c);
			put_numeric(c, key, v->val.numeric);
			return;
		case jbvBool:
			count_value(c);
			otel_attr_bool(c->b, key, v->val.boolean);
			return;
		default:
			elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
	}
}

static void conv_container(Conv *c, JsonbIterator **it, int depth);

/* after WJB_BEGIN_OBJECT / WJB_BEGIN_ARRAY of a nested value under key */
static void
put_nested(Conv *c, const char *key, JsonbIterator **it, bool is_object,
		   int depth)
{
	Size		mark;

	if (depth > MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("log attributes are nested more than %d levels deep",
						MAX_DEPTH)));
	count_value(c);
	mark = otel_attr_begin_nested(c->b, is_object ? OTEL_ATTR_KVLIST : OTEL_ATTR_ARRAY,
								  key);
	conv_container(c, it, depth);
	otel_attr_end_nested(c->b, mark);
}

/* the members or elements of a container, up to its end token */
static void
conv_container(Conv *c, JsonbIterator **it, int depth)
{
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			nkeys = 0;

	for (;;)
	{
		char		key[MAX_KEY_LEN + 1];

		CHECK_FOR_INTERRUPTS();
		tok = JsonbIteratorNext(it, &v, false);
		if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY || tok == WJB_DONE)
			return;

		key[0] = '\0';
		if (tok == WJB_KEY)
		{
			set_key(c, v.val.string.val, v.val.string.len);
			strlcpy(key, c->key, sizeof(key));
			if (depth == 1)
			{
				if (++nkeys > MAX_TOP_ATTRS)
					ereport(ERROR,
							(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
							 errmsg("more than %d log attributes", MAX_TOP_ATTRS),
							 errhint("Group related attributes into nested objects, or send fewer.")));
				c->session_keys |= otel_log_session_key(key, strlen(key));
			}
			tok = JsonbIteratorNext(it, &v, false);
		}

		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
			put_nested(c, key, it, tok == WJB_BEGIN_OBJECT, depth + 1);
		else if (tok == WJB_VALUE || tok == WJB_ELEM)
			put_scalar(c, key, &v);
		else
			elog(ERROR, "unexpected jsonb iterator token %d", (int) tok);
	}
}

/* a role was renamed or dropped: look the name up again */
static void
role_cache_inval(Datum arg, int cacheid, uint32 hashvalue)
{
	cached_role_id = InvalidOid;
}

static const char *
current_role_name(void)
{
	static bool callback_done = false;
	Oid			uid = GetUserId();

	if (!callback_done)
	{
		CacheRegisterSyscacheCallback(AUTHOID, role_cache_inval, (Datum) 0);
		callback_done = true;
	}
	if (uid != cached_role_id)
	{
		char	   *name = GetUserNameFromId(uid, true);

		strlcpy(cached_role, name ? name : "", sizeof(cached_role));
		cached_role_id = uid;
	}
	return cached_role;
}

static const char *
current_db_name(void)
{
	if (cached_db == NULL)
	{
		const char *name = NULL;

		if (MyProcPort != NULL && MyProcPort->database_name != NULL)
			name = MyProcPort->database_name;
		else if (OidIsValid(MyDatabaseId))
			name = get_database_name(MyDatabaseId);
		cached_db = MemoryContextStrdup(TopMemoryContext, name ? name : "");
	}
	return cached_db;
}

/* The work of every entry point: returns whether the record was queued. */
static bool
log_record(const Severity *sev, text *body, Jsonb *attrs)
{
	OtelRecBuf	b;
	OtelLogHeader h;
	Conv		c;
	const char *body_s;
	int			body_len;
	uint8		flags = 0;

	if (!otel_is_preloaded())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("otel_aliyun must be loaded via shared_preload_libraries"),
				 errhint("Add otel_aliyun to shared_preload_libraries in postgresql.conf and restart the server.")));
	if (attrs != NULL && !JB_ROOT_IS_OBJECT(attrs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("log attributes must be a JSON object"),
				 errhint("Pass something like '{\"order_id\": 42, \"tags\": [\"a\", \"b\"]}'::jsonb, or '{}'.")));

	if (!otel_enabled || otel_exporter_dest(OTEL_SIGNAL_LOGS) == OTEL_DEST_NONE)
		return false;

	memset(&c, 0, sizeof(c));
	c.b = &b;
	c.convert = GetDatabaseEncoding() != PG_UTF8 &&
		GetDatabaseEncoding() != PG_SQL_ASCII;

	memset(&h, 0, sizeof(h));
	h.time_ns = otel_now_ns();
	h.observed_ns = h.time_ns;
	h.severity_number = (uint8) sev->number;
	if (otel_hooks_current_context(h.trace_id, h.span_id, &flags))
		h.flags = flags;

	body_s = prepare_text(&c, VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
						  MAX_BODY_LEN, &body_len);

	otel_rec_init(&b, scratch, sizeof(scratch));
	otel_log_begin(&b, &h, sev->text, body_s, body_len);

	if (attrs != NULL && JB_ROOT_COUNT(attrs) > 0)
	{
		JsonbIterator *it = JsonbIteratorInit(&attrs->root);
		JsonbValue	v;

		if (JsonbIteratorNext(&it, &v, false) != WJB_BEGIN_OBJECT)
			elog(ERROR, "jsonb object does not start with an object");
		conv_container(&c, &it, 1);
	}
	otel_log_session_attrs(&b, current_db_name(), current_role_name(),
						   c.session_keys);

	if (!otel_log_finish(&b))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("log record is larger than %d bytes", MAX_RECORD),
				 errhint("Shorten the body or the attributes.")));

	if (c.ntruncated > 0)
		otel_stats_add(OTEL_SIGNAL_LOGS, OTEL_STAT_TRUNCATED, c.ntruncated);

	if (!otel_buffer_put(OTEL_SIGNAL_LOGS, b.data, b.len))
	{
		if (otel_logs_warn_on_drop)
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("otel_aliyun log buffer is full: log record dropped"),
					 errhint("The exporter is behind or its destination is down; see otel_aliyun.stats. otel_aliyun.logs_buffer_size sets the buffer's size.")));
		return false;
	}
	return true;
}

static text *
body_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("log body must not be NULL"),
				 errhint("Pass '' for a record without a body.")));
	return PG_GETARG_TEXT_PP(argno);
}

/* NULL attributes mean none */
static Jsonb *
attrs_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return NULL;
	return PG_GETARG_JSONB_P(argno);
}

Datum
otel_aliyun_log(PG_FUNCTION_ARGS)
{
	const Severity *sev;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("log severity must not be NULL"),
				 errhint("Valid severities are trace, debug, info, warn, error and fatal.")));
	sev = find_severity(PG_GETARG_TEXT_PP(0));
	PG_RETURN_BOOL(log_record(sev, body_arg(fcinfo, 1), attrs_arg(fcinfo, 2)));
}

#define LOG_AT(fname, index) \
Datum \
fname(PG_FUNCTION_ARGS) \
{ \
	PG_RETURN_BOOL(log_record(&severities[index], body_arg(fcinfo, 0), \
							  attrs_arg(fcinfo, 1))); \
}

LOG_AT(otel_aliyun_log_trace, SEV_TRACE)
LOG_AT(otel_aliyun_log_debug, SEV_DEBUG)
LOG_AT(otel_aliyun_log_info, SEV_INFO)
LOG_AT(otel_aliyun_log_warn, SEV_WARN)
LOG_AT(otel_aliyun_log_error, SEV_ERROR)
LOG_AT(otel_aliyun_log_fatal, SEV_FATAL)
