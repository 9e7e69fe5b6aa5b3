"""profile: sample stack traces at a timed interval, printed as bcc's profile does.

    pybpf profile [-p PID | -L TID] [-U | -K] [-F FREQUENCY | -c COUNT] [-d] [-a] [-I] [-f]
                  [-C CPU] [duration]

Counts each (process, user stack, kernel stack) sampled by a software cpu-clock perf event
on every CPU; prints them least frequent first (``-f``: folded, one line per stack, for
flame graphs). Not here: bcc's ``--stack-storage-size`` and cgroup options.
"""

from __future__ import annotations

import errno
import signal
import sys
import time
from collections.abc import Sequence

import pybpf

from . import object_path
from ._options import Arg, Opt, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

EXAMPLES = """examples:
    pybpf profile             # profile stack traces at 49 Hertz until Ctrl-C
    pybpf profile -F 99       # profile stack traces at 99 Hertz
    pybpf profile -c 1000000  # profile stack traces every 1 in a million events
    pybpf profile 5           # profile at 49 Hertz for 5 seconds only
    pybpf profile -f 5        # output in folded format for flame graphs
    pybpf profile -p 185      # only profile process with PID 185
    pybpf profile -L 185      # only profile thread with TID 185
    pybpf profile -U          # only show user space stacks (no kernel)
    pybpf profile -K          # only show kernel space stacks (no user)
"""

OPTIONS = (
    Opt("-p", "--pid", type=int, default=0, help="profile process with this PID only"),
    Opt("-L", "--tid", type=int, default=0, help="profile thread with this TID only"),
    Opt("-U", "--user-stacks-only", help="show stacks from user space only (no kernel space stacks)"),
    Opt("-K", "--kernel-stacks-only", help="show stacks from kernel space only (no user space stacks)"),
    Opt("-F", "--frequency", type=int, default=0, help="sample frequency, Hertz"),
    Opt("-c", "--count", type=int, default=0, help="sample period, number of events"),
    Opt("-d", "--delimited", help="insert delimiter between kernel/user stacks"),
    Opt("-a", "--annotations", help="add _[k] annotations to kernel frames"),
    Opt("-I", "--include-idle", help="include CPU idle stacks"),
    Opt("-f", "--folded", help="output folded format, one line per stack (for flame graphs)"),
    Opt("-C", "--cpu", type=int, default=-1, help="cpu number to run profile on"),
)
ARGS = (Arg("duration", type=int, default=99999999, optional=True,
            help="duration of trace, in seconds"),)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    return parse("pybpf profile", "Profile CPU stack traces at a timed interval",  # type: ignore[return-value]
                 OPTIONS, argv, ARGS, EXAMPLES)


def _missing(stack_id: int) -> bool:
    """A stack that could not be taken (-EFAULT only means there is none: a kernel thread
    has no user stack)."""
    return stack_id < 0 and stack_id != -errno.EFAULT


def header(a: argparse.Namespace) -> str:
    rate = f"every {a.count} events" if a.count else f"{a.frequency or 49} Hertz"
    who = f"PID {a.pid}" if a.pid else f"TID {a.tid}" if a.tid else "all threads"
    which = "user" if a.user_stacks_only else "kernel" if a.kernel_stacks_only else "user + kernel"
    text = f"Sampling at {rate} of {who} by {which} stack"
    if a.cpu >= 0:
        text += f" on CPU#{a.cpu}"
    return text + (f" for {a.duration} secs." if a.duration < ARGS[0].default
                   else "... Hit Ctrl-C to end.")


def run(argv: Sequence[str], out=sys.stdout, ready=None) -> int:  # noqa: ANN001
    """Sample for ``duration`` seconds or until Ctrl-C, then print the stacks."""
    a = parse_args(argv)
    if a.user_stacks_only and a.kernel_stacks_only:
        raise pybpf.AttachError("-U and -K are exclusive: user stacks only, or kernel ones")
    if a.frequency and a.count:
        raise pybpf.AttachError("-F and -c are exclusive: a frequency or a period")
    rodata = {"kernel_stacks_only": a.kernel_stacks_only, "user_stacks_only": a.user_stacks_only,
              "include_idle": a.include_idle, "targ_tgid": a.pid, "targ_tid": a.tid}
    with pybpf.load(object_path("profile"), rodata=rodata) as obj:
        prog = obj.programs["do_perf_event"]
        link = prog.attach_perf_event(frequency=None if a.count else (a.frequency or 49),
                                      period=a.count or None,
                                      cpu=a.cpu if a.cpu >= 0 else None)
        try:
            if not a.folded:
                print(header(a), file=out, flush=True)
            if ready is not None:
                ready()
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            try:
                time.sleep(a.duration)
            except KeyboardInterrupt:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
        finally:
            link.close()
        _print(obj, a, out)
    return 0


def _print(obj: pybpf.Object, a: argparse.Namespace, out) -> None:  # noqa: ANN001
    """Each distinct stack with its count, least frequent first. Samples whose stack ids
    differ only by addresses inside the same functions are one stack here."""
    stacks = obj.maps["stacks"]
    both = not (a.user_stacks_only or a.kernel_stacks_only)
    ann = "_[k]" if a.annotations else ""
    merged: dict[tuple, int] = {}
    for k, n in obj.maps["counts"].items():
        user: list[str] = []
        if not a.kernel_stacks_only:
            user = (["[Missed User Stack]"] if _missing(k.user_stack_id) else
                    stacks.frames(k.user_stack_id, pid=k.pid, offset=False))
        kernel: list[str] = []
        if not a.user_stacks_only:
            kernel = (["[Missed Kernel Stack]"] if _missing(k.kernel_stack_id) else
                      [f + ann for f in stacks.frames(k.kernel_stack_id, offset=False)])
        delim = a.delimited and both and k.kernel_stack_id >= 0 and k.user_stack_id >= 0
        key = (k.name, k.pid, tuple(user), tuple(kernel), bool(delim))
        merged[key] = merged.get(key, 0) + n
    for (name, pid, user, kernel, delim), n in sorted(merged.items(), key=lambda kv: kv[1]):
        if a.folded:
            line = [name, *user[::-1], *(["-"] if delim else []), *kernel[::-1]]
            print(f"{';'.join(line)} {n}", file=out)
            continue
        for f in kernel:
            print(f"    {f}", file=out)
        if delim:
            print("    --", file=out)
        for f in user:
            print(f"    {f}", file=out)
        print(f"    {'-':<16} {name} ({pid})", file=out)
        print(f"        {n}\n", file=out)
    out.flush()


def main(argv: Sequence[str]) -> int:
    return run(argv)
