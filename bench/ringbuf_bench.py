"""Ring buffer consumer throughput: pybpf decoded records, raw views and raw bytes (a
callback per record), packed batches (``consume_batches``: one copy per run), libbpf's C
consumer.

Producer (identical for all three): events_ringbuf.bpf.o's XDP program under
BPF_PROG_TEST_RUN with ``repeat``, 256 records of 24 bytes (32 in the ring) per run, into a
16 MiB ring. The ring is filled, then only the consumer is timed while it drains it. The
C consumer (bench/ringbuf_consumer.c, ``ring_buffer__consume``) gets the same map fd.
Medians of ROUNDS rounds; ratios against libbpf in the same run. The decoded figure
includes freeing the records (the list is dropped inside the timed region).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pybpf  # noqa: E402

OBJ = ROOT / "pybpf" / "bpf" / "tests" / "events_ringbuf.bpf.o"
SRC = ROOT / "bench" / "ringbuf_consumer.c"
EXE = ROOT / "build" / "ringbuf_consumer"
PER_RUN = 256
REPEAT = 1600                    # 409,600 records a round (13 MiB of the 16 MiB ring)
ROUNDS = 7
PKT = b"\0" * 64


def build_consumer() -> Path | None:
    if EXE.exists() and EXE.stat().st_mtime >= SRC.stat().st_mtime:
        return EXE
    EXE.parent.mkdir(exist_ok=True)
    r = subprocess.run(["gcc", "-O2", "-o", str(EXE), str(SRC), "-lbpf"],
                       capture_output=True, text=True)
    if r.returncode:
        print(f"cannot build the libbpf consumer: {r.stderr.strip()}", file=sys.stderr)
        return None
    return EXE


def fill(obj) -> int:
    before = obj.bss.seq
    obj.programs["emit_xdp"].test_run(PKT, repeat=REPEAT)
    n = obj.bss.seq - before
    if obj.bss.dropped:
        raise SystemExit("ring too small for the bench: records were dropped")
    return n


def time_python(obj, rb, mode: str) -> float:
    n = fill(obj)
    t = time.perf_counter()
    if mode == "raw":
        got = rb.consume(_noop, raw=True)
    elif mode == "bytes":
        got = rb.consume(_noop, raw=bytes)
    elif mode == "batches":
        got = sum(b.count for b in rb.consume_batches())
    else:
        got = len(rb.consume())
    dt = time.perf_counter() - t
    assert got == n, (got, n)
    return n / dt


def _noop(_view: memoryview) -> None:
    pass


def time_libbpf(obj, rb, exe: Path) -> float:
    n = fill(obj)
    out = subprocess.run([str(exe), str(rb.fd), str(n)], pass_fds=(rb.fd,),
                         capture_output=True, text=True, check=True).stdout.split()
    got, ns = int(out[0]), int(out[1])
    assert got == n, (got, n)
    return n / (ns / 1e9)


def main() -> int:
    exe = build_consumer()
    spec = pybpf.ObjectSpec.from_file(str(OBJ))
    spec.maps["rb"].max_entries = 1 << 24
    modes = {"pybpf decoded": "decoded", "pybpf raw views": "raw",
             "pybpf raw bytes": "bytes", "pybpf packed": "batches"}
    rates: dict[str, list[float]] = {k: [] for k in [*modes, "libbpf C"]}
    with spec.load() as obj:
        obj.data.emit_n = PER_RUN
        rb = obj.maps["rb"]
        for _ in range(ROUNDS):
            for name, mode in modes.items():
                rates[name].append(time_python(obj, rb, mode))
            if exe is not None:
                rates["libbpf C"].append(time_libbpf(obj, rb, exe))
    med = {k: statistics.median(v) for k, v in rates.items() if v}
    print(f"ring buffer consumers, {REPEAT * PER_RUN} records of 24 B per round, "
          f"median of {ROUNDS} (load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs):")
    for k, v in med.items():
        ratio = f"  (libbpf / this = {med['libbpf C'] / v:.1f}x)" if "libbpf C" in med else ""
        print(f"  {k:16s} {v / 1e6:7.2f} M events/s{ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
