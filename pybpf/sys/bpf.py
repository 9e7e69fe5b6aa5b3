"""Thin, typed wrappers over the bpf() syscall commands. Every failure is a SyscallError."""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from .._log import get_logger
from ..errors import BPFPermissionError, SyscallError
from .cdefs import ffi, libc
from .consts import SYS_BPF, Cmd
from .fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.sys")

_SYS = ffi.cast("long", SYS_BPF)


def _ptr(buf: Any) -> int:
    """Address of a cffi buffer (or 0 for None) as an integer for u64 attr fields."""
    if buf is None:
        return 0
    return int(ffi.cast("uintptr_t", buf))


def _in_buf(data: bytes, keep: list[Any]) -> int:
    """Address of ``data`` for an attr field; the buffer is kept alive in ``keep``."""
    buf = ffi.from_buffer(data)
    keep.append(buf)
    return _ptr(buf)


def _out_buf(size: int) -> Any:
    return ffi.new("char[]", size) if size else None


def raise_errno(op: str, err: int, detail: str = "") -> None:
    """Raise the pybpf error for a failed syscall ``op``."""
    cls = BPFPermissionError if err in (errno.EPERM, errno.EACCES) else SyscallError
    raise cls(op, err, detail)


_CMD_ARG = {c: ffi.cast("int", c) for c in Cmd}
_SIZE_ARG: dict[int, Any] = {}


def _size_arg(attr: Any) -> Any:
    n = ffi.sizeof(attr[0])
    arg = _SIZE_ARG.get(n)
    if arg is None:
        arg = _SIZE_ARG[n] = ffi.cast("unsigned int", n)
    return arg


# Before 5.11 the kernel charged BPF memory to RLIMIT_MEMLOCK (64 KiB by default), so map,
# program and BTF creation fail with EPERM there. Like libbpf, raise the limit once and retry;
# on memcg-accounted kernels the first EPERM has another cause and the retry is skipped.
_MEMLOCK_CMDS = frozenset((Cmd.MAP_CREATE, Cmd.PROG_LOAD, Cmd.BTF_LOAD))
_memlock_tried = False


def _bump_memlock() -> bool:
    """Raise RLIMIT_MEMLOCK to unlimited once per process; True if it changed now."""
    global _memlock_tried
    if _memlock_tried:
        return False
    _memlock_tried = True
    import resource
    try:
        if resource.getrlimit(resource.RLIMIT_MEMLOCK)[0] == resource.RLIM_INFINITY:
            return False
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (OSError, ValueError) as e:
        log.debug("cannot raise RLIMIT_MEMLOCK: %s", e)
        return False
    log.debug("raised RLIMIT_MEMLOCK to unlimited after EPERM (kernel without memcg accounting)")
    return True


def bpf(cmd: Cmd, attr: Any, op: str | None = None) -> int:
    """Call bpf(cmd, attr, sizeof attr); raise SyscallError (with ``op``) on failure."""
    ret = bpf_errno(cmd, attr)
    if ret < 0:
        raise_errno(op or f"bpf({Cmd(cmd).name})", -ret)
    return ret


def bpf_errno(cmd: Cmd, attr: Any) -> int:
    """Call bpf() and return ``-errno`` on failure instead of raising (hot paths, probes)."""
    ret = libc.syscall(_SYS, _CMD_ARG[cmd], attr, _size_arg(attr))
    if ret >= 0:
        return ret
    err = ffi.errno
    if err == errno.EPERM and cmd in _MEMLOCK_CMDS and _bump_memlock():
        ret = libc.syscall(_SYS, _CMD_ARG[cmd], attr, _size_arg(attr))
        if ret >= 0:
            return ret
        err = ffi.errno
    return -err


def _name16(name: str) -> bytes:
    return name.encode()[:15]


# ---- maps ----

def map_create(map_type: int, key_size: int, value_size: int, max_entries: int, *,
               flags: int = 0, name: str = "", inner_map_fd: int = 0, numa_node: int = 0,
               btf_fd: int = 0, btf_key_type_id: int = 0, btf_value_type_id: int = 0,
               map_extra: int = 0, ifindex: int = 0) -> FD:
    attr = ffi.new("struct attr_map_create *")
    attr.map_type, attr.key_size, attr.value_size = map_type, key_size, value_size
    attr.max_entries, attr.map_flags, attr.inner_map_fd = max_entries, flags, inner_map_fd
    attr.numa_node, attr.map_ifindex, attr.map_extra = numa_node, ifindex, map_extra
    attr.map_name = _name16(name)
    attr.btf_fd, attr.btf_key_type_id, attr.btf_value_type_id = btf_fd, btf_key_type_id, btf_value_type_id
    return FD(bpf(Cmd.MAP_CREATE, attr, f"create map {name or '(anon)'}"), "map")


