/*-------------------------------------------------------------------------
 * file_export.h
 *		The out-of-the-box destination: OTLP/JSON lines appended to
 *		$PGDATA/<otel_aliyun.file_directory>/otel_<signal>.jsonl, rotated to
 *		.1 when it passes otel_aliyun.file_max_size_mb (one old file kept),
 *		for a log shipper such as Logtail.  Worker only; owns its open file
 *		descriptors.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_FILE_EXPORT_H
#define OTEL_FILE_EXPORT_H

#include "otel_aliyun.h"

/* Append one line (a newline is added).  false + errbuf on failure. */
extern bool otel_file_append(OtelSignal sig, const char *line, Size len,
							 char *errbuf, Size errlen);

/*
 * The directory (absolute) and a signal's current file, as the GUCs say
 * now; for otel_aliyun.diagnose().  Buffers of MAXPGPATH bytes.
 */
extern void otel_file_dir(char *buf, Size buflen);
extern void otel_file_path(OtelSignal sig, char *buf, Size buflen);

#endif							/* OTEL_FILE_EXPORT_H */
