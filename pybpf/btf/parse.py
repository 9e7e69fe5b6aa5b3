"""Raw BTF bytes -> BTF: one pass indexes type offsets and names; types decode lazily."""

from __future__ import annotations

import struct
from array import array

from ..errors import BTFError
from .types import BTF, Enumerator, Kind, Member, Param, Type, VarSecinfo

MAGIC = 0xEB9F
_EXTRA = {  # bytes that follow the 12-byte btf_type, per kind: (fixed, per-vlen)
    Kind.INT: (4, 0), Kind.ARRAY: (12, 0), Kind.STRUCT: (0, 12), Kind.UNION: (0, 12),
    Kind.ENUM: (0, 8), Kind.FUNC_PROTO: (0, 8), Kind.VAR: (4, 0), Kind.DATASEC: (0, 12),
    Kind.DECL_TAG: (4, 0), Kind.ENUM64: (0, 12),
}


def parse_btf(data: bytes, base: BTF | None = None) -> BTF:
    """Parse a BTF blob (either endianness); ``base`` for split BTF (kernel modules)."""
    if len(data) < 24:
        raise BTFError("BTF blob shorter than its header", offset=0)
    magic = struct.unpack_from("<H", data)[0]
    if magic == MAGIC:
        e = "<"
    elif magic == 0x9FEB:
        e = ">"
    else:
        raise BTFError(f"bad BTF magic {magic:#06x}", offset=0)
    _m, version, _flags, hdr_len = struct.unpack_from(e + "HBBI", data)
    if version != 1:
        raise BTFError(f"unsupported BTF version {version}", offset=2)
    if hdr_len < 24 or hdr_len > len(data):
        raise BTFError(f"bad BTF header length {hdr_len}", offset=4)
    type_off, type_len, str_off, str_len = struct.unpack_from(e + "IIII", data, 8)
    t0, s0 = hdr_len + type_off, hdr_len + str_off
    if t0 + type_len > len(data) or s0 + str_len > len(data):
        raise BTFError("BTF type or string section extends past the end of the blob", offset=8)
    strings = bytes(data[s0:s0 + str_len])
    str_base = len(base.strings) if base is not None else 0
    offsets = array("I")
    names: dict[str, list[int]] = {}
    first_id = base.end_id if base is not None else 1
    hdr = struct.Struct(e + "III")
    pos, end = t0, t0 + type_len
    cache: dict[int, str] = {}

    def name_at(off: int, where: int) -> str:
        s = cache.get(off)
        if s is None:
            if base is not None and off < str_base:
                s = base.string(off)
            else:
                o = off - str_base
                if o < 0 or o >= len(strings):
                    raise BTFError(f"string offset {off} out of range", offset=where)
                n = strings.find(b"\0", o)
                s = strings[o:n if n >= 0 else len(strings)].decode("utf-8", "replace")
            cache[off] = s
        return s

    while pos < end:
        if pos + 12 > end:
            raise BTFError("truncated BTF type", offset=pos)
        name_off, info, _ = hdr.unpack_from(data, pos)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        try:
            fixed, per = _EXTRA.get(Kind(kind), (0, 0))
        except ValueError:
            raise BTFError(f"unknown BTF kind {kind}", offset=pos) from None
        tid = first_id + len(offsets)
        offsets.append(pos)
        if name_off:
            names.setdefault(name_at(name_off, pos), []).append(tid)
        pos += 12 + fixed + per * vlen
    if pos != end:
        raise BTFError("BTF type section does not end on a type boundary", offset=pos)

    btf: BTF

    def decode(tid: int) -> Type:
        return _decode(data, offsets[tid - first_id], tid, e, lambda o, w: name_at(o, w), btf)

    btf = BTF(strings=strings, count=len(offsets), _decode=decode, _names=names, base=base,
              endian=e, raw=bytes(data), offsets=offsets)
    return btf


def _decode(data: bytes, pos: int, tid: int, e: str, name_at, btf: BTF) -> Type:  # noqa: ANN001
    name_off, info, st = struct.unpack_from(e + "III", data, pos)
    kind = Kind((info >> 24) & 0x1F)
    vlen, kflag = info & 0xFFFF, bool(info >> 31)
    name = name_at(name_off, pos) if name_off else ""
    p = pos + 12
    t = Type(tid, kind, name, kflag=kflag)
    if kind in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.DATASEC, Kind.FLOAT):
        t.size = st
    else:
        t.type_id = st
    if kind == Kind.INT:
        (v,) = struct.unpack_from(e + "I", data, p)
        t.int_encoding, t.int_offset, t.int_bits = (v >> 24) & 0xF, (v >> 16) & 0xFF, v & 0xFF
    elif kind == Kind.ARRAY:
        t.elem_type_id, t.index_type_id, t.nelems = struct.unpack_from(e + "III", data, p)
    elif kind in (Kind.STRUCT, Kind.UNION):
        ms = []
        for i in range(vlen):
            mn, mt, off = struct.unpack_from(e + "III", data, p + 12 * i)
            bits, bsz = (off & 0xFFFFFF, off >> 24) if kflag else (off, 0)
            ms.append(Member(name_at(mn, p) if mn else "", mt, bits, bsz))
        t.members = tuple(ms)
    elif kind == Kind.ENUM:
        fmt = e + ("Ii" if kflag else "II")
        t.enumerators = tuple(Enumerator(name_at(n, p), v) for n, v in
                              (struct.unpack_from(fmt, data, p + 8 * i) for i in range(vlen)))
    elif kind == Kind.ENUM64:
        vals = []
        for i in range(vlen):
            n, lo, hi = struct.unpack_from(e + "III", data, p + 12 * i)
            v = (hi << 32) | lo
            if kflag and v >> 63:
                v -= 1 << 64
            vals.append(Enumerator(name_at(n, p), v))
        t.enumerators = tuple(vals)
    elif kind == Kind.FUNC_PROTO:
        t.params = tuple(Param(name_at(n, p) if n else "", ty) for n, ty in
                         (struct.unpack_from(e + "II", data, p + 8 * i) for i in range(vlen)))
    elif kind == Kind.FUNC:
        t.linkage = vlen
    elif kind == Kind.VAR:
        (t.linkage,) = struct.unpack_from(e + "I", data, p)
    elif kind == Kind.DATASEC:
        t.secinfos = tuple(VarSecinfo(*struct.unpack_from(e + "III", data, p + 12 * i))
                           for i in range(vlen))
    elif kind == Kind.DECL_TAG:
        (t.component_idx,) = struct.unpack_from(e + "i", data, p)
    return t
