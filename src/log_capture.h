/*-------------------------------------------------------------------------
 * log_capture.h
 *		Log records from PostgreSQL's own log: an emit_log_hook, chained
 *		with the others, that copies server messages at or above
 *		otel_aliyun.capture_server_log_min_level into the logs ring when
 *		otel_aliyun.capture_server_log is on, stamped with the trace context
 *		of the statement running.  It never recurses, raises, allocates or
 *		does I/O, runs in every process that logs (not the postmaster or the
 *		logging collector, which must not touch shared memory), and skips
 *		the messages of the export worker itself, so that an export problem
 *		cannot feed itself.  log_capture.c owns only a static scratch area.
 *
 *		Also the pieces every log record shares with otel_aliyun.log():
 *		severity mapping and session attributes.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_LOG_CAPTURE_H
#define OTEL_LOG_CAPTURE_H

#include "record.h"

/* From _PG_init, after otel_hooks_install() and before the log mask. */
extern void otel_log_capture_install(void);

/*
 * Server elevel -> OTel SeverityNumber:
 *	 DEBUG5..DEBUG3 -> TRACE..TRACE3 (1..3), DEBUG2 -> DEBUG (5),
 *	 DEBUG1 -> DEBUG2 (6), LOG -> INFO (9), INFO -> INFO2 (10),
 *	 NOTICE -> INFO3 (11), WARNING -> WARN (13), ERROR -> ERROR (17),
 *	 FATAL -> FATAL (21), PANIC -> FATAL4 (24).
 */
extern int	otel_elevel_severity(int elevel);
/* "DEBUG1", "LOG", "WARNING", ... (the server's own names) */
extern const char *otel_elevel_name(int elevel);

/*
 * Session attributes of a log record: db.namespace / db.name (database),
 * user.name / db.user (role) as otel_aliyun.semconv says,
 * postgresql.application_name (when set) and postgresql.backend_pid.
 * dbname or role NULL leaves that one out.  Keys whose bit is set in skip
 * (see otel_log_session_key) are left out too.  Never allocates or raises.
 */
extern void otel_log_session_attrs(OtelRecBuf *b, const char *dbname,
								   const char *role, uint32 skip);

/* Bit of a session attribute key for skip, or 0 if key is not one. */
extern uint32 otel_log_session_key(const char *key, Size len);

#endif							/* OTEL_LOG_CAPTURE_H */
