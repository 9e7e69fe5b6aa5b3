"""Time per uprobe attach+detach (perf PMU and legacy uprobe_events) and per tracepoint.

Run as root: ``python3 bench/attach_bench.py [-n 200]``. Prints the median and p90 of each
cycle (attach, then close) in milliseconds. Detach waits for RCU grace periods in the
kernel, which dominates the figures. Then whole tools: `pybpf funclatency` against
libbpf-tools' funclatency on the same function, start to attached and SIGINT to exit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _installed import PYBPF, install  # noqa: E402
from _installed import env as installed_env  # noqa: E402

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


def process_cycle(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(spawn -> first output line, SIGINT -> exit) in ms for a tracing process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         env=env)
    assert p.stdout is not None
    p.stdout.readline()
    t1 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=30)
    return (t1 - t0) * 1e3, (time.perf_counter() - t1) * 1e3


def compare_processes(exe: str, n: int) -> None:
    """A whole uprobe tracing tool, start to attached (its "Tracing ..." line) and SIGINT to
    exit: `pybpf funclatency` as installed (bench/_installed.py) vs libbpf-tools'
    funclatency, same function. Both load an entry/return pair and attach two uprobes."""
    install()
    cmds = {"pybpf funclatency": [str(PYBPF), "funclatency", f"{exe}:pybpf_add"]}
    funclatency = shutil.which("funclatency") or "/usr/sbin/funclatency"
    if os.path.exists(funclatency):      # Debian libbpf-tools; stdbuf: it block-buffers a pipe
        cmds["libbpf-tools funclatency"] = ["stdbuf", "-oL", funclatency, f"{exe}:pybpf_add"]
    else:
        print("(libbpf-tools not installed: apt-get install libbpf-tools for the peer)")
    rows = {}
    for _ in range(n):                    # interleaved, so both see the same machine load
        for name, cmd in cmds.items():
            rows.setdefault(name, []).append(process_cycle(cmd, installed_env()))
    print(f"\n{'process':34} {'ready ms':>10} {'exit ms':>8}   (medians of {n})")
    for name, r in rows.items():
        print(f"{name:34} {statistics.median(x for x, _ in r):10.1f} "
              f"{statistics.median(y for _, y in r):8.1f}")
    if len(rows) == 2:
        a, b = (statistics.median(x for x, _ in r) for r in rows.values())
        print(f"ratio pybpf/funclatency ready: {a / b:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=200, help="cycles per case")
    ap.add_argument("-p", type=int, default=7, help="process start/stop runs per tool")
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
        compare_processes(exe, args.p)


if __name__ == "__main__":
    main()
