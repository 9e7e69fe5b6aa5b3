"""killsnoop: trace signals sent with kill(), printed as bcc's killsnoop does.

    pybpf killsnoop [-x] [-p PID] [-s SIGNAL] [-d SECONDS]

Syscall tracepoints sys_enter_kill and sys_exit_kill: who sent which signal to whom, and
the result (0, or -errno). ``-d`` (a duration) is this tool's own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import pybpf

from . import attach_all, close_all, object_path, print_events
from ._options import Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf killsnoop           # trace all kill() signals
    pybpf killsnoop -x        # only show failed kills
    pybpf killsnoop -p 181    # only trace PID 181
    pybpf killsnoop -s 9      # only trace signal 9
"""


def _signal(text: str) -> int:
    if text.isdigit():
        return int(text)
    import signal
    name = text.upper() if text.upper().startswith("SIG") else "SIG" + text.upper()
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise ValueError(f"no signal {text!r}") from None


OPTIONS = (
    Opt("-x", "--failed", help="only show failed kill syscalls"),
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only which is the sender of signal"),
    Opt("-s", "--signal", type=_signal, default=0, help="trace this signal only (number or name)"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf killsnoop", "Trace signals issued by the kill() syscall",  # type: ignore[return-value]
                 OPTIONS, argv, epilog=EXAMPLES)


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    rodata = {"targ_tgid": a.pid, "targ_sig": a.signal, "failed_only": a.failed}
    with pybpf.load(object_path("killsnoop"), rodata=rodata) as obj:
        links = attach_all(p.attach for p in obj.programs.values())
        try:
            print(f"{'TIME':<9} {'PID':<7} {'COMM':<16} {'SIG':<4} {'TPID':<7} RESULT",
                  file=out, flush=True)
            if ready is not None:
                ready()
            print_events(obj.maps["events"], a.duration,
                         lambda e: f"{time.strftime('%H:%M:%S'):<9} {e.pid:<7d} {e.comm:<16} "
                                   f"{e.sig:<4d} {e.tpid:<7d} {e.ret}", out)
        finally:
            close_all(links)
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
