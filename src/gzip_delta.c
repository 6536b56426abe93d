/*-------------------------------------------------------------------------
 *
 * gzip_delta.c
 *		gzip for bodies of look-alike records (see gzip_delta.h).
 *
 * A general DEFLATE compressor hashes every input position to find earlier
 * occurrences of the bytes that follow; at one span in three bytes of new
 * information per hundred that is where an export spends most of its time.
 * Here the encoder already knows which earlier bytes each piece of a record
 * resembles (the same field of the previous span of its kind, an id or a
 * time the span before it carried), so the two are walked side by side,
 * eight bytes at a time:
 *
 *	- a piece equal to its reference is one back-reference (length up to
 *	  258, distance up to 32 KiB, repeated for longer pieces);
 *	- otherwise bytes equal to the reference at the current alignment become
 *	  back-references, and other bytes literals.  After a few literals in a
 *	  row the walk tries to realign with the reference a few bytes either
 *	  way, for a varint that grew or shrank shifts everything after it;
 *	- bytes outside every piece are literals.
 *
 * The result is one final fixed-Huffman block (RFC 1951 3.2.6) in a gzip
 * member (RFC 1952) with the CRC-32 of the body: about twice the bytes of
 * libdeflate's level 1 on span bodies, at a fifth of its time.
 *
 * IDENTIFICATION
 *		src/gzip_delta.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <libdeflate.h>

#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "utils/memutils.h"

#include "gzip_delta.h"

#define WINDOW			32768	/* DEFLATE's largest distance */
#define MIN_MATCH		4		/* shorter ones cost as much as literals */
#define MAX_MATCH		258

/* a literal's code length in the fixed Huffman code (RFC 1951 3.2.6) */
#define LIT_LEN(c)		lit_len[(c)]

/* fixed-Huffman codes, bit-reversed for LSB-first output */
typedef struct Code
{
	uint32		bits;
	uint32		nbits;
} Code;

static uint16 lit_bits[256];	/* a literal's code */
static uint8 lit_len[256];		/* and its length: 8 or 9 */
static Code len_code[MAX_MATCH + 1];	/* symbol and extra bits, by length */
static uint8 dist_sym_small[257];	/* distance symbol for distances 1..256 */
static uint8 dist_sym_large[256];	/* for 257..32768, by (d - 1) >> 7 */
static Code dist_sym_code[30];
static uint16 dist_base[30];
static uint8 dist_extra[30];
static bool tables_ready = false;

static const uint16 len_base[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258
};
static const uint8 len_extra[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0
};

static uint32
reverse_bits(uint32 code, int n)
{
	uint32		r = 0;

	for (int i = 0; i < n; i++)
	{
		r = (r << 1) | (code & 1);
		code >>= 1;
	}
	return r;
}

/* The fixed literal/length code of RFC 1951 3.2.6. */
static Code
fixed_litlen(int sym)
{
	Code		c;

	if (sym < 144)
		c.bits = reverse_bits(0x30 + sym, c.nbits = 8);
	else if (sym < 256)
		c.bits = reverse_bits(0x190 + sym - 144, c.nbits = 9);
	else if (sym < 280)
		c.bits = reverse_bits(sym - 256, c.nbits = 7);
	else
		c.bits = reverse_bits(0xC0 + sym - 280, c.nbits = 8);
	return c;
}

static void
build_tables(void)
{
	int			d;

	for (int s = 0; s < 256; s++)
	{
		Code		c = fixed_litlen(s);

		lit_bits[s] = (uint16) c.bits;
		lit_len[s] = (uint8) c.nbits;
	}

	for (int i = 0; i < 29; i++)
	{
		int			hi = (i == 28) ? MAX_MATCH : len_base[i + 1] - 1;

		for (int l = len_base[i]; l <= hi; l++)
		{
			Code		c = fixed_litlen(257 + i);

			/* extra bits follow the symbol's code */
			len_code[l].bits = c.bits | ((uint32) (l - len_base[i]) << c.nbits);
			len_code[l].nbits = c.nbits + len_extra[i];
		}
	}

	d = 1;
	for (int s = 0; s < 30; s++)
	{
		dist_extra[s] = (s < 4) ? 0 : (s - 2) / 2;
		dist_base[s] = d;
		dist_sym_code[s].bits = reverse_bits(s, 5);
		dist_sym_code[s].nbits = 5;
		d += 1 << dist_extra[s];
	}
	for (int s = 0; s < 30; s++)
	{
		int			hi = dist_base[s] + (1 << dist_extra[s]) - 1;

		for (d = dist_base[s]; d <= hi; d++)
		{
			if (d <= 256)
				dist_sym_small[d] = s;
			else
				dist_sym_large[(d - 1) >> 7] = s;
		}
	}
	tables_ready = true;
}

