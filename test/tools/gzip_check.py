#!/usr/bin/python3
"""Check gzip_delta_fuzz's output with Python's zlib, a decoder that is not
ours: every DIR/N.gz must be one gzip member that inflates to DIR/N.body
exactly (zlib checks the CRC-32 and the length in the trailer itself).

  gzip_check.py DIR      prints "checked N ratio R", exits 1 on a mismatch
"""
import os
import sys
import zlib

d = sys.argv[1]
n = 0
raw = comp = 0
bad = []
for name in sorted(os.listdir(d)):
    if not name.endswith(".gz"):
        continue
    case = name[:-3]
    with open(os.path.join(d, name), "rb") as f:
        gz = f.read()
    with open(os.path.join(d, case + ".body"), "rb") as f:
        body = f.read()
    try:
        z = zlib.decompressobj(wbits=31)
        out = z.decompress(gz) + z.flush()
        if out != body or not z.eof or z.unused_data:
            bad.append("%s: %d bytes out, %d expected, eof %s, %d bytes after the member"
                       % (case, len(out), len(body), z.eof, len(z.unused_data)))
    except zlib.error as e:
        bad.append("%s: %s" % (case, e))
    n += 1
    raw += len(body)
    comp += len(gz)
for b in bad[:20]:
    print("MISMATCH " + b)
print("checked %d ratio %.2f" % (n, raw / comp if comp else 0))
sys.exit(1 if bad or n == 0 else 0)
