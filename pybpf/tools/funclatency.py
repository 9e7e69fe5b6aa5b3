"""funclatency: time functions and print their latency as a histogram, as bcc's does.

    pybpf funclatency [-p PID] [-i INTERVAL] [-d DURATION] [-T] [-u | -m] [-r] pattern

``pattern`` is a kernel function (``vfs_read``; a glob such as ``'vfs_fstat*'``, attached
with one kprobe.multi link where the kernel has them) or ``lib:function`` for a user
function (``c:malloc``, ``/bin/bash:readline``; globs too); ``-r`` makes it a regular
expression. Not here: bcc's ``-F`` (a histogram per function) and ``-l`` (nesting levels).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import pybpf

from ..hist import log2_hist
from . import attach_all, close_all, object_path, report_loop
from ._options import Arg, Opt, parse
from ._targets import functions

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf funclatency do_sys_open       # time the do_sys_open() kernel function
    pybpf funclatency c:read            # time the read() C library function
    pybpf funclatency -u vfs_read       # time vfs_read(), in microseconds
    pybpf funclatency -m do_nanosleep   # time do_nanosleep(), in milliseconds
    pybpf funclatency -i 2 -d 10 c:open # output every 2 seconds, for duration 10s
    pybpf funclatency -mTi 5 vfs_read   # output every 5 seconds, with timestamps
    pybpf funclatency -p 181 vfs_read   # time process 181 only
    pybpf funclatency 'vfs_fstat*'      # time both vfs_fstat() and vfs_fstatat()
    pybpf funclatency 'c:*printf'       # time the *printf family of functions
"""

OPTIONS = (
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-i", "--interval", type=float, default=0, help="summary interval, in seconds"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, in seconds"),
    Opt("-T", "--timestamp", help="include timestamp on output"),
    Opt("-u", "--microseconds", help="microsecond histogram"),
    Opt("-m", "--milliseconds", help="millisecond histogram"),
    Opt("-r", "--regexp", help='use regular expressions. Default is "*" wildcards only.'),
)
ARGS = (Arg("pattern", help="search expression for functions"),)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf funclatency", "Time functions and print latency as a histogram",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


def _attach(obj: pybpf.Object, binary: str | None, names: list[str], multi: bool,
            pid: int) -> list[pybpf.Link]:
    """Entry and return probes on every function (one kprobe.multi pair if ``multi``)."""
    if multi:
        return attach_all(lambda p=p, r=r: obj.programs[p].attach_kprobe_multi(names, retprobe=r)
                          for p, r in (("func_entry_multi", False), ("func_exit_multi", True)))
    entry, ret = obj.programs["func_entry"], obj.programs["func_exit"]
    if binary is None:
        return attach_all(lambda n=n, r=r: (ret if r else entry).attach_kprobe(n, retprobe=r)
                          for n in names for r in (False, True))
    return attach_all(lambda n=n, r=r: (ret if r else entry).attach_uprobe(
        binary, n, retprobe=r, pid=pid or -1) for n in names for r in (False, True))


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    unit, div = (("msecs", 1000000) if a.milliseconds else
                 ("usecs", 1000) if a.microseconds else ("nsecs", 1))
    binary, names = functions(a.pattern, a.regexp)
    from .. import features
    multi = binary is None and len(names) > 1 and features.kprobe_multi()
    spec = pybpf.ObjectSpec.from_file(object_path("funclatency"))
    for name in (("func_entry", "func_exit") if multi else ("func_entry_multi", "func_exit_multi")):
        spec.programs[name].skip = True
    interval = a.interval or a.duration or 99999999
    with spec.load(rodata={"targ_tgid": a.pid, "unit_div": div}) as obj:
        links = _attach(obj, binary, names, multi, a.pid)
        try:
            print(f'Tracing {len(names)} functions for "{a.pattern}"... Hit Ctrl-C to end.',
                  file=out, flush=True)
            if ready is not None:
                ready()
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            report_loop(interval, -1, a.timestamp, lambda: _render(obj, unit, div), out,
                        a.duration)
            print("Detaching...", file=out, flush=True)
        finally:
            close_all(links)
    return 0


def _render(obj: pybpf.Object, unit: str, div: int) -> str:
    """The histogram and average since the last report (then cleared, as bcc does)."""
    bss = obj.bss
    hist, total, calls = bss.hist, bss.total_ns, bss.calls
    bss.hist, bss.total_ns, bss.calls = (0,) * len(hist), 0, 0
    text = log2_hist(hist, unit)
    if calls:
        scaled = total / div
        text += (f"\n\navg = {int(scaled / calls)} {unit}, total: {int(scaled)} {unit}, "
                 f"count: {calls}\n")
    return text


def main(argv: Sequence[str]) -> int:
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
