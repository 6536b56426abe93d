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
 *
 *		Logs, by otel_aliyun.logs_exporter: SLS PutLogs (export_sls.h, which
 *		may send one payload as several requests: see OtelPayload), OTLP/HTTP
 *		to otel_aliyun.logs_endpoint, the rotated file, or none.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_EXPORTER_H
#define OTEL_EXPORTER_H

#include "lib/stringinfo.h"
#include "buffer.h"
#include "transport.h"

typedef enum OtelDestKind
{
	OTEL_DEST_NONE,				/* signal switched off: records discarded */
	OTEL_DEST_FILE,				/* OTLP/JSON lines under the data directory */
	OTEL_DEST_OTLP_HTTP,		/* OTLP/HTTP protobuf */
	OTEL_DEST_SLS,				/* SLS PutLogs (logs only) */
	OTEL_DEST_PROM_RW,			/* Prometheus remote write (metrics only) */
	OTEL_DEST_OTLP_JSON,		/* OTLP/HTTP, OTLP/JSON body (*_protocol) */
	OTEL_DEST_OTLP_GRPC			/* OTLP/gRPC (grpc.h) (*_protocol) */
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

/*
 * One request of a payload that must be sent as several (SLS PutLogs takes
 * at most 4096 logs and 3 MB per request): bytes [offset, offset + len) of
 * the body, holding nrecords records, raw_len bytes before compression.
 */
typedef struct OtelPayloadPart
{
	int			offset;
	int			len;
	Size		raw_len;
	int			nrecords;
} OtelPayloadPart;

typedef struct OtelPayload
{
	OtelSignal	sig;
	OtelDestKind dest;
	int			nrecords;		/* records encoded in body */
	StringInfoData body;		/* encoded and compressed, ready to send */
	Size		raw_len;		/* before compression */
	OtelBodyCodec codec;		/* compression applied to body */

	/*
	 * SLS only: the body is nparts requests, sent in order.  next_part is the
	 * first one not delivered yet, so a retry resumes there.  Once a part is
	 * delivered while others remain, send counts it as exported itself and
	 * takes it out of nrecords, which therefore always counts the records
	 * not delivered yet.  nparts is 0 for every other destination.
	 */
	int			nparts;
	int			next_part;
	OtelPayloadPart *parts;
	int			time_retries;	/* SLS RequestTimeExpired answers so far */
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

/*
 * Batching of sig's destination: at most *max_records records per encode
 * call, and a partial batch waits at most *interval_ms.  (Logs have their
 * own settings, otel_aliyun.logs_batch_size and logs_export_interval_ms.)
 */
extern void otel_exporter_batch_policy(OtelSignal sig, int *max_records,
									   int *interval_ms);

/* Encode n records into p (p->body initialised in CurrentMemoryContext). */
extern void otel_exporter_encode(OtelSignal sig, const OtelRecordRef *refs, int n,
								 OtelPayload *p);

/*
 * Metrics: encode the series [from, to) of a snapshot of the metric store
 * (metrics_store.h), stamped time_ns, for the metrics destination; p->body
 * is initialised in CurrentMemoryContext and p->nrecords counts data
 * points (series).  Prometheus remote write: WriteRequest, snappy; OTLP:
 * ExportMetricsServiceRequest, gzip unless otel_aliyun.compression = none.
 * Remote write answers are retried on 5xx and 429, dropped on other 4xx.
 */
struct OtelMetricsSnapshot;
extern void otel_exporter_encode_metrics(const struct OtelMetricsSnapshot *snap,
										 int from, int to, int64 time_ns,
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

struct OtelGrpcResult;

/*
 * The same for an OTEL_DEST_OTLP_GRPC payload, with the whole gRPC call
 * (status, message, RetryInfo, HTTP/2 exchange) copied into *grpc.
 */
extern void otel_exporter_send_diag_grpc(OtelPayload *p, OtelSendResult *r,
										 struct OtelGrpcResult *grpc);

/* URL sig is sent to (NULL when it has none); "file", "otlp/http", ... */
extern const char *otel_exporter_endpoint(OtelSignal sig);
extern const char *otel_dest_name(OtelDestKind dest);

/*
 * For every HTTP sender: a request for url with body and the export timeout
 * and TLS settings (diag: interruptible, on a fresh connection), and the
 * wiping of a palloc'd line that held a secret (NULL is fine).
 */
extern void otel_exporter_http_request(OtelHttpRequest *req, const char *url,
									   const char *body, Size len, bool diag);
extern void otel_exporter_wipe_secret(char *s);

/*
 * What otel_aliyun.headers contributes: entries used, entries ignored
 * (invalid name, line break, reserved name, too many; or all of them when
 * the list does not parse), and whether an Authentication or Authorization
 * header is among those used (an Authentication entry gives way to
 * otel_aliyun.arms_token for traces).  Never exposes values.
 */
extern void otel_exporter_headers_info(int *nsent, int *nignored, bool *has_auth);

#endif							/* OTEL_EXPORTER_H */
