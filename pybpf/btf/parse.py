"""Raw BTF bytes -> BTF: one pass indexes type offsets and names; types decode lazily."""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left

from ..errors import BTFError
from .types import BTF, Enumerator, Kind, Member, Param, Type, VarSecinfo

MAGIC = 0xEB9F
_EXTRA = {  # bytes that follow the 12-byte btf_type, per kind: (fixed, per-vlen)
    Kind.INT: (4, 0), Kind.ARRAY: (12, 0), Kind.STRUCT: (0, 12), Kind.UNION: (0, 12),
    Kind.ENUM: (0, 8), Kind.FUNC_PROTO: (0, 8), Kind.VAR: (4, 0), Kind.DATASEC: (0, 12),
    Kind.DECL_TAG: (4, 0), Kind.ENUM64: (0, 12),
}


# (fixed, per-vlen) extra bytes after the 12-byte header, indexed by kind number
_FIXED = [_EXTRA.get(Kind(k), (0, 0))[0] for k in range(len(Kind))]
_PER = [_EXTRA.get(Kind(k), (0, 0))[1] for k in range(len(Kind))]
_KINDS = tuple(Kind)
# above this many types, names are looked up through a sorted index instead of a dict
_DICT_LIMIT = 20000


class Index:
    """Flat arrays locating every type: what a disk cache stores for the kernel's BTF.

    ``offsets[i]``: byte offset of local type i in the blob; ``name_offs`` sorted ascending
    with ``name_ids`` the matching type ids (bisect finds the types carrying a string).
    """

    __slots__ = ("offsets", "name_offs", "name_ids")

    def __init__(self, offsets: array, name_offs: array, name_ids: array) -> None:
        self.offsets, self.name_offs, self.name_ids = offsets, name_offs, name_ids


def _header(data: bytes) -> tuple[str, int, int, int, int]:
    """(endianness, type start, type end, string start, string length), validated."""
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
    return e, t0, t0 + type_len, s0, str_len


def build_index(data: bytes, first_id: int = 1) -> Index:
    """One pass over the type section (the only O(types) work a parse does)."""
    e, pos, end, _s0, _sl = _header(data)
    offsets, noffs = array("I"), array("I")
    put, nput = offsets.append, noffs.append
    unpack = struct.Struct(e + "II").unpack_from
    fixed, per = _FIXED, _PER
    nkinds = len(fixed)
    try:
        while pos < end:
            name_off, info = unpack(data, pos)
            kind = (info >> 24) & 0x1F
            if kind >= nkinds:
                raise BTFError(f"unknown BTF kind {kind}", offset=pos)
            put(pos)
            nput(name_off)
            pos += 12 + fixed[kind] + per[kind] * (info & 0xFFFF)
    except struct.error:
        raise BTFError("truncated BTF type", offset=pos) from None
    if pos != end:
        raise BTFError("BTF type section does not end on a type boundary", offset=pos)
    order = sorted(range(len(noffs)), key=noffs.__getitem__)
    name_offs = array("I", (noffs[i] for i in order))
    name_ids = array("I", (first_id + i for i in order))
    return Index(offsets, name_offs, name_ids)


