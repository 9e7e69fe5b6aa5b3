"""biolatency: block device I/O latency as a histogram, printed as bcc's biolatency does.

    pybpf biolatency [-T] [-Q] [-m] [-D | -F] [-e] [-d DISK] [interval] [count]

From the issue of a request to the device (``-Q``: from its insertion in the queue) to its
completion. ``-D`` prints a histogram per disk, ``-F`` per operation and flags
("Sync-Write"), named from the kernel's own BTF enums; ``-e`` adds the average, total and
count. Not here: bcc's ``-j``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pybpf

from ..hist import log2_hist, print_map_hists
from . import run_summary
from ._block import dev_namer, disk_dev
from ._options import Arg, Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf biolatency             # summarize block I/O latency as a histogram
    pybpf biolatency 1 10        # print 1 second summaries, 10 times
    pybpf biolatency -mT 1       # 1s summaries, milliseconds, and timestamps
    pybpf biolatency -Q          # include OS queued time in I/O time
    pybpf biolatency -D          # show each disk device separately
    pybpf biolatency -F          # show I/O flags separately
    pybpf biolatency -e          # show extension summary(total, average)
    pybpf biolatency -d vda      # trace vda only
"""

OPTIONS = (
    Opt("-T", "--timestamp", help="include timestamp on output"),
    Opt("-Q", "--queued", help="include OS queued time in I/O time"),
    Opt("-m", "--milliseconds", help="millisecond histogram"),
    Opt("-D", "--disks", help="print a histogram per disk device"),
    Opt("-F", "--flags", help="print a histogram per set of I/O flags"),
    Opt("-e", "--extension", help="summarize average/total value"),
    Opt("-d", "--disk", type=str, default="", help="trace this disk only"),
)
ARGS = (Arg("interval", type=float, default=99999999, optional=True,
            help="output interval, in seconds"),
        Arg("count", type=int, default=99999999, optional=True, help="number of outputs"))

# bcc's order: each flag present is put in front of what is there, the last one first
_FLAG_WORDS = (("SYNC", "Sync"), ("META", "Metadata"), ("FUA", "ForcedUnitAccess"),
               ("PRIO", "Priority"), ("NOMERGE", "NoMerge"), ("IDLE", "Idle"),
               ("RAHEAD", "ReadAhead"), ("BACKGROUND", "Background"), ("NOWAIT", "NoWait"))


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf biolatency", "Summarize block device I/O latency as a histogram",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


def _enumerators(btf, *enums: str) -> dict[str, int]:  # noqa: ANN001
    from ..btf import Kind
    for name in enums:
        for t in btf.find_all(name, Kind.ENUM):
            return {e.name: e.value for e in t.enumerators}
    return {}


class FlagNames:
    """request.cmd_flags as bcc's biolatency -F names them ("Sync-Write"), the operations
    and flag bits read from the running kernel's BTF (``enum req_op``, ``enum
    req_flag_bits``), which renumbered them over the years."""

    def __init__(self) -> None:
        btf = pybpf.btf.load_kernel()
        ops = _enumerators(btf, "req_op", "req_opf")       # req_opf before 6.0
        self.ops = {v: "".join(w.title() for w in k[len("REQ_OP_"):].split("_"))
                    for k, v in ops.items() if k.startswith("REQ_OP_") and k != "REQ_OP_LAST"}
        self.op_mask = 0xFF                                  # REQ_OP_BITS is 8 (a #define)
        bits = _enumerators(btf, "req_flag_bits")
        self.flags = [(1 << bits["__REQ_" + k], word) for k, word in _FLAG_WORDS
                      if "__REQ_" + k in bits]

    def __call__(self, flags: int) -> str:
        desc = self.ops.get(flags & self.op_mask, "Unknown")
        for bit, word in self.flags:
            if flags & bit:
                desc = f"{word}-{desc}"
        return desc


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Trace until Ctrl-C or ``count`` intervals; ``ready()`` is called once attached."""
    a = parse_args(argv)
    if a.disks and a.flags:
        raise pybpf.AttachError("-D and -F are exclusive: a histogram per disk or per flags")
    dev = disk_dev(a.disk) if a.disk else 0
    label = "msecs" if a.milliseconds else "usecs"
    if a.disks:
        render_args = ("disk", dev_namer())
    elif a.flags:
        render_args = ("flags", FlagNames())
    else:
        render_args = None
    rodata = {"targ_queued": a.queued, "targ_per_disk": a.disks, "targ_per_flag": a.flags,
              "targ_ms": a.milliseconds, "targ_dev": dev, "targ_extension": a.extension}
    return run_summary("biolatency", rodata, "Tracing block device I/O... Hit Ctrl-C to end.", a,
                       lambda obj: lambda: _render(obj, label, render_args, a.extension),
                       out, ready)


def _render(obj: pybpf.Object, label: str, sections, extension: bool) -> str:  # noqa: ANN001
    """The histograms gathered since the last report (then cleared, as bcc does), and with
    ``-e`` the average, total and count."""
    hists = obj.maps["hists"]
    field = "dev" if sections is not None and sections[0] == "disk" else "flags"
    by_key = {getattr(k, field): v.slots for k, v in hists.items()}
    hists.clear()
    if sections is None:
        text = log2_hist(by_key.get(0, []), label)
    else:
        text = print_map_hists(by_key, label, *sections)
    if extension:
        bss = obj.bss
        total, count = bss.ext_total, bss.ext_count
        bss.ext_total, bss.ext_count = 0, 0
        if count:
            text += (f"\n\navg = {total // count} {label}, total: {total} {label}, "
                     f"count: {count}\n")
    return text


def main(argv: Sequence[str]) -> int:
    return run(argv)
