/*-------------------------------------------------------------------------
 * gzip_delta.h
 *		gzip for a body made of many records that look alike (spans of the
 *		same statements), at a fraction of a general compressor's cost.
 *		Pure code, no state; owns nothing but the fixed Huffman tables.
 *
 *		The caller (an encoder) knows which earlier bytes each part of a
 *		record resembles (the same field of the previous record of its kind,
 *		an id the record before it carried) and says so with pieces: each
 *		piece names its reference, and is coded as back-references into it for
 *		the bytes they share and literals for the rest, in one fixed-Huffman
 *		DEFLATE block inside a gzip member, so any gzip decoder reads it.
 *		Nothing is hashed or searched beyond that.
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
	uint32		off;			/* where the piece starts in the body */
	uint32		len;			/* its length */
	uint32		ref;			/* where the bytes it resembles start */
	uint32		ref_len;		/* and their length */
} OtelGzipSeg;

/*
 * segs must be in body order and must not overlap, and each reference must
 * end before its piece starts (ref + ref_len <= off); a reference more than
 * 32 KiB back is not used.  Bytes outside every piece (envelopes, fields
 * that resemble nothing) are coded as literals.
 */
extern bool otel_gzip_delta(const char *in, Size len,
							const OtelGzipSeg *segs, int nsegs,
							StringInfo out);

#endif							/* OTEL_GZIP_DELTA_H */
