/*-------------------------------------------------------------------------
 * kvlist.h
 *		Parser for "k=v,k=v" lists in the OTEL_RESOURCE_ATTRIBUTES /
 *		OTEL_EXPORTER_OTLP_HEADERS format: entries separated by commas,
 *		surrounding blanks trimmed, keys and values percent-decoded.  Used by
 *		the GUC check hooks (otel_aliyun.resource_attributes, .headers) and by
 *		whoever applies those values.  Pure code, no state, never raises.
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_KVLIST_H
#define OTEL_KVLIST_H

/* Called once per entry with NUL-terminated, decoded key and value. */
typedef void (*OtelKVCallback) (const char *key, const char *value, void *arg);

/*
 * Parse s.  On success calls cb (if not NULL) for each entry and returns
 * true.  On a syntax error returns false with a static description in
 * *errmsg (never echoing values, which may be secrets).  Uses palloc in the
 * current memory context for decoding.
 */
extern bool otel_kvlist_parse(const char *s, OtelKVCallback cb, void *arg,
							  const char **errmsg);

#endif							/* OTEL_KVLIST_H */
