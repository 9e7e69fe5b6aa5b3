"""bashreadline: print the commands bash users enter, as bcc's bashreadline does.

    pybpf bashreadline [-s SHARED] [-d SECONDS]

A uretprobe on ``readline()`` of /bin/bash, or of the readline library bash is linked
with (``-s``, e.g. ``-s /lib/libreadline.so``). ``-d`` (a duration) is this tool's own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import pybpf

from . import object_path, print_events
from ._options import Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf bashreadline
    pybpf bashreadline -s /usr/lib/libreadline.so
"""

OPTIONS = (
    Opt("-s", "--shared", type=str, default="", help="specify the location of libreadline.so library. "
        "Default is use bash's own readline()"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf bashreadline", "Print entered bash commands from all running shells",  # type: ignore[return-value]
                 OPTIONS, argv, epilog=EXAMPLES)


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    with pybpf.load(object_path("bashreadline")) as obj:
        link = obj.programs["readline_return"].attach_uprobe(a.shared or "/bin/bash", "readline",
                                                             retprobe=True)
        try:
            events = obj.maps["events"]
            print(f"{'TIME':<9} {'PID':<7} COMMAND", file=out, flush=True)
            if ready is not None:
                ready()
            print_events(events, a.duration,
                         lambda e: f"{time.strftime('%H:%M:%S'):<9} {e.pid:<7d} {e.str}", out)
        finally:
            link.close()
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
