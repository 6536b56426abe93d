/*-------------------------------------------------------------------------
 * encode_sls.h
 *		Log records (record.h) to the body of SLS PutLogs: sls.LogGroup
 *		(proto2, proto/sls/log.proto, protobuf-c), split into as many
 *		LogGroups as SLS's per-request limits require; and the reading of
 *		SLS's JSON error answers.
 *
 *		Mapping of one record to one sls.Log:
 *		  Time / Time_ns   seconds and nanoseconds of the record's time
 *		  content          the body
 *		  severityText     e.g. INFO, WARNING
 *		  severityNumber   OTel SeverityNumber 1..24, as text
 *		  traceID, spanID  lower-case hex, and flags (hex, "01" = sampled),
 *		                   only for records made in a traced statement
 *		  <attribute key>  every attribute, flattened (see encode_sls.c):
 *		                   strings as they are, numbers and booleans as
 *		                   text, nested maps as dotted keys ("a.b"), arrays
 *		                   as JSON text; a key equal to one of the names
 *		                   above or starting with "__" gets "attr." in front
 *		LogGroup: Topic = otel_aliyun.sls_topic (when set), Source = the
 *		resource's host.name, LogTags = every resource attribute.
 *
 *		Pure code: output is appended to the caller's StringInfo.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_ENCODE_SLS_H
#define OTEL_ENCODE_SLS_H

#include "lib/stringinfo.h"
#include "buffer.h"
#include "exporter.h"

/* PutLogs limits per request */
#define OTEL_SLS_MAX_LOGS		4096
#define OTEL_SLS_MAX_RAW_BYTES	(3 * 1000 * 1000)	/* LogGroup, uncompressed */

/*
 * Encode n log records as consecutive LogGroups appended to out, each with
 * at most max_logs records and at most max_bytes bytes (a single record
 * larger than max_bytes still gets a group of its own).  parts[] (room for
 * n entries) receives each group's offset in out, length, and record
 * count; raw_len is set to the length.  Returns the number of groups;
 * malformed records are skipped and counted in *nbad.
 */
extern int	otel_encode_sls(const OtelRecordRef *refs, int n, int max_logs,
							Size max_bytes, StringInfo out,
							OtelPayloadPart *parts, int *nbad);

/*
 * errorCode and errorMessage of an SLS error answer ({"errorCode": ...,
 * "errorMessage": ...}), as printable ASCII; empty strings when absent.
 */
extern void otel_sls_parse_error(const char *body, Size len,
								 char *code, Size codelen,
								 char *msg, Size msglen);

#endif							/* OTEL_ENCODE_SLS_H */
