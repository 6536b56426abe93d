/*-------------------------------------------------------------------------
 * gzip_delta.h
 *		gzip for a body made of many records that look alike (spans of the
 *		same statements), at a fraction of a general compressor's cost.
 *		Pure code, no state; owns nothing but the fixed Huffman tables.
 *
 *		The caller (an encoder) says where each record lies in the body and
 *		gives it a key: records with equal keys are expected to share most of
 *		their bytes.  Each record is coded as back-references into the
 *		previous record with its key (and the record just before it) for the
 *		bytes they share, literals for the rest, in one fixed-Huffman DEFLATE
 *		block inside a gzip member, so any gzip decoder reads it.  Nothing is
 *		hashed or searched beyond that.
 *
 *		Returns false, leaving out as it was, when too little of the body is
 *		covered by such references for this to pay off: the caller then uses a
 *		general compressor (compress.h).
 *-------------------------------------------------------------------------
 */
#ifndef OTEL_GZIP_DELTA_H
#define OTEL_GZIP_DELTA_H

#include "lib/stringinfo.h"

typedef struct OtelGzipSeg
{
	uint32		off;			/* where the record starts in the body */
	uint32		len;			/* its length */
	uint32		key;			/* records with equal keys look alike */
} OtelGzipSeg;

/*
 * segs must be in body order and must not overlap; bytes of the body outside
 * every segment (an envelope) are coded as literals.
 */
extern bool otel_gzip_delta(const char *in, Size len,
							const OtelGzipSeg *segs, int nsegs,
							StringInfo out);

#endif							/* OTEL_GZIP_DELTA_H */
