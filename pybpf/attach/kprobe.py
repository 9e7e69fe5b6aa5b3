"""kprobes/kretprobes (perf PMU, then kprobe_events), ksyscall and multi-kprobes."""

from __future__ import annotations

import difflib
import errno
import fnmatch
import functools
import os
import platform
from collections.abc import Sequence

from .._log import get_logger
from ..errors import AttachError, BPFError
from ..sys import bpf as sysbpf
from ..sys.consts import AttachType
from .link import FDLink, Link
from .probes import (
    PMU_DIR,
    attach_legacy,
    attach_pmu,
    has_events_file,
    kprobe_line,
    kprobe_pmu_attr,
    pmu_format_bit,
    pmu_type,
)
from .tracefs import tracefs_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.attach")

# The arch prefix of syscall wrappers (CONFIG_ARCH_HAS_SYSCALL_WRAPPER), as libbpf knows them.
SYSCALL_PREFIXES = {
    "x86_64": "__x64_", "i386": "__ia32_", "i686": "__ia32_", "aarch64": "__arm64_",
    "s390x": "__s390x_", "s390": "__s390_", "ppc64le": "__powerpc_", "ppc64": "__powerpc_",
    "riscv64": "__riscv_", "loongarch64": "__loongarch_", "armv7l": "__arm_",
}
KPROBE_MULTI_RETURN = 1   # BPF_F_KPROBE_MULTI_RETURN


def kprobes_available() -> bool:
    """True when the kernel has kprobes (a kprobe PMU or tracefs kprobe_events)."""
    if pmu_type("kprobe") is not None:
        return True
    try:
        return has_events_file("kprobe")
    except AttachError:
        return False


def no_kprobes_error(what: str) -> AttachError:
    return AttachError(f"cannot attach {what}: kernel has no kprobes (CONFIG_KPROBES unset: no "
                       f"kprobe PMU at {PMU_DIR}/kprobe and no kprobe_events in tracefs)",
                       errno.EOPNOTSUPP)


@functools.lru_cache(maxsize=1)
def kallsyms() -> frozenset[str]:
    """Kernel function names from /proc/kallsyms (empty when unreadable)."""
    names = set()
    try:
        with open("/proc/kallsyms") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] in "tTwW":
                    names.add(parts[2])
    except OSError:
        pass
    return frozenset(names)


def _near_kernel(symbol: str) -> str:
    names = kallsyms()
    if not names:
        return ""
    if symbol in names:
        return " (the function exists but cannot be probed: inlined, notrace or blacklisted?)"
    close = difflib.get_close_matches(symbol, [n for n in names if n[:2] == symbol[:2]] or names, 5)
    return f" (close: {', '.join(close)})" if close else " (not in /proc/kallsyms)"


def _target(symbol: str | int) -> tuple[str | None, int]:
    """A symbol name, or an address (int or "0xffff...")."""
    if isinstance(symbol, int):
        return None, symbol
    if symbol.startswith("0x"):
        try:
            return None, int(symbol, 16)
        except ValueError:
            pass
    if not symbol:
        raise AttachError("kprobe needs a kernel function name or address")
    return symbol, 0


def attach_kprobe(prog: Any, symbol: str | int, retprobe: bool = False, offset: int = 0,
                  cookie: int = 0, maxactive: int = 0, legacy: bool | None = None) -> Link:
    """kprobe (or kretprobe) on ``symbol+offset`` or at a kernel address.

    The kprobe PMU is used when the kernel has one; kprobe_events otherwise, or when
    ``legacy=True`` or ``maxactive`` is given (only the text interface takes maxactive).
    """
    name, addr = _target(symbol)
    target = name if name else f"{addr:#x}"
    what = f"{'kretprobe' if retprobe else 'kprobe'} {target}" + (f"+{offset:#x}" if offset else "")
    if retprobe and offset:
        raise AttachError(f"cannot attach {what}: a kretprobe must be at a function entry "
                          f"(offset 0)")
    if not kprobes_available():
        raise no_kprobes_error(what)
    ptype = pmu_type("kprobe")
    try:
        if ptype is not None and not legacy and not maxactive:
            attr = kprobe_pmu_attr(ptype, pmu_format_bit("kprobe", "retprobe"), name, offset,
                                   addr, retprobe)
            return attach_pmu(prog, attr, cookie, what)
        return attach_legacy(prog, "kprobe",
                             lambda n: kprobe_line(n, name, offset, retprobe, maxactive, addr),
                             -1, cookie, what)
    except BPFError as e:
        if name and e.errno in (errno.ENOENT, errno.EINVAL, errno.EADDRNOTAVAIL):
            raise AttachError(f"cannot attach {what}: {e}{_near_kernel(name)}", e.errno) from e
        raise


