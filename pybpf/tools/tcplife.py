"""tcplife: TCP sessions as they close, with duration and bytes, printed as bcc's tcplife.

    pybpf tcplife [-T] [-t] [-w] [-s] [-p PID] [-L PORTS] [-D PORTS] [-4 | -6] [-d SECONDS]

From the tracepoint sock/inet_sock_set_state only (no kprobes): PID and COMM are the task
that connected (or closed a passive session), TX_KB/RX_KB the bytes acked and received.
``-d`` (a duration) is this tool's own.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Sequence

import pybpf

from . import object_path, print_events
from ._inet import addresses, port_set
from ._options import Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf tcplife           # trace all TCP connect()s
    pybpf tcplife -T        # include time column (HH:MM:SS)
    pybpf tcplife -w        # wider columns (fit IPv6)
    pybpf tcplife -stT      # csv output, with times & timestamps
    pybpf tcplife -p 181    # only trace PID 181
    pybpf tcplife -L 80     # only trace local port 80
    pybpf tcplife -L 80,81  # only trace local ports 80 and 81
    pybpf tcplife -D 80     # only trace remote port 80
    pybpf tcplife -4        # only trace IPv4 family
    pybpf tcplife -6        # only trace IPv6 family
"""


OPTIONS = (
    Opt("-T", "--time", help="include time column on output (HH:MM:SS)"),
    Opt("-t", "--timestamp", help="include timestamp on output (seconds)"),
    Opt("-w", "--wide", help="wide column output (fits IPv6 addresses)"),
    Opt("-s", "--csv", help="comma separated values output"),
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-L", "--localport", type=port_set, default=None, metavar="LOCALPORT",
        help="comma-separated list of local ports to trace."),
    Opt("-D", "--remoteport", type=port_set, default=None, metavar="REMOTEPORT",
        help="comma-separated list of remote ports to trace."),
    Opt("-4", "--ipv4", help="trace IPv4 family only"),
    Opt("-6", "--ipv6", help="trace IPv6 family only"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf tcplife", "Trace the lifespan of TCP sessions and summarize",  # type: ignore[return-value]
                 OPTIONS, argv, epilog=EXAMPLES)


FIELDS = ("PID", "COMM", "IP", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS")  # -s


def header(a: argparse.Namespace) -> str:
    if a.csv:
        return ",".join((["TIME"] if a.time else []) + (["TIME(s)"] if a.timestamp else [])
                        + list(FIELDS))
    h = (f"{'TIME':<8} " if a.time else "") + (f"{'TIME(s)':<9} " if a.timestamp else "")
    if a.wide:
        return h + (f"{'PID':<5} {'COMM':<16} {'IP':<2} {'LADDR':<26} {'LPORT':<5} "
                    f"{'RADDR':<26} {'RPORT':<5} {'TX_KB':>6} {'RX_KB':>6} MS")
    return h + (f"{'PID':<5} {'COMM':<10} {'LADDR':<15} {'LPORT':<5} {'RADDR':<15} "
                f"{'RPORT':<5} {'TX_KB':>5} {'RX_KB':>5} MS")


def format_event(e: object, a: argparse.Namespace, t0_us: int) -> str:
    ip, laddr, raddr = addresses(e)
    ms = e.span_us / 1000  # type: ignore[attr-defined]
    tx, rx = e.tx_b // 1024, e.rx_b // 1024  # type: ignore[attr-defined]
    times = ([time.strftime("%H:%M:%S")] if a.time else []) + \
        ([f"{(e.ts_us - t0_us) / 1e6:.6f}"] if a.timestamp else [])  # type: ignore[attr-defined]
    if a.csv:
        return ",".join([*times, str(e.pid), e.comm, str(ip), laddr, str(e.lport), raddr,  # type: ignore[attr-defined]
                         str(e.dport), str(tx), str(rx), f"{ms:.2f}"])  # type: ignore[attr-defined]
    h = (f"{times.pop(0):<8} " if a.time else "") + (f"{times.pop(0):<9} " if a.timestamp else "")
    pid, comm, lport, rport = e.pid, e.comm, e.lport, e.dport  # type: ignore[attr-defined]
    if a.wide:
        return h + (f"{pid:<5d} {comm:<16.16} {ip:<2d} {laddr:<26} {lport:<5d} {raddr:<26} "
                    f"{rport:<5d} {tx:6d} {rx:6d} {ms:.2f}")
    return h + (f"{pid:<5d} {comm:<10.10} {laddr:<15} {lport:<5d} {raddr:<15} {rport:<5d} "
                f"{tx:5d} {rx:5d} {ms:.2f}")


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    if a.ipv4 and a.ipv6:
        raise pybpf.AttachError("-4 and -6 are exclusive")
    rodata = {"targ_tgid": a.pid,
              "targ_family": socket.AF_INET if a.ipv4 else socket.AF_INET6 if a.ipv6 else 0}
    t0_us = time.monotonic_ns() // 1000

    def line(e) -> str | None:  # noqa: ANN001
        if (a.localport and e.lport not in a.localport) or \
                (a.remoteport and e.dport not in a.remoteport):
            return None
        return format_event(e, a, t0_us)

    with pybpf.load(object_path("tcplife"), rodata=rodata) as obj:
        link = obj.programs["on_state"].attach()
        try:
            print(header(a), file=out, flush=True)
            if ready is not None:
                ready()
            print_events(obj.maps["events"], a.duration, line, out)
        finally:
            link.close()
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
