/*-------------------------------------------------------------------------
 * compress.h
 *		Body compression for exports: gzip (libdeflate), LZ4 block (liblz4, for
 *		SLS), snappy block (libsnappy, for Prometheus remote write).
 *		Pure code, no state.  Output is appended to a StringInfo (palloc'd in
 *		its context).  Returns false on a library failure (never raises).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_COMPRESS_H
#define OTEL_COMPRESS_H

#include "lib/stringinfo.h"

extern bool otel_gzip(const char *in, Size len, int level, StringInfo out);
extern bool otel_lz4(const char *in, Size len, StringInfo out);
extern bool otel_snappy(const char *in, Size len, StringInfo out);

#endif							/* OTEL_COMPRESS_H */
