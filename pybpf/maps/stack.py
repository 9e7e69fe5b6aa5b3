"""Stack trace maps (BPF_MAP_TYPE_STACK_TRACE): ids from ``bpf_get_stackid`` -> frames.

    stacks = obj.maps["stacks"]
    stacks.stack(sid)                   # [0xffffffff81..., ...] leaf first
    stacks.frames(sid)                  # kernel: ["do_syscall_64+0x5e", ...]
    stacks.frames(sid, pid=1234)        # user space of process 1234: ["main+0x9", ...]

With ``BPF_F_STACK_BUILD_ID`` each frame is a ``BuildIdFrame`` (status, build id, file
offset or ip) instead of an address.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import MapError
from ..symbols import UNKNOWN, KernelSymbols, Symbol, UserSymbols
from ..sys.consts import MapFlags, MapType
from .base import Map, register_map_class

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BuildIdFrame", "StackTraceMap"]

_U32 = struct.Struct("<I")
_BUILD_ID_ENTRY = struct.Struct("<i20sQ")     # struct bpf_stack_build_id (32 bytes)
BPF_STACK_BUILD_ID_EMPTY, BPF_STACK_BUILD_ID_VALID, BPF_STACK_BUILD_ID_IP = 0, 1, 2


@dataclass(frozen=True, slots=True)
class BuildIdFrame:
    """One frame of a build-id stack: ``offset`` into the file with ``build_id`` (status
    VALID), or a raw ``ip`` (status IP: the kernel could not read the build id)."""

    status: int
    build_id: str
    offset: int

    @property
    def ip(self) -> int:
        return self.offset


class StackTraceMap(Map):
    """A STACK_TRACE map: stack id -> frames (leaf first).

    Iteration and ``m[id]`` give address lists; ``stack(id)`` does too, returning ``[]`` for
    the negative error ids ``bpf_get_stackid`` returns (e.g. -EFAULT: no user stack).
    """

    def __init__(self, fd: Any, spec: Any, btf: Any = None) -> None:
        super().__init__(fd, spec, btf)
        self.build_id = bool(self.flags & MapFlags.STACK_BUILD_ID)
        step = _BUILD_ID_ENTRY.size if self.build_id else 8
        if self.value_size % step:
            raise MapError(f"stack map {self.name}: value size {self.value_size} is not a "
                           f"multiple of {step}")
        self.depth = self.value_size // step
        self._addrs = struct.Struct(f"<{self.depth}Q")
        self._users: dict[int, UserSymbols] = {}

    def _codec(self, type_id: int, size: int, what: str) -> Any:
        return None if what == "value" else super()._codec(type_id, size, what)

    def encode_key(self, key: Any) -> bytes:
        return _U32.pack(int(key) & 0xFFFFFFFF)

    def decode_key(self, raw: bytes) -> int:
        return int(_U32.unpack(raw[:4])[0])

    def decode_value(self, raw: bytes) -> list[Any]:
        if self.build_id:
            out = []
            for status, bid, off in _BUILD_ID_ENTRY.iter_unpack(raw):
                if status == BPF_STACK_BUILD_ID_EMPTY:
                    break
                out.append(BuildIdFrame(status, bid.hex(), off))
            return out
        addrs = list(self._addrs.unpack_from(raw))
        try:
            return addrs[:addrs.index(0)]
        except ValueError:
            return addrs

    def encode_value(self, value: Any) -> bytes:
        raise MapError(f"stack map {self.name}: stacks are written by bpf_get_stackid only")

    def _decode_values(self, buf: Any, count: int) -> list[Any]:
        vs = self.value_size
        return [self.decode_value(bytes(buf[i * vs:(i + 1) * vs])) for i in range(count)]

    # ---- stacks ----

    def stack(self, stack_id: int) -> list[Any]:
        """The frames of ``stack_id`` (addresses, leaf first); [] for an error id (< 0)
        or an id no longer in the map."""
        if stack_id < 0:
            return []
        raw = self.lookup_raw(self.encode_key(stack_id))
        return [] if raw is None else self.decode_value(raw)

    def user_symbols(self, pid: int) -> UserSymbols:
        """The (cached) symbolizer of process ``pid``."""
        us = self._users.get(pid)
        if us is None:
            us = self._users[pid] = UserSymbols(pid)
        return us

    def frames(self, stack_id: int, pid: int | None = None, offset: bool = True,
               module: bool = False) -> list[str]:
        """The symbolized frames of ``stack_id``: kernel symbols, or with ``pid`` the user
        symbols of that process (it must still be running). Unresolved: "[unknown]"."""
        addrs = self.stack(stack_id)
        if self.build_id:
            return [f"{f.build_id}+{f.offset:#x}" if f.status == BPF_STACK_BUILD_ID_VALID
                    else UNKNOWN for f in addrs]
        syms: KernelSymbols | UserSymbols = (KernelSymbols.shared() if pid is None
                                             else self.user_symbols(pid))
        return [symbolize(syms, a, i > 0, offset, module) for i, a in enumerate(addrs)]


def symbolize(syms: KernelSymbols | UserSymbols, addr: int, return_address: bool,
              offset: bool = True, module: bool = False) -> str:
    """The name of ``addr``; a caller frame (``return_address``) is looked up one byte
    back: the call before a return address may be the last instruction of a function
    (a call to a noreturn function), so ``addr`` itself can already be in the next one."""
    if not return_address:
        return syms.sym(addr, offset, module)
    s = syms.resolve(addr - 1)
    if s is None:
        return syms.sym(addr, offset, module)
    return Symbol(s.name, s.offset + 1, s.module).format(offset, module)


register_map_class(MapType.STACK_TRACE, StackTraceMap)
