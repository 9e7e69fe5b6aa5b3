"""gethostlatency: host name lookups and their latency, printed as bcc's gethostlatency.

    pybpf gethostlatency [-p PID] [-d SECONDS]

Uprobes on libc's getaddrinfo(), gethostbyname() and gethostbyname2(): each lookup's
time, process, latency in milliseconds and host name. ``-d`` (a duration) is this tool's
own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import pybpf

from . import close_all, object_path, print_events
from ._options import Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf gethostlatency          # time getaddrinfo/gethostbyname[2] calls
    pybpf gethostlatency -p 181   # only trace PID 181
"""
FUNCTIONS = ("getaddrinfo", "gethostbyname", "gethostbyname2")
LIBC = "c"

OPTIONS = (
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf gethostlatency", "Show latency for getaddrinfo/gethostbyname[2] calls",  # type: ignore[return-value]
                 OPTIONS, argv, epilog=EXAMPLES)


def _attach(obj: pybpf.Object, pid: int) -> list[pybpf.Link]:
    """An entry and a return probe on each lookup function this libc has."""
    entry, ret = obj.programs["lookup_entry"], obj.programs["lookup_return"]
    links: list[pybpf.Link] = []
    try:
        for name in FUNCTIONS:
            try:
                links.append(entry.attach_uprobe(LIBC, name, pid=pid or -1))
            except pybpf.AttachError:
                if name == FUNCTIONS[0]:      # getaddrinfo is what matters; the others are old
                    raise
                continue
            links.append(ret.attach_uprobe(LIBC, name, retprobe=True, pid=pid or -1))
    except BaseException:
        close_all(links)
        raise
    return links


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    with pybpf.load(object_path("gethostlatency"), rodata={"targ_tgid": a.pid}) as obj:
        links = _attach(obj, a.pid)
        try:
            events = obj.maps["events"]
            print(f"{'TIME':<9} {'PID':<7} {'COMM':<16} {'LATms':>10} HOST", file=out, flush=True)
            if ready is not None:
                ready()
            print_events(events, a.duration,
                         lambda e: f"{time.strftime('%H:%M:%S'):<9} {e.pid:<7d} {e.comm:<16} "
                                   f"{e.delta / 1e6:>10.2f} {e.host}", out)
        finally:
            close_all(links)
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
