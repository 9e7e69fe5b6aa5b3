"""BTF back to bytes for the kernel: DATASEC fix-ups (as libbpf does) and sanitizing."""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection

from .._log import get_logger
from .types import BTF, LINKAGE_EXTERN, LINKAGE_GLOBAL, Kind

log = get_logger("pybpf.btf")

_INFO = struct.Struct("<I")


def _info(kind: int, vlen: int = 0, kflag: int = 0) -> int:
    return (kflag << 31) | (kind << 24) | vlen


def prepare_for_kernel(btf: BTF, section_sizes: dict[str, int],
                       var_offsets: dict[tuple[str, str], int],
                       features: Collection[str] | None = None) -> bytes:
    """The object's BTF as the running kernel will accept it.

    - DATASEC sizes and VAR offsets are filled from the ELF (clang leaves some at zero).
    - Extern VARs (``__kconfig``/``__ksym``) become allocated globals laid out one after the
      other, as libbpf does: old kernels reject the extern linkage.
    - With ``features`` (names from :mod:`pybpf.features`), kinds and flags the kernel lacks
      are rewritten into ones it has, with the same sizes, so type ids stay valid (libbpf's
      rules): FLOAT -> empty STRUCT, DECL_TAG -> 1-byte INT, TYPE_TAG -> CONST, ENUM64 ->
      UNION of ints, signed ENUM -> unsigned, global or extern FUNC -> static.
    Patched in a copy of the raw blob, so string offsets (used by line_info) stay valid.
    """
    raw = bytearray(btf.raw)
    e = btf.endian
    pack = struct.Struct(e + "I").pack_into
    unpack = struct.Struct(e + "I").unpack_from
    extra = _Appended(btf)
    for i, pos in enumerate(btf.offsets):
        t = btf[btf.start_id + i]
        if t.kind == Kind.VAR and t.linkage == LINKAGE_EXTERN:
            pack(raw, pos + 12, LINKAGE_GLOBAL)
        if t.kind != Kind.DATASEC:
            continue
        externs = any(btf[vi.type_id].kind == Kind.FUNC or (btf[vi.type_id].kind == Kind.VAR
                      and btf[vi.type_id].linkage == LINKAGE_EXTERN) for vi in t.secinfos)
        if externs:
            _layout_externs(btf, t, raw, pos, pack, extra)
            continue
        size = section_sizes.get(t.name)
        if size is not None and t.size == 0:
            pack(raw, pos + 8, size)
        for j, vi in enumerate(t.secinfos):
            off = var_offsets.get((t.name, btf[vi.type_id].name))
            if off is not None and off != vi.offset:
                pack(raw, pos + 12 + 12 * j + 4, off)
    if features is not None:
        _sanitize(btf, raw, frozenset(features), pack, unpack, extra)
    return bytes(extra.into(raw, pack, unpack))


class _Appended:
    """Types (and strings) added after the object's own: ids from ``btf.end_id`` on."""

    def __init__(self, btf: BTF) -> None:
        self.endian = btf.endian
        self.next_id = btf.end_id
        self.types = bytearray()
        self.strings = bytearray()
        self.str_base = len(btf.strings)

    def type(self, *words: int) -> int:
        self.types += struct.pack(f"{self.endian}{len(words)}I", *words)
        self.next_id += 1
        return self.next_id - 1

    def string(self, text: str) -> int:
        off = self.str_base + len(self.strings)
        self.strings += text.encode() + b"\0"
        return off

    def into(self, raw: bytearray, pack: Callable, unpack: Callable) -> bytearray:
        hdr_len, type_off, type_len, str_off, str_len = (unpack(raw, o)[0]
                                                         for o in (4, 8, 12, 16, 20))
        if self.types:
            end = hdr_len + type_off + type_len
            raw[end:end] = self.types
            pack(raw, 12, type_len + len(self.types))
            if str_off >= type_off + type_len:
                str_off += len(self.types)
                pack(raw, 16, str_off)
        if self.strings:
            end = hdr_len + str_off + str_len
            raw[end:end] = self.strings
            pack(raw, 20, str_len + len(self.strings))
        return raw


