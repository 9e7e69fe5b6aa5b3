"""execsnoop: trace new processes via exec() syscalls, printed as bcc's execsnoop does.

    pybpf execsnoop [-T] [-t] [-x] [-u USER] [-q] [-n NAME] [-l LINE] [-U]
                    [--max-args MAX_ARGS] [-P PPID] [-d SECONDS]

Like bcc's, failed exec()s are left out unless ``-x``; ``-n`` and ``-l`` are regular
expressions over the command name and the argument line. ``-d`` (a duration, as
opensnoop's) is this tool's own. Not here: bcc's ``--cgroupmap``/``--mntnsmap``.
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
    pybpf execsnoop           # trace all exec() syscalls
    pybpf execsnoop -x        # include failed exec()s
    pybpf execsnoop -T        # include time (HH:MM:SS)
    pybpf execsnoop -U        # include UID
    pybpf execsnoop -u 1000   # only trace UID 1000
    pybpf execsnoop -u user   # get user UID and trace only them
    pybpf execsnoop -t        # include timestamps
    pybpf execsnoop -q        # add "quotemarks" around arguments
    pybpf execsnoop -n main   # only print command lines containing "main"
    pybpf execsnoop -l tpkg   # only print command where arguments contains "tpkg"
    pybpf execsnoop -P 181    # only trace new processes whose parent PID is 181
"""
MAX_ARGS = 60          # TOTAL_MAX_ARGS in execsnoop.bpf.c


def _uid(text: str) -> int:
    """A UID, or a user name's."""
    if text.isdigit():
        return int(text)
    import pwd
    try:
        return pwd.getpwnam(text).pw_uid
    except KeyError:
        raise ValueError(f"no user {text!r}") from None


OPTIONS = (
    Opt("-T", "--time", help="include time column on output (HH:MM:SS)"),
    Opt("-t", "--timestamp", help="include timestamp on output"),
    Opt("-x", "--fails", help="include failed exec()s"),
    Opt("-u", "--uid", type=_uid, default=-1, metavar="USER", help="trace this UID only"),
    Opt("-q", "--quote", help='Add quotemarks (") around arguments.'),
    Opt("-n", "--name", type=str, default="",
        help="only print commands matching this name (regex), any arg"),
    Opt("-l", "--line", type=str, default="",
        help="only print commands where arg contains this line (regex)"),
    Opt("-U", "--print-uid", help="print UID column"),
    Opt("--max-args", type=int, default=20,
        help="maximum number of arguments parsed and displayed, defaults to 20"),
    Opt("-P", "--ppid", type=int, default=0, help="trace this parent PID only"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf execsnoop", "Trace exec() syscalls", OPTIONS, argv,  # type: ignore[return-value]
                 epilog=EXAMPLES)


def header(a: argparse.Namespace) -> str:
    h = ""
    if a.time:
        h += f"{'TIME':<9}"
    if a.timestamp:
        h += f"{'TIME(s)':<8}"
    if a.print_uid:
        h += f"{'UID':<6}"
    return h + f"{'PCOMM':<16} {'PID':<6} {'PPID':<6} {'RET':>3} ARGS"


def arg_text(e: object, quote: bool) -> str:
    """The file name and arguments of an event, joined as bcc joins them (``...`` where
    argv went on past what was kept; newlines shown as ``\\n``)."""
    raw = e.args[:e.args_size]  # type: ignore[attr-defined]
    parts = [p.decode("utf-8", "replace") for p in raw.split(b"\0")[:-1]] if raw else []
    if quote:
        parts = ['"' + p.replace('"', '\\"') + '"' for p in parts]
    if e.args_count > len(parts):  # type: ignore[attr-defined]
        parts.append("...")
    return " ".join(parts).replace("\n", "\\n")


def format_event(e: object, a: argparse.Namespace, t0: float, args: str) -> str:
    line = ""
    if a.time:
        line += f"{time.strftime('%H:%M:%S'):<9}"
    if a.timestamp:
        line += f"{time.monotonic() - t0:<8.3f}"
    if a.print_uid:
        line += f"{e.uid:<6d}"  # type: ignore[attr-defined]
    return line + f"{e.comm:<16} {e.pid:<6d} {e.ppid:<6d} {e.retval:>3d} {args}"  # type: ignore[attr-defined]


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    if not 1 <= a.max_args <= MAX_ARGS - 1:
        raise pybpf.AttachError(f"--max-args: {a.max_args} is not in 1..{MAX_ARGS - 1}")
    name = line = None
    if a.name or a.line:
        import re
        name, line = (re.compile(a.name) if a.name else None), (re.compile(a.line) if a.line else None)
    rodata = {"targ_uid": a.uid if a.uid >= 0 else 0xFFFFFFFF, "targ_ppid": a.ppid,
              "ignore_failed": not a.fails, "max_args": a.max_args}
    with pybpf.load(object_path("execsnoop"), rodata=rodata) as obj:
        links = attach_all(p.attach for p in obj.programs.values())
        try:
            events = obj.maps["events"]
            print(header(a), file=out, flush=True)
            if ready is not None:
                ready()
            t0 = time.monotonic()

            def event_line(e) -> str | None:  # noqa: ANN001
                text = arg_text(e, a.quote)
                if name is not None and not name.search(e.comm):
                    return None
                if line is not None and not line.search(text):
                    return None
                return format_event(e, a, t0, text)

            print_events(events, a.duration, event_line, out)
        finally:
            close_all(links)
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
