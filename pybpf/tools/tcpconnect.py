"""tcpconnect: trace active TCP connections (connect()), printed as bcc's tcpconnect does.

    pybpf tcpconnect [-t] [-p PID] [-P PORT[,PORT...]] [-4 | -6] [-L] [-U] [-u UID] [-c]
                     [-d SECONDS]

Seen where a socket enters SYN_SENT (tracepoint sock/inet_sock_set_state), so it needs no
kprobes. The local port is chosen just after: ``-L`` prints each connect when its socket
leaves SYN_SENT (established or failed), with the port. ``-c`` counts connects per
source, destination and port instead, printed at the end. ``-d`` is this tool's own.
Not here: bcc's ``--cgroupmap``/``--mntnsmap`` and ``-d`` (DNS).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Sequence

import pybpf

from . import object_path, print_events
from ._inet import addresses, port_set
from ._options import Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf tcpconnect           # trace all TCP connect()s
    pybpf tcpconnect -t        # include timestamps
    pybpf tcpconnect -p 181    # only trace PID 181
    pybpf tcpconnect -P 80     # only trace port 80
    pybpf tcpconnect -P 80,81  # only trace port 80 and 81
    pybpf tcpconnect -4        # only trace IPv4 family
    pybpf tcpconnect -6        # only trace IPv6 family
    pybpf tcpconnect -L        # include LPORT
    pybpf tcpconnect -U        # include UID
    pybpf tcpconnect -u 1000   # only trace UID 1000
    pybpf tcpconnect -c        # count connects per src ip and dest ip/port
"""
MAX_PORTS = 8                  # tcpconnect.bpf.c


def _ports(text: str) -> list[int]:
    ports = sorted(port_set(text))
    if len(ports) > MAX_PORTS:
        raise ValueError(f"at most {MAX_PORTS} ports")
    return ports


OPTIONS = (
    Opt("-t", "--timestamp", help="include timestamp on output"),
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-P", "--port", type=_ports, default=None, metavar="PORT",
        help="comma-separated list of destination ports to trace."),
    Opt("-4", "--ipv4", help="trace IPv4 family only"),
    Opt("-6", "--ipv6", help="trace IPv6 family only"),
    Opt("-L", "--lport", help="include LPORT on output"),
    Opt("-U", "--print-uid", help="include UID on output"),
    Opt("-u", "--uid", type=int, default=-1, help="trace this UID only"),
    Opt("-c", "--count", help="count connects per src ip and dest ip/port"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf tcpconnect", "Trace TCP connects", OPTIONS, argv,  # type: ignore[return-value]
                 epilog=EXAMPLES)


def header(a: argparse.Namespace) -> str:
    if a.count:
        return f"{'LADDR':<25} {'RADDR':<25} {'RPORT':<20} {'CONNECTS':<10}"
    h = f"{'TIME(s)':<9}" if a.timestamp else ""
    h += f"{'UID':<6}" if a.print_uid else ""
    lport = f"{'LPORT':<6} " if a.lport else ""
    return h + f"{'PID':<7} {'COMM':<12} {'IP':<2} {'SADDR':<16} {lport}{'DADDR':<16} {'DPORT':<6}"


def format_event(e: object, a: argparse.Namespace, t0_us: int | None) -> str:
    ip, saddr, daddr = addresses(e)
    line = f"{(e.ts_us - t0_us) / 1e6:<9.3f}" if a.timestamp else ""  # type: ignore[attr-defined,operator]
    line += f"{e.uid:<6d}" if a.print_uid else ""  # type: ignore[attr-defined]
    lport = f"{e.lport:<6d} " if a.lport else ""  # type: ignore[attr-defined]
    return line + (f"{e.pid:<7d} {e.task[:12]:<12} {ip:<2d} {saddr:<16} {lport}{daddr:<16} "  # type: ignore[attr-defined]
                   f"{e.dport:<6d}")  # type: ignore[attr-defined]


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    if a.ipv4 and a.ipv6:
        raise pybpf.AttachError("-4 and -6 are exclusive")
    ports = a.port or []
    rodata = {"targ_tgid": a.pid, "targ_uid": a.uid if a.uid >= 0 else 0xFFFFFFFF,
              "targ_family": socket.AF_INET if a.ipv4 else socket.AF_INET6 if a.ipv6 else 0,
              "targ_ports": ports + [0] * (MAX_PORTS - len(ports)), "targ_nports": len(ports),
              "targ_lport": a.lport}
    counts: dict[tuple[str, str, int], int] = {}
    with pybpf.load(object_path("tcpconnect"), rodata=rodata) as obj:
        link = obj.programs["on_state"].attach()
        try:
            events = obj.maps["events"]
            if a.count:
                print("Tracing connect ... Hit Ctrl-C to end", file=out, flush=True)
            else:
                print(header(a), file=out, flush=True)
            if ready is not None:
                ready()
            t0_us: list[int] = []

            def line(e) -> str | None:  # noqa: ANN001
                if a.count:
                    _ip, saddr, daddr = addresses(e)
                    key = (saddr, daddr, e.dport)
                    counts[key] = counts.get(key, 0) + 1
                    return None
                if not t0_us:
                    t0_us.append(e.ts_us)
                return format_event(e, a, t0_us[0])

            print_events(events, a.duration, line, out)
        finally:
            link.close()
    if a.count:
        print(f"\n{header(a)}", file=out)
        for (saddr, daddr, port), n in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"{saddr:<25} {daddr:<25} {port:<20} {n:<10}", file=out)
        out.flush()
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
