"""The only code in pybpf that makes syscalls: bpf(), perf_event_open(), ioctl, mmap."""

from . import bpf, consts, perf
from .fd import FD

__all__ = ["FD", "bpf", "consts", "perf"]
