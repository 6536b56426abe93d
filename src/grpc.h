/*-------------------------------------------------------------------------
 * grpc.h
 *		gRPC unary calls over HTTP/2 with libcurl, without the C++ gRPC
 *		stack: what OTLP/gRPC needs (ARMS on :8090, SLS on :10010, any
 *		OpenTelemetry collector on :4317).  Plain text endpoints
 *		(http://host:port) are spoken to with HTTP/2 prior knowledge (h2c),
 *		TLS ones (https://host:port) negotiate h2 with ALPN.  One request
 *		is the 5-byte length-prefixed message (gzip'd when asked), with
 *		content-type application/grpc, te: trailers, a grpc-timeout deadline
 *		and the caller's metadata; the answer is grpc-status / grpc-message
 *		(from the trailers, or the headers of a trailers-only response),
 *		google.rpc.RetryInfo from grpc-status-details-bin, and the response
 *		message.  grpc.c owns one reusable curl handle per process (so every
 *		call to the same host shares one HTTP/2 connection) and nothing
 *		else.  It never raises and never puts metadata values in an error.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_GRPC_H
#define OTEL_GRPC_H

#include "otel_aliyun.h"
#include "transport.h"

#define OTEL_GRPC_MAX_METADATA		32
#define OTEL_GRPC_RESPONSE_KEEP		8192	/* bytes of the response message kept */

/* gRPC status codes (grpc/doc/statuscodes.md) */
typedef enum OtelGrpcCode
{
	OTEL_GRPC_OK = 0,
	OTEL_GRPC_CANCELLED = 1,
	OTEL_GRPC_UNKNOWN = 2,
	OTEL_GRPC_INVALID_ARGUMENT = 3,
	OTEL_GRPC_DEADLINE_EXCEEDED = 4,
	OTEL_GRPC_NOT_FOUND = 5,
	OTEL_GRPC_ALREADY_EXISTS = 6,
	OTEL_GRPC_PERMISSION_DENIED = 7,
	OTEL_GRPC_RESOURCE_EXHAUSTED = 8,
	OTEL_GRPC_FAILED_PRECONDITION = 9,
	OTEL_GRPC_ABORTED = 10,
	OTEL_GRPC_OUT_OF_RANGE = 11,
	OTEL_GRPC_UNIMPLEMENTED = 12,
	OTEL_GRPC_INTERNAL = 13,
	OTEL_GRPC_UNAVAILABLE = 14,
	OTEL_GRPC_DATA_LOSS = 15,
	OTEL_GRPC_UNAUTHENTICATED = 16
} OtelGrpcCode;

typedef struct OtelGrpcRequest
{
	const char *endpoint;		/* http(s)://host:port; any path is ignored */
	const char *method;			/* "/package.Service/Method" */
	const char *message;		/* the serialized request (gzip'd if below) */
	Size		message_len;
	bool		compressed;		/* message is gzip: grpc-encoding gzip, flag 1 */
	/* "Name: value" lines; names are sent lower-cased, reserved ones skipped */
	const char *metadata[OTEL_GRPC_MAX_METADATA];
	int			nmetadata;
	int			timeout_ms;		/* deadline: grpc-timeout and the total timeout */
	const char *ca_file;		/* NULL or "" = system store */
	bool		verify_tls;
	bool		interruptible;	/* abort on query cancel / die (backends) */
	bool		fresh_connection;	/* new connection, closed after (diagnose) */
} OtelGrpcRequest;

typedef struct OtelGrpcResult
{
	/*
	 * The HTTP/2 exchange, as transport.c describes one: HTTP status (0 when
	 * no answer), transport failure and its kind, timings.  http.error holds
	 * the same text as error below.
	 */
	OtelHttpResult http;
	int			code;			/* gRPC status (OtelGrpcCode) */
	bool		code_received;	/* from grpc-status; else derived from the
								 * HTTP status or the transport failure */
	char		message[256];	/* grpc-message, percent-decoded, printable */
	int			retry_delay_ms; /* google.rpc.RetryInfo's delay, -1 if none */
	bool		http2;			/* the answer came over HTTP/2 */
	int			metadata_ignored;	/* lines not sent: reserved/invalid names */
	char		error[256];		/* "gRPC UNAVAILABLE (14): ..."; "" when OK */
	/* the response message, unframed and decompressed (partial_success) */
	char		response[OTEL_GRPC_RESPONSE_KEEP];
	Size		response_len;
	bool		response_complete;	/* response[] holds one whole message */
} OtelGrpcResult;

/*
 * One unary call; always fills res.  Returns true when the status is OK.
 */
extern bool otel_grpc_call(const OtelGrpcRequest *req, OtelGrpcResult *res);

/*
 * OTLP/gRPC retry rule: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
 * UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only when the server sent
 * a RetryInfo (whose delay res->retry_delay_ms then holds).
 */
extern bool otel_grpc_retryable(const OtelGrpcResult *res);

/* "UNAVAILABLE", ...; "UNKNOWN_CODE" for codes outside 0..16 */
extern const char *otel_grpc_code_name(int code);

/*
 * Whether this libcurl can speak gRPC (HTTP/2 through nghttp2).  When not,
 * why (library version and what is missing) goes into why.
 */
extern bool otel_grpc_supported(char *why, Size whylen);

/* The OTLP Export method of a signal's collector service. */
extern const char *otel_grpc_otlp_method(OtelSignal sig);

/* Close the reusable connections (and free the handle). */
extern void otel_grpc_close(void);

#endif							/* OTEL_GRPC_H */
