"""The only code in pybpf that makes syscalls: bpf(), perf_event_open(), ioctl, mmap.

Submodules load on first use (PEP 562): the specs and the CO-RE relocator need only
``consts``, and should not load cffi and the syscall wrappers."""

from __future__ import annotations

from .._lazy import lazy_attributes

__all__ = ["FD", "bpf", "consts", "perf"]


__getattr__ = lazy_attributes(__name__, {"bpf": None, "consts": None, "perf": None,
                                         "FD": "fd"})
