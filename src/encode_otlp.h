/*-------------------------------------------------------------------------
 * encode_otlp.h
 *		Span (and later log/metric) records to OTLP: the protobuf
 *		ExportTraceServiceRequest (protobuf-c, code generated from proto/ at
 *		build time) and the OTLP/JSON encoding (hex ids, lowerCamelCase, int64
 *		as strings) for the file exporter and http/json.  One
 *		ResourceSpans (resource.h) with one ScopeSpans (scope otel_aliyun,
 *		OTEL_ALIYUN_VERSION) per request.  Pure code: output goes to the
 *		caller's StringInfo; malformed records are skipped and counted in
 *		*nbad.  Works in the caller's memory context and frees what it used.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_ENCODE_OTLP_H
#define OTEL_ENCODE_OTLP_H

#include "lib/stringinfo.h"
#include "buffer.h"

extern void otel_encode_traces_pb(const OtelRecordRef *refs, int n,
								  StringInfo out, int *nbad);
extern void otel_encode_traces_json(const OtelRecordRef *refs, int n,
									StringInfo out, int *nbad);

/*
 * Read an ExportTraceServiceResponse body.  Returns the number of rejected
 * spans from partial_success (0 if none or body empty) and copies its
 * error_message into errbuf.  False if the body does not decode.
 */
extern bool otel_decode_traces_response(const char *body, Size len,
										int64 *rejected, char *errbuf, Size errlen);

#endif							/* OTEL_ENCODE_OTLP_H */
