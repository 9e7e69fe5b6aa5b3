"""The running kernel's BTF (vmlinux and modules), parsed once per process.

The type index of vmlinux (the only O(types) part of parsing) is cached on disk in
``$XDG_CACHE_HOME/pybpf`` (or ``~/.cache/pybpf``), keyed by the boot id, kernel release and
blob size for /sys/kernel/btf/*, or path, size and mtime for a recorded file: the kernel's
BTF cannot change without a reboot. An unwritable cache is silently skipped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
from array import array

from ..errors import BTFError
from .parse import Index, build_index, parse_btf
from .types import BTF

log = logging.getLogger("pybpf.btf")

_cache: dict[str, BTF] = {}   # explicit per-process cache: path -> parsed BTF
_MAGIC = b"PYBPFIX1"


def kernel_btf_path() -> str:
    """``$PYBPF_KERNEL_BTF`` (recorded BTF for tests) or /sys/kernel/btf/vmlinux."""
    return os.environ.get("PYBPF_KERNEL_BTF", "/sys/kernel/btf/vmlinux")


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pybpf")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BTFError(f"cannot read kernel BTF {path}: {e.strerror} (kernel built without "
                       f"CONFIG_DEBUG_INFO_BTF?)") from e


def _cache_key(path: str, data: bytes) -> str:
    h = hashlib.sha1(f"{path}\0{len(data)}".encode())
    if path.startswith("/sys/kernel/btf/"):
        try:
            with open("/proc/sys/kernel/random/boot_id", "rb") as f:
                h.update(f.read())
        except OSError:
            h.update(hashlib.sha1(data).digest())
        u = os.uname()
        h.update(f"{u.release}\0{u.version}".encode())
    else:
        h.update(str(os.stat(path).st_mtime_ns).encode())
    h.update(data[:4096] + data[-4096:])
    return h.hexdigest()[:24]


def _load_index(file: str, ntypes_hint: int) -> Index | None:
    try:
        with open(file, "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if raw[:8] != _MAGIC or len(raw) < 12:
        return None
    (n,) = struct.unpack_from("<I", raw, 8)
    if len(raw) != 12 + 12 * n:
        return None
    arrs = []
    for i in range(3):
        a = array("I")
        a.frombytes(raw[12 + 4 * n * i:12 + 4 * n * (i + 1)])
        arrs.append(a)
    return Index(*arrs)


def _save_index(file: str, idx: Index) -> None:
    tmp = f"{file}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(file), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_MAGIC + struct.pack("<I", len(idx.offsets)) + idx.offsets.tobytes()
                    + idx.name_offs.tobytes() + idx.name_ids.tobytes())
        os.replace(tmp, file)
    except OSError as e:
        log.debug("BTF index cache not written (%s)", e)
        try:
            os.unlink(tmp)
        except OSError:
            pass


def parse_cached(path: str, data: bytes, base: BTF | None = None, use_cache: bool = True) -> BTF:
    """Parse ``data`` (read from ``path``) with the on-disk index cache."""
    file = os.path.join(cache_dir(), f"btf-{_cache_key(path, data)}.idx") if use_cache else ""
    idx = _load_index(file, 0) if file else None
    if idx is not None:
        try:
            return parse_btf(data, base, index=idx)
        except BTFError:
            log.debug("stale BTF index cache %s ignored", file)
    idx = build_index(data, base.end_id if base is not None else 1)
    btf = parse_btf(data, base, index=idx)
    if file:
        _save_index(file, idx)
    return btf


def load_kernel(use_cache: bool = True) -> BTF:
    """vmlinux BTF, shared by every caller in this process."""
    path = kernel_btf_path()
    btf = _cache.get(path)
    if btf is None:
        btf = _cache[path] = parse_cached(path, _read(path), use_cache=use_cache)
    return btf


def load_module(name: str) -> BTF:
    """A module's split BTF on top of vmlinux (/sys/kernel/btf/<name>)."""
    path = f"/sys/kernel/btf/{name}"
    btf = _cache.get(path)
    if btf is None:
        btf = _cache[path] = parse_btf(_read(path), base=load_kernel())
    return btf
