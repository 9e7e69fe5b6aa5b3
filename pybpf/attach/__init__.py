"""Attach programs: every link kind, auto-attach from SEC() names, clean detach."""

from __future__ import annotations

from typing import Any

from ..errors import AttachError
from .cgroup import attach_cgroup
from .kprobe import attach_kprobe, attach_kprobe_multi, attach_ksyscall
from .link import Link, close_all, install_signal_handlers
from .net import attach_socket, attach_tc, attach_xdp
from .perf_event import attach_perf_event
from .sections import lookup
from .tracepoint import attach_raw_tracepoint, attach_tracepoint, attach_tracing
from .uprobe import attach_uprobe

__all__ = [
    "Link", "attach_cgroup", "attach_kprobe", "attach_kprobe_multi", "attach_ksyscall",
    "attach_perf_event", "attach_raw_tracepoint", "attach_socket", "attach_tc",
    "attach_tracepoint", "attach_tracing", "attach_uprobe", "attach_usdt", "attach_xdp",
    "auto_attach", "can_auto_attach", "close_all", "install_signal_handlers",
]


def attach_usdt(prog: Any, path: str, provider: str, name: str, pid: int = -1, **kw: Any) -> Link:
    raise AttachError("USDT attach is not implemented yet")


# kinds whose SEC() name can carry everything needed to attach (libbpf's auto-attach set)
_AUTO = frozenset({"tracepoint", "raw_tracepoint", "kprobe", "kretprobe", "ksyscall",
                   "kretsyscall", "kprobe_multi", "kretprobe_multi", "uprobe", "uretprobe",
                   "usdt"})


def can_auto_attach(prog: Any) -> bool:
    """Whether ``auto_attach`` can attach ``prog`` with no arguments (its SEC names a target)."""
    sdef, target = lookup(prog.spec.section)
    return sdef.attach == "tracing" or (sdef.attach in _AUTO and bool(target))


def _split_offset(target: str) -> tuple[str, int]:
    sym, plus, off = target.partition("+")
    return sym, int(off, 0) if plus else 0


def auto_attach(prog: Any, **kw: Any) -> Link:
    """Attach as the SEC() name says, with libbpf's conventions."""
    sdef, target = lookup(prog.spec.section)
    kind = sdef.attach
    where = f"program {prog.name} (SEC {prog.spec.section!r})"
    if kind == "tracepoint":
        cat, _, name = target.partition("/")
        if not name:
            raise AttachError(f"{where}: expected tracepoint/<category>/<name>")
        return attach_tracepoint(prog, cat, name, **kw)
    if kind == "raw_tracepoint":
        if not target:
            raise AttachError(f"{where}: expected raw_tp/<name>")
        return attach_raw_tracepoint(prog, target)
    if kind == "tracing":
        return attach_tracing(prog, **kw)
    if kind in ("kprobe", "kretprobe"):
        sym, off = _split_offset(target)
        if not sym:
            raise AttachError(f"{where}: expected kprobe/<function>[+offset]")
        return attach_kprobe(prog, sym, retprobe=kind == "kretprobe", offset=off, **kw)
    if kind in ("ksyscall", "kretsyscall"):
        return attach_ksyscall(prog, target, retprobe=kind == "kretsyscall", **kw)
    if kind in ("kprobe_multi", "kretprobe_multi"):
        return attach_kprobe_multi(prog, target, retprobe=kind == "kretprobe_multi", **kw)
    if kind in ("uprobe", "uretprobe"):
        path, sep, rest = target.rpartition(":")
        if not sep or not path:
            raise AttachError(f"{where}: expected uprobe/<path>:<symbol>[+offset]")
        sym, off = _split_offset(rest)
        return attach_uprobe(prog, path, sym or None, retprobe=kind == "uretprobe", offset=off, **kw)
    if kind == "usdt":
        path, _, rest = target.partition(":")
        provider, _, name = rest.partition(":")
        return attach_usdt(prog, path, provider, name, **kw)
    raise AttachError(f"{where}: cannot auto-attach (needs a target): use attach_xdp(), "
                      f"attach_tc(), attach_socket(), attach_cgroup() or attach_perf_event()")