def map_elem_attr() -> Any:
    """A reusable MAP_*_ELEM attr (callers on hot paths keep one)."""
    return ffi.new("struct attr_map_elem *")


def map_lookup(fd: int, key: Any, value: Any, flags: int = 0, *, delete: bool = False) -> bool:
    """Look ``key`` up into the cffi buffer ``value``; False if absent."""
    attr = ffi.new("struct attr_map_elem *")
    attr.map_fd, attr.key, attr.value, attr.flags = fd, _ptr(key), _ptr(value), flags
    cmd = Cmd.MAP_LOOKUP_AND_DELETE_ELEM if delete else Cmd.MAP_LOOKUP_ELEM
    ret = bpf_errno(cmd, attr)
    if ret == -errno.ENOENT:
        return False
    if ret < 0:
        raise_errno("map lookup" + (" and delete" if delete else ""), -ret)
    return True


def map_update(fd: int, key: Any, value: Any, flags: int = 0) -> None:
    attr = ffi.new("struct attr_map_elem *")
    attr.map_fd, attr.key, attr.value, attr.flags = fd, _ptr(key), _ptr(value), flags
    bpf(Cmd.MAP_UPDATE_ELEM, attr, "map update")


def map_delete(fd: int, key: Any) -> bool:
    """Delete ``key``; False if it was absent."""
    attr = ffi.new("struct attr_map_elem *")
    attr.map_fd, attr.key = fd, _ptr(key)
    ret = bpf_errno(Cmd.MAP_DELETE_ELEM, attr)
    if ret == -errno.ENOENT:
        return False
    if ret < 0:
        raise_errno("map delete", -ret)
    return True


def map_get_next_key(fd: int, key: Any, next_key: Any) -> bool:
    """Write the key after ``key`` (None: the first) into ``next_key``; False at the end."""
    attr = ffi.new("struct attr_map_elem *")
    attr.map_fd, attr.key, attr.value = fd, _ptr(key), _ptr(next_key)
    ret = bpf_errno(Cmd.MAP_GET_NEXT_KEY, attr)
    if ret == -errno.ENOENT:
        return False
    if ret < 0:
        raise_errno("map get next key", -ret)
    return True


def map_batch(cmd: Cmd, fd: int, keys: Any, values: Any, count: int, *,
              in_batch: Any = None, out_batch: Any = None, elem_flags: int = 0) -> tuple[int, bool]:
    """One MAP_*_BATCH call. Returns (entries processed, more entries may remain)."""
    attr = ffi.new("struct attr_map_batch *")
    attr.map_fd, attr.keys, attr.values, attr.count = fd, _ptr(keys), _ptr(values), count
    attr.in_batch, attr.out_batch, attr.elem_flags = _ptr(in_batch), _ptr(out_batch), elem_flags
    ret = bpf_errno(cmd, attr)
    if ret == -errno.ENOENT:
        return attr.count, False
    if ret < 0:
        raise_errno(f"map {cmd.name.lower()}", -ret)
    return attr.count, True


def map_freeze(fd: int) -> None:
    attr = ffi.new("struct attr_map_freeze *")
    attr.map_fd = fd
    bpf(Cmd.MAP_FREEZE, attr, "freeze map")


# ---- programs ----

def prog_load(prog_type: int, insns: bytes, license: str, *, name: str = "",
              expected_attach_type: int = 0, kern_version: int = 0, flags: int = 0,
              btf_fd: int = 0, func_info: bytes = b"", func_info_rec_size: int = 0,
              line_info: bytes = b"", line_info_rec_size: int = 0, attach_btf_id: int = 0,
              attach_btf_obj_fd: int = 0, attach_prog_fd: int = 0, ifindex: int = 0,
              log_level: int = 0, log_size: int = 0) -> tuple[FD | None, int, str]:
    """PROG_LOAD. Returns (fd or None, errno, verifier log). Never raises on rejection."""
    attr = ffi.new("struct attr_prog_load *")
    insn_buf = ffi.from_buffer(insns)
    lic = ffi.new("char[]", license.encode())
    attr.prog_type, attr.insn_cnt, attr.insns = prog_type, len(insns) // 8, _ptr(insn_buf)
    attr.license, attr.kern_version, attr.prog_flags = _ptr(lic), kern_version, flags
    attr.prog_name = _name16(name)
    attr.expected_attach_type, attr.prog_ifindex = expected_attach_type, ifindex
    keep = [insn_buf, lic]
    if btf_fd:
        attr.prog_btf_fd = btf_fd
        if func_info:
            fi = ffi.from_buffer(func_info)
            keep.append(fi)
            attr.func_info, attr.func_info_rec_size = _ptr(fi), func_info_rec_size
            attr.func_info_cnt = len(func_info) // func_info_rec_size
        if line_info:
            li = ffi.from_buffer(line_info)
            keep.append(li)
            attr.line_info, attr.line_info_rec_size = _ptr(li), line_info_rec_size
            attr.line_info_cnt = len(line_info) // line_info_rec_size
    attr.attach_btf_id = attach_btf_id
    attr.attach_btf_obj_fd = attach_prog_fd or attach_btf_obj_fd
    logbuf = None
    if log_level:
        logbuf = ffi.new("char[]", log_size)
        attr.log_level, attr.log_size, attr.log_buf = log_level, log_size, _ptr(logbuf)
    ret = bpf_errno(Cmd.PROG_LOAD, attr)
    text = ffi.string(logbuf).decode(errors="replace") if logbuf is not None else ""
    if ret < 0:
        return None, -ret, text
    return FD(ret, "prog"), 0, text


