"""A tiny in-memory BTF builder for codec tests (types made directly, no blob parsing)."""

from __future__ import annotations

from pybpf.btf.types import (
    BTF,
    INT_BOOL,
    INT_SIGNED,
    Enumerator,
    Kind,
    Member,
    Type,
    VarSecinfo,
)


class Builder:
    """Add types, get ids back; ``build()`` returns a ``BTF`` over them."""

    def __init__(self, endian: str = "<") -> None:
        self.types: list[Type] = []
        self.endian = endian

    def add(self, **kw: object) -> int:
        tid = len(self.types) + 1
        self.types.append(Type(id=tid, **kw))  # type: ignore[arg-type]
        return tid

    def int(self, name: str, size: int, signed: bool = False, bool_: bool = False,
            bits: int | None = None, offset: int = 0) -> int:
        enc = (INT_SIGNED if signed else 0) | (INT_BOOL if bool_ else 0)
        return self.add(kind=Kind.INT, name=name, size=size, int_encoding=enc,
                        int_bits=size * 8 if bits is None else bits, int_offset=offset)

    def ptr(self, target: int = 0) -> int:
        return self.add(kind=Kind.PTR, type_id=target)

    def typedef(self, name: str, target: int) -> int:
        return self.add(kind=Kind.TYPEDEF, name=name, type_id=target)

    def const(self, target: int) -> int:
        return self.add(kind=Kind.CONST, type_id=target)

    def volatile(self, target: int) -> int:
        return self.add(kind=Kind.VOLATILE, type_id=target)

    def array(self, elem: int, n: int) -> int:
        return self.add(kind=Kind.ARRAY, elem_type_id=elem, index_type_id=0, nelems=n)

    def float(self, name: str, size: int) -> int:
        return self.add(kind=Kind.FLOAT, name=name, size=size)

    def enum(self, name: str, size: int, values: dict[str, int], signed: bool = False,
             kind: Kind = Kind.ENUM) -> int:
        return self.add(kind=kind, name=name, size=size, kflag=signed,
                        enumerators=tuple(Enumerator(n, v) for n, v in values.items()))

    def struct(self, name: str, size: int, members: list[tuple], kflag: bool = False,
               union: bool = False) -> int:
        """members: (name, type_id, bit_offset[, bitfield_size])."""
        ms = tuple(Member(m[0], m[1], m[2], m[3] if len(m) > 3 else 0) for m in members)
        return self.add(kind=Kind.UNION if union else Kind.STRUCT, name=name, size=size,
                        members=ms, kflag=kflag)

    def union(self, name: str, size: int, members: list[tuple], kflag: bool = False) -> int:
        return self.struct(name, size, members, kflag, union=True)

    def var(self, name: str, target: int) -> int:
        return self.add(kind=Kind.VAR, name=name, type_id=target, linkage=1)

    def datasec(self, name: str, size: int, vars_: list[tuple[int, int, int]]) -> int:
        return self.add(kind=Kind.DATASEC, name=name, size=size,
                        secinfos=tuple(VarSecinfo(*v) for v in vars_))

    def func_proto(self) -> int:
        return self.add(kind=Kind.FUNC_PROTO)

    def fwd(self, name: str) -> int:
        return self.add(kind=Kind.FWD, name=name)

    def build(self) -> BTF:
        types = list(self.types)
        names: dict[str, list[int]] = {}
        for t in types:
            if t.name:
                names.setdefault(t.name, []).append(t.id)
        return BTF(strings=b"\0", count=len(types), _decode=lambda i: types[i - 1],
                   _names=names, endian=self.endian)


def common(b: Builder) -> dict[str, int]:
    """The usual C base types."""
    return {
        "u8": b.int("unsigned char", 1), "s8": b.int("signed char", 1, signed=True),
        "char": b.int("char", 1, signed=True), "u16": b.int("unsigned short", 2),
        "s16": b.int("short", 2, signed=True), "u32": b.int("unsigned int", 4),
        "s32": b.int("int", 4, signed=True), "u64": b.int("unsigned long long", 8),
        "s64": b.int("long long", 8, signed=True), "bool": b.int("_Bool", 1, bool_=True),
    }


def encode(btf_types: list[Type], endian: str = "<") -> bytes:
    """Raw BTF (header, types, strings) for ``btf_types``, loadable by the kernel.

    Arrays without an index type get an ``__ARRAY_SIZE_TYPE__`` int appended.
    """
    import struct as _s

    types = list(btf_types)
    idx_id = 0
    if any(t.kind == Kind.ARRAY and not t.index_type_id for t in types):
        idx_id = len(types) + 1
        types.append(Type(id=idx_id, kind=Kind.INT, name="__ARRAY_SIZE_TYPE__", size=4,
                          int_bits=32))
    strings = bytearray(b"\0")
    offsets: dict[str, int] = {"": 0}

    def name(n: str) -> int:
        if n not in offsets:
            offsets[n] = len(strings)
            strings.extend(n.encode() + b"\0")
        return offsets[n]

    e = endian
    out = bytearray()
    for t in types:
        k = t.kind
        vlen = t.vlen
        size_or_type = t.size if k in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64,
                                       Kind.DATASEC, Kind.FLOAT) else t.type_id
        out += _s.pack(e + "III", name(t.name), (int(t.kflag) << 31) | (int(k) << 24) | vlen,
                       size_or_type)
        if k == Kind.INT:
            out += _s.pack(e + "I", (t.int_encoding << 24) | (t.int_offset << 16) | t.int_bits)
        elif k == Kind.ARRAY:
            out += _s.pack(e + "III", t.elem_type_id, t.index_type_id or idx_id, t.nelems)
        elif k in (Kind.STRUCT, Kind.UNION):
            for m in t.members:
                off = (m.bitfield_size << 24 | m.bit_offset) if t.kflag else m.bit_offset
                out += _s.pack(e + "III", name(m.name), m.type_id, off)
        elif k == Kind.ENUM:
            for en in t.enumerators:
                out += _s.pack(e + "Ii", name(en.name), en.value)
        elif k == Kind.ENUM64:
            for en in t.enumerators:
                v = en.value & ((1 << 64) - 1)
                out += _s.pack(e + "III", name(en.name), v & 0xFFFFFFFF, v >> 32)
        elif k == Kind.FUNC_PROTO:
            for p in t.params:
                out += _s.pack(e + "II", name(p.name), p.type_id)
        elif k == Kind.VAR:
            out += _s.pack(e + "I", t.linkage)
        elif k == Kind.DATASEC:
            for vi in t.secinfos:
                out += _s.pack(e + "III", vi.type_id, vi.offset, vi.size)
        elif k == Kind.DECL_TAG:
            out += _s.pack(e + "i", t.component_idx)
    hdr = _s.pack(e + "HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(out), len(out), len(strings))
    return hdr + bytes(out) + bytes(strings)


Builder.encode = lambda self: encode(self.types, self.endian)  # type: ignore[attr-defined]