def parse_btf(data: bytes, base: BTF | None = None, index: Index | None = None) -> BTF:
    """Parse a BTF blob (either endianness); ``base`` for split BTF (kernel modules).

    ``index`` (from :func:`build_index`, e.g. a disk cache) skips the scan of the types.
    """
    e, _t0, _end, s0, str_len = _header(data)
    strings = bytes(data[s0:s0 + str_len])
    str_base = len(base.strings) if base is not None else 0
    first_id = base.end_id if base is not None else 1
    if index is None:
        index = build_index(data, first_id)
    offsets = index.offsets
    if len(index.name_offs) != len(offsets) or (offsets and offsets[-1] >= len(data)):
        raise BTFError("BTF index does not match the blob", offset=0)
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

    def lookup(name: str) -> list[int]:
        """Local ids named ``name``: find the string, then bisect the name index."""
        needle = b"\0" + name.encode() + b"\0"
        ids: list[int] = []
        pos = strings.find(needle)
        while pos >= 0:
            off = pos + 1 + str_base
            i = bisect_left(index.name_offs, off)
            while i < len(index.name_offs) and index.name_offs[i] == off:
                ids.append(index.name_ids[i])
                i += 1
            pos = strings.find(needle, pos + 1)
        return sorted(ids)

    names: dict[str, list[int]] | None = None
    if len(offsets) <= _DICT_LIMIT:
        names = {}
        for off, tid in zip(index.name_offs, index.name_ids, strict=True):
            if off:
                names.setdefault(name_at(off, 0), []).append(tid)
        for ids in names.values():
            ids.sort()

    btf: BTF

    def decode(tid: int) -> Type:
        return _decode(data, offsets[tid - first_id], tid, e, name_at, btf)

    btf = BTF(strings=strings, count=len(offsets), _decode=decode, _names=names, base=base,
              endian=e, raw=bytes(data), offsets=offsets,
              _lookup=None if names is not None else lookup, index=index)
    return btf


_S = {e: (struct.Struct(e + "III"), struct.Struct(e + "I"), struct.Struct(e + "i"))
      for e in "<>"}


def _decode(data: bytes, pos: int, tid: int, e: str, name_at, btf: BTF) -> Type:  # noqa: ANN001
    s3, s1, si = _S[e]
    name_off, info, st = s3.unpack_from(data, pos)
    kind = _KINDS[(info >> 24) & 0x1F]
    vlen, kflag = info & 0xFFFF, bool(info >> 31)
    name = name_at(name_off, pos) if name_off else ""
    p = pos + 12
    t = Type(tid, kind, name, kflag=kflag)
    if kind in _SIZED:
        t.size = st
    else:
        t.type_id = st
    if kind == Kind.INT:
        (v,) = s1.unpack_from(data, p)
        t.int_encoding, t.int_offset, t.int_bits = (v >> 24) & 0xF, (v >> 16) & 0xFF, v & 0xFF
    elif kind == Kind.ARRAY:
        t.elem_type_id, t.index_type_id, t.nelems = s3.unpack_from(data, p)
    elif kind == Kind.STRUCT or kind == Kind.UNION:
        recs = s3.iter_unpack(data[p:p + 12 * vlen])
        if kflag:
            t.members = tuple([Member(name_at(mn, p) if mn else "", mt, off & 0xFFFFFF, off >> 24)
                               for mn, mt, off in recs])
        else:
            t.members = tuple([Member(name_at(mn, p) if mn else "", mt, off, 0)
                               for mn, mt, off in recs])
    elif kind == Kind.ENUM:
        fmt = e + ("Ii" if kflag else "II")
        t.enumerators = tuple([Enumerator(name_at(n, p), v) for n, v in
                               struct.iter_unpack(fmt, data[p:p + 8 * vlen])])
    elif kind == Kind.ENUM64:
        vals = []
        for n, lo, hi in s3.iter_unpack(data[p:p + 12 * vlen]):
            v = (hi << 32) | lo
            if kflag and v >> 63:
                v -= 1 << 64
            vals.append(Enumerator(name_at(n, p), v))
        t.enumerators = tuple(vals)
    elif kind == Kind.FUNC_PROTO:
        t.params = tuple([Param(name_at(n, p) if n else "", ty) for n, ty in
                          struct.iter_unpack(e + "II", data[p:p + 8 * vlen])])
    elif kind == Kind.FUNC:
        t.linkage = vlen
    elif kind == Kind.VAR:
        (t.linkage,) = s1.unpack_from(data, p)
    elif kind == Kind.DATASEC:
        t.secinfos = tuple([VarSecinfo(*r) for r in s3.iter_unpack(data[p:p + 12 * vlen])])
    elif kind == Kind.DECL_TAG:
        (t.component_idx,) = si.unpack_from(data, p)
    return t


_SIZED = frozenset({Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.DATASEC,
                    Kind.FLOAT})
