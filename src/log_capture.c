/*-------------------------------------------------------------------------
 *
 * log_capture.c
 *		Server log messages as OTel log records (emit_log_hook), and the
 *		severity and session attributes shared with otel_aliyun.log().
 *
 * The hook is on every message the server writes to its log, in every
 * process, inside the error machinery (possibly in a critical section or
 * during a PANIC), so it may do nothing that can fail: no palloc, no
 * catalog access, no lock but the ring's spinlock (buffer.c never raises),
 * no system call but clock_gettime.  The record is built in a static
 * scratch area with each string cut to a fixed length (cuts are counted
 * as truncated), then copied into the logs ring; a full ring drops it and
 * counts it, like any other record.
 *
 * What is left alone:
 *	 - messages below otel_aliyun.capture_server_log_min_level, compared the
 *	   way log_min_messages compares (LOG ranks between ERROR and FATAL);
 *	   the hook only sees what passed log_min_messages in the first place;
 *	 - the postmaster and the logging collector (they never touch shared
 *	   memory), and standalone backends (no worker to export);
 *	 - the messages of the otel_aliyun export worker: exporting them could
 *	   make the failure it reports produce more of them;
 *	 - anything logged while a capture is under way (no recursion).
 *
 * The trace context is read before the hooks installed earlier run: the
 * span hook (hooks.c) closes the failed statement's span in its own
 * emit_log_hook, and the error record should carry that span's ids.
 *
 * IDENTIFICATION
 *		src/log_capture.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq/libpq-be.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/elog.h"
#include "utils/guc.h"

#include "buffer.h"
#include "guc.h"
#include "hooks.h"
#include "log_capture.h"
#include "otel_aliyun.h"
#include "stats.h"

/* longest piece of each field kept; the scratch area holds them all */
#define MAX_MESSAGE		16384
#define MAX_DETAIL		8192
#define MAX_HINT		4096
#define MAX_CONTEXT		8192
#define SCRATCH_SIZE	(64 * 1024)

StaticAssertDecl(MAX_MESSAGE + MAX_DETAIL + MAX_HINT + MAX_CONTEXT + 8192 <= SCRATCH_SIZE,
				 "capture scratch area too small");

static emit_log_hook_type prev_emit_log_hook = NULL;
static bool in_capture = false;
static char scratch[SCRATCH_SIZE];

/* ---- shared with otel_aliyun.log() ---- */

int
otel_elevel_severity(int elevel)
{
	switch (elevel)
	{
		case DEBUG5:
			return 1;
		case DEBUG4:
			return 2;
		case DEBUG3:
			return 3;
		case DEBUG2:
			return 5;
		case DEBUG1:
			return 6;
		case LOG:
		case LOG_SERVER_ONLY:
			return 9;
		case INFO:
			return 10;
		case NOTICE:
			return 11;
		case WARNING:
		case WARNING_CLIENT_ONLY:
			return 13;
		case ERROR:
			return 17;
		case FATAL:
			return 21;
		case PANIC:
			return 24;
	}
	return 9;
}

const char *
otel_elevel_name(int elevel)
{
	switch (elevel)
	{
		case DEBUG5:
			return "DEBUG5";
		case DEBUG4:
			return "DEBUG4";
		case DEBUG3:
			return "DEBUG3";
		case DEBUG2:
			return "DEBUG2";
		case DEBUG1:
			return "DEBUG1";
		case LOG:
		case LOG_SERVER_ONLY:
			return "LOG";
		case INFO:
			return "INFO";
		case NOTICE:
			return "NOTICE";
		case WARNING:
		case WARNING_CLIENT_ONLY:
			return "WARNING";
		case ERROR:
			return "ERROR";
		case FATAL:
			return "FATAL";
		case PANIC:
			return "PANIC";
	}
	return "LOG";
}

#define SK_DB_NAMESPACE		0x01
#define SK_DB_NAME			0x02
#define SK_USER_NAME		0x04
#define SK_DB_USER			0x08
#define SK_APPLICATION		0x10
#define SK_BACKEND_PID		0x20

static const struct
{
	const char *key;
	uint32		bit;
}			session_keys[] =
{
	{"db.namespace", SK_DB_NAMESPACE},
	{"db.name", SK_DB_NAME},
	{"user.name", SK_USER_NAME},
	{"db.user", SK_DB_USER},
	{"postgresql.application_name", SK_APPLICATION},
	{"postgresql.backend_pid", SK_BACKEND_PID},
};

uint32
otel_log_session_key(const char *key, Size len)
{
	for (int i = 0; i < lengthof(session_keys); i++)
	{
		if (strlen(session_keys[i].key) == len &&
			memcmp(session_keys[i].key, key, len) == 0)
			return session_keys[i].bit;
	}
	return 0;
}

void
otel_log_session_attrs(OtelRecBuf *b, const char *dbname, const char *role,
					   uint32 skip)
{
	bool		stable = (otel_semconv & OTEL_SEMCONV_STABLE) != 0;
	bool		old = (otel_semconv & OTEL_SEMCONV_OLD) != 0;

	if (dbname != NULL && dbname[0] != '\0')
	{
		if (stable && !(skip & SK_DB_NAMESPACE))
			otel_attr_str(b, "db.namespace", dbname, -1);
		if (old && !(skip & SK_DB_NAME))
			otel_attr_str(b, "db.name", dbname, -1);
	}
	if (role != NULL && role[0] != '\0')
	{
		if (stable && !(skip & SK_USER_NAME))
			otel_attr_str(b, "user.name", role, -1);
		if (old && !(skip & SK_DB_USER))
			otel_attr_str(b, "db.user", role, -1);
	}
	if (application_name != NULL && application_name[0] != '\0' &&
		!(skip & SK_APPLICATION))
		otel_attr_str(b, "postgresql.application_name", application_name, -1);
	if (!(skip & SK_BACKEND_PID))
		otel_attr_int(b, "postgresql.backend_pid", MyProcPid);
}

