"""The only code in pybpf that makes syscalls: bpf(), perf_event_open(), ioctl, mmap.

Submodules load on first use (PEP 562): the specs and the CO-RE relocator need only
``consts``, and should not load cffi and the syscall wrappers."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FD", "bpf", "consts", "perf"]


def __getattr__(name: str) -> Any:
    if name in ("bpf", "consts", "perf"):
        return importlib.import_module(f".{name}", __name__)
    if name == "FD":
        from .fd import FD
        return FD
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
