/*-------------------------------------------------------------------------
 * exporter.h
 *		Destinations: for each signal, what a batch of records becomes on the
 *		wire and where it goes.  exporter.c reads the destination GUCs
 *		(endpoint, token, headers, compression, TLS, ...) and owns no shared
 *		state; it calls the encoders, compress.c, transport.c and
 *		file_export.c.  The worker decides when and how often to call it.
 *
 *		Traces: OTLP/HTTP protobuf to otel_aliyun.traces_endpoint with
 *		Authentication (ARMS token) and otel_aliyun.headers, gzip by default;
 *		with no endpoint, OTLP/JSON lines to a rotated file (file_export.h).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_EXPORTER_H
#define OTEL_EXPORTER_H

#include "lib/stringinfo.h"
#include "buffer.h"

typedef enum OtelDestKind
{
	OTEL_DEST_NONE,				/* signal switched off: records discarded */
	OTEL_DEST_FILE,				/* OTLP/JSON lines under the data directory */
	OTEL_DEST_OTLP_HTTP			/* OTLP/HTTP protobuf */
} OtelDestKind;

/* How body is compressed (decided at encode time, so that a setting
 * changed between attempts cannot mislabel a payload). */
typedef enum OtelBodyCodec
{
	OTEL_CODEC_NONE,
	OTEL_CODEC_GZIP,
	OTEL_CODEC_LZ4,				/* SLS PutLogs */
	OTEL_CODEC_SNAPPY			/* Prometheus remote write */
} OtelBodyCodec;

typedef struct OtelPayload
{
	OtelSignal	sig;
	OtelDestKind dest;
	int			nrecords;		/* records encoded in body */
	StringInfoData body;		/* encoded and compressed, ready to send */
	Size		raw_len;		/* before compression */
	OtelBodyCodec codec;		/* compression applied to body */
} OtelPayload;

typedef enum OtelSendOutcome
{
	OTEL_SEND_OK,				/* delivered (maybe with partial rejection) */
	OTEL_SEND_RETRY,			/* retryable failure */
	OTEL_SEND_DROP				/* permanent failure: give up */
} OtelSendOutcome;

typedef struct OtelSendResult
{
	OtelSendOutcome outcome;
	long		http_status;	/* 0 when none */
	int			retry_after_ms; /* -1 when the server did not say */
	int64		rejected;		/* records refused by a partial success */
	Size		bytes_sent;
	char		error[256];		/* no secrets */
} OtelSendResult;

/* Where sig goes now (reads GUCs; call after SIGHUP processing). */
extern OtelDestKind otel_exporter_dest(OtelSignal sig);

/* Encode n records into p (p->body initialised in CurrentMemoryContext). */
extern void otel_exporter_encode(OtelSignal sig, const OtelRecordRef *refs, int n,
								 OtelPayload *p);

/* One attempt at delivering p.  Never raises. */
extern void otel_exporter_send(OtelPayload *p, OtelSendResult *r);

/* ---- for otel_aliyun.diagnose() ---- */

struct OtelHttpResult;

/*
 * otel_exporter_send for a test export from a backend: a fresh connection
 * (so the timings include DNS, TCP and TLS), abandoned on query cancel, and
 * the HTTP exchange copied into *http when one was attempted (http->status
 * and http->transport_error both zero/false otherwise).
 */
extern void otel_exporter_send_diag(OtelPayload *p, OtelSendResult *r,
									struct OtelHttpResult *http);

/* URL sig is sent to (NULL when it has none); "file", "otlp/http", ... */
extern const char *otel_exporter_endpoint(OtelSignal sig);
extern const char *otel_dest_name(OtelDestKind dest);

/*
 * What otel_aliyun.headers contributes: entries used, entries ignored
 * (invalid name, line break, reserved name, too many; or all of them when
 * the list does not parse), and whether an Authentication or Authorization
 * header is among those used (an Authentication entry gives way to
 * otel_aliyun.arms_token for traces).  Never exposes values.
 */
extern void otel_exporter_headers_info(int *nsent, int *nignored, bool *has_auth);

#endif							/* OTEL_EXPORTER_H */
