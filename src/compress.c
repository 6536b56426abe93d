/*-------------------------------------------------------------------------
 *
 * compress.c
 *		Request body compression for the exporters:
 *		- gzip (zlib with gzip framing), for OTLP/HTTP Content-Encoding: gzip;
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
#include <zlib.h>

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
	z_stream	zs;
	uLong		bound;
	int			rc;

	if (len >= MaxAllocSize)
		return false;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: deflate with a gzip header and trailer */
	if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8,
					 Z_DEFAULT_STRATEGY) != Z_OK)
		return false;

	bound = deflateBound(&zs, (uLong) len);
	if (!reserve(out, (Size) bound))
	{
		deflateEnd(&zs);
		return false;
	}

	zs.next_in = (Bytef *) unconstify(char *, in);
	zs.avail_in = (uInt) len;
	zs.next_out = (Bytef *) (out->data + out->len);
	zs.avail_out = (uInt) bound;

	/* the output buffer holds the worst case, so one call finishes */
	rc = deflate(&zs, Z_FINISH);
	if (rc != Z_STREAM_END)
	{
		deflateEnd(&zs);
		out->data[out->len] = '\0';
		return false;
	}
	commit(out, (Size) zs.total_out);
	deflateEnd(&zs);
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
