"""funccount: count function calls or tracepoint hits, printed as bcc's funccount does.

    pybpf funccount [-p PID] [-i INTERVAL] [-d DURATION] [-T] [-r] pattern

``pattern``: a kernel function (``vfs_read``, ``p:vfs_*``), ``lib:function`` for user
functions (``c:malloc``, ``p:c:str*``), or ``t:category:event`` for tracepoints
(``t:sched:sched_*``); globs, or regular expressions with ``-r``. Each target's count is
kept under its index, passed as a BPF cookie (5.15+); older kernels get one object per
target. Not here: bcc's ``u:`` (USDT) patterns and ``-c`` (CPU).
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence

import pybpf

from . import close_all, object_path, report_loop
from ._options import Arg, Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf funccount 'vfs_*'             # count kernel fns starting with "vfs"
    pybpf funccount -r '^vfs.*'         # same as above, using regular expressions
    pybpf funccount -Ti 5 'vfs_*'       # output every 5 seconds, with timestamps
    pybpf funccount -d 10 'vfs_*'       # trace for 10 seconds only
    pybpf funccount -p 185 'vfs_*'      # count vfs calls for PID 181 only
    pybpf funccount t:sched:sched_fork  # count calls to the sched_fork tracepoint
    pybpf funccount -p 185 c:malloc     # count malloc() calls in PID 185
    pybpf funccount 'c:str*'            # count string functions in libc
"""

OPTIONS = (
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-i", "--interval", type=float, default=0, help="summary interval, seconds"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
    Opt("-T", "--timestamp", help="include timestamp on output"),
    Opt("-r", "--regexp", help='use regular expressions. Default is "*" wildcards only.'),
)
ARGS = (Arg("pattern", help="search expression for events"),)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf funccount", "Count functions, tracepoints and USDT probes",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


class Targets:
    """What a pattern stands for: ``kind`` ("kernel", "user" or "tracepoint"), the
    ``binary`` of user functions, and ``names`` in index order (tracepoints "cat:event")."""

    def __init__(self, pattern: str, regexp: bool) -> None:
        from ._targets import functions, tracepoints
        self.binary: str | None = None
        if pattern.startswith("t:"):
            parts = pattern.split(":")
            if len(parts) != 3 or not all(parts[1:]):
                raise pybpf.AttachError(f"unrecognized pattern format '{pattern}' "
                                        f"(t:category:event)")
            self.kind = "tracepoint"
            self.names = [f"{c}:{e}" for c, e in tracepoints(parts[1], parts[2], regexp)]
            return
        if pattern.startswith("u:"):
            raise pybpf.AttachError("USDT patterns (u:lib:probe) are not supported by "
                                    "pybpf funccount")
        if pattern.startswith("p:"):
            pattern = pattern[2:]
        self.binary, self.names = functions(pattern, regexp)
        self.kind = "kernel" if self.binary is None else "user"


def _attach_one(prog: pybpf.Program, t: Targets, i: int, pid: int, cookie: int) -> pybpf.Link:
    name = t.names[i]
    if t.kind == "tracepoint":
        cat, ev = name.split(":")
        return prog.attach_tracepoint(cat, ev, cookie=cookie)
    if t.kind == "user":
        return prog.attach_uprobe(t.binary, name, pid=pid or -1, cookie=cookie)  # type: ignore[arg-type]
    return prog.attach_kprobe(name, cookie=cookie)


class Counter:
    """The loaded objects, their links, and the counts by target index."""

    def __init__(self, t: Targets, pid: int) -> None:
        from .. import features
        self.objects: list[pybpf.Object] = []
        self.links: list[pybpf.Link] = []
        prog = "count_tracepoint" if t.kind == "tracepoint" else "count_probe"
        spec = pybpf.ObjectSpec.from_file(object_path("funccount"))
        for name in spec.programs:
            spec.programs[name].skip = name != prog
        try:
            if features.bpf_cookie():
                spec.maps["counts"].max_entries = len(t.names)
                obj = spec.load(rodata={"targ_tgid": pid})
                self.objects.append(obj)
                p = obj.programs[prog]
                if t.kind == "kernel" and len(t.names) > 1 and features.kprobe_multi():
                    self.links.append(p.attach_kprobe_multi(
                        t.names, cookies=list(range(len(t.names)))))
                else:
                    for i in range(len(t.names)):
                        self.links.append(_attach_one(p, t, i, pid, cookie=i))
            else:                       # one object per target, its index a constant
                for i in range(len(t.names)):
                    obj = spec.load(rodata={"targ_tgid": pid, "use_cookie": False})
                    self.objects.append(obj)
                    self.links.append(_attach_one(obj.programs[prog], t, i, pid, cookie=0))
        except BaseException:
            self.close()
            raise

    def take(self) -> list[int]:
        """Counts by target index since the last take (then zeroed, as bcc does)."""
        out: list[int] = []
        for obj in self.objects:
            m = obj.maps["counts"]
            values = [m[i] for i in range(m.max_entries)]
            for i, v in enumerate(values):
                if v:
                    m[i] = 0
            out += values
        return out

    def close(self) -> None:
        close_all(self.links)
        for obj in self.objects:
            obj.close()


def render(names: list[str], counts: list[int]) -> str:
    rows = sorted((c, i) for i, c in enumerate(counts) if c)     # least frequent first
    return "\n".join([f"{'FUNC':<36} {'COUNT':>8}",
                      *(f"{names[i]:<36} {c:8d}" for c, i in rows)])


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    t = Targets(a.pattern, a.regexp)
    counter = Counter(t, a.pid)
    try:
        print(f'Tracing {len(t.names)} functions for "{a.pattern}"... Hit Ctrl-C to end.',
              file=out, flush=True)
        if ready is not None:
            ready()
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        report_loop(a.interval or a.duration or 99999999, -1, a.timestamp,
                    lambda: render(t.names, counter.take()), out, a.duration)
        print("Detaching...", file=out, flush=True)
    finally:
        counter.close()
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
