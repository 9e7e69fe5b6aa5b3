"""Attach programs: every link kind, auto-attach from SEC() names, clean detach."""

from __future__ import annotations

from collections.abc import Iterable

from .._lazy import import_submodule, lazy_attributes
from ..errors import AttachError, BPFError
from .sections import lookup

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .link import Link

# submodules load on first use (PEP 562): importing the package for its section table
# (the ELF reader does) must not pull in every attach kind (cffi, pyelftools, ...)
_LAZY = {
    "attach_cgroup": "cgroup", "attach_kprobe": "kprobe", "attach_kprobe_multi": "kprobe",
    "attach_ksyscall": "kprobe", "Link": "link", "LinkInfo": "link", "close_all": "link",
    "install_signal_handlers": "link", "live_links": "link", "attach_socket": "net",
    "attach_tc": "net", "attach_xdp": "net", "attach_perf_event": "perf_event",
    "attach_raw_tracepoint": "raw_tracepoint", "ensure_bpffs": "tracefs",
    "tracefs_path": "tracefs", "attach_tracepoint": "tracepoint",
    "attach_tracing": "tracing", "explain_tracing_eperm": "tracing",
    "attach_uprobe": "uprobe", "attach_usdt": "usdt", "list_usdt": "usdt",
}


# attach kinds (sections.py) whose code is heavy (pyelftools, probe parsing): imported only
# for objects that have such programs
_HEAVY = {"kprobe": "kprobe", "kretprobe": "kprobe", "ksyscall": "kprobe", "kretsyscall": "kprobe",
          "kprobe_multi": "kprobe", "kretprobe_multi": "kprobe", "kprobe_session": "kprobe",
          "uprobe": "uprobe", "uretprobe": "uprobe", "uprobe_multi": "uprobe",
          "uretprobe_multi": "uprobe", "usdt": "usdt"}
_LIGHT = ("link", "perf_event", "tracepoint", "raw_tracepoint", "tracefs", "tracing", "net",
          "cgroup")
# program type name -> the light modules its attach_*() calls use (besides link and tracefs);
# a type not listed preloads every light module
_BY_TYPE = {
    "TRACEPOINT": ("tracepoint",), "RAW_TRACEPOINT": ("raw_tracepoint",),
    "RAW_TRACEPOINT_WRITABLE": ("raw_tracepoint",), "PERF_EVENT": ("perf_event",),
    "KPROBE": (), "TRACING": ("tracing",), "LSM": ("tracing", "cgroup"),
    "EXT": ("tracing",), "XDP": ("net",), "SCHED_CLS": ("net",), "SCHED_ACT": ("net",),
    "SOCKET_FILTER": ("net",),
}


def preload(sections: Iterable[str]) -> None:
    """Import the attach code for programs of ``sections`` (called at load): a process may
    drop privileges between load and attach, after which imports can fail."""
    mods = {"link", "tracefs"}
    for sec in sections:
        try:
            sdef = lookup(sec)[0]
        except BPFError:
            continue
        mods.update(_BY_TYPE.get(getattr(sdef.prog_type, "name", ""), _LIGHT))
        if sdef.attach in _HEAVY:
            mods.add(_HEAVY[sdef.attach])
    for mod in sorted(mods):
        import_submodule(__name__, mod)


__getattr__ = lazy_attributes(__name__, _LAZY)  # type: ignore[arg-type]

__all__ = [
    "Link", "LinkInfo", "attach_cgroup", "attach_kprobe", "attach_kprobe_multi",
    "attach_ksyscall", "attach_perf_event", "attach_raw_tracepoint", "attach_socket",
    "attach_tc", "attach_tracepoint", "attach_tracing", "attach_uprobe", "attach_usdt",
    "attach_xdp", "auto_attach", "can_auto_attach", "close_all", "ensure_bpffs", "explain_tracing_eperm",
    "install_signal_handlers", "list_usdt", "live_links", "parse_target", "split_offset",
    "tracefs_path",
]


def split_offset(target: str) -> tuple[str, int]:
    """"func+0x10" -> ("func", 16); "func" -> ("func", 0)."""
    sym, plus, off = target.partition("+")
    try:
        return sym, int(off, 0) if plus else 0
    except ValueError:
        raise AttachError(f"bad offset {off!r} in {target!r} (expected e.g. func+0x10)") from None


