"""opensnoop: trace open()/openat() syscalls, printed as bcc's opensnoop does.

    pybpf opensnoop [-T] [-U] [-x] [-p PID] [-t TID] [-n NAME] [-e] [-d SECONDS]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

import pybpf

from . import attach_all, close_all, object_path, print_events
from ._options import Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse


OPTIONS = (
    Opt("-T", "--timestamp", help="include timestamp on output"),
    Opt("-U", "--print-uid", help="print UID column"),
    Opt("-x", "--failed", help="only show failed opens"),
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-t", "--tid", type=int, default=0, help="trace this TID only"),
    Opt("-n", "--name", type=str, default="", help="only print process names containing this"),
    Opt("-e", "--extended-fields", help="show extended fields"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf opensnoop", "Trace open() syscalls", OPTIONS, argv)  # type: ignore[return-value]


def header(a: argparse.Namespace) -> str:
    h = ""
    if a.timestamp:
        h += f"{'TIME(s)':<14}"
    if a.print_uid:
        h += f"{'UID':<6}"
    h += f"{'TID' if a.tid else 'PID':<6} {'COMM':<16} {'FD':>4} {'ERR':>3} "
    if a.extended_fields:
        h += f"{'FLAGS':<9}"
    return h + "PATH"


def format_event(e: object, a: argparse.Namespace, t0: int) -> str:
    ret = e.ret  # type: ignore[attr-defined]
    fd, err = (ret, 0) if ret >= 0 else (-1, -ret)
    line = ""
    if a.timestamp:
        line += f"{(e.ts_ns - t0) / 1e9:<14.9f}"  # type: ignore[attr-defined]
    if a.print_uid:
        line += f"{e.uid:<6d}"  # type: ignore[attr-defined]
    line += f"{e.pid:<6d} {e.comm:<16} {fd:>4d} {err:>3d} "  # type: ignore[attr-defined]
    if a.extended_fields:
        line += f"{e.flags:08o} "  # type: ignore[attr-defined]
    return line + str(e.fname)  # type: ignore[attr-defined]


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    rodata = {"targ_tgid": a.pid, "targ_pid": a.tid, "targ_failed": a.failed}
    with pybpf.load(object_path("opensnoop"), rodata=rodata) as obj:
        # open(2) has no tracepoint on arm64-style syscall tables: attach what exists
        links = attach_all(p.attach for n, p in obj.programs.items()
                           if _tracepoint_exists("syscalls", n.replace("tp_", "sys_")))
        events = obj.maps["events"]
        print(header(a), file=out, flush=True)
        if ready is not None:
            ready()
        t0 = time.monotonic_ns()
        try:
            print_events(events, a.duration, lambda e: None if a.name and a.name not in e.comm
                         else format_event(e, a, t0), out)
        finally:
            close_all(links)
    return 0


def _tracepoint_exists(category: str, name: str) -> bool:
    from pybpf.attach.tracefs import tracefs_path
    return os.path.exists(os.path.join(tracefs_path(), "events", category, name))


def main(argv: Sequence[str]) -> int:
    return run(argv)