@functools.lru_cache(maxsize=1)
def syscall_prefix() -> str:
    """``__x64_sys_`` etc. where the kernel wraps syscalls, else ``sys_``."""
    arch = SYSCALL_PREFIXES.get(platform.machine(), "")
    names = kallsyms()
    if arch and (not names or f"{arch}sys_bpf" in names):
        return f"{arch}sys_"
    return "sys_"


def attach_ksyscall(prog: Any, name: str, retprobe: bool = False, **kw: Any) -> Link:
    """``ksyscall/<name>``: a kprobe on the arch's syscall entry for ``name`` (e.g. "openat")."""
    if not name:
        raise AttachError(f"program {prog.name}: ksyscall needs a syscall name")
    return attach_kprobe(prog, syscall_prefix() + name, retprobe=retprobe, **kw)


def traceable_functions(path: str | None = None) -> list[str]:
    """Kernel functions kprobe.multi/fentry can attach to (available_filter_functions)."""
    path = path or os.path.join(tracefs_path(), "available_filter_functions")
    try:
        with open(path) as f:
            return parse_filter_functions(f.read())
    except OSError as e:
        raise AttachError(f"cannot list traceable functions ({path}): {e.strerror}", e.errno) from e


def parse_filter_functions(text: str) -> list[str]:
    """Names from available_filter_functions text ("name [module]" lines, some repeated)."""
    return sorted({line.split()[0] for line in text.splitlines() if line.strip()})


def match_functions(pattern: str, names: Sequence[str]) -> list[str]:
    """The names a glob matches (libbpf's kprobe.multi glob: *, ? and [...])."""
    if not any(c in pattern for c in "*?["):
        return [pattern] if pattern in names else []
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def attach_kprobe_multi(prog: Any, pattern: str | Sequence[str], retprobe: bool = False,
                        cookies: Sequence[int] | None = None) -> Link:
    """BPF_TRACE_KPROBE_MULTI on every function matching a glob (or a list of names)."""
    what = f"kprobe.multi {pattern if isinstance(pattern, str) else len(pattern)}"
    if not kprobes_available():
        raise no_kprobes_error(what)
    if isinstance(pattern, str):
        syms = match_functions(pattern, traceable_functions())
        if not syms:
            raise AttachError(f"no traceable kernel function matches {pattern!r}")
    else:
        syms = list(pattern)
    if cookies is not None and len(cookies) != len(syms):
        raise AttachError(f"{what}: {len(cookies)} cookies for {len(syms)} functions")
    try:
        fd = sysbpf.link_create(prog.fd, 0, AttachType.TRACE_KPROBE_MULTI,
                                flags=KPROBE_MULTI_RETURN if retprobe else 0,
                                kprobe_multi=(syms, list(cookies or [])),
                                op=f"attach {prog.name} to {what}")
    except BPFError as e:
        if e.errno in (errno.EINVAL, errno.EOPNOTSUPP) and prog.spec.expected_attach_type != \
                AttachType.TRACE_KPROBE_MULTI:
            raise AttachError(f"{what}: program {prog.name} was not loaded as kprobe.multi "
                              f"(SEC(\"kprobe.multi/...\"))", e.errno) from e
        raise
    return FDLink(fd, f"{prog.name} -> {what} ({len(syms)} functions)")
