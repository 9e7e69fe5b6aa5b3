"""funclatency: time functions and print their latency as a histogram, as bcc's does.

    pybpf funclatency [-p PID] [-i INTERVAL] [-d DURATION] [-T] [-u | -m] [-r] pattern

``pattern`` is a kernel function (``vfs_read``; a glob such as ``'vfs_fstat*'``, attached
with one kprobe.multi link where the kernel has them) or ``lib:function`` for a user
function (``c:malloc``, ``/bin/bash:readline``; globs too); ``-r`` makes it a regular
expression. Not here: bcc's ``-F`` (a histogram per function) and ``-l`` (nesting levels).
"""

from __future__ import annotations

import fnmatch
import signal
import sys
import time
from collections.abc import Sequence

import pybpf

from ..hist import log2_hist
from . import object_path
from ._options import Arg, Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

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


def _matcher(pattern: str, regexp: bool) -> Callable[[str], bool] | None:
    """None for a plain name; else a test of names (a glob, or a regex with ``-r``)."""
    if regexp:
        import re
        rx = re.compile(pattern)
        return lambda n: rx.search(n) is not None
    if any(c in pattern for c in "*?["):
        return lambda n: fnmatch.fnmatchcase(n, pattern)
    return None


def _targets(a: argparse.Namespace) -> tuple[str | None, list[str]]:
    """(binary or None for the kernel, function names) the pattern stands for."""
    parts = a.pattern.split(":")
    if len(parts) > 2 or not parts[-1]:
        raise pybpf.AttachError(f"unrecognized pattern format '{a.pattern}'")
    func, match = parts[-1], _matcher(parts[-1], a.regexp)
    if len(parts) == 2:
        from ..attach.uprobe import elf_symbols, resolve_binary
        binary = resolve_binary(parts[0])
        if match is None:
            return binary, [func]
        names = sorted(n for n in elf_symbols(binary).funcs if match(n))
        where = binary
    else:
        if match is None:
            return None, [func]
        from ..attach.kprobe import traceable_functions
        binary, names, where = None, sorted(n for n in traceable_functions() if match(n)), "the kernel"
    if not names:
        raise pybpf.AttachError(f"no function in {where} matches '{func}'")
    return binary, names


def _attach(obj: pybpf.Object, binary: str | None, names: list[str], multi: bool,
            pid: int) -> list[pybpf.Link]:
    """Entry and return probes on every function (one kprobe.multi pair if ``multi``)."""
    links: list[pybpf.Link] = []
    try:
        if multi:
            for prog, ret in (("func_entry_multi", False), ("func_exit_multi", True)):
                links.append(obj.programs[prog].attach_kprobe_multi(names, retprobe=ret))
            return links
        entry, ret = obj.programs["func_entry"], obj.programs["func_exit"]
        for name in names:
            if binary is None:
                links += [entry.attach_kprobe(name), ret.attach_kprobe(name, retprobe=True)]
            else:
                links += [entry.attach_uprobe(binary, name, pid=pid or -1),
                          ret.attach_uprobe(binary, name, retprobe=True, pid=pid or -1)]
    except BaseException:
        for link in links:
            link.close()
        raise
    return links


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    unit, div = (("msecs", 1000000) if a.milliseconds else
                 ("usecs", 1000) if a.microseconds else ("nsecs", 1))
    binary, names = _targets(a)
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
            _report(obj, a, interval, unit, div, out)
        finally:
            for link in links:
                link.close()
    return 0


def _report(obj: pybpf.Object, a: argparse.Namespace, interval: float, unit: str, div: int,
            out) -> None:  # noqa: ANN001
    """bcc's loop: a histogram (and the average) every interval, until Ctrl-C or duration."""
    bss, seconds, exiting = obj.bss, 0.0, False
    while not exiting:
        try:
            time.sleep(interval)
            seconds += interval
        except KeyboardInterrupt:
            exiting = True
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if a.duration and seconds >= a.duration:
            exiting = True
        hist, total, calls = bss.hist, bss.total_ns, bss.calls   # then cleared, as bcc does
        bss.hist, bss.total_ns, bss.calls = (0,) * len(hist), 0, 0
        print(file=out)
        if a.timestamp:
            print(time.strftime("%H:%M:%S"), file=out)
        text = log2_hist(hist, unit)
        if text:
            print(text, file=out)
        if calls:
            scaled = total / div
            print(f"\navg = {int(scaled / calls)} {unit}, total: {int(scaled)} {unit}, "
                  f"count: {calls}\n", file=out)
        out.flush()
    print("Detaching...", file=out, flush=True)


def main(argv: Sequence[str]) -> int:
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
