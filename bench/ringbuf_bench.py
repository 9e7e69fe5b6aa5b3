"""Ring buffer consumer throughput: typed records and raw views, events/s (medians of 5).

Producer: events_ringbuf.bpf.o's SEC("syscall") program, run through BPF_PROG_TEST_RUN,
fills a 16 MiB ring with 24-byte records; only the consumer is timed.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pybpf  # noqa: E402

OBJ = ROOT / "pybpf" / "bpf" / "tests" / "events_ringbuf.bpf.o"
RUNS = 1200          # x 256 records = 307,200 records per round


def fill(obj) -> None:
    obj.data.emit_n = 256
    run = obj.programs["emit"].test_run
    for _ in range(RUNS):
        run(ctx=b"")


def main() -> int:
    spec = pybpf.ObjectSpec.from_file(str(OBJ))
    spec.maps["rb"].max_entries = 1 << 24
    with spec.load() as obj:
        rb = obj.maps["rb"]
        rates = {"decoded records": [], "raw views (callback)": []}
        for _ in range(5):
            fill(obj)
            t = time.perf_counter()
            n = len(rb.consume())
            rates["decoded records"].append(n / (time.perf_counter() - t))
            fill(obj)
            count = 0

            def cb(_v, _c=[0]) -> None:  # noqa: B006 - a cheap counter
                pass
            t = time.perf_counter()
            count = rb.consume(cb, raw=True)
            rates["raw views (callback)"].append(count / (time.perf_counter() - t))
        assert obj.bss.dropped == 0, "ring too small for the bench"
    for name, vals in rates.items():
        print(f"ring buffer {name}: {statistics.median(vals) / 1e6:.2f} M events/s "
              f"({n} events per round)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
