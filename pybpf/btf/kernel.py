"""The running kernel's BTF (vmlinux and modules), parsed once per process."""

from __future__ import annotations

import os

from ..errors import BTFError
from .parse import parse_btf
from .types import BTF

_cache: dict[str, BTF] = {}   # explicit per-process cache: path -> parsed BTF


def kernel_btf_path() -> str:
    """``$PYBPF_KERNEL_BTF`` (recorded BTF for tests) or /sys/kernel/btf/vmlinux."""
    return os.environ.get("PYBPF_KERNEL_BTF", "/sys/kernel/btf/vmlinux")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BTFError(f"cannot read kernel BTF {path}: {e.strerror} (kernel built without "
                       f"CONFIG_DEBUG_INFO_BTF?)") from e


def load_kernel() -> BTF:
    """vmlinux BTF, shared by every caller in this process."""
    path = kernel_btf_path()
    btf = _cache.get(path)
    if btf is None:
        btf = _cache[path] = parse_btf(_read(path))
    return btf


def load_module(name: str) -> BTF:
    """A module's split BTF on top of vmlinux (/sys/kernel/btf/<name>)."""
    path = f"/sys/kernel/btf/{name}"
    btf = _cache.get(path)
    if btf is None:
        btf = _cache[path] = parse_btf(_read(path), base=load_kernel())
    return btf
