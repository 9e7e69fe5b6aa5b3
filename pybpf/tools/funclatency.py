"""funclatency: time functions and print their latency as a histogram, as bcc's does.

    pybpf funclatency [-p PID] [-i INTERVAL] [-d DURATION] [-T] [-u | -m] [-F] [-r] pattern

``pattern`` is a kernel function (``vfs_read``; a glob such as ``'vfs_fstat*'``, attached
with one kprobe.multi link where the kernel has them) or ``lib:function`` for a user
function (``c:malloc``, ``/bin/bash:readline``; globs too); ``-r`` makes it a regular
expression. ``-F`` prints a histogram per function (each return probe carries its
function's index as a BPF cookie; kernels without cookies get one object per function).
Not here: bcc's ``-l`` (nesting levels), and its per-pid sections of library functions.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import pybpf

from ..hist import log2_hist, print_map_hists
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
    pybpf funclatency -F 'vfs_r*'       # show one histogram per matched function
"""

OPTIONS = (
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-i", "--interval", type=float, default=0, help="summary interval, in seconds"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, in seconds"),
    Opt("-T", "--timestamp", help="include timestamp on output"),
    Opt("-u", "--microseconds", help="microsecond histogram"),
    Opt("-m", "--milliseconds", help="millisecond histogram"),
    Opt("-F", "--function", help="show a separate histogram per function"),
    Opt("-r", "--regexp", help='use regular expressions. Default is "*" wildcards only.'),
)
ARGS = (Arg("pattern", help="search expression for functions"),)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf funclatency", "Time functions and print latency as a histogram",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


def _attach(obj: pybpf.Object, binary: str | None, names: list[str], multi: bool,
            pid: int, cookies: list[int] | None) -> list[pybpf.Link]:
    """Entry and return probes on every function (one kprobe.multi pair if ``multi``),
    the return probes with ``cookies`` (one per function) when given."""
    if multi:
        return attach_all(lambda p=p, r=r: obj.programs[p].attach_kprobe_multi(
            names, retprobe=r, cookies=cookies if r else None)
            for p, r in (("func_entry_multi", False), ("func_exit_multi", True)))
    entry, ret = obj.programs["func_entry"], obj.programs["func_exit"]
    cookie = cookies or [0] * len(names)
    if binary is None:
        return attach_all(lambda i=i, r=r: (ret if r else entry).attach_kprobe(
            names[i], retprobe=r, cookie=cookie[i] if r else 0)
            for i in range(len(names)) for r in (False, True))
    return attach_all(lambda i=i, r=r: (ret if r else entry).attach_uprobe(
        binary, names[i], retprobe=r, pid=pid or -1, cookie=cookie[i] if r else 0)
        for i in range(len(names)) for r in (False, True))


class Tracer:
    """The loaded object (or, for ``-F`` without BPF cookies, one per function) and its
    links; ``take()`` the histograms and totals since the last one."""

    def __init__(self, a: argparse.Namespace, binary: str | None, names: list[str],
                 div: int) -> None:
        from .. import features
        self.names, self.per_function = names, a.function
        cookies = self.per_function and features.bpf_cookie()
        groups = [names] if not self.per_function or cookies else [[n] for n in names]
        self.objects: list[pybpf.Object] = []
        self.links: list[pybpf.Link] = []
        try:
            for i, group in enumerate(groups):
                multi = binary is None and len(group) > 1 and features.kprobe_multi()
                spec = pybpf.ObjectSpec.from_file(object_path("funclatency"))
                for name in (("func_entry", "func_exit") if multi else
                             ("func_entry_multi", "func_exit_multi")):
                    spec.programs[name].skip = True
                obj = spec.load(rodata={"targ_tgid": a.pid, "unit_div": div,
                                        "per_function": self.per_function,
                                        "use_cookie": bool(cookies), "func_idx": i})
                self.objects.append(obj)
                self.links += _attach(obj, binary, group, multi, a.pid,
                                      list(range(len(group))) if cookies else None)
        except BaseException:
            self.close()
            raise

    def take(self) -> tuple[dict[int, list[int]], int, int]:
        """({function index (-1: all): buckets}, total ns, calls), then zeroed (as bcc)."""
        hists: dict[int, list[int]] = {}
        total = calls = 0
        for obj in self.objects:
            bss = obj.bss
            total, calls = total + bss.total_ns, calls + bss.calls
            if self.per_function:
                m = obj.maps["fhists"]
                hists.update((k, list(v.slots)) for k, v in m.items())
                m.clear()
            else:
                hists[-1] = list(bss.hist)
                bss.hist = (0,) * len(bss.hist)
            bss.total_ns, bss.calls = 0, 0
        return hists, total, calls

    def close(self) -> None:
        close_all(self.links)
        for obj in self.objects:
            obj.close()


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    unit, div = (("msecs", 1000000) if a.milliseconds else
                 ("usecs", 1000) if a.microseconds else ("nsecs", 1))
    binary, names = functions(a.pattern, a.regexp)
    interval = a.interval or a.duration or 99999999
    tracer = Tracer(a, binary, names, div)
    try:
        print(f'Tracing {len(names)} functions for "{a.pattern}"... Hit Ctrl-C to end.',
              file=out, flush=True)
        if ready is not None:
            ready()
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        report_loop(interval, -1, a.timestamp, lambda: _render(tracer, unit, div), out,
                    a.duration)
        print("Detaching...", file=out, flush=True)
    finally:
        tracer.close()
    return 0


def _render(tracer: Tracer, unit: str, div: int) -> str:
    """The histogram(s) and average since the last report."""
    hists, total, calls = tracer.take()
    if tracer.per_function:                   # bcc: print_log2_hist(label, "Function", ...)
        text = print_map_hists(hists, unit, "Function", tracer.names.__getitem__)
    else:
        text = log2_hist(hists[-1], unit)
    if calls:
        scaled = total / div
        text += (f"\n\navg = {int(scaled / calls)} {unit}, total: {int(scaled)} {unit}, "
                 f"count: {calls}\n")
    return text


def main(argv: Sequence[str]) -> int:
    return run(argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
