"""Time per uprobe attach+detach (perf PMU and legacy uprobe_events) and per tracepoint.

Run as root: ``python3 bench/attach_bench.py [-n 200]``. Prints the median and p90 of each
cycle (attach, then close) in milliseconds. Detach waits for RCU grace periods in the
kernel, which dominates the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pybpf  # noqa: E402

OBJ = Path(__file__).resolve().parent.parent / "pybpf/bpf/tests/attach_basic.bpf.o"
ADDER_C = ("__attribute__((noinline)) int pybpf_add(int a, int b) { return a + b; }\n"
           "int main(void) { return pybpf_add(1, 2) != 3; }\n")


def build_target(d: str) -> str:
    src, exe = os.path.join(d, "adder.c"), os.path.join(d, "adder")
    Path(src).write_text(ADDER_C)
    subprocess.run(["gcc", "-O1", "-o", exe, src], check=True)
    return exe


def measure(n: int, cycle: Callable[[], object]) -> tuple[float, float, float]:
    """(median, p90, attach-only median) in ms over ``n`` attach+close cycles."""
    total, attach = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        link = cycle()
        t1 = time.perf_counter()
        link.close()
        t2 = time.perf_counter()
        total.append((t2 - t0) * 1e3)
        attach.append((t1 - t0) * 1e3)
    total.sort()
    return statistics.median(total), total[int(len(total) * 0.9)], statistics.median(attach)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200, help="cycles per case")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d, pybpf.load(str(OBJ)) as obj:
        exe = build_target(d)
        up, tp = obj.programs["on_add"], obj.programs["tp_getppid"]
        up.attach_uprobe(exe, "pybpf_add").close()          # warm the ELF symbol cache
        cases = {
            "uprobe (PMU)": lambda: up.attach_uprobe(exe, "pybpf_add"),
            "uprobe (legacy uprobe_events)": lambda: up.attach_uprobe(exe, "pybpf_add",
                                                                      legacy=True),
            "uretprobe (PMU)": lambda: up.attach_uprobe(exe, "pybpf_add", retprobe=True),
            "tracepoint": lambda: tp.attach_tracepoint("syscalls", "sys_enter_getppid"),
        }
        print(f"{'case':34} {'median ms':>10} {'p90 ms':>8} {'attach ms':>10}   (n={args.n})")
        for name, cycle in cases.items():
            med, p90, att = measure(args.n, cycle)
            print(f"{name:34} {med:10.3f} {p90:8.3f} {att:10.3f}")


if __name__ == "__main__":
    main()