/*
 * LSB-first bit writer.  Whole bytes leave the 64-bit buffer by one 8-byte
 * store (the output has 8 bytes of slack past anything written: see the
 * bound below), so after a flush fewer than 8 bits wait and up to 56 more
 * can be added before the next one.
 */
typedef struct BitWriter
{
	uint8	   *p;
	uint64		buf;
	int			n;
} BitWriter;

static pg_attribute_always_inline void
flush_bytes(BitWriter *w)
{
	uint64		v = w->buf;

#ifdef WORDS_BIGENDIAN
	v = pg_bswap64(v);
#endif
	memcpy(w->p, &v, 8);
	w->p += w->n >> 3;
	w->buf >>= (w->n & ~7);
	w->n &= 7;
}

/* at most 31 bits at a time */
static pg_attribute_always_inline void
put_bits(BitWriter *w, uint64 bits, int nbits)
{
	w->buf |= bits << w->n;
	w->n += nbits;
	if (w->n >= 32)
		flush_bytes(w);
}

/* the last partial byte */
static void
flush_bits(BitWriter *w)
{
	flush_bytes(w);
	if (w->n > 0)
		w->p++;
	w->n = 0;
	w->buf = 0;
}

/*
 * The coders below keep the bit writer in local variables (a store through
 * the output pointer could alias a BitWriter in memory, which would make
 * every field a memory round trip): BW_LOAD at the start, BW_SAVE at the
 * end, and the BW_* writers in between.  Every coder is entered and left
 * with fewer than 32 bits waiting.
 */
#define BW_LOAD(w)	uint8 *bw_p = (w)->p; uint64 bw_buf = (w)->buf; int bw_n = (w)->n
#define BW_SAVE(w)	((w)->p = bw_p, (w)->buf = bw_buf, (w)->n = bw_n)
#define BW_FLUSH() \
	do { \
		uint64		v_ = bw_buf; \
		BW_BSWAP(v_); \
		memcpy(bw_p, &v_, 8); \
		bw_p += bw_n >> 3; \
		bw_buf >>= (bw_n & ~7); \
		bw_n &= 7; \
	} while (0)
#ifdef WORDS_BIGENDIAN
#define BW_BSWAP(v) ((v) = pg_bswap64(v))
#else
#define BW_BSWAP(v) ((void) 0)
#endif

/* one literal: its code is at most 9 bits */
#define BW_LIT(c) \
	do { \
		uint32		c_ = (c); \
		bw_buf |= (uint64) lit_bits[c_] << bw_n; \
		bw_n += LIT_LEN(c_); \
	} while (0)

/*
 * n literals, six at a time: their codes are put together first (at most
 * 54 bits) and go into the bit buffer in one step, after whole bytes have
 * left it (7 bits or fewer waiting).
 */