def prog_test_run(fd: int, data: bytes = b"", *, data_size_out: int = 0, ctx: bytes = b"",
                  ctx_size_out: int = 0, repeat: int = 1, flags: int = 0,
                  cpu: int = 0) -> tuple[int, bytes, bytes, int]:
    """PROG_TEST_RUN. Returns (retval, data_out, ctx_out, duration_ns)."""
    attr = ffi.new("struct attr_test_run *")
    attr.prog_fd, attr.repeat, attr.flags, attr.cpu = fd, repeat, flags, cpu
    keep = []
    if data:
        attr.data_in, attr.data_size_in = _in_buf(data, keep), len(data)
    dout = _out_buf(data_size_out)
    attr.data_out, attr.data_size_out = _ptr(dout), data_size_out
    if ctx:
        attr.ctx_in, attr.ctx_size_in = _in_buf(ctx, keep), len(ctx)
    cout = _out_buf(ctx_size_out)
    attr.ctx_out, attr.ctx_size_out = _ptr(cout), ctx_size_out
    bpf(Cmd.PROG_TEST_RUN, attr, "test run program")
    out = bytes(ffi.buffer(dout, attr.data_size_out)) if dout is not None else b""
    cx = bytes(ffi.buffer(cout, attr.ctx_size_out)) if cout is not None else b""
    return attr.retval, out, cx, attr.duration


def prog_attach(prog_fd: int, target_fd: int, attach_type: int, flags: int = 0) -> None:
    attr = ffi.new("struct attr_prog_attach *")
    attr.target_fd, attr.attach_bpf_fd, attr.attach_type, attr.attach_flags = (
        target_fd, prog_fd, attach_type, flags)
    bpf(Cmd.PROG_ATTACH, attr, "attach program")


def prog_detach(prog_fd: int, target_fd: int, attach_type: int) -> None:
    attr = ffi.new("struct attr_prog_attach *")
    attr.target_fd, attr.attach_bpf_fd, attr.attach_type = target_fd, prog_fd, attach_type
    bpf(Cmd.PROG_DETACH, attr, "detach program")


# ---- BTF, pinning, ids, info ----

def btf_load(data: bytes, log_level: int = 0, log_size: int = 0) -> tuple[FD | None, int, str]:
    """BTF_LOAD. Returns (fd or None, errno, log)."""
    attr = ffi.new("struct attr_btf_load *")
    buf = ffi.from_buffer(data)
    attr.btf, attr.btf_size = _ptr(buf), len(data)
    logbuf = None
    if log_level:
        logbuf = ffi.new("char[]", log_size)
        attr.btf_log_buf, attr.btf_log_size, attr.btf_log_level = _ptr(logbuf), log_size, log_level
    ret = bpf_errno(Cmd.BTF_LOAD, attr)
    text = ffi.string(logbuf).decode(errors="replace") if logbuf is not None else ""
    if ret < 0:
        return None, -ret, text
    return FD(ret, "btf"), 0, text


def obj_pin(fd: int, path: str) -> None:
    attr = ffi.new("struct attr_obj_pin *")
    p = ffi.new("char[]", os.fsencode(path))
    attr.pathname, attr.bpf_fd = _ptr(p), fd
    bpf(Cmd.OBJ_PIN, attr, f"pin to {path}")


def obj_get(path: str, flags: int = 0) -> FD:
    attr = ffi.new("struct attr_obj_pin *")
    p = ffi.new("char[]", os.fsencode(path))
    attr.pathname, attr.file_flags = _ptr(p), flags
    return FD(bpf(Cmd.OBJ_GET, attr, f"open pinned object {path}"), "pinned")


_NEXT_ID = {"prog": Cmd.PROG_GET_NEXT_ID, "map": Cmd.MAP_GET_NEXT_ID,
            "btf": Cmd.BTF_GET_NEXT_ID, "link": Cmd.LINK_GET_NEXT_ID}
