"""ext4slower: ext4 reads, writes, opens and fsyncs slower than a threshold, printed as
bcc's ext4slower does.

    pybpf ext4slower [-j] [-p PID] [-d SECONDS] [min_ms]

kprobes on ext4_file_read_iter, ext4_file_write_iter, ext4_file_open and ext4_sync_file
(and a kretprobe on each): a kernel without kprobes cannot run it. ``min_ms`` 0 shows
every operation; ``-j`` prints CSV. ``-d`` (a duration) is this tool's own.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import pybpf

from . import attach_all, close_all, object_path, print_events
from ._options import Arg, Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf ext4slower             # trace operations slower than 10 ms (default)
    pybpf ext4slower 1           # trace operations slower than 1 ms
    pybpf ext4slower -j 1        # ... 1 ms, parsable output (csv)
    pybpf ext4slower 0           # trace all operations (warning: verbose)
    pybpf ext4slower -p 185      # trace PID 185 only
"""
FUNCTIONS = ("ext4_file_read_iter", "ext4_file_write_iter", "ext4_file_open", "ext4_sync_file")

OPTIONS = (
    Opt("-j", "--csv", help="just print fields: comma-separated values"),
    Opt("-p", "--pid", type=int, default=0, help="trace this PID only"),
    Opt("-d", "--duration", type=float, default=0, help="total duration of trace, seconds"),
)
ARGS = (Arg("min_ms", type=float, default=10, optional=True,
            help="minimum I/O duration to trace, in ms (default 10)"),)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf ext4slower", "Trace common ext4 file operations slower than a threshold",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


def header(a: argparse.Namespace) -> str:
    if a.csv:
        return "ENDTIME_us,TASK,PID,TYPE,BYTES,OFFSET_b,LATENCY_us,FILE"
    title = ("Tracing ext4 operations" if not a.min_ms else
             f"Tracing ext4 operations slower than {a.min_ms:g} ms")
    return (f"{title}\n{'TIME':<8} {'COMM':<14} {'PID':<6} {'T':>1} {'BYTES':<7} {'OFF_KB':<8} "
            f"{'LAT(ms)':>7} FILENAME")


def format_event(e: object, csv: bool) -> str:
    op = chr(e.op)  # type: ignore[attr-defined]
    if csv:
        return (f"{e.end_us},{e.comm},{e.pid},{op},{e.bytes},{e.offset},"  # type: ignore[attr-defined]
                f"{e.delta_us},{e.file}")  # type: ignore[attr-defined]
    return (f"{time.strftime('%H:%M:%S'):<8} {e.comm[:14]:<14} {e.pid!s:<6} {op:>1} "  # type: ignore[attr-defined]
            f"{e.bytes!s:<7} {e.offset // 1024:<8d} {e.delta_us / 1000:7.2f} {e.file}")  # type: ignore[attr-defined]


def _attach(obj: pybpf.Object) -> list[pybpf.Link]:
    """The entry kprobes (from their SEC names) and the kretprobe on each function."""
    ret = obj.programs["op_return"]
    return attach_all([*(obj.programs[p].attach for p in
                         ("read_entry", "write_entry", "open_entry", "fsync_entry")),
                       *(lambda f=f: ret.attach_kprobe(f, retprobe=True) for f in FUNCTIONS)])


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``--duration``; ``ready()`` is called once attached."""
    a = parse_args(argv)
    rodata = {"targ_tgid": a.pid, "min_ns": int(a.min_ms * 1e6)}
    with pybpf.load(object_path("ext4slower"), rodata=rodata) as obj:
        links = _attach(obj)
        try:
            events = obj.maps["events"]
            print(header(a), file=out, flush=True)
            if ready is not None:
                ready()
            print_events(events, a.duration, lambda e: format_event(e, a.csv), out)
        finally:
            close_all(links)
    return 0


def main(argv: Sequence[str]) -> int:
    return run(argv)
