/*-------------------------------------------------------------------------
 * encode_otlp_logs.h
 *		Log records (record.h) to OTLP: the protobuf ExportLogsServiceRequest
 *		for OTLP/HTTP and one OTLP/JSON line for the file exporter.  One
 *		ResourceLogs (resource.h) with one ScopeLogs (scope otel_aliyun) per
 *		request, built from the shared pieces of encode_otlp.h.  Pure code,
 *		same conventions as encode_otlp.h: malformed records are skipped and
 *		counted in *nbad, nothing is appended when no record is valid.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_ENCODE_OTLP_LOGS_H
#define OTEL_ENCODE_OTLP_LOGS_H

#include "lib/stringinfo.h"
#include "buffer.h"

extern void otel_encode_logs_pb(const OtelRecordRef *refs, int n,
								StringInfo out, int *nbad);
extern void otel_encode_logs_json(const OtelRecordRef *refs, int n,
								  StringInfo out, int *nbad);

/*
 * Read an ExportLogsServiceResponse body: rejected_log_records of its
 * partial_success (0 if none or the body is empty) and its error_message
 * into errbuf.  False if the body does not decode.
 */
extern bool otel_decode_logs_response(const char *body, Size len,
									  int64 *rejected, char *errbuf, Size errlen);

#endif							/* OTEL_ENCODE_OTLP_LOGS_H */