/* ---- the hook ---- */

/* PostgreSQL's log_min_messages ordering (elog.c, is_log_level_output) */
static bool
level_passes(int elevel, int min_level)
{
	if (elevel == LOG || elevel == LOG_SERVER_ONLY)
		return min_level == LOG || min_level <= ERROR;
	if (elevel == WARNING_CLIENT_ONLY)
		return false;
	if (min_level == LOG)
		return elevel >= FATAL;
	return elevel >= min_level;
}

/* Is this the otel_aliyun export worker? (plain memory reads only) */
static bool
in_export_worker(void)
{
	return MyBgworkerEntry != NULL &&
		strcmp(MyBgworkerEntry->bgw_library_name, "otel_aliyun") == 0 &&
		strcmp(MyBgworkerEntry->bgw_function_name, "otel_worker_main") == 0;
}

static bool
capture_wanted(const ErrorData *edata)
{
	return otel_capture_server_log && otel_enabled && !in_capture &&
		IsUnderPostmaster && MyBackendType != B_LOGGER &&
		level_passes(edata->elevel, otel_capture_server_log_min_level) &&
		!in_export_worker();
}

/* Length of s cut to at most max bytes, not inside a UTF-8 sequence. */
static int
clip(const char *s, int max, bool *cut)
{
	int			len = (int) strnlen(s, (Size) max + 1);

	*cut = false;
	if (len <= max)
		return len;
	*cut = true;
	len = max;
	while (len > 0 && (((unsigned char) s[len]) & 0xC0) == 0x80)
		len--;
	return len;
}

static void
attr_clipped(OtelRecBuf *b, const char *key, const char *val, int max,
			 int *ncut)
{
	bool		cut;
	int			len;

	if (val == NULL || val[0] == '\0')
		return;
	len = clip(val, max, &cut);
	if (cut)
		(*ncut)++;
	otel_attr_str(b, key, val, len);
}

static void
capture(const ErrorData *edata, const uint8 *trace_id, const uint8 *span_id,
		uint8 flags)
{
	OtelRecBuf	b;
	OtelLogHeader h;
	const char *msg = edata->message ? edata->message : "";
	int			ncut = 0;
	bool		cut;
	int			len;

	memset(&h, 0, sizeof(h));
	h.time_ns = otel_now_ns();
	h.observed_ns = h.time_ns;
	if (trace_id != NULL)
	{
		memcpy(h.trace_id, trace_id, sizeof(h.trace_id));
		memcpy(h.span_id, span_id, sizeof(h.span_id));
		h.flags = flags;
	}
	h.severity_number = (uint8) otel_elevel_severity(edata->elevel);

	otel_rec_init(&b, scratch, sizeof(scratch));
	len = clip(msg, MAX_MESSAGE, &cut);
	if (cut)
		ncut++;
	otel_log_begin(&b, &h, otel_elevel_name(edata->elevel), msg, len);

	if (edata->sqlerrcode != 0 && edata->sqlerrcode != ERRCODE_SUCCESSFUL_COMPLETION)
		otel_attr_str(&b, "db.response.status_code",
					  unpack_sql_state(edata->sqlerrcode), 5);
	attr_clipped(&b, "postgresql.detail",
				 edata->detail_log ? edata->detail_log : edata->detail,
				 MAX_DETAIL, &ncut);
	attr_clipped(&b, "postgresql.hint", edata->hint, MAX_HINT, &ncut);
	if (!edata->hide_ctx)
		attr_clipped(&b, "postgresql.context", edata->context, MAX_CONTEXT,
					 &ncut);
	attr_clipped(&b, "code.file.path", edata->filename, 1024, &ncut);
	if (edata->lineno > 0)
		otel_attr_int(&b, "code.line.number", edata->lineno);
	attr_clipped(&b, "code.function.name", edata->funcname, 1024, &ncut);
	otel_attr_str(&b, "postgresql.backend_type",
				  GetBackendTypeDesc(MyBackendType), -1);
	otel_log_session_attrs(&b,
						   MyProcPort ? MyProcPort->database_name : NULL,
						   MyProcPort ? MyProcPort->user_name : NULL, 0);

	if (!otel_log_finish(&b))
		return;					/* cannot happen: every piece is bounded */
	if (ncut > 0)
		otel_stats_add(OTEL_SIGNAL_LOGS, OTEL_STAT_TRUNCATED, ncut);
	(void) otel_buffer_put(OTEL_SIGNAL_LOGS, b.data, b.len);
}

static void
otel_capture_emit_log(ErrorData *edata)
{
	bool		wanted = capture_wanted(edata);
	bool		traced = false;
	uint8		trace_id[16];
	uint8		span_id[8];
	uint8		flags = 0;

	/* before the span hook below closes the failing statement */
	if (wanted)
		traced = otel_hooks_current_context(trace_id, span_id, &flags);

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);

	/* a hook may have decided the message is not for the server log */
	if (!wanted || !edata->output_to_server)
		return;

	in_capture = true;
	capture(edata, traced ? trace_id : NULL, span_id, flags);
	in_capture = false;
}

void
otel_log_capture_install(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = otel_capture_emit_log;
}