#define BW_LITERALS(s, n) \
	do { \
		const uint8 *s_ = (s); \
		const uint8 *e_ = s_ + (n); \
		while (s_ + 6 <= e_) \
		{ \
			uint32		l0_ = LIT_LEN(s_[0]), l1_ = LIT_LEN(s_[1]); \
			uint32		l2_ = LIT_LEN(s_[2]), l3_ = LIT_LEN(s_[3]); \
			uint32		l4_ = LIT_LEN(s_[4]); \
			uint64		a_ = lit_bits[s_[0]] | ((uint64) lit_bits[s_[1]] << l0_); \
			uint64		b_ = lit_bits[s_[2]] | ((uint64) lit_bits[s_[3]] << l2_); \
			uint64		c_ = lit_bits[s_[4]] | ((uint64) lit_bits[s_[5]] << l4_); \
			uint32		la_ = l0_ + l1_; \
			uint32		lb_ = l2_ + l3_; \
			\
			a_ |= b_ << la_; \
			a_ |= c_ << (la_ + lb_); \
			BW_FLUSH(); \
			bw_buf |= a_ << bw_n; \
			bw_n += la_ + lb_ + l4_ + LIT_LEN(s_[5]); \
			s_ += 6; \
		} \
		if (s_ < e_) \
		{ \
			/* up to five: 45 bits on top of 7 */ \
			BW_FLUSH(); \
			while (s_ < e_) \
				BW_LIT(*s_++); \
		} \
		if (bw_n >= 32) \
			BW_FLUSH(); \
	} while (0)

/*
 * A run of len >= MIN_MATCH equal bytes as back-references of at most 258
 * bytes, with dcode/dbits the distance's code and extra bits (dist_code()).
 * One reference is at most 31 bits (length code 8 + 5 extra, distance code
 * 5 + 13 extra).
 */
#define BW_RUN(len, dcode, dbits) \
	do { \
		uint32		len_ = (len); \
		while (len_ > 0) \
		{ \
			uint32		l_ = Min(len_, MAX_MATCH); \
			/* never leave a tail too short to be a match */ \
			if (unlikely(len_ - l_ > 0 && len_ - l_ < 3)) \
				l_ = len_ - 3; \
			bw_buf |= (uint64) len_code[l_].bits << bw_n; \
			bw_n += len_code[l_].nbits; \
			bw_buf |= (dcode) << bw_n; \
			bw_n += (dbits); \
			if (bw_n >= 32) \
				BW_FLUSH(); \
			len_ -= l_; \
		} \
	} while (0)

/* The code of distance dist (1..32768), extra bits included, and its length. */
static pg_attribute_always_inline uint64
dist_code(uint32 dist, int *nbits)
{
	int			s = (dist <= 256) ? dist_sym_small[dist] : dist_sym_large[(dist - 1) >> 7];

	*nbits = 5 + dist_extra[s];
	return dist_sym_code[s].bits | ((uint64) (dist - dist_base[s]) << 5);
}

/* Literals outside the coders' loops (envelopes, tails). */
static pg_attribute_always_inline void
put_literals(BitWriter *w, const uint8 *s, Size n)
{
	BW_LOAD(w);
	BW_LITERALS(s, n);
	BW_SAVE(w);
}

/* How many bytes a and b have in common from the start, up to max. */
static pg_attribute_always_inline uint32
common_len(const uint8 *a, const uint8 *b, uint32 max)
{
	uint32		n = 0;

	/* long runs (the attributes a statement's spans share): 32 at a time */
	while (n + 32 <= max)
	{
		uint64		x0,
					x1,
					x2,
					x3,
					y0,
					y1,
					y2,
					y3;

		memcpy(&x0, a + n, 8);
		memcpy(&x1, a + n + 8, 8);
		memcpy(&x2, a + n + 16, 8);
		memcpy(&x3, a + n + 24, 8);
		memcpy(&y0, b + n, 8);
		memcpy(&y1, b + n + 8, 8);
		memcpy(&y2, b + n + 16, 8);
		memcpy(&y3, b + n + 24, 8);
		if (((x0 ^ y0) | (x1 ^ y1) | (x2 ^ y2) | (x3 ^ y3)) != 0)
			break;
		n += 32;
	}
	while (n + 8 <= max)
	{
		uint64		x,
					y;

		memcpy(&x, a + n, 8);
		memcpy(&y, b + n, 8);
		if (x != y)
		{
#ifdef WORDS_BIGENDIAN
			return n + (pg_leftmost_one_pos64(x ^ y) ^ 63) / 8;
#else
			return n + pg_rightmost_one_pos64(x ^ y) / 8;
#endif
		}
		n += 8;
	}
	while (n < max && a[n] == b[n])
		n++;
	return n;
}

