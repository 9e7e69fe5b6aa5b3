"""tracefs and bpffs: find them, mount them (as root) when a fresh machine has neither."""

from __future__ import annotations

import errno
import functools
import os

from .._log import get_logger
from ..errors import AttachError, SyscallError

log = get_logger("pybpf.attach")

TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
BPFFS_DIR = "/sys/fs/bpf"
BPF_FS_MAGIC = 0xCAFE4A11
TRACEFS_MAGIC = 0x74726163

@functools.cache
def _mount_fn() -> tuple:
    """(ffi, libc) with mount(2): built on first use (a cdef parse costs ~30 ms at import)."""
    from cffi import FFI
    ffi = FFI()
    ffi.cdef("int mount(const char *source, const char *target, const char *fstype, "
             "unsigned long flags, const void *data);")
    return ffi, ffi.dlopen(None)


def mount(source: str, target: str, fstype: str) -> None:
    _ffi, _libc = _mount_fn()
    if _libc.mount(source.encode(), target.encode(), fstype.encode(), 0, _ffi.NULL) != 0:
        raise SyscallError(f"mount {fstype} at {target}", _ffi.errno)


def _statfs_type(path: str) -> int | None:
    """f_type of the filesystem at ``path`` (via /proc/self/mountinfo: no statfs in os)."""
    try:
        real = os.path.realpath(path)
        with open("/proc/self/mountinfo") as f:
            for line in f:
                parts = line.split()
                sep = parts.index("-")
                if parts[4] == real:
                    return {"tracefs": TRACEFS_MAGIC, "bpf": BPF_FS_MAGIC}.get(parts[sep + 1], 0)
    except (OSError, ValueError, IndexError):
        pass
    return None


@functools.cache
def tracefs_path() -> str:
    """The tracefs mount point, mounting tracefs at /sys/kernel/tracing if needed (root)."""
    for d in TRACEFS_DIRS:
        if os.path.exists(os.path.join(d, "events")):
            return d
    for d in TRACEFS_DIRS:
        if _statfs_type(d) == TRACEFS_MAGIC:
            raise AttachError(f"tracefs at {d} is not accessible: permission denied (tracefs "
                              f"is root-only: run as root)", errno.EACCES)
    target = TRACEFS_DIRS[0]
    try:
        mount("tracefs", target, "tracefs")
    except SyscallError as e:
        raise AttachError(f"tracefs is not mounted and mounting it at {target} failed: "
                          f"{os.strerror(e.errno)} (run as root, or "
                          f"mount -t tracefs tracefs {target})", e.errno) from e
    log.info("mounted tracefs at %s", target)
    return target


def ensure_bpffs(path: str = BPFFS_DIR) -> str:
    """Make sure a bpf filesystem is mounted at ``path`` (for pinning); mount it as root."""
    if _statfs_type(path) == BPF_FS_MAGIC:
        return path
    try:
        os.makedirs(path, exist_ok=True)
        mount("bpf", path, "bpf")
    except (OSError, SyscallError) as e:
        raise AttachError(f"bpffs is not mounted at {path} and mounting it failed: {e} "
                          f"(mount -t bpf bpf {path})") from e
    log.info("mounted bpffs at %s", path)
    return path


def pin_object(fd: int, path: str, what: str) -> None:
    """Pin the BPF object ``fd`` (``what`` names it in errors) at ``path``, mounting bpffs at
    /sys/fs/bpf first when the path is under it."""
    from ..errors import BPFError, BPFPermissionError
    from ..sys import bpf as sysbpf
    if path.startswith(BPFFS_DIR + "/"):
        ensure_bpffs()
    try:
        sysbpf.obj_pin(fd, path)
    except BPFError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            raise BPFPermissionError(f"pin {what} to {path}", e.errno,
                                     "no write access to that bpffs directory (run as root)"
                                     ) from e
        if e.errno == errno.EEXIST:
            raise SyscallError(f"pin {what}", e.errno, f"{path} already exists") from e
        if e.errno == errno.ENOENT:
            raise SyscallError(f"pin {what} to {path}", e.errno,
                               "no such directory on a bpffs") from e
        raise


def event_id(category: str, name: str) -> int:
    """Tracepoint id from tracefs events/<category>/<name>/id."""
    path = os.path.join(tracefs_path(), "events", category, name, "id")
    try:
        with open(path) as f:
            return int(f.read())
    except FileNotFoundError:
        raise AttachError(f"unknown tracepoint {category}:{name}{_suggest(category, name)}") from None
    except PermissionError as e:
        raise AttachError(f"cannot read tracepoint id {path}: permission denied (tracefs needs "
                          f"root)", e.errno) from e
    except (OSError, ValueError) as e:
        raise AttachError(f"cannot read tracepoint id {path}: {e}") from e


def event_names() -> list[str]:
    """Every tracepoint name (without category) tracefs lists."""
    base = os.path.join(tracefs_path(), "events")
    names = set()
    try:
        for cat in os.listdir(base):
            d = os.path.join(base, cat)
            if os.path.isdir(d):
                names.update(n for n in os.listdir(d) if os.path.isdir(os.path.join(d, n)))
    except OSError:
        pass
    return sorted(names)


def _suggest(category: str, name: str) -> str:
    import difflib
    base = os.path.join(tracefs_path(), "events")
    try:
        if not os.path.isdir(os.path.join(base, category)):
            close = difflib.get_close_matches(category, os.listdir(base), 5)
            return f" (no category {category!r}; close: {', '.join(close)})" if close else ""
        close = difflib.get_close_matches(name, os.listdir(os.path.join(base, category)), 5)
        return f" (close: {', '.join(close)})" if close else ""
    except OSError:
        return ""
