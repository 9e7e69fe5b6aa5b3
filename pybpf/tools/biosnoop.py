"""biosnoop: block device I/O, one line per request, printed as bcc's biosnoop does.

    pybpf biosnoop [-Q] [-d DISK] [duration]

Who submitted each request (the task whose bio it starts with), the disk, R or W, the
sector, the size and the latency from issue to completion; ``-Q`` adds the time queued in
the kernel. ``duration`` (seconds) is libbpf-tools'. Not here: bcc's ``-P`` (patterns).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pybpf

from . import attach_all, close_all, object_path, print_events
from ._block import dev_namer, disk_dev
from ._options import Arg, Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf biosnoop           # trace all block I/O
    pybpf biosnoop -Q        # include OS queued time
    pybpf biosnoop -d vda    # trace vda only
    pybpf biosnoop 10        # trace for 10 seconds
"""

OPTIONS = (
    Opt("-Q", "--queue", help="include OS queued time"),
    Opt("-d", "--disk", type=str, default="", help="trace this disk only"),
)
ARGS = (Arg("duration", type=float, default=0, optional=True,
            help="total duration of trace, seconds"),)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf biosnoop", "Trace block I/O",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


def header(queue: bool) -> str:
    return (f"{'TIME(s)':<11} {'COMM':<14} {'PID':<7} {'DISK':<9} {'T':<1} {'SECTOR':<10} "
            f"{'BYTES':<7}" + (f"{'QUE(ms)':>7} " if queue else "") + f"{'LAT(ms)':>7}")


def format_event(e: object, queue: bool, t0_ns: int, disk: str) -> str:
    line = (f"{(e.ts - t0_ns) / 1e9:<11.6f} {e.comm[:14]:<14} {e.pid!s:<7} "  # type: ignore[attr-defined]
            f"{disk:<9} {'W' if e.rwflag else 'R'} {e.sector!s:<10} {e.len!s:<7}")  # type: ignore[attr-defined]
    if queue:
        line += f"{e.qdelta / 1e6:7.2f} "  # type: ignore[attr-defined]
    return line + f"{e.delta / 1e6:7.2f}"  # type: ignore[attr-defined]


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    rodata = {"targ_queued": a.queue, "targ_dev": disk_dev(a.disk) if a.disk else 0}
    name = dev_namer()
    with pybpf.load(object_path("biosnoop"), rodata=rodata) as obj:
        links = attach_all(p.attach for p in obj.programs.values())
        try:
            events = obj.maps["events"]
            print(header(a.queue), file=out, flush=True)
            if ready is not None:
                ready()
            t0: list[int] = []         # bcc: times from the first event

            def line(e) -> str:  # noqa: ANN001
                if not t0:
                    t0.append(e.ts)
                return format_event(e, a.queue, t0[0], name(e.dev))

            print_events(events, a.duration, line, out)
        finally:
            close_all(links)
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