def _layout_externs(btf: BTF, t, raw: bytearray, pos: int, pack: Callable,
                    extra: _Appended) -> None:
    """Give the extern VARs of a .kconfig/.ksyms DATASEC distinct, aligned offsets.

    In .ksyms, as libbpf does: each entry is a 4-byte int (values come from the kernel, not
    this section; typeless ksyms are `void`, which a VAR cannot be); a kfunc's FUNC entry
    points to an appended ``dummy_ksym`` int VAR, the FUNC becomes global (the kernel
    refuses extern FUNCs) and its unnamed parameters take that name."""
    off = 0
    ksyms = t.name == ".ksyms"
    int_id = next((u.id for u in btf if u.kind == Kind.INT and u.size == 4), 0) if ksyms else 0
    dummy = dummy_name = 0
    for j, vi in enumerate(t.secinfos):
        var = btf[vi.type_id]
        if ksyms and int_id and var.kind in (Kind.VAR, Kind.FUNC):
            vpos = btf.offsets[var.id - btf.start_id]
            if var.kind == Kind.VAR:
                pack(raw, vpos + 8, int_id)
            else:
                if not dummy:
                    dummy_name = extra.string("dummy_ksym")
                    dummy = extra.type(dummy_name, _info(Kind.VAR), int_id, LINKAGE_GLOBAL)
                pack(raw, pos + 12 + 12 * j, dummy)
                pack(raw, vpos + 4, _info(Kind.FUNC, LINKAGE_GLOBAL))
                proto = btf[var.type_id]
                ppos = btf.offsets[proto.id - btf.start_id]
                for k, prm in enumerate(proto.params):
                    if prm.type_id and not prm.name:
                        pack(raw, ppos + 12 + 8 * k, dummy_name)
            size = align = 4
        elif var.kind == Kind.VAR:
            size = max(btf.size_of(var.type_id), 1)
            align = min(max(btf.align_of(var.type_id), 1), 8)
        else:                                        # a FUNC without a 4-byte int to use
            size, align = 0, 1
        off += -off % align
        pack(raw, pos + 12 + 12 * j + 4, off)
        pack(raw, pos + 12 + 12 * j + 8, size)
        off += size
    pack(raw, pos + 8, off + (-off % 8))


def _sanitize(btf: BTF, raw: bytearray, features: frozenset[str], pack: Callable,
              unpack: Callable, extra: _Appended) -> None:
    """Rewrite kinds the kernel lacks (see :func:`prepare_for_kernel`)."""
    has = features.__contains__
    appended: dict[int, int] = {}    # int byte size -> id of an appended INT (ENUM64 members)
    rewrites = 0
    for pos in btf.offsets:
        info = unpack(raw, pos + 4)[0]
        kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
        if kind == Kind.FLOAT and not has("float"):
            pack(raw, pos + 4, _info(Kind.STRUCT))
        elif kind == Kind.DECL_TAG and not has("decl_tag"):
            pack(raw, pos, 0)
            pack(raw, pos + 4, _info(Kind.INT))
            pack(raw, pos + 8, 1)
            pack(raw, pos + 12, 8)                   # encoding 0, offset 0, 8 bits
        elif kind == Kind.TYPE_TAG and not has("type_tag"):
            pack(raw, pos, 0)
            pack(raw, pos + 4, _info(Kind.CONST))
        elif kind == Kind.ENUM64 and not has("enum64"):
            size = unpack(raw, pos + 8)[0]
            tid = appended.get(size)
            if tid is None:
                tid = appended[size] = extra.type(0, _info(Kind.INT), size, 8 * size)
            pack(raw, pos + 4, _info(Kind.UNION, vlen))
            for j in range(vlen):                    # {name, lo32, hi32} -> {name, type, offset}
                pack(raw, pos + 12 + 12 * j + 4, tid)
                pack(raw, pos + 12 + 12 * j + 8, 0)
        elif kind == Kind.ENUM and kflag and not has("enum64"):
            pack(raw, pos + 4, _info(Kind.ENUM, vlen))   # signed enums came with ENUM64 (6.0)
        elif kind == Kind.FUNC and vlen != 0 and not has("func_global"):
            pack(raw, pos + 4, _info(Kind.FUNC))     # global or extern (kfunc) -> static
        else:
            continue
        rewrites += 1
    if rewrites:
        log.debug("BTF sanitized for this kernel: %d types rewritten, %d appended",
                  rewrites, len(appended))
