"""Kernel feature probes, cached per process. Probe the kernel, never compare versions."""

from __future__ import annotations

import errno
import functools
import struct

from ._log import get_logger
from .errors import BPFError
from .sys import bpf as sysbpf
from .sys.consts import MapFlags, MapType

log = get_logger("pybpf.features")

_HDR = struct.Struct("<HBBIIIII")


def _btf_blob(types: bytes, strings: bytes) -> bytes:
    """A minimal BTF blob (header + types + strings)."""
    return _HDR.pack(0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings)) + types + strings


def _t(name_off: int, kind: int, vlen: int, size_or_type: int, kflag: int = 0) -> bytes:
    return struct.pack("<III", name_off, (kflag << 31) | (kind << 24) | vlen, size_or_type)


_INT = _t(0, 1, 0, 4) + struct.pack("<I", (1 << 24) | 32)      # [1] int, signed 32 bits
_STRS = b"\0int\0x\0.data\0f\0tag\0"                              # offsets: 1 x=5 .data=7 f=13 tag=15

_PROBES: dict[str, bytes] = {
    "btf": _btf_blob(_INT, _STRS),
    "func": _btf_blob(_INT + _t(0, 13, 0, 1) + _t(13, 12, 0, 2), _STRS),          # proto, func
    "func_global": _btf_blob(_INT + _t(0, 13, 0, 1) + _t(13, 12, 1, 2), _STRS),
    "datasec": _btf_blob(_INT + _t(5, 14, 0, 1) + struct.pack("<I", 0)
                         + _t(7, 15, 1, 4) + struct.pack("<III", 2, 0, 4), _STRS),
    "float": _btf_blob(_t(1, 16, 0, 4), _STRS),
    "decl_tag": _btf_blob(_INT + _t(5, 14, 0, 1) + struct.pack("<I", 0)
                          + _t(15, 17, 0, 2) + struct.pack("<i", -1), _STRS),
    "type_tag": _btf_blob(_INT + _t(15, 18, 0, 1) + _t(0, 2, 0, 2), _STRS),
    "enum64": _btf_blob(_t(5, 19, 1, 8) + struct.pack("<III", 5, 1, 0), _STRS),
}


@functools.cache
def btf_feature(name: str) -> bool:
    """Whether the kernel accepts BTF using ``name`` (one of ``BTF_FEATURES``)."""
    fd, err, _ = sysbpf.btf_load(_PROBES[name])
    if fd is None:
        log.debug("BTF feature %s: not supported (errno %d)", name, err)
        return False
    fd.close()
    return True


BTF_FEATURES = tuple(_PROBES)


def btf_features() -> frozenset[str]:
    """Every BTF feature the running kernel supports."""
    return frozenset(f for f in BTF_FEATURES if btf_feature(f))


@functools.cache
def mmapable_arrays() -> bool:
    """BPF_F_MMAPABLE array maps (global data read and written through mmap)."""
    try:
        fd = sysbpf.map_create(MapType.ARRAY, 4, 8, 1, flags=int(MapFlags.MMAPABLE))
    except BPFError:
        return False
    fd.close()
    return True


@functools.cache
def map_type(kind: MapType) -> bool:
    """Whether a map type exists (created with minimal, type-appropriate sizes)."""
    sizes = {MapType.RINGBUF: (0, 0, 4096), MapType.BLOOM_FILTER: (0, 4, 1),
             MapType.QUEUE: (0, 4, 1), MapType.STACK: (0, 4, 1),
             MapType.LPM_TRIE: (8, 4, 1)}
    ks, vs, n = sizes.get(kind, (4, 4, 1))
    flags = int(MapFlags.NO_PREALLOC) if kind == MapType.LPM_TRIE else 0
    try:
        fd = sysbpf.map_create(kind, ks, vs, n, flags=flags)
    except BPFError:
        return False
    fd.close()
    return True


# mov r0, 0 ; exit     and     call <helper> ; mov r0, 0 ; exit
_RET0 = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)


@functools.cache
def prog_type(kind: int) -> bool:
    """Whether the kernel loads programs of type ``kind`` (a ``ProgType``)."""
    from .sys.consts import ProgFlags, ProgType
    flags = int(ProgFlags.SLEEPABLE) if kind == ProgType.SYSCALL else 0
    fd, err, _ = sysbpf.prog_load(kind, _RET0, "GPL", flags=flags)
    if fd is None:
        log.debug("program type %d: not supported (errno %d)", kind, err)
        return False
    fd.close()
    return True


@functools.cache
def helper(kind: int, helper_id: int) -> bool:
    """Whether programs of type ``kind`` may call BPF helper number ``helper_id``."""
    insns = struct.pack("<BBhi", 0x85, 0, 0, helper_id) + _RET0
    fd, err, text = sysbpf.prog_load(kind, insns, "GPL", log_level=1, log_size=1 << 16)
    if fd is not None:
        fd.close()
        return True
    # anything but "unknown/invalid func" (e.g. bad arguments) means the helper exists
    return "invalid func" not in text and "unknown func" not in text and err != errno.EPERM


def bpf_cookie() -> bool:
    """BPF cookies (``bpf_get_attach_cookie``, 5.15) for kprobe/uprobe/tracepoint links."""
    from .sys.consts import ProgType
    return helper(ProgType.KPROBE, 174)


@functools.cache
def kprobe_multi() -> bool:
    """Multi-kprobe programs (``BPF_TRACE_KPROBE_MULTI``, 5.18)."""
    from .sys.consts import AttachType, ProgType
    fd, err, _ = sysbpf.prog_load(ProgType.KPROBE, _RET0, "GPL",
                                  expected_attach_type=AttachType.TRACE_KPROBE_MULTI)
    if fd is None:
        log.debug("kprobe.multi: not supported (errno %d)", err)
        return False
    fd.close()
    return True


@functools.cache
def kernel_enum_value(enum: str, name: str) -> bool:
    """Whether the kernel's BTF has enumerator ``name`` in ``enum`` (e.g. a new attach type)."""
    from .btf.kernel import load_kernel
    from .btf.types import Kind
    try:
        return any(e.name == name for t in load_kernel().find_all(enum, Kind.ENUM)
                   for e in t.enumerators)
    except BPFError:
        return False


def tcx() -> bool:
    """tcx links (``BPF_TCX_INGRESS``, 6.6)."""
    return kernel_enum_value("bpf_attach_type", "BPF_TCX_INGRESS")
