"""kprobes/kretprobes (PMU, then kprobe_events) and multi-kprobes."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from typing import Any

from ..errors import AttachError
from ..sys import bpf as sysbpf
from ..sys.consts import AttachType
from .link import FDLink, Link
from .probes import attach_legacy, attach_pmu, kprobe_line, pmu_type
from .tracefs import tracefs_path

SYSCALL_PREFIX = "__x64_sys_"


def kprobes_available() -> bool:
    return pmu_type("kprobe") is not None or os.path.exists(
        os.path.join(tracefs_path(), "kprobe_events"))


def attach_kprobe(prog: Any, symbol: str, retprobe: bool = False, offset: int = 0,
                  cookie: int = 0, maxactive: int = 0, legacy: bool | None = None) -> Link:
    """kprobe (or kretprobe) on ``symbol+offset``."""
    what = f"{'kretprobe' if retprobe else 'kprobe'} {symbol}" + (f"+{offset}" if offset else "")
    if not kprobes_available():
        raise AttachError(f"cannot attach {what}: kernel has no kprobes (CONFIG_KPROBES unset: "
                          f"no kprobe PMU and no kprobe_events)")
    if not legacy and not maxactive:
        link = attach_pmu(prog, "kprobe", retprobe, symbol.encode(), offset, -1, cookie, what)
        if link is not None:
            return link
    return attach_legacy(prog, "kprobe",
                         lambda n: kprobe_line(n, symbol, offset, retprobe, maxactive),
                         -1, cookie, what)


def attach_ksyscall(prog: Any, name: str, retprobe: bool = False, **kw: Any) -> Link:
    return attach_kprobe(prog, SYSCALL_PREFIX + name, retprobe=retprobe, **kw)


def matching_functions(pattern: str) -> list[str]:
    """Traceable kernel functions matching a glob (available_filter_functions)."""
    path = os.path.join(tracefs_path(), "available_filter_functions")
    try:
        with open(path) as f:
            names = {line.split()[0] for line in f if line.strip()}
    except OSError as e:
        raise AttachError(f"cannot list traceable functions ({path}): {e.strerror}") from e
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def attach_kprobe_multi(prog: Any, pattern: str | Sequence[str], retprobe: bool = False,
                        cookies: Sequence[int] | None = None) -> Link:
    """BPF_TRACE_KPROBE_MULTI on every function matching ``pattern`` (or a list of names)."""
    syms = matching_functions(pattern) if isinstance(pattern, str) else list(pattern)
    if not syms:
        raise AttachError(f"no kernel function matches {pattern!r}")
    if not kprobes_available():
        raise AttachError("kernel has no kprobes (CONFIG_KPROBES unset)")
    flags = 1 if retprobe else 0   # BPF_F_KPROBE_MULTI_RETURN
    fd = sysbpf.link_create(prog.fd, 0, AttachType.TRACE_KPROBE_MULTI, flags=flags,
                            kprobe_multi=(syms, list(cookies or [])),
                            op=f"attach kprobe.multi {pattern}")
    return FDLink(fd, f"{prog.name} -> kprobe.multi {pattern} ({len(syms)} functions)")