static pg_attribute_always_inline uint64
load64(const uint8 *p)
{
	uint64		v;

	memcpy(&v, p, 8);
#ifdef WORDS_BIGENDIAN
	v = pg_bswap64(v);
#endif
	return v;					/* byte k of p is bits 8k..8k+7 */
}

/* Whether a and b agree on their first n bytes, 8 <= n <= 24 (ids, times). */
static pg_attribute_always_inline bool
equal_8_to_24(const uint8 *a, const uint8 *b, uint32 n)
{
	uint64		x = load64(a) ^ load64(b);

	x |= load64(a + n - 8) ^ load64(b + n - 8);
	if (n > 16)
		x |= load64(a + 8) ^ load64(b + 8);
	return x == 0;
}

/* Index of the first, and of the last, differing byte of a nonzero xor. */
#define FIRST_DIFF(x)	(pg_rightmost_one_pos64(x) >> 3)
#define LAST_DIFF(x)	(pg_leftmost_one_pos64(x) >> 3)

/*
 * Code the piece s[0..len) against its reference r[0..rlen), which ends
 * before s starts and is at most WINDOW bytes back from s's end.
 *
 * A piece equal to its reference is one run.  Otherwise the walk goes eight
 * bytes at a time: a window that starts with at least MIN_MATCH bytes equal
 * to the reference becomes a back-reference extended as far as the bytes
 * agree; otherwise the bytes up to the last one that differs in the window
 * become literals.  Deciding per window rather than per byte keeps the
 * branches predictable, which is what this costs on a changed value.
 */
static pg_attribute_always_inline void
code_piece(BitWriter *w, const uint8 *s, uint32 len, const uint8 *r, uint32 rlen)
{
	uint32		i = 0;
	uint32		j = 0;
	uint32		lits = 0;
	uint32		last_dist = (uint32) (s - r);	/* the distance coded below */
	int			dbits;
	uint64		dcode = dist_code(last_dist, &dbits);

	BW_LOAD(w);

	/* k bytes at s + i equal to r + j, coding the distance again if it moved */
#define RUN_HERE(k) \
	do { \
		if ((uint32) ((s + i) - (r + j)) != last_dist) \
		{ \
			last_dist = (uint32) ((s + i) - (r + j)); \
			dcode = dist_code(last_dist, &dbits); \
		} \
		BW_RUN((k), dcode, dbits); \
	} while (0)

	if (len == rlen && len >= MIN_MATCH &&
		(len >= 8 && len <= 24 ? equal_8_to_24(s, r, len) : memcmp(s, r, len) == 0))
	{
		BW_RUN(len, dcode, dbits);
		BW_SAVE(w);
		return;
	}

	while (i + 8 <= len)
	{
		uint64		v = load64(s + i);
		uint32		lead = 0;	/* equal leading bytes */
		uint32		upto = 7;	/* last differing byte of the window */

		if (j + 8 <= rlen)
		{
			uint64		x = v ^ load64(r + j);

			if (x == 0)
				lead = 8;
			else
			{
				lead = FIRST_DIFF(x);
				upto = LAST_DIFF(x);
			}
		}

		if (lead >= MIN_MATCH)
		{
			uint32		k = lead;

			if (lead == 8)
				k += common_len(s + i + 8, r + j + 8, Min(len - i, rlen - j) - 8);
			RUN_HERE(k);
			i += k;
			j += k;
			lits = 0;
			continue;
		}

		/* bytes 0..upto differ somewhere: literals */
		BW_LITERALS(s + i, upto + 1);
		i += upto + 1;
		j += upto + 1;
		lits += upto + 1;

		/*
		 * A varint of another size shifts the rest: after a longer run of
		 * literals than a changed value makes (more than one 8-byte value:
		 * searching after each of those would cost more than it ever
		 * finds), look for the next eight bytes a little before or after
		 * where they would be.  Whatever the shifts add up to, j stays in
		 * the reference, which ends before the piece and starts at most
		 * WINDOW bytes before its end, so every distance is in 1..WINDOW.
		 */
		if (lits >= 12 && i + 8 <= len && j >= 4 && j + 12 <= rlen)
		{
			static const int shifts[] = {1, -1, 2, -2, 3, -3, 4, -4};
			uint64		want = load64(s + i);

			/* still in step (the literals were a changed value): no search */
			for (int t = load64(r + j) == want ? lengthof(shifts) : 0;
				 t < lengthof(shifts); t++)
			{
				if (load64(r + j + shifts[t]) == want)
				{
					j += shifts[t];
					break;
				}
			}
			lits = 0;
		}
	}

	/* the last few bytes */
	while (i < len)
	{
		uint32		k = (j < rlen) ? common_len(s + i, r + j, Min(len - i, rlen - j)) : 0;

		if (k >= MIN_MATCH)
		{
			RUN_HERE(k);
			i += k;
			j += k;
			continue;
		}
		BW_LIT(s[i]);
		if (bw_n >= 32)
			BW_FLUSH();
		i++;
		j++;
	}
	BW_SAVE(w);
#undef RUN_HERE
}

