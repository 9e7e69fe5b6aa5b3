"""tcpaccept: trace passive TCP connections (accept()), printed as bcc's tcpaccept does.

    pybpf tcpaccept [-T] [-t] [-p PID] [-P PORTS] [-4 | -6] [-d SECONDS]

Seen where accept() and accept4() return (syscall tracepoints: no kprobes), the socket
found from the returned descriptor. ``-P`` keeps only these local ports. ``-d`` (a
duration) is this tool's own. Not here: bcc's ``--cgroupmap``/``--mntnsmap``.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Sequence

import pybpf

from . import attach_all, close_all, object_path, print_events
from ._inet import addresses, port_set
from ._options import Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf tcpaccept             # trace all TCP accept()s
    pybpf tcpaccept -t          # include timestamps
    pybpf tcpaccept -P 80,81    # only trace port 80 and 81
    pybpf tcpaccept -p 181      # only trace PID 181
    pybpf tcpaccept -4          # only trace IPv4 family
    pybpf tcpaccept -6          # only trace IPv6 family
"""


OPTIONS = (
    Opt("-T", "--time", help="include time column on output (HH:MM:SS)"),
    Opt("-t", "--timestamp", help="include timestamp on output"),
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-P", "--port", type=port_set, default=None, metavar="PORTS",
        help="comma-separated list of local ports to trace"),
    Opt("-4", "--ipv4", help="trace IPv4 family only"),
    Opt("-6", "--ipv6", help="trace IPv6 family only"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf tcpaccept", "Trace TCP accepts", OPTIONS, argv,  # type: ignore[return-value]
                 epilog=EXAMPLES)


def header(a: argparse.Namespace) -> str:
    h = (f"{'TIME':<9}" if a.time else "") + (f"{'TIME(s)':<9}" if a.timestamp else "")
    return h + f"{'PID':<7} {'COMM':<12} {'IP':<2} {'RADDR':<16} {'RPORT':<5} {'LADDR':<16} LPORT"


def format_event(e: object, a: argparse.Namespace, t0_us: int) -> str:
    ip, laddr, raddr = addresses(e)
    h = (f"{time.strftime('%H:%M:%S'):<9}" if a.time else "") + \
        (f"{(e.ts_us - t0_us) / 1e6:<9.3f}" if a.timestamp else "")  # type: ignore[attr-defined]
    return h + (f"{e.pid:<7d} {e.task:<12.12} {ip:<2d} {raddr:<16} {e.rport:<5d} "  # type: ignore[attr-defined]
                f"{laddr:<16} {e.lport:<5d}")  # type: ignore[attr-defined]


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    if a.ipv4 and a.ipv6:
        raise pybpf.AttachError("-4 and -6 are exclusive")
    rodata = {"targ_tgid": a.pid,
              "targ_family": socket.AF_INET if a.ipv4 else socket.AF_INET6 if a.ipv6 else 0}
    t0_us: list[int] = []

    def line(e) -> str | None:  # noqa: ANN001
        if a.port and e.lport not in a.port:
            return None
        if not t0_us:
            t0_us.append(e.ts_us)
        return format_event(e, a, t0_us[0])

    with pybpf.load(object_path("tcpaccept"), rodata=rodata) as obj:
        links = attach_all(p.attach for p in obj.programs.values())
        try:
            print(header(a), file=out, flush=True)
            if ready is not None:
                ready()
            print_events(obj.maps["events"], a.duration, line, out)
        finally:
            close_all(links)
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
