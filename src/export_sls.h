/*-------------------------------------------------------------------------
 * export_sls.h
 *		The SLS destination of the logs signal (otel_aliyun.logs_exporter =
 *		sls): PutLogs requests to
 *		<scheme>://<project>.<endpoint host>[:port]/logstores/<logstore>/shards/lb
 *		built from otel_aliyun.sls_* settings, signed at send time (so that a
 *		retry carries a fresh Date and signature), and SLS's error semantics.
 *		exporter.c calls these from its OTEL_DEST_SLS cases; export_sls.c
 *		owns nothing but a buffer for the URL.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_EXPORT_SLS_H
#define OTEL_EXPORT_SLS_H

#include "exporter.h"
#include "transport.h"

/*
 * PutLogs URL for the current settings, or NULL when the endpoint, the
 * project or the logstore is not set.  Valid until the next call.
 */
extern const char *otel_sls_url(void);

/*
 * Encode n log records into p: the body holds one or more LogGroups
 * (parts) within SLS's per-request limits and otel_aliyun.logs_batch_size,
 * each LZ4-compressed unless otel_aliyun.sls_compression = none.
 */
extern void otel_sls_encode(const OtelRecordRef *refs, int n, OtelPayload *p,
							int *nbad);

/*
 * Deliver p's parts from p->next_part on (see OtelPayload).  Never raises.
 * diag: a test from a backend (fresh connection, interruptible); http, if
 * not NULL, receives the last HTTP exchange.
 */
extern void otel_sls_send(OtelPayload *p, OtelSendResult *r, bool diag,
						  OtelHttpResult *http);

/* Is errorCode one SLS answers when a write quota is exhausted (retry)? */
extern bool otel_sls_quota_error(const char *code);

#endif							/* OTEL_EXPORT_SLS_H */
