"""runqlat: run queue (scheduler) latency as a histogram, printed as bcc's runqlat does.

    pybpf runqlat [-T] [-m] [-P] [-L] [-p PID] [interval] [count]

How long tasks wait on a run queue after a wakeup (or after being preempted) until they
run. ``-P``/``-L`` print a histogram per process/thread. Not here: bcc's ``--pidnss``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pybpf

from ..hist import buckets_from_map, log2_hist, print_map_hists
from . import run_summary
from ._options import Arg, Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf runqlat            # summarize run queue latency as a histogram
    pybpf runqlat 1 10       # print 1 second summaries, 10 times
    pybpf runqlat -mT 1      # 1s summaries, milliseconds, and timestamps
    pybpf runqlat -P         # show each PID separately
    pybpf runqlat -p 185     # trace PID 185 only
"""
ALL_KEY = 0xFFFFFFFF       # the key of the one histogram without -P/-L (runqlat.bpf.c)

OPTIONS = (
    Opt("-T", "--timestamp", help="include timestamp on output"),
    Opt("-m", "--milliseconds", help="millisecond histogram"),
    Opt("-P", "--pids", help="print a histogram per process ID"),
    Opt("-L", "--tids", help="print a histogram per thread ID"),
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
)
ARGS = (Arg("interval", type=float, default=99999999, optional=True,
            help="output interval, in seconds"),
        Arg("count", type=int, default=99999999, optional=True, help="number of outputs"))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf runqlat", "Summarize run queue (scheduler) latency as a histogram",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``count`` intervals; ``ready()`` is called once attached."""
    a = parse_args(argv)
    if a.pids and a.tids:
        raise pybpf.AttachError("-P and -L are exclusive: a histogram per process or per thread")
    label = "msecs" if a.milliseconds else "usecs"
    section = "tid" if a.tids else "pid" if a.pids else None
    rodata = {"targ_per_process": a.pids, "targ_per_thread": a.tids,
              "targ_ms": a.milliseconds, "targ_tgid": a.pid}
    return run_summary("runqlat", rodata, "Tracing run queue latency... Hit Ctrl-C to end.", a,
                       lambda obj: lambda: _render(obj.maps["hists"], label, section), out, ready)


def _render(hists: pybpf.Map, label: str, section: str | None) -> str:
    by_key = buckets_from_map(hists.items(), slots_field="slots")
    hists.clear()
    if section is None:
        return log2_hist(by_key.get(ALL_KEY, []), label)
    return print_map_hists(by_key, label, section)


def main(argv: Sequence[str]) -> int:
    return run(argv)
