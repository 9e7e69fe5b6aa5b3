"""The BTF type model: kinds, one ``Type`` record per type id, and the ``BTF`` container.

Types refer to each other by id (``type_id``); the container resolves ids lazily, so a
5 MB kernel BTF is only decoded where it is used.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterator
from enum import IntEnum

from .._record import simple_enum
from ..errors import BTFError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@simple_enum(IntEnum)
class Kind:
    """BTF_KIND_* values."""

    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


# kind numbers as plain ints: IntEnum member lookups cost ~0.2 us each on hot paths
_K_ARRAY = int(Kind.ARRAY)
_K_CONST = int(Kind.CONST)
_K_DATASEC = int(Kind.DATASEC)
_K_ENUM = int(Kind.ENUM)
_K_ENUM64 = int(Kind.ENUM64)
_K_FLOAT = int(Kind.FLOAT)
_K_FUNC_PROTO = int(Kind.FUNC_PROTO)
_K_FWD = int(Kind.FWD)
_K_INT = int(Kind.INT)
_K_PTR = int(Kind.PTR)
_K_RESTRICT = int(Kind.RESTRICT)
_K_STRUCT = int(Kind.STRUCT)
_K_TYPEDEF = int(Kind.TYPEDEF)
_K_TYPE_TAG = int(Kind.TYPE_TAG)
_K_UNION = int(Kind.UNION)
_K_UNKN = int(Kind.UNKN)
_K_VAR = int(Kind.VAR)
_K_VOLATILE = int(Kind.VOLATILE)

MODIFIERS = frozenset({_K_VOLATILE, _K_CONST, _K_RESTRICT, _K_TYPE_TAG})
COMPOSITES = frozenset({_K_STRUCT, _K_UNION})
ENUMS = frozenset({_K_ENUM, _K_ENUM64})

MAX_CHAIN = 64   # longer typedef/modifier/nesting chains are cycles in corrupt BTF

# BTF_INT_ENCODING bits
INT_SIGNED = 1 << 0
INT_CHAR = 1 << 1
INT_BOOL = 1 << 2

# FUNC linkage / VAR linkage
LINKAGE_STATIC = 0
LINKAGE_GLOBAL = 1
LINKAGE_EXTERN = 2


# (collections.namedtuple: typing.NamedTuple would import typing at start-up, ~3 ms)
class Member(namedtuple("Member", "name type_id bit_offset bitfield_size", defaults=(0,))):
    """A struct/union member: name (str), type_id, ``bit_offset`` from the start of the
    composite, ``bitfield_size`` (0: not a bitfield)."""

    __slots__ = ()


class Enumerator(namedtuple("Enumerator", "name value")):
    """An enum value: name (str), value (int)."""

    __slots__ = ()


class Param(namedtuple("Param", "name type_id")):
    """A FUNC_PROTO parameter: name (str, may be empty), type_id."""

    __slots__ = ()


class VarSecinfo(namedtuple("VarSecinfo", "type_id offset size")):
    """One variable of a DATASEC: its VAR type_id, byte offset and size."""

    __slots__ = ()


_TYPE_FIELDS = ("id", "kind", "name", "size", "type_id", "kflag", "int_encoding", "int_offset",
                "int_bits", "elem_type_id", "index_type_id", "nelems", "members", "enumerators",
                "params", "secinfos", "linkage", "component_idx")


class Type:
    """One BTF type. Fields beyond ``id/kind/name`` are meaningful per kind (see comments).

    A plain slotted class (not a dataclass: this module is on every tool's start-up path).
    """

    __slots__ = _TYPE_FIELDS

    def __init__(self, id: int, kind: Kind, name: str = "",  # noqa: A002 - BTF's word
                 size: int = 0,           # INT STRUCT UNION ENUM ENUM64 DATASEC FLOAT
                 type_id: int = 0,        # PTR TYPEDEF modifiers FUNC(proto) FUNC_PROTO(ret) VAR DECL_TAG
                 kflag: bool = False,     # STRUCT/UNION: bitfield encoding; FWD: union; ENUM*: signed
                 int_encoding: int = 0, int_offset: int = 0, int_bits: int = 0,        # INT
                 elem_type_id: int = 0, index_type_id: int = 0, nelems: int = 0,       # ARRAY
                 members: tuple[Member, ...] = (),           # STRUCT UNION
                 enumerators: tuple[Enumerator, ...] = (),   # ENUM ENUM64
                 params: tuple[Param, ...] = (),             # FUNC_PROTO
                 secinfos: tuple[VarSecinfo, ...] = (),      # DATASEC
                 linkage: int = 0,                           # FUNC VAR
                 component_idx: int = -1) -> None:           # DECL_TAG (-1: the type itself)
        self.id, self.kind, self.name, self.size, self.type_id = id, kind, name, size, type_id
        self.kflag, self.int_encoding, self.int_offset = kflag, int_encoding, int_offset
        self.int_bits, self.elem_type_id, self.index_type_id = int_bits, elem_type_id, index_type_id
        self.nelems, self.members, self.enumerators = nelems, members, enumerators
        self.params, self.secinfos, self.linkage = params, secinfos, linkage
        self.component_idx = component_idx

    def _fields(self) -> tuple:
        return tuple(getattr(self, f) for f in _TYPE_FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable, like the dataclass it replaces

    @property
    def is_modifier(self) -> bool:
        return self.kind in MODIFIERS

    @property
    def vlen(self) -> int:
        return len(self.members or self.enumerators or self.params or self.secinfos)

    def __repr__(self) -> str:
        return f"<BTF {self.kind.name} [{self.id}] {self.name!r}>"


VOID = Type(0, Kind.UNKN, "void")


class BTF:
    """A set of BTF types with a string table; ``base`` is set for split BTF (modules).

    ``_decode(id) -> Type`` decodes one local type on demand; ``_names`` maps a name to
    the local ids carrying it (small BTF, built by the parser); ``_lookup(name)`` finds them
    in large BTF.
    """

    def __init__(self, strings: bytes, count: int | None, _decode: Callable[[int], Type],
                 _names: dict[str, list[int]] | None, base: BTF | None = None,
                 endian: str = "<", raw: bytes = b"", _t0: int = 0,
                 _lookup: Callable[[str], list[int]] | None = None, index: Any = None) -> None:
        self.strings = strings
        self._count = count                 # local types (excluding base); None: ask index
        self._decode = _decode              # local id -> Type (IndexError past the last)
        self._names = _names
        self.base = base
        self.endian = endian
        self.raw = raw                      # the raw blob this was parsed from
        self._cache: dict[int, Type] = {}
        self._t0 = _t0                      # byte offset of the type section in raw
        self._lookup = _lookup
        self.index = index                  # parse.Index or LazyIndex (a disk cache stores it)
        self._offsets: Any = None
        self.name = ""                      # "vmlinux" or a module's name, for messages

    @property
    def count(self) -> int:
        """Number of local types (for lazily scanned BTF: the whole blob gets scanned)."""
        if self._count is None:
            self._count = self.index.count
        return self._count

    @property
    def _words(self) -> Any:
        """Word offset of each local type from ``_t0`` (None where not parsed from a blob)."""
        return self.index.words if self.index is not None else None

    @property
    def offsets(self) -> Any:
        """Byte offset of each local type in ``raw`` (computed on first use)."""
        if self._offsets is None and self._words is not None:
            from array import array
            t0 = self._t0
            self._offsets = array("I", [t0 + 4 * w for w in self._words])
        return self._offsets

    def __repr__(self) -> str:
        return f"<BTF {self.count} types{' (split)' if self.base else ''}>"

    @property
    def start_id(self) -> int:
        """First local type id (1 for base BTF, base's end for split BTF)."""
        return self.base.end_id if self.base else 1

    @property
    def end_id(self) -> int:
        """One past the last type id."""
        return self.start_id + self.count

    def __len__(self) -> int:
        return self.end_id

    def __getitem__(self, type_id: int) -> Type:
        t = self._cache.get(type_id)
        if t is not None:
            return t
        if type_id == 0:
            return VOID
        start = self.base.end_id if self.base is not None else 1
        if type_id < start:
            if self.base is not None and type_id > 0:
                return self.base[type_id]
        else:
            try:
                t = self._cache[type_id] = self._decode(type_id)
                return t
            except IndexError:
                pass
        raise BTFError(f"BTF type id {type_id} out of range (1..{self.end_id - 1})")

    def __iter__(self) -> Iterator[Type]:
        """Local types in id order (not the base's)."""
        for i in range(self.start_id, self.end_id):
            yield self[i]

    def string(self, offset: int) -> str:
        """The string at ``offset`` of the string table (split BTF: base strings first)."""
        if self.base is not None:
            nbase = len(self.base.strings)
            if offset < nbase:
                return self.base.string(offset)
            offset -= nbase
        if not 0 <= offset < len(self.strings):
            raise BTFError(f"BTF string offset {offset} out of range")
        end = self.strings.find(b"\0", offset)
        return self.strings[offset:end if end >= 0 else None].decode("utf-8", "replace")

    def ids_by_name(self, name: str) -> list[int]:
        """Every type id (base first, then local) whose name is ``name``."""
        ids = self.base.ids_by_name(name) if self.base else []
        if self._lookup is not None:
            return ids + self._lookup(name)
        return ids + (self._names or {}).get(name, [])

    def find(self, name: str, kind: Kind | None = None) -> Type:
        """The first type named ``name`` (of ``kind`` if given); BTFError if none."""
        for i in self.ids_by_name(name):
            t = self[i]
            if kind is None or t.kind == kind:
                return t
        what = f"{kind.name.lower()} {name}" if kind is not None else name
        raise BTFError(f"no BTF type {what!r}")

    def find_all(self, name: str, kind: Kind | None = None) -> list[Type]:
        return [t for t in (self[i] for i in self.ids_by_name(name))
                if kind is None or t.kind == kind]

    def names(self) -> Iterator[str]:
        if self.base:
            yield from self.base.names()
        if self._names is not None:
            yield from self._names
        else:
            yield from {t.name for t in self if t.name}

    def skip_modifiers(self, type_id: int) -> Type:
        """Follow CONST/VOLATILE/RESTRICT/TYPE_TAG (not typedefs)."""
        t = self[type_id]
        for _ in range(MAX_CHAIN):
            if t.kind not in MODIFIERS:
                return t
            t = self[t.type_id]
        raise BTFError(f"BTF type [{type_id}]: modifier chain loops or is too long")

    def resolve(self, type_id: int) -> Type:
        """Follow modifiers and typedefs to the underlying type."""
        t = self[type_id]
        for _ in range(MAX_CHAIN):
            if t.kind not in MODIFIERS and t.kind != _K_TYPEDEF:
                return t
            t = self[t.type_id]
        raise BTFError(f"BTF type [{type_id}]: typedef/modifier chain loops or is too long")

    def size_of(self, type_id: int, _depth: int = 0) -> int:
        """Byte size of a type (arrays multiplied out, pointers 8)."""
        if _depth > MAX_CHAIN:
            raise BTFError(f"BTF type [{type_id}]: nested too deeply (a cycle?)")
        t = self.resolve(type_id)
        if t.kind == _K_PTR:
            return 8
        if t.kind == _K_ARRAY:
            return t.nelems * self.size_of(t.elem_type_id, _depth + 1)
        if t.kind in (_K_INT, _K_STRUCT, _K_UNION, _K_ENUM, _K_ENUM64, _K_FLOAT,
                      _K_DATASEC):
            return t.size
        if t.kind == _K_VAR:
            return self.size_of(t.type_id, _depth + 1)
        raise BTFError(f"type [{t.id}] {t.kind.name} has no size")

    def align_of(self, type_id: int, _depth: int = 0) -> int:
        if _depth > MAX_CHAIN:
            raise BTFError(f"BTF type [{type_id}]: nested too deeply (a cycle?)")
        t = self.resolve(type_id)
        if t.kind == _K_PTR:
            return 8
        if t.kind == _K_ARRAY:
            return self.align_of(t.elem_type_id, _depth + 1)
        if t.kind in COMPOSITES:
            return max((self.align_of(m.type_id, _depth + 1) for m in t.members
                        if not m.bitfield_size), default=1)
        return min(max(t.size, 1), 8)

    def type_name(self, type_id: int, _depth: int = 0) -> str:
        """A C-like spelling of a type, for messages (``struct task_struct *``)."""
        if _depth > MAX_CHAIN:
            return "..."
        t = self[type_id]
        k = t.kind
        if k == _K_UNKN:
            return "void"
        if k in MODIFIERS:
            return f"{k.name.lower()} {self.type_name(t.type_id, _depth + 1)}"
        if k == _K_PTR:
            return f"{self.type_name(t.type_id, _depth + 1)} *"
        if k == _K_ARRAY:
            return f"{self.type_name(t.elem_type_id, _depth + 1)}[{t.nelems}]"
        if k in COMPOSITES:
            return f"{k.name.lower()} {t.name or '(anon)'}"
        if k in ENUMS:
            return f"enum {t.name or '(anon)'}"
        if k == _K_FWD:
            return f"{'union' if t.kflag else 'struct'} {t.name}"
        if k == _K_FUNC_PROTO:
            return "func_proto"
        return t.name or k.name.lower()