/* a piece whose reference can be used: within the window */
static inline bool
piece_usable(const OtelGzipSeg *sg)
{
	return sg->ref_len > 0 && (Size) sg->off + sg->len - sg->ref <= WINDOW;
}

bool
otel_gzip_delta(const char *in, Size len, const OtelGzipSeg *segs, int nsegs,
				StringInfo out)
{
	Size		covered = 0;
	Size		bound;
	Size		pos;
	uint32		crc;
	BitWriter	w;
	uint8	   *start;

	if (nsegs <= 0 || len == 0 || len > (Size) PG_UINT32_MAX)
		return false;
	if (!tables_ready)
		build_tables();

	/*
	 * Worst case: every byte a 9-bit literal, plus the gzip header (10) and
	 * trailer (8), the block header and end code, and the bit writer's
	 * 8-byte stores.
	 */
	bound = len + len / 8 + 64;
	if (bound >= MaxAllocSize - (Size) out->len)
		return false;
	enlargeStringInfo(out, (int) bound);
	start = (uint8 *) out->data + out->len;

	/* gzip member header: deflate, no flags, no mtime, OS unknown */
	memcpy(start, "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
	w.p = start + 10;
	w.buf = 0;
	w.n = 0;
	put_bits(&w, 1 | (1 << 1), 3);	/* BFINAL, BTYPE=01 fixed Huffman */

	/*
	 * The pieces are checked as they are coded: out->len moves only at the
	 * end, so giving up on the way leaves out as it was.
	 */
	pos = 0;
	for (int i = 0; i < nsegs; i++)
	{
		const OtelGzipSeg *sg = &segs[i];

		if (unlikely(sg->off + (Size) sg->len > len ||
					 (Size) sg->ref + sg->ref_len > sg->off))
			return false;		/* the caller's bug; compress it another way */
		if (!piece_usable(sg))
			continue;			/* its bytes go out as literals */
		if (unlikely(sg->off < pos))
			return false;		/* out of order or overlapping: the same */
		covered += sg->len;
		put_literals(&w, (const uint8 *) in + pos, sg->off - pos);
		code_piece(&w, (const uint8 *) in + sg->off, sg->len,
				   (const uint8 *) in + sg->ref, sg->ref_len);
		pos = sg->off + sg->len;
	}
	/* worth it?  too few bytes had a reference */
	if (covered < len / 2)
		return false;
	put_literals(&w, (const uint8 *) in + pos, len - pos);
	put_bits(&w, 0, 7);			/* end of block: symbol 256 is seven zeros */
	flush_bits(&w);

	crc = libdeflate_crc32(0, in, len);
	for (int b = 0; b < 4; b++)
		*w.p++ = (uint8) (crc >> (8 * b));
	for (int b = 0; b < 4; b++)
		*w.p++ = (uint8) ((uint32) len >> (8 * b));

	Assert((Size) (w.p - start) <= bound);
	out->len += (int) (w.p - start);
	out->data[out->len] = '\0';
	return true;
}
