#!/usr/bin/env python3
"""Where a trace's compressed bytes go (docs/hypervisor.md, "Cost, per exit").

  bench/trace-bytes.py [--hvrr BUILD/hvrr] [--quick] TRACE.hvt

Takes the trace's raw record stream (`hvrr export --raw`), cuts it into the
frames it had (a frame starts at each Sync record) and compresses each with
zstd level 3 as the hv does (libzstd through ctypes). Then, one at a time,
it leaves out every record of a kind, or one field of every record of a
kind, recompresses, and prints what that kind or field cost in compressed
bytes. Last, the whole stream in frames of 64/128/256 KiB at zstd levels
1, 2, 3 and 6 (the hv's record_frame= and record_level= options). Figures
are payload bytes (no frame headers) except in that last table (with the
28-byte headers). --quick: the per-kind table only.
"""
import collections
import ctypes
import subprocess
import sys
import tempfile

Z = ctypes.CDLL("libzstd.so.1")
Z.ZSTD_compressBound.restype = ctypes.c_size_t
Z.ZSTD_compressBound.argtypes = [ctypes.c_size_t]
Z.ZSTD_compress.restype = ctypes.c_size_t
Z.ZSTD_compress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
Z.ZSTD_isError.restype = ctypes.c_uint
Z.ZSTD_isError.argtypes = [ctypes.c_size_t]


def zsize(buf, level):
    cap = Z.ZSTD_compressBound(len(buf))
    out = ctypes.create_string_buffer(cap)
    n = Z.ZSTD_compress(out, cap, bytes(buf), len(buf), level)
    if Z.ZSTD_isError(n):
        sys.exit("trace-bytes: zstd failed")
    return n


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def put_varint(v):
    o = bytearray()
    while v >= 0x80:
        o.append((v & 0x7F) | 0x80)
        v >>= 7
    o.append(v)
    return bytes(o)


def fields(b):
    """A message's fields as (number, wire type, int or bytes)."""
    i, out = 0, []
    while i < len(b):
        t, i = varint(b, i)
        f, w = t >> 3, t & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i)
            v, i = b[i : i + n], i + n
        elif w == 1:
            v, i = b[i : i + 8], i + 8
        elif w == 5:
            v, i = b[i : i + 4], i + 4
        else:
            raise ValueError("wire type %d" % w)
        out.append((f, w, v))
    return out


def encode(fs):
    o = bytearray()
    for f, w, v in fs:
        o += put_varint(f << 3 | w)
        if w == 0:
            o += put_varint(v)
        elif w == 2:
            o += put_varint(len(v)) + v
        else:
            o += v
    return bytes(o)


def field(fs, n, default=None):
    for f, _, v in fs:
        if f == n:
            return v
    return default


KIND = {1: "sync", 2: "exit", 3: "dev", 4: "header", 5: "checkpoint", 6: "end"}
DEV = {2: "irq", 3: "inject", 4: "uart_rx", 5: "timer", 6: "intr", 7: "request", 8: "blocked",
       9: "pio", 10: "halt", 11: "deadline", 12: "cpu_start"}
DETAIL = {7: "io", 8: "cpuid", 9: "msr", 10: "xsetbv", 11: "cr", 12: "ept", 13: "extint"}

# (kind prefix, field path inside the Record, name) for the per-field table
FIELDS = [
    ("exit", (2, 5), "Exit.rip_delta"), ("exit", (2, 15), "Exit.tsc_delta"), ("exit", (2, 4), "Exit.qual"),
    ("exit", (2, 2), "Exit.vcpu"), ("exit", (2, 3), "Exit.insn_len"), ("exit.io", (2, 7, 4), "PortIo.value"),
    ("exit.io", (2, 7, 1), "PortIo.port"), ("exit.ept", (2, 12, 1), "EptViolation.gpa"),
    ("exit.ept", (2, 12, 5), "EptViolation.value"), ("exit.ept", (2, 12, 2), "EptViolation.access"),
    ("dev", (3, 15), "DeviceEvent.tsc_delta"), ("dev", (3, 1), "DeviceEvent.vcpu"),
    ("dev.pio", (3, 9, 1), "PolicyIo.rax"), ("dev.pio", (3, 9, 2), "PolicyIo.rax_xor"),
    ("dev.pio", (3, 9, 11), "PolicyIo.retired"), ("dev.deadline", (3, 11, 1), "Deadline.ahead"),
    ("dev.blocked", (3, 8, 1), "IntrBlocked.rflags"), ("dev.intr", (3, 6, 1), "IntrLine.level"),
    ("dev.inject", (3, 3, 1), "Inject.vector"),
]


