"""syscount: system calls counted per syscall or per process, printed as bcc's syscount.

    pybpf syscount [-p PID] [-i INTERVAL] [-d DURATION] [-T TOP] [-x] [-e ERRNO] [-L] [-m]
                   [-P] [-l]

Tracepoints raw_syscalls/sys_enter and sys_exit: the top ``TOP`` syscalls (or processes,
``-P``) by count, or by time with ``-L``; ``-x`` counts failed calls only, ``-e`` those
failing with one errno. Syscall names are x86-64's. Not here: bcc's ``-t`` (TID) and
``--syscall``.
"""

from __future__ import annotations

import errno
import signal
import sys
import time
from collections.abc import Sequence

import pybpf

from . import attach_all, close_all, object_path, report_loop
from ._options import Opt, parse
from ._syscalls import NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf syscount                 # count syscalls, top 10 at Ctrl-C
    pybpf syscount -P              # count per process
    pybpf syscount -L              # include the time spent in syscalls
    pybpf syscount -i 1 -T 5       # top 5 every second
    pybpf syscount -p 181          # PID 181 only
    pybpf syscount -x              # failed syscalls only
    pybpf syscount -e ENOENT       # syscalls failing with ENOENT only
    pybpf syscount -l              # list the known syscalls
"""


def _errno(text: str) -> int:
    if text.isdigit():
        return int(text)
    value = getattr(errno, text.upper(), None)
    if not isinstance(value, int):
        raise ValueError(f"no errno {text!r}")
    return value


OPTIONS = (
    Opt("-p", "--pid", type=int, default=0, help="trace only this pid"),
    Opt("-i", "--interval", type=float, default=0, help="print summary at this interval (seconds)"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, in seconds"),
    Opt("-T", "--top", type=int, default=10, help="print only the top syscalls by count or latency"),
    Opt("-x", "--failures", help="trace only failed syscalls (return < 0)"),
    Opt("-e", "--errno", type=_errno, default=0, help="trace only syscalls that return this error "
        "(numeric or EPERM, etc.)"),
    Opt("-L", "--latency", help="collect syscall latency"),
    Opt("-m", "--milliseconds", help="display latency in milliseconds (default: microseconds)"),
    Opt("-P", "--process", help="count by process and not by syscall"),
    Opt("-l", "--list", help="print list of recognized syscalls and exit"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf syscount", "Summarize syscall counts and latencies",  # type: ignore[return-value]
                 OPTIONS, argv, epilog=EXAMPLES)


def syscall_name(nr: int) -> str:
    return NAMES.get(nr, f"[unknown: {nr}]")


def render(data: pybpf.Map, a: argparse.Namespace) -> str:
    """bcc's table of the counts since the last one (then cleared)."""
    items = list(data.items())
    data.clear()
    if a.latency:
        items.sort(key=lambda kv: -kv[1].total_ns)
    else:
        items.sort(key=lambda kv: -kv[1].count)
    head = "PID    COMM" if a.process else "SYSCALL"
    unit = "TIME (ms)" if a.milliseconds else "TIME (us)"
    lines = [f"[{time.strftime('%H:%M:%S')}]",
             f"{head:<22} {'COUNT':>8}" + (f" {unit:>16}" if a.latency else "")]
    for k, v in items[:a.top]:
        what = f"{k:<6d} {v.comm:<15}" if a.process else syscall_name(k)
        line = f"{what:<22} {v.count:8d}"
        if a.latency:
            line += (f" {v.total_ns / 1e6:16.6f}" if a.milliseconds else
                     f" {v.total_ns / 1e3:16.3f}")
        lines.append(line)
    return "\n".join(lines) + "\n"


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    if a.list:
        for nr in sorted(NAMES):
            print(NAMES[nr], file=out)
        return 0
    rodata = {"targ_tgid": a.pid, "count_by_process": a.process, "measure_latency": a.latency,
              "filter_failed": a.failures, "filter_errno": a.errno}
    with pybpf.load(object_path("syscount"), rodata=rodata) as obj:
        links = attach_all(p.attach for p in obj.programs.values())
        try:
            print(f"Tracing {'failed ' if a.failures else ''}syscalls, printing top {a.top}... "
                  f"Ctrl+C to quit.", file=out, flush=True)
            if ready is not None:
                ready()
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            data = obj.maps["data"]
            report_loop(a.interval or a.duration or 99999999, -1, False,
                        lambda: render(data, a), out, a.duration, blank=False)
            print("Detaching...", file=out, flush=True)
        finally:
            close_all(links)
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
