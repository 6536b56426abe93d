/*-------------------------------------------------------------------------
 *
 * compress.c
 *		Request body compression for the exporters:
 *		- gzip (libdeflate, gzip framing), for OTLP/HTTP Content-Encoding: gzip;
 *		- LZ4 raw block, for SLS PutLogs (the caller sends the raw size in
 *		  x-log-bodyrawsize);
 *		- snappy raw block, for Prometheus remote write.
 *
 * Each function reserves the library's worst-case output size at the end
 * of the StringInfo and compresses straight into it, so no extra copy is
 * made.  A library failure, or an input whose worst case would not fit in
 * a palloc'd buffer, returns false and leaves out as it was; the functions
 * never raise except when palloc itself runs out of memory.
 *
 * IDENTIFICATION
 *		src/compress.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <lz4.h>
#include <snappy-c.h>
#include <libdeflate.h>

#include "utils/memutils.h"

#include "compress.h"

/*
 * Make room for need more bytes at the end of out.  False when that would
 * exceed what a StringInfo can hold (enlargeStringInfo would raise).
 */
static bool
reserve(StringInfo out, Size need)
{
	if (need >= MaxAllocSize - (Size) out->len)
		return false;
	enlargeStringInfo(out, (int) need);
	return true;
}

/* Account for n bytes written at out->data + out->len. */
static void
commit(StringInfo out, Size n)
{
	out->len += (int) n;
	out->data[out->len] = '\0';
}

bool
otel_gzip(const char *in, Size len, int level, StringInfo out)
{
	/* one compressor per level, kept for the life of the process */
	static struct libdeflate_compressor *compressors[13];
	size_t		bound,
				written;

	if (len >= MaxAllocSize || level < 0 || level > 12)
		return false;
	if (compressors[level] == NULL)
	{
		compressors[level] = libdeflate_alloc_compressor(level);
		if (compressors[level] == NULL)
			return false;
	}

	bound = libdeflate_gzip_compress_bound(compressors[level], len);
	if (!reserve(out, (Size) bound))
		return false;
	written = libdeflate_gzip_compress(compressors[level], in, len,
									   out->data + out->len, bound);
	if (written == 0)
	{
		out->data[out->len] = '\0';
		return false;
	}
	commit(out, (Size) written);
	return true;
}

bool
otel_lz4(const char *in, Size len, StringInfo out)
{
	int			bound;
	int			n;

	if (len > (Size) LZ4_MAX_INPUT_SIZE)
		return false;
	bound = LZ4_compressBound((int) len);
	if (bound <= 0 || !reserve(out, (Size) bound))
		return false;

	n = LZ4_compress_default(in, out->data + out->len, (int) len, bound);
	if (n <= 0)
	{
		out->data[out->len] = '\0';
		return false;
	}
	commit(out, (Size) n);
	return true;
}

bool
otel_snappy(const char *in, Size len, StringInfo out)
{
	size_t		bound;
	size_t		n;

	if (len >= MaxAllocSize)
		return false;
	bound = snappy_max_compressed_length(len);
	if (!reserve(out, (Size) bound))
		return false;

	n = bound;
	if (snappy_compress(in, len, out->data + out->len, &n) != SNAPPY_OK ||
		n > bound)
	{
		out->data[out->len] = '\0';
		return false;
	}
	commit(out, (Size) n);
	return true;
}