_FD_BY_ID = {"prog": Cmd.PROG_GET_FD_BY_ID, "map": Cmd.MAP_GET_FD_BY_ID,
             "btf": Cmd.BTF_GET_FD_BY_ID, "link": Cmd.LINK_GET_FD_BY_ID}


def get_next_id(kind: str, start: int = 0) -> int | None:
    """Next id of a ``kind`` ("prog", "map", "btf", "link") object after ``start``."""
    attr = ffi.new("struct attr_get_id *")
    attr.start_id = start
    ret = bpf_errno(_NEXT_ID[kind], attr)
    if ret == -errno.ENOENT:
        return None
    if ret < 0:
        raise_errno(f"get next {kind} id", -ret)
    return attr.next_id


def get_fd_by_id(kind: str, obj_id: int, flags: int = 0) -> FD:
    attr = ffi.new("struct attr_get_id *")
    attr.start_id, attr.open_flags = obj_id, flags
    return FD(bpf(_FD_BY_ID[kind], attr, f"open {kind} id {obj_id}"), kind)


def obj_info(fd: int, struct: str, extra: dict[str, tuple[str, int, str]] | None = None) -> Any:
    """OBJ_GET_INFO_BY_FD into a ``struct`` ("bpf_prog_info", ...).

    ``extra`` maps a pointer field to (count field, element count, C element type) to fetch
    arrays such as xlated instructions; the buffers are kept alive on the returned object.
    """
    info = ffi.new(f"struct {struct} *")
    keep = []
    for ptr_field, (cnt_field, count, ctype) in (extra or {}).items():
        buf = ffi.new(f"{ctype}[]", max(count, 1))
        keep.append(buf)
        setattr(info, ptr_field, _ptr(buf))
        setattr(info, cnt_field, count if not cnt_field.endswith("_len") else count * ffi.sizeof(ctype))
    attr = ffi.new("struct attr_info *")
    attr.bpf_fd, attr.info_len, attr.info = fd, ffi.sizeof(info[0]), _ptr(info)
    bpf(Cmd.OBJ_GET_INFO_BY_FD, attr, f"get {struct}")
    return _Info(info, keep)


class _Info:
    """An info struct plus the buffers its pointer fields reference."""

    __slots__ = ("c", "buffers")

    def __init__(self, c: Any, buffers: list[Any]) -> None:
        self.c, self.buffers = c, buffers

    def __getattr__(self, name: str) -> Any:
        return getattr(self.c, name)


# ---- links ----

def link_create(prog_fd: int, target_fd: int, attach_type: int, *, flags: int = 0,
                target_btf_id: int = 0, cookie: int = 0, op: str = "create link",
                kprobe_multi: tuple[Sequence[str], Sequence[int]] | None = None) -> FD:
    """LINK_CREATE for tracing/perf-event/xdp/tcx/cgroup/kprobe-multi links."""
    from .consts import AttachType
    attr = ffi.new("struct attr_link_create *")
    attr.prog_fd, attr.target_fd, attr.attach_type, attr.flags = prog_fd, target_fd, attach_type, flags
    keep: list[Any] = []
    if attach_type == AttachType.PERF_EVENT:
        attr.perf_event.bpf_cookie = cookie
    elif attach_type in (AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT,
                         AttachType.MODIFY_RETURN, AttachType.LSM_MAC, AttachType.TRACE_RAW_TP):
        attr.tracing.target_btf_id, attr.tracing.cookie = target_btf_id, cookie
    elif kprobe_multi is not None:
        syms, cookies = kprobe_multi
        names = [ffi.new("char[]", s.encode()) for s in syms]
        arr = ffi.new("uint64_t[]", [_ptr(n) for n in names])
        keep += names + [arr]
        attr.kprobe_multi.syms, attr.kprobe_multi.cnt = _ptr(arr), len(syms)
        attr.kprobe_multi.flags, attr.flags = flags, 0   # BPF_F_KPROBE_MULTI_RETURN lives here
        if cookies:
            c = ffi.new("uint64_t[]", list(cookies))
            keep.append(c)
            attr.kprobe_multi.cookies = _ptr(c)
    elif target_btf_id:
        attr.target_btf_id = target_btf_id
    return FD(bpf(Cmd.LINK_CREATE, attr, op), "link")


def link_detach(fd: int) -> None:
    attr = ffi.new("struct attr_link_fd *")
    attr.link_fd = fd
    bpf(Cmd.LINK_DETACH, attr, "detach link")


def raw_tracepoint_open(prog_fd: int, name: str | None) -> FD:
    attr = ffi.new("struct attr_raw_tp *")
    n = ffi.new("char[]", name.encode()) if name else None
    attr.name, attr.prog_fd = _ptr(n), prog_fd
    return FD(bpf(Cmd.RAW_TRACEPOINT_OPEN, attr, f"open raw tracepoint {name}"), "link")
