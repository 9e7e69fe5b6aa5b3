#!/usr/bin/env python3
"""Dump a big hash map: pybpf batch / raw / per-key vs `bpftool map dump` in the same run.

Two maps of N entries (default 1M): u32 -> u64, and u32 -> struct {u32 pid; char comm[16];
u64 bytes} (with BTF, so bpftool pretty-prints it too). Prints median seconds per method
and the ratio to bpftool's plain and JSON dumps. Needs root.

    sudo python3 bench/map_dump_bench.py [--entries 1000000] [--reps 3] [--per-key-reps 1]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from _codec_btf import Builder, common  # noqa: E402

from pybpf.maps import codec_for, open_map  # noqa: E402
from pybpf.spec import MapSpec  # noqa: E402
from pybpf.sys import bpf as sysbpf  # noqa: E402
from pybpf.sys.consts import MapType  # noqa: E402


def median_time(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bpftool(map_id: int, as_json: bool) -> int:
    cmd = ["bpftool"] + (["-j"] if as_json else []) + ["map", "dump", "id", str(map_id)]
    r = subprocess.run(cmd, capture_output=True, check=True)
    return len(r.stdout)


def make_maps(n: int) -> tuple[Any, Any, Any]:
    b = Builder()
    c = common(b)
    rec = b.struct("rec", 32, [("pid", c["u32"], 0), ("comm", b.array(c["char"], 16), 32),
                               ("bytes", c["u64"], 192)])
    btf = b.build()
    btf_fd, err, text = sysbpf.btf_load(b.encode(), log_level=1, log_size=1 << 16)
    if btf_fd is None:
        raise SystemExit(f"BTF load failed: {text}")
    fd = sysbpf.map_create(MapType.HASH, 4, 8, n, name="bench_u64", btf_fd=int(btf_fd),
                           btf_key_type_id=c["u32"], btf_value_type_id=c["u64"])
    m64 = open_map(fd, MapSpec("bench_u64", MapType.HASH, 4, 8, n, key_type_id=c["u32"],
                               value_type_id=c["u64"], btf=btf), btf)
    fd = sysbpf.map_create(MapType.HASH, 4, 32, n, name="bench_rec", btf_fd=int(btf_fd),
                           btf_key_type_id=c["u32"], btf_value_type_id=rec)
    mrec = open_map(fd, MapSpec("bench_rec", MapType.HASH, 4, 32, n, key_type_id=c["u32"],
                                value_type_id=rec, btf=btf), btf)
    return m64, mrec, btf_fd


def fill(m64: Any, mrec: Any, n: int) -> None:
    keys = struct.pack(f"<{n}I", *range(n))
    vals = struct.pack(f"<{n}Q", *(i * 7 for i in range(n)))
    k = [keys[i * 4:i * 4 + 4] for i in range(n)]
    m64._update_raw_batch(k, [vals[i * 8:i * 8 + 8] for i in range(n)])
    rc = mrec.value_codec
    mrec._update_raw_batch(k, [rc.encode((i, f"proc{i % 1000}", i * 3)) for i in range(n)])


def codec_rates(n: int = 200_000) -> dict[str, float]:
    """Records/s decoding a typical event (pid, ppid, comm[16], filename[256], ts)."""
    b = Builder()
    c = common(b)
    ev = b.struct("event", 288, [("pid", c["u32"], 0), ("ppid", c["u32"], 32),
                                 ("comm", b.array(c["char"], 16), 64),
                                 ("filename", b.array(c["char"], 256), 192),
                                 ("ts", c["u64"], 280 * 8)])
    codec = codec_for(b.build(), ev, 288)
    rec = struct.pack("<II16s256sQ", 4242, 1, b"bash",
                      b"/usr/lib/x86_64-linux-gnu/libc.so.6\0" + b"\xaa" * 200, 123456789)
    buf = memoryview(rec * 1000)
    offs = range(0, 288 * 1000, 288)
    dec = codec.decode
    unpack = struct.Struct("<II16s256sQ").unpack_from
    out: dict[str, float] = {}

    def rate(fn: Callable[[], Any], per_call: int) -> float:
        def loop() -> None:
            for _ in range(n // per_call):
                fn()                      # each batch is dropped, as a consumer would
        t, _ = median_time(loop, 3)
        return n / t

    def each() -> None:
        for o in offs:
            dec(buf, o)

    out["codec.decode(mv, off) one by one"] = rate(each, 1000)
    out["codec.decode(mv, off) into a list"] = rate(lambda: [dec(buf, o) for o in offs], 1000)
    out["codec.decode_many(mv, 1000)"] = rate(lambda: codec.decode_many(buf, 1000), 1000)
    out["floor: struct.unpack_from only"] = rate(lambda: [unpack(buf, o) for o in offs], 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--per-key-reps", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    ap.add_argument("--codec-only", action="store_true", help="only the record decode rates")
    a = ap.parse_args()
    rates = codec_rates()
    if not a.json:
        print("event record decode (pid, ppid, comm[16], filename[256], ts):")
        for k, v in rates.items():
            print(f"  {k:36s} {v / 1e6:6.2f} M records/s")
    if a.codec_only:
        return
    if not shutil.which("bpftool"):
        raise SystemExit("bpftool not found")
    n = a.entries
    m64, mrec, btf_fd = make_maps(n)
    try:
        t0 = time.perf_counter()
        fill(m64, mrec, n)
        fill_s = time.perf_counter() - t0
        results: dict[str, dict[str, float]] = {}
        for label, m in (("u32->u64", m64), ("u32->struct", mrec)):
            mid = m.id
            r: dict[str, float] = {}
            r["bpftool"], _ = median_time(lambda mid=mid: bpftool(mid, False), a.reps)
            r["bpftool -j"], out = median_time(lambda mid=mid: bpftool(mid, True), a.reps)
            r["pybpf items(batch=True)"], items = median_time(lambda m=m: m.items(batch=True), a.reps)
            assert len(items) == n, len(items)
            del items
            r["pybpf dump_raw()"], raw = median_time(lambda m=m: m.dump_raw(), a.reps)
            assert raw[2] == n
            del raw
            r["pybpf per-key dict(m.items())"], d = median_time(lambda m=m: dict(m.items()), a.per_key_reps)
            assert len(d) == n
            del d
            results[label] = r
        if a.json:
            print(json.dumps({"entries": n, "fill_s": fill_s, "results": results,
                              "decode_rates": rates}, indent=2))
            return
        print(f"{n} entries per map (filled with update_batch in {fill_s:.2f} s); "
              f"median of {a.reps} runs (per-key: {a.per_key_reps})")
        for label, r in results.items():
            print(f"\n{label}")
            base, base_j = r["bpftool"], r["bpftool -j"]
            for k, v in r.items():
                print(f"  {k:32s} {v:8.3f} s   {v / base:5.2f}x bpftool   {v / base_j:5.2f}x bpftool -j")
    finally:
        m64.close()
        mrec.close()
        btf_fd.close()


if __name__ == "__main__":
    main()
