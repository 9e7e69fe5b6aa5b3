"""perf_event_open(), perf ioctls and mmap: the non-bpf() syscalls pybpf makes."""

from __future__ import annotations

import os

from .bpf import raise_errno
from .cdefs import ffi, libc
from .consts import (
    MAP_SHARED,
    PERF_EVENT_IOC_DISABLE,
    PERF_EVENT_IOC_ENABLE,
    PERF_EVENT_IOC_SET_BPF,
    PERF_FLAG_FD_CLOEXEC,
    PROT_READ,
    SYS_PERF_EVENT_OPEN,
)
from .fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SYS = ffi.cast("long", SYS_PERF_EVENT_OPEN)


def perf_event_open(type_: int, config: int = 0, *, pid: int = -1, cpu: int = 0,
                    group_fd: int = -1, sample_period: int = 0, sample_type: int = 0,
                    flags: int = 0, wakeup_events: int = 0, config1: int = 0,
                    config2: int = 0, op: str = "perf_event_open") -> FD:
    """Open a perf event; ``flags`` is the attr flag word (PerfFlag bits)."""
    attr = ffi.new("struct perf_event_attr *")
    attr.type, attr.size, attr.config = type_, ffi.sizeof(attr[0]), config
    attr.sample_period, attr.sample_type, attr.flags = sample_period, sample_type, flags
    attr.wakeup_events, attr.config1, attr.config2 = wakeup_events, config1, config2
    ret = libc.syscall(_SYS, attr, ffi.cast("int", pid), ffi.cast("int", cpu),
                       ffi.cast("int", group_fd), ffi.cast("unsigned long", PERF_FLAG_FD_CLOEXEC))
    if ret < 0:
        raise_errno(op, ffi.errno)
    return FD(ret, "perf_event")


def ioctl(fd: int, request: int, arg: int = 0, op: str = "ioctl") -> int:
    ret = libc.ioctl(ffi.cast("int", fd), ffi.cast("unsigned long", request),
                     ffi.cast("unsigned long", arg))
    if ret < 0:
        raise_errno(op, ffi.errno)
    return ret


def perf_set_bpf(perf_fd: int, prog_fd: int) -> None:
    ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF, prog_fd, "attach program to perf event")


def perf_enable(perf_fd: int) -> None:
    ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0, "enable perf event")


def perf_disable(perf_fd: int) -> None:
    ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0, "disable perf event")


class Mapping:
    """An mmap'd region as a writable cffi buffer; ``close()`` unmaps it."""

    __slots__ = ("addr", "size", "__weakref__")

    def __init__(self, fd: int, size: int, prot: int = PROT_READ, offset: int = 0,
                 op: str = "mmap") -> None:
        addr = libc.mmap(ffi.NULL, size, prot, MAP_SHARED, fd, offset)
        if int(ffi.cast("intptr_t", addr)) == -1:
            raise_errno(op, ffi.errno)
        self.addr, self.size = addr, size

    def buffer(self) -> Any:
        """A cffi buffer over the region (supports memoryview / slicing)."""
        return ffi.buffer(ffi.cast("char *", self.addr), self.size)

    def address(self) -> int:
        return int(ffi.cast("uintptr_t", self.addr))

    def close(self) -> None:
        if self.addr is not None:
            libc.munmap(self.addr, self.size)
            self.addr = None

    def __del__(self) -> None:
        self.close()


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