def parse_target(kind: str, target: str) -> dict[str, Any]:
    """The attach arguments a SEC() suffix names, libbpf's way (pure; raises AttachError).

    ``kprobe/func+0x10``, ``uprobe//lib/x86_64-linux-gnu/libc.so.6:malloc``,
    ``usdt/PATH:PROVIDER:NAME``, ``tp/cat/name``, ``raw_tp/name``, ``ksyscall/name``,
    ``kprobe.multi/glob*``.
    """
    if kind == "tracepoint":
        cat, _, name = target.partition("/")
        if not cat or not name:
            raise AttachError(f"expected tracepoint/<category>/<name>, got {target!r}")
        return {"category": cat, "name": name}
    if kind == "raw_tracepoint":
        if not target:
            raise AttachError("expected raw_tp/<name>")
        return {"name": target}
    if kind in ("kprobe", "kretprobe"):
        sym, off = split_offset(target)
        if not sym:
            raise AttachError("expected kprobe/<function>[+offset]")
        return {"symbol": sym, "offset": off, "retprobe": kind == "kretprobe"}
    if kind in ("ksyscall", "kretsyscall"):
        if not target:
            raise AttachError("expected ksyscall/<syscall>")
        return {"name": target, "retprobe": kind == "kretsyscall"}
    if kind in ("kprobe_multi", "kretprobe_multi"):
        if not target:
            raise AttachError("expected kprobe.multi/<glob>")
        return {"pattern": target, "retprobe": kind == "kretprobe_multi"}
    if kind in ("uprobe", "uretprobe"):
        path, sep, rest = target.rpartition(":")
        if not sep or not path:
            raise AttachError("expected uprobe/<path>:<symbol>[+offset]")
        sym, off = split_offset(rest)
        return {"path": path, "symbol": sym or None, "offset": off,
                "retprobe": kind == "uretprobe"}
    if kind == "usdt":
        parts = target.rsplit(":", 2)
        if len(parts) != 3 or not all(parts):
            raise AttachError("expected usdt/<path>:<provider>:<name>")
        return {"path": parts[0], "provider": parts[1], "name": parts[2]}
    return {}


# kinds whose SEC() name can carry everything needed to attach (libbpf's auto-attach set)
_NEEDS_TARGET = frozenset({"tracepoint", "raw_tracepoint", "kprobe", "kretprobe", "ksyscall",
                           "kretsyscall", "kprobe_multi", "kretprobe_multi", "uprobe",
                           "uretprobe", "usdt"})


# the attach_*() function auto_attach calls for each kind in _NEEDS_TARGET
_AUTO_FN = {"tracepoint": "attach_tracepoint", "raw_tracepoint": "attach_raw_tracepoint",
            "kprobe": "attach_kprobe", "kretprobe": "attach_kprobe",
            "ksyscall": "attach_ksyscall", "kretsyscall": "attach_ksyscall",
            "kprobe_multi": "attach_kprobe_multi", "kretprobe_multi": "attach_kprobe_multi",
            "uprobe": "attach_uprobe", "uretprobe": "attach_uprobe", "usdt": "attach_usdt"}


def can_auto_attach(prog: Any) -> bool:
    """Whether ``auto_attach`` can attach ``prog`` with no arguments (its SEC names a target)."""
    sdef, target = lookup(prog.spec.section)
    if sdef.attach == "tracing":
        return True
    if sdef.attach not in _NEEDS_TARGET or not target:
        return False
    try:
        parse_target(sdef.attach, target)
    except AttachError:
        return False
    return True


def auto_attach(prog: Any, **kw: Any) -> Link:
    """Attach as the SEC() name says, with libbpf's conventions."""
    g = __getattr__     # only the attach code this kind needs is imported
    sdef, target = lookup(prog.spec.section)
    kind = sdef.attach
    where = f"program {prog.name} (SEC {prog.spec.section!r})"
    if kind in _NEEDS_TARGET:
        try:
            args = parse_target(kind, target)
        except AttachError as e:
            raise AttachError(f"{where}: {e}; or call the attach_*() method with a target") from None
        args.update(kw)
        return g(_AUTO_FN[kind])(prog, **args)
    if kind == "tracing":
        return g("attach_tracing")(prog, **kw)
    if kind == "cgroup" and "cgroup" in kw:
        return g("attach_cgroup")(prog, **kw)
    raise AttachError(f"{where}: cannot auto-attach (needs a target): use attach_xdp(), "
                      f"attach_tc(), attach_socket(), attach_cgroup() or attach_perf_event()")
