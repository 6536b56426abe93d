/*
 * gzip_delta_fuzz: bodies of look-alike records, compressed with
 * otel_gzip_delta() (src/gzip_delta.c, built into this program), written to
 * a directory for a decoder that is not ours (Python's zlib) to check.
 *
 *	gzip_delta_fuzz DIR CASES SEED
 *
 * For case i it writes DIR/i.body and, when otel_gzip_delta() accepted the
 * body, DIR/i.gz; it prints "cases N accepted A declined D".  The bodies
 * cover what the encoder may see: records from one byte to 70 KiB, values
 * changed in place, varints that grew or shrank (bytes inserted or removed),
 * wholly random records, keys shared by unlike records, envelope bytes
 * between records, references beyond the 32 KiB window, and bodies where too
 * little repeats (which must be declined).  Each record is one piece against
 * the previous record of its key, or is cut into pieces against the same
 * stretches of that record (as the encoder cuts a span into its parts), some
 * left without a reference; ids copied from the record before become pieces
 * of their own, sometimes overlapping what a piece shares.
 */
#include "postgres.h"

#include "lib/stringinfo.h"

#include "gzip_delta.h"

static uint64 rng_state;

static uint32
rnd(uint32 n)
{
	/* xorshift64*: deterministic for a seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32) (((rng_state * 2685821657736338717ULL) >> 32) % (n ? n : 1));
}

static void
fill_random(uint8 *p, Size n)
{
	for (Size i = 0; i < n; i++)
		p[i] = (uint8) rnd(256);
}

#define MAX_KEYS 24

static void
write_file(const char *dir, int i, const char *ext, const char *data, Size len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%d.%s", dir, i, ext);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
	{
		fprintf(stderr, "cannot write %s\n", path);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	int			ncases,
				accepted = 0,
				declined = 0;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s DIR CASES SEED\n", argv[0]);
		return 2;
	}
	ncases = atoi(argv[2]);
	rng_state = strtoull(argv[3], NULL, 10) * 0x9E3779B97F4A7C15ULL + 1;

	for (int c = 0; c < ncases; c++)
	{
		uint8	   *tmpl[MAX_KEYS];
		uint32		tlen[MAX_KEYS];
		int			nkeys = 1 + rnd(MAX_KEYS);
		int			style = rnd(6);
		int			nsegs = (c == 0) ? 1 : 1 + rnd(c % 10 == 0 ? 3000 : 300);
		Size		cap = 0;
		char	   *body;
		Size		len = 0;
		OtelGzipSeg *segs;
		int			ns = 0;
		int			maxsegs;
		uint32		last_off[MAX_KEYS];
		uint32		last_len[MAX_KEYS];
		uint32		prev_off,
					prev_len;
		uint32		key;
		StringInfoData out;

		for (int k = 0; k < nkeys; k++)
		{
			/* mostly span-sized, some tiny, a few huge */
			uint32		r = rnd(100);

			tlen[k] = r < 10 ? 1 + rnd(12) : r < 98 ? 40 + rnd(1200) : 20000 + rnd(50000);
			tmpl[k] = malloc(tlen[k] + 8);
			fill_random(tmpl[k], tlen[k]);
			/* spans are mostly ASCII keys and small numbers */
			if (rnd(2))
				for (uint32 b = 0; b < tlen[k]; b++)
					tmpl[k][b] = (uint8) (32 + tmpl[k][b] % 90);
			cap += (Size) (tlen[k] + 64) * 2;
		}
		cap += (Size) nsegs * (8 + 1300 + 64) + 70000 * 4 + 4096;
		body = malloc(cap);
		maxsegs = nsegs * 8 + 8;
		segs = malloc(sizeof(OtelGzipSeg) * maxsegs);
		for (int k = 0; k < MAX_KEYS; k++)
			last_off[k] = UINT32_MAX;
		prev_off = prev_len = 0;

		/* an envelope before the records */
		{
			uint32		env = rnd(300);

			fill_random((uint8 *) body, env);
			len = env;
		}
		for (int s = 0; s < nsegs; s++)
		{
			int			k = rnd(100) < 70 ? rnd(Min(nkeys, 3)) : rnd(nkeys);
			uint8	   *p = (uint8 *) body + len;
			uint32		n = tlen[k];

			if (len + n + 16 + 300 > cap)
				break;
			memcpy(p, tmpl[k], n);
			switch (style == 5 ? 5 : rnd(5))
			{
				case 0:			/* ids and timings change in place */
					for (int m = rnd(6); m > 0 && n > 0; m--)
					{
						uint32		at = rnd(n);
						uint32		want = 1 + rnd(16);
						uint32		w = Min(n - at, want);

						fill_random(p + at, w);
					}
					break;
				case 1:			/* a varint grew: bytes inserted */
					if (n > 2)
					{
						uint32		at = rnd(n);
						uint32		w = 1 + rnd(3);

						memmove(p + at + w, p + at, n - at);
						fill_random(p + at, w);
						n += w;
					}
					break;
				case 2:			/* or shrank: bytes removed */
					if (n > 8)
					{
						uint32		at = rnd(n - 4);
						uint32		w = 1 + rnd(3);

						memmove(p + at, p + at + w, n - at - w);
						n -= w;
					}
					break;
				case 3:			/* identical */
					break;
				default:		/* unlike anything: random bytes */
					fill_random(p, n);
					break;
			}
			/* sometimes a key shared by unlike records */
			key = rnd(50) == 0 ? (uint32) rnd(3) : (uint32) k;
			if (key < MAX_KEYS && last_off[key] != UINT32_MAX && rnd(20) != 0)
			{
				uint32		r_off = last_off[key];
				uint32		r_len = last_len[key];

				if (rnd(2) == 0 || n < 16)
				{
					/* the record against its predecessor */
					segs[ns].off = (uint32) len;
					segs[ns].len = n;
					segs[ns].ref = r_off;
					segs[ns].ref_len = r_len;
					ns++;
				}
				else
				{
					/* cut in pieces against the same stretches, a few left out */
					uint32		at = 0;

					while (at < n && ns < maxsegs - 2)
					{
						uint32		want = 1 + rnd(n / 2 + 1);
						uint32		w = Min(n - at, want);

						if (rnd(4) != 0 && at < r_len)
						{
							uint32		more = rnd(8);

							segs[ns].off = (uint32) len + at;
							segs[ns].len = w;
							segs[ns].ref = r_off + at;
							segs[ns].ref_len = Min(r_len - at, w + more);
							ns++;
						}
						at += w;
					}
				}
			}
			/* an id the record before carried, copied as the encoder copies one */
			if (prev_len >= 16 && n >= 24 && rnd(3) == 0 && ns < maxsegs - 1)
			{
				uint32		at = rnd(n - 16);
				uint32		w = 8 + rnd(9);
				uint32		from = prev_off + rnd(prev_len - w + 1);

				memcpy(p + at, body + from, w);
				/* a piece of its own, unless a piece already covers it */
				if (ns == 0 || segs[ns - 1].off + segs[ns - 1].len <= len + at)
				{
					segs[ns].off = (uint32) len + at;
					segs[ns].len = w;
					segs[ns].ref = from;
					segs[ns].ref_len = w;
					ns++;
				}
			}
			if (key < MAX_KEYS)
			{
				last_off[key] = (uint32) len;
				last_len[key] = n;
			}
			prev_off = (uint32) len;
			prev_len = n;
			len += n;
			/* envelope bytes between records, sometimes past the window */
			if (rnd(20) == 0)
			{
				uint32		gap = rnd(100) == 0 ? 33000 + rnd(2000) : rnd(40);

				if (len + gap + 16 < cap)
				{
					fill_random((uint8 *) body + len, gap);
					len += gap;
				}
			}
		}
		if (rnd(3) == 0)
		{
			uint32		env = rnd(100);

			if (len + env < cap)
			{
				fill_random((uint8 *) body + len, env);
				len += env;
			}
		}

		write_file(argv[1], c, "body", body, len);
		initStringInfo(&out);
		if (otel_gzip_delta(body, len, segs, ns, &out))
		{
			/* output must be no larger than the advertised bound */
			if ((Size) out.len > len + len / 8 + 64)
			{
				fprintf(stderr, "case %d: %d bytes out for %zu in\n", c, out.len, len);
				return 1;
			}
			write_file(argv[1], c, "gz", out.data, out.len);
			accepted++;
		}
		else
			declined++;
		pfree(out.data);
		free(body);
		free(segs);
		for (int k = 0; k < nkeys; k++)
			free(tmpl[k]);
	}
	printf("cases %d accepted %d declined %d\n", ncases, accepted, declined);
	return 0;
}