def classify(rec):
    f, _, v = fields(rec)[0]
    k = KIND.get(f, "unknown")
    if k in ("dev", "exit"):
        names = DEV if k == "dev" else DETAIL
        for ff, _, _ in fields(v):
            if ff in names:
                return k + "." + names[ff]
        return k + ".none"
    return k


def drop(rec, path):
    fs = fields(rec)
    if len(path) == 1:
        return encode([x for x in fs if x[0] != path[0]])
    return encode([(f, w, drop(v, path[1:]) if f == path[0] and w == 2 else v) for f, w, v in fs])


def framed(rec):
    return b"\x0a" + put_varint(len(rec)) + rec


def in_trace_frames(recs, kinds, change=lambda r, k: r, level=3):
    total, cur = 0, bytearray()
    for r, k in zip(recs, kinds):
        if k == "sync" and cur:
            total += zsize(cur, level)
            cur = bytearray()
        r = change(r, k)
        if r is not None:
            cur += framed(r)
    return total + (zsize(cur, level) if cur else 0)


def in_frames_of(recs, size, level):
    total, cur = 0, bytearray()
    for r in recs:
        fr = framed(r)
        if cur and len(cur) + len(fr) > size:
            total += 28 + zsize(cur, level)
            cur = bytearray()
        cur += fr
    return total + 28 + zsize(cur, level)


def main(argv):
    hvrr, quick, args = "build/hvrr", False, []
    it = iter(argv)
    for a in it:
        if a == "--hvrr":
            hvrr = next(it, None) or sys.exit("trace-bytes: --hvrr needs a path")
        elif a == "--quick":
            quick = True
        elif a.startswith("-"):
            sys.exit(__doc__)
        else:
            args.append(a)
    if len(args) != 1:
        sys.exit(__doc__)
    with tempfile.NamedTemporaryFile(suffix=".raw") as t:
        r = subprocess.run([hvrr, "export", "--raw", args[0], "-o", t.name], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("trace-bytes: hvrr export failed: " + r.stderr.strip())
        raw = open(t.name, "rb").read()
    recs, i = [], 0
    while i < len(raw):
        tag, i = varint(raw, i)
        n, i = varint(raw, i)
        if tag != 0x0A or i + n > len(raw):
            sys.exit("trace-bytes: not a record stream")
        recs.append(raw[i : i + n])
        i += n
    kinds = [classify(r) for r in recs]
    exits = sum(1 for k in kinds if k.startswith("exit"))
    base = in_trace_frames(recs, kinds)
    print("trace-bytes: %s: %d records, %d exits, %d raw bytes, %d compressed in its frames at level 3 (%.2f per exit)"
          % (args[0], len(recs), exits, len(raw), base, base / max(exits, 1)))
    count, rawb = collections.Counter(kinds), collections.Counter()
    for r, k in zip(recs, kinds):
        rawb[k] += len(framed(r))
    print("trace-bytes: %-22s %8s %10s %12s %7s" % ("records", "count", "raw bytes", "compressed", "share"))
    for k in sorted(count, key=lambda k: -rawb[k]):
        c = base - in_trace_frames(recs, kinds, lambda r, kk, k=k: None if kk == k else r)
        print("trace-bytes: %-22s %8d %10d %12d %6.1f%%" % (k, count[k], rawb[k], c, 100.0 * c / base))
    if quick:
        return 0
    print("trace-bytes: %-22s %12s %7s  (the field left out of every such record)" % ("field", "compressed", "share"))
    for pre, path, name in FIELDS:
        c = base - in_trace_frames(recs, kinds, lambda r, k, p=path, pre=pre: drop(r, p) if k.startswith(pre) else r)
        print("trace-bytes: %-22s %12d %6.1f%%" % (name, c, 100.0 * c / base))
    print("trace-bytes: whole stream in frames of N KiB at zstd level L (with headers):")
    for size in (64, 128, 256):
        row = ["level %d %7d" % (lv, in_frames_of(recs, size << 10, lv)) for lv in (1, 2, 3, 6)]
        print("trace-bytes:   %3d KiB  %s" % (size, "  ".join(row)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
