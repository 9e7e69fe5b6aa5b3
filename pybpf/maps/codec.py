"""BTF type -> compiled decoder/encoder for map keys, values and ring-buffer records.

``codec_for(btf, type_id, size)`` returns a :class:`Codec`. Decoding is compiled once per
type: the scalar layout of a struct is flattened into one ``struct.Struct`` (one
``unpack_from`` per record; a union adds a second layer for its overlapping members) and a
specialised Python function, generated with ``exec``, arranges the unpacked tuple into
records. Encoding walks a tree of small closures built once per type.

Decoded shapes:

* integers, pointers -> ``int``; ``bool`` -> ``bool``; float/double -> ``float``
* enums -> :class:`EnumValue` (an ``int`` with ``.name``); values no enumerator names
  stay plain ``int``
* ``char[N]`` -> a C string: the bytes up to the first NUL decoded as UTF-8 (``str``).
  Where those bytes are not valid UTF-8 the whole array is returned as ``bytes`` with
  trailing NULs stripped, so nothing is lost. Bytes after the first NUL of a valid string
  (stale data in a reused buffer) are ignored.
* ``unsigned char[N]`` / ``u8[N]`` (one-byte unsigned ints) -> ``bytes`` (all N bytes)
* other arrays -> ``tuple``
* struct/union -> a :class:`Record` (a tuple subclass, one class per BTF type) with
  attribute access, ``_asdict()``, ``_replace()``; members of anonymous nested
  structs/unions are flattened into the parent, as C spells them. A union decodes every
  member from the same bytes.
* no BTF (or type id 0): ``int`` for sizes 1/2/4/8, ``bytes`` otherwise.

Encoding accepts those shapes back plus dicts (missing fields are zero), tuples/lists
(positional; shorter is zero-filled), ``str`` or bytes for char arrays (NUL padded), enum
names as ``str``, and bytes of exactly the type's size for any type (raw). A union written
from a record or tuple writes every member, the first one last (so it wins, as in a C
initializer); from a dict only the members given.
"""

from __future__ import annotations

import gc
import operator
import struct
import sys
import weakref
from collections.abc import Callable, Iterable, Mapping

from .._log import DEBUG, WARNING, get_logger
from ..btf.types import BTF, INT_BOOL, INT_CHAR, INT_SIGNED, Kind, Type
from ..errors import BTFError, MapError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:  # the C accessor namedtuple uses; fall back to a property where absent
    from _collections import _tuplegetter
except ImportError:  # pragma: no cover - other Pythons
    def _tuplegetter(index: int, doc: str | None) -> Any:  # type: ignore[misc]
        return property(operator.itemgetter(index), doc=doc)

log = get_logger("pybpf.maps")

__all__ = ["Codec", "EnumValue", "Record", "codec_for", "paused_gc", "raw_codec", "text_value",
           "type_size"]

MAX_SIZE = 1 << 28          # refuse to build codecs for types larger than this
_MAX_DEPTH = 64             # nesting depth of composites/arrays
_UNROLL = 512               # leaves an unrolled array of structs may produce
_MAX_LAYER_VALUES = 240     # above this, index the unpacked tuple instead of unpacking it
_GC_PAUSE = 256             # decode_many of at least this many values pauses the cyclic GC

_BYTES_LIKE = (bytes, bytearray, memoryview)


# ---------------------------------------------------------------- decoded value types

class Record(tuple):
    """Base of the generated struct/union record classes: a tuple with named fields."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()
    _btf_name: str = ""

    def _asdict(self) -> dict[str, Any]:
        """Fields as a dict, nested records (also inside tuples) converted too."""
        return {name: _plain(v) for name, v in zip(self._fields, self, strict=False)}

    def _replace(self, **changes: Any) -> Record:
        unknown = set(changes) - set(self._fields)
        if unknown:
            raise MapError(f"{self._btf_name}: no field {', '.join(sorted(unknown))} "
                           f"(fields: {', '.join(self._fields)})")
        return type(self)(changes.get(n, v) for n, v in zip(self._fields, self, strict=False))

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Record:
        return cls(iterable)

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={v!r}" for n, v in zip(self._fields, self, strict=False))
        return f"{type(self).__name__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        # generated classes cannot be found by name: rebuild an equivalent one on load
        return (_rebuild_record, (type(self).__name__, self._fields, tuple(self)))


_rebuilt: dict[tuple[str, tuple[str, ...]], type[Record]] = {}


def _rebuild_record(name: str, fields: tuple[str, ...], values: tuple[Any, ...]) -> Record:
    """Unpickle a record: a Record class with the same name and fields (cached)."""
    cls = _rebuilt.get((name, fields))
    if cls is None:
        ns: dict[str, Any] = {"__slots__": (), "_fields": fields, "_btf_name": name}
        ns.update({f: _tuplegetter(i, None) for i, f in enumerate(fields) if f not in _RESERVED})
        cls = _rebuilt[(name, fields)] = type(name, (Record,), ns)
    return cls(values)


def _plain(v: Any) -> Any:
    if isinstance(v, Record):
        return v._asdict()
    if type(v) is tuple and v and isinstance(v[0], (Record, tuple)):
        return tuple(_plain(x) for x in v)
    return v


class EnumValue(int):
    """A decoded enum value: an ``int`` that knows its enumerator ``name``.

    ``str()`` gives the name, ``repr()`` ``<enum_name.NAME: value>``; it compares and
    hashes as the int.
    """

    enum_name = ""

    @property
    def value(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"<{self.enum_name}.{self.name}: {int(self)}>"

    def __str__(self) -> str:
        return self.name

    __format__ = int.__format__

    def __reduce__(self) -> tuple[Any, ...]:
        return (int, (int(self),))


class paused_gc:  # noqa: N801 - used as a context manager function
    """``with paused_gc():`` pauses the cyclic GC while building many acyclic objects
    (no-op if it is off). A class: contextlib costs start-up ~0.5 ms."""

    __slots__ = ("was_on",)

    def __enter__(self) -> None:
        self.was_on = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_on:
            gc.enable()


def text_value(raw: bytes) -> str | bytes:
    """Decode a ``char[]``: the UTF-8 string before the first NUL, else the stripped bytes."""
    try:
        return raw.partition(b"\0")[0].decode()
    except UnicodeDecodeError:
        return raw.rstrip(b"\0")


class _TextMemo(dict):  # type: ignore[type-arg]
    """``char[N]`` bytes -> ``text_value``, remembered: event strings repeat (comm names,
    paths), and a dict hit costs a fraction of splitting and decoding. Emptied when full."""

    __slots__ = ("limit",)

    def __init__(self, n: int) -> None:
        super().__init__()
        self.limit = max(64, min(4096, (1 << 20) // max(n, 1)))

    def __missing__(self, raw: bytes) -> str | bytes:
        if len(self) >= self.limit:
            self.clear()
        v = self[raw] = text_value(raw)
        return v


# ---------------------------------------------------------------- the codec object

class Codec:
    """Decoder/encoder for one type of ``size`` bytes.

    ``decode(buf, offset=0)`` reads one value from any buffer (bytes, memoryview, mmap,
    cffi buffer); ``decode_many(buf, count, stride=size)`` a packed array of them;
    ``encode(value) -> bytes``; ``encode_into(buf, value, offset=0)`` writes in place.
    ``decode`` and ``decode_many`` are plain function attributes (no method binding).
    """

    __slots__ = ("size", "name", "decode", "_many", "_encode", "_flat_fmt", "_cast",
                 "nleaves", "record", "_strides", "source", "__weakref__")

    def __init__(self, size: int, name: str, decode: Callable[..., Any],
                 encode: Callable[[Any, int, Any, str], None], *,
                 many: Callable[[Iterable[tuple[Any, ...]]], list[Any]] | None = None,
                 flat_fmt: str | None = None, nleaves: int = 1,
                 record: type[Record] | None = None, cast: str | None = None) -> None:
        self.size = size
        self.name = name
        self.decode = decode
        self._encode = encode
        self._many = many
        self._flat_fmt = flat_fmt          # single-layer struct format (no trailing pad)
        self.nleaves = nleaves
        self.record = record               # the record class for struct/union types
        self._strides: dict[int, struct.Struct] = {}
        self.source = ""                   # generated decoder source, for debugging
        # a plain number in host byte order: decode_many is memoryview.cast(fmt).tolist()
        self._cast = cast if cast and flat_fmt and flat_fmt[0] == _HOST else None

    def encode(self, value: Any) -> bytes:
        """The ``size`` bytes representing ``value``; MapError naming the field on misfit."""
        buf = bytearray(self.size)
        self._encode(buf, 0, value, self.name)
        return bytes(buf)

    def encode_into(self, buf: Any, value: Any, offset: int = 0) -> None:
        """Write ``value`` into the writable ``buf`` at ``offset`` (the region is zeroed)."""
        if offset < 0 or offset + self.size > len(buf):
            raise MapError(f"{self.name}: {self.size}-byte value does not fit a buffer of "
                           f"{len(buf)} bytes at offset {offset}")
        if isinstance(buf, (bytes, memoryview)) and (isinstance(buf, bytes) or buf.readonly):
            raise MapError(f"{self.name}: the buffer is read-only")
        scratch = bytearray(self.size)
        self._encode(scratch, 0, value, self.name)
        buf[offset:offset + self.size] = scratch

    def encode_many(self, values: Iterable[Any], stride: int | None = None) -> bytes:
        """Values packed at ``stride`` (default ``size``) bytes each."""
        stride = stride or self.size
        pad = bytes(stride - self.size)
        return b"".join(self.encode(v) + pad for v in values)

    def decode_many(self, buf: Any, count: int, stride: int | None = None,
                    offset: int = 0) -> list[Any]:
        """Decode ``count`` values laid out every ``stride`` bytes from ``offset``.

        Large batches run with the cyclic garbage collector paused: decoded values cannot
        form reference cycles, and collecting while thousands of fresh records pile up
        costs a third of the time.
        """
        if count >= _GC_PAUSE:
            with paused_gc():
                return self._decode_many(buf, count, stride, offset)
        return self._decode_many(buf, count, stride, offset)

    def _decode_many(self, buf: Any, count: int, stride: int | None, offset: int) -> list[Any]:
        stride = self.size if stride is None else stride
        if count <= 0:
            return []
        if stride == 0:                    # zero-size values: nothing to read
            v = self.decode(buf, offset)
            return [v] * count
        if stride < self.size:
            raise MapError(f"{self.name}: stride {stride} is smaller than the value size {self.size}")
        end = offset + count * stride
        try:
            mv = memoryview(buf)
        except TypeError:
            raise MapError(f"{self.name}: cannot decode from {type(buf).__name__}") from None
        if mv.ndim != 1 or mv.itemsize != 1:
            mv = mv.cast("B")
        if len(mv) < end:
            raise MapError(f"{self.name}: buffer of {len(mv)} bytes too short for {count} "
                           f"values of {stride} bytes at offset {offset}")
        if self._cast is not None and stride == self.size and offset % self.size == 0:
            try:
                return mv[offset:end].cast(self._cast).tolist()
            except TypeError:        # a read-only or oddly aligned buffer: take the slow way
                pass
        if self._many is not None and self._flat_fmt is not None:
            s = self._strides.get(stride)
            if s is None:
                s = self._strides[stride] = struct.Struct(
                    self._flat_fmt + (f"{stride - self.size}x" if stride > self.size else ""))
            return self._many(s.iter_unpack(mv[offset:end]))
        dec = self.decode
        return [dec(mv, o) for o in range(offset, end, stride)]

    def __repr__(self) -> str:
        return f"<Codec {self.name} ({self.size} bytes)>"


# ---------------------------------------------------------------- caches, entry points

class _BTFCache:
    __slots__ = ("codecs", "records", "enums")

    def __init__(self) -> None:
        self.codecs: dict[tuple[int, int], Codec] = {}
        self.records: dict[int, type[Record]] = {}
        self.enums: dict[int, tuple[dict[int, Any], dict[str, int]]] = {}


_caches: weakref.WeakKeyDictionary[BTF, _BTFCache] = weakref.WeakKeyDictionary()
_raw_cache: dict[tuple[int, str], Codec] = {}


def _cache_of(btf: BTF) -> _BTFCache:
    c = _caches.get(btf)
    if c is None:
        c = _caches[btf] = _BTFCache()
    return c


def codec_for(btf: BTF | None, type_id: int, size: int) -> Codec:
    """The (cached) codec for BTF type ``type_id`` of ``size`` bytes.

    Without BTF, or with type id 0, values are ints (sizes 1/2/4/8) or bytes. A BTF type
    whose size differs from ``size`` is not trusted: the raw codec is used, with a warning.
    """
    if btf is None or not type_id:
        return raw_codec(size)
    cache = _cache_of(btf)
    key = (type_id, size)
    c = cache.codecs.get(key)
    if c is not None:
        return c
    comp = _Compiler(btf, cache)
    tsize = comp.size_of(type_id)
    if tsize != size:
        # object-file DATASECs have size 0 until fixed up: their maps decode as raw bytes
        # (typed access goes through GlobalVars); anything else is worth a warning
        level = DEBUG if comp.resolve(type_id)[0].kind == Kind.DATASEC else WARNING
        log.log(level, "BTF type [%d] %s is %d bytes, not %d: decoding it as raw bytes",
                type_id, _safe_type_name(btf, type_id), tsize, size)
        c = raw_codec(size)
    else:
        c = _Compiler(btf, cache).build(type_id)
    cache.codecs[key] = c
    return c


def type_size(btf: BTF, type_id: int) -> int:
    """Byte size of a BTF type (loop-safe; BTFError for types without a size)."""
    return _Compiler(btf, _cache_of(btf)).size_of(type_id)


def raw_codec(size: int, endian: str = "<") -> Codec:
    """Codec without type information: int for sizes 1/2/4/8, bytes otherwise."""
    key = (size, endian)
    c = _raw_cache.get(key)
    if c is None:
        if size < 0 or size > MAX_SIZE:
            raise MapError(f"cannot build a codec for a {size}-byte value")
        c = _raw_cache[key] = _int_codec(size, False, endian, f"u{size * 8}") if size in _UFMT \
            else _bytes_codec(size)
    return c


def _safe_type_name(btf: BTF, type_id: int) -> str:
    try:
        return btf.type_name(type_id)
    except (BTFError, RecursionError):
        return f"type [{type_id}]"


_HOST = "<" if sys.byteorder == "little" else ">"
_UFMT = {1: "B", 2: "H", 4: "I", 8: "Q"}
_SFMT = {1: "b", 2: "h", 4: "i", 8: "q"}
_FFMT = {2: "e", 4: "f", 8: "d"}


def _int_codec(size: int, signed: bool, endian: str, name: str) -> Codec:
    s = struct.Struct(endian + (_SFMT if signed else _UFMT)[size])
    unpack = s.unpack_from

    def decode(buf: Any, offset: int = 0) -> int:
        try:
            return unpack(buf, offset)[0]
        except (struct.error, TypeError) as e:
            raise _short(name, size, buf, offset, e) from None

    fmt = (_SFMT if signed else _UFMT)[size]
    return Codec(size, name, decode, _int_encoder(size * 8, signed, size, endian, name),
                 many=_first_of_each, flat_fmt=endian + fmt, cast=fmt)


def _first_of_each(it: Iterable[tuple[Any, ...]]) -> list[Any]:
    return [t[0] for t in it]


def _bytes_codec(size: int) -> Codec:
    name = f"bytes[{size}]"

    def decode(buf: Any, offset: int = 0) -> bytes:
        try:
            mv = memoryview(buf)
        except TypeError as e:
            raise _short(name, size, buf, offset, e) from None
        if mv.ndim != 1 or mv.itemsize != 1:
            mv = mv.cast("B")
        if offset < 0 or offset + size > len(mv):
            raise _short(name, size, buf, offset, None)
        return bytes(mv[offset:offset + size])

    def encode(buf: Any, off: int, v: Any, path: str) -> None:
        if isinstance(v, int) and not isinstance(v, bool) and size <= 16:
            try:
                buf[off:off + size] = v.to_bytes(size, "little", signed=v < 0)
            except OverflowError:
                raise MapError(f"{path}: {v} does not fit {size} bytes") from None
            return
        _put_bytes(buf, off, v, size, path, name)

    return Codec(size, name, decode, encode, many=None, flat_fmt=None)


def _short(name: str, size: int, buf: Any, offset: int, e: Exception | None) -> MapError:
    try:
        n = len(memoryview(buf).cast("B"))
    except (TypeError, ValueError):
        return MapError(f"{name}: cannot decode from {type(buf).__name__}: {e}")
    return MapError(f"{name}: buffer of {n} bytes too short for a {size}-byte value "
                    f"at offset {offset}")


# ---------------------------------------------------------------- scalar encoders

def _int_encoder(bits: int, signed: bool, size: int, endian: str, tname: str,
                 enum_names: dict[str, int] | None = None) -> Callable[..., None]:
    s = struct.Struct(endian + _UFMT[size]) if size in _UFMT else None
    lo, hi, mask = -(1 << (bits - 1)) if bits else 0, 1 << bits, (1 << bits) - 1
    order = "little" if endian == "<" else "big"

    def encode(buf: Any, off: int, v: Any, path: str) -> None:
        iv = _as_int(v, path, tname, enum_names)
        if not lo <= iv < hi:
            raise MapError(f"{path}: {iv} out of range for {tname}")
        if s is not None:
            s.pack_into(buf, off, iv & mask)
        else:
            buf[off:off + size] = (iv & mask).to_bytes(size, order)

    return encode


def _as_int(v: Any, path: str, tname: str, enum_names: dict[str, int] | None) -> int:
    if isinstance(v, str) and enum_names is not None:
        try:
            return enum_names[v]
        except KeyError:
            raise MapError(f"{path}: {v!r} is not an enumerator of {tname} (known: "
                           f"{', '.join(list(enum_names)[:20])})") from None
    try:
        return operator.index(v)
    except TypeError:
        raise MapError(f"{path}: expected an integer for {tname}, got "
                       f"{type(v).__name__} {v!r:.40}") from None


def _put_bytes(buf: Any, off: int, v: Any, n: int, path: str, tname: str) -> None:
    if isinstance(v, str):
        raw = v.encode()
        if len(raw) > n:
            raise MapError(f"{path}: string of {len(raw)} bytes does not fit {tname}")
    elif isinstance(v, _BYTES_LIKE):
        raw = bytes(v)
        if len(raw) > n:
            raise MapError(f"{path}: {len(raw)} bytes do not fit {tname}")
    else:
        raise MapError(f"{path}: expected str or bytes for {tname}, got {type(v).__name__}")
    buf[off:off + len(raw)] = raw


# ---------------------------------------------------------------- the compiler

class _Leaf:
    """One ``struct`` item (or a run of them: ``nvals`` > 1 for arrays of scalars)."""

    __slots__ = ("off", "size", "fmt", "nvals", "slice")

    def __init__(self, off: int, size: int, fmt: str, nvals: int, slice_: bool) -> None:
        self.off, self.size, self.fmt, self.nvals, self.slice = off, size, fmt, nvals, slice_




class _Compiler:
    """Builds one codec: collects scalar leaves, generates the arranging code.

    Expressions refer to leaves through tokens ("\\0<n>\\0") that ``finish`` replaces by
    local names or tuple indexes/slices once the leaves are laid out in ``struct`` layers.
    """

    def __init__(self, btf: BTF, cache: _BTFCache, limit: int = 0, root_name: str = "",
                 active: set[int] | None = None, depth: int = 0) -> None:
        self.btf = btf
        self.cache = cache
        self.endian = btf.endian if btf.endian in ("<", ">") else "<"
        self.order = "little" if self.endian == "<" else "big"
        self.leaves: list[_Leaf] = []
        self.leaf_keys: dict[tuple[int, str], int] = {}
        self.stmts: list[str] = []
        self.env: dict[str, Any] = {"_from_bytes": int.from_bytes}
        self.nvar = 0
        self.needs_buf = False
        self.limit = limit
        self.root_name = root_name
        self.active: set[int] = active if active is not None else set()
        self.depth = depth

    # -- type helpers (loop- and cycle-safe) --

    def resolve(self, type_id: int) -> tuple[Type, str]:
        """Follow typedefs/modifiers; also return the first typedef name seen."""
        t = self.btf[type_id]
        alias = ""
        for _ in range(256):
            if t.kind == Kind.TYPEDEF:
                alias = alias or t.name
            elif t.kind not in (Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
                return t, alias
            t = self.btf[t.type_id]
        raise BTFError(f"type [{type_id}]: typedef/modifier chain too long (a loop?)")

    def size_of(self, type_id: int, depth: int = 0) -> int:
        if depth > _MAX_DEPTH:
            raise BTFError(f"type [{type_id}]: nesting too deep")
        t, _ = self.resolve(type_id)
        k = t.kind
        if k == Kind.PTR:
            return 8
        if k == Kind.ARRAY:
            n = t.nelems * self.size_of(t.elem_type_id, depth + 1)
        elif k in (Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT,
                   Kind.DATASEC):
            n = t.size
        elif k == Kind.VAR:
            n = self.size_of(t.type_id, depth + 1)
        else:
            raise BTFError(f"type [{t.id}] {k.name} has no size: it cannot be a map key or value")
        if n > MAX_SIZE or n < 0:
            raise MapError(f"type [{type_id}] is {n} bytes: too large to decode")
        return n

    # -- leaves, names --

    def leaf(self, off: int, size: int, fmt: str, nvals: int = 0) -> str:
        """Token for one value (``nvals`` 0) or a tuple of ``nvals`` values at ``off``."""
        if off < 0 or off + size > self.limit:
            raise BTFError(f"{self.root_name}: a field at bytes {off}..{off + size} lies "
                           f"outside the {self.limit}-byte type")
        key = (off, fmt if not nvals else f"[{fmt}]")
        i = self.leaf_keys.get(key)
        if i is None:
            i = self.leaf_keys[key] = len(self.leaves)
            self.leaves.append(_Leaf(off, size, fmt, nvals or 1, bool(nvals)))
        return f"\x00{i}\x00"

    def var(self) -> str:
        self.nvar += 1
        return f"_v{self.nvar}"

    def name_obj(self, prefix: str, obj: Any) -> str:
        name = f"_{prefix}{len(self.env)}"
        self.env[name] = obj
        return name

    def sub(self, limit: int) -> _Compiler:
        return _Compiler(self.btf, self.cache, limit, self.root_name, self.active, self.depth)

    # -- build --

    def build(self, type_id: int) -> Codec:
        self.limit = self.size_of(type_id)
        t, alias = self.resolve(type_id)
        self.root_name = name = _value_name(self.btf, t, alias)
        expr = self.expr(type_id, 0)
        encode = _Encoders(self).top(type_id)
        record = self.cache.records.get(t.id) if t.kind in (Kind.STRUCT, Kind.UNION) else None
        return self.finish(expr, encode, name, record)

    def finish(self, expr: str, encode: Callable[..., None], name: str,
               record: type[Record] | None) -> Codec:
        """Lay out the leaves, generate and compile ``decode`` (and ``many``)."""
        refs, unpack, flat_fmt = self._layout()

        def sub(s: str) -> str:        # tokens are "\0<n>\0": odd pieces of a split
            parts = s.split("\0")
            parts[1::2] = [refs[int(n)] for n in parts[1::2]]
            return "".join(parts)

        body = [line for s in self.stmts for line in sub(s).splitlines()]
        result = sub(expr)
        single = len(unpack) == 1 and not self.needs_buf and self.limit > 0
        src = _source(unpack, body, result, single)
        env = dict(self.env, _struct_error=struct.error, _short=_short, _name=name,
                   _size=self.limit)
        try:
            exec(compile(src, f"<pybpf codec {name}>", "exec"), env)  # noqa: S102 - generated
        except (SyntaxError, RecursionError, MemoryError) as e:
            raise BTFError(f"{name}: type too complex to compile a decoder ({e})") from None
        lf0 = self.leaves[0] if len(self.leaves) == 1 else None
        cast = (lf0.fmt if lf0 is not None and not self.stmts and result == refs[0]
                and lf0.off == 0 and lf0.size == self.limit and lf0.fmt in _CASTABLE else None)
        codec = Codec(self.limit, name, env["decode"], encode,
                      many=env["many"] if single else None,
                      flat_fmt=flat_fmt if single else None,
                      nleaves=sum(lf.nvals for lf in self.leaves) or 1, record=record, cast=cast)
        codec.source = src
        return codec

    def _layout(self) -> tuple[dict[int, str], list[tuple[str, str]], str]:
        """Per layer a ``Struct`` in ``env``; returns (leaf -> reference, unpack lines,
        the format of a single layer padded to the type size)."""
        layers = self._layers()
        refs: dict[int, str] = {}
        unpack: list[tuple[str, str]] = []
        flat_fmt = self.endian + (f"{self.limit}x" if self.limit else "")
        for li, leaves in enumerate(layers):
            fmt, pos, nvals = self.endian, 0, 0
            use_tuple = (any(self.leaves[i].slice for i in leaves)
                         or sum(self.leaves[i].nvals for i in leaves) > _MAX_LAYER_VALUES)
            names = []
            for i in leaves:
                lf = self.leaves[i]
                if lf.off > pos:
                    fmt += f"{lf.off - pos}x"
                fmt += lf.fmt
                pos = lf.off + lf.size
                if not use_tuple:
                    refs[i] = f"l{li}_{nvals}"
                    names.append(refs[i])
                elif not lf.slice:
                    refs[i] = f"t{li}[{nvals}]"
                else:
                    refs[i] = f"t{li}[{nvals}:{nvals + lf.nvals}]"
                nvals += lf.nvals
            self.env[f"_s{li}"] = struct.Struct(fmt).unpack_from
            flat_fmt = fmt + (f"{self.limit - pos}x" if self.limit > pos else "")
            target = f"t{li}" if use_tuple else ", ".join(names) + ("," if len(names) == 1 else "")
            unpack.append((target, f"_s{li}"))
        if not layers:       # nothing to read (empty struct, zero-length array): check the size
            self.env["_s0"] = struct.Struct(flat_fmt).unpack_from
            unpack.append(("_", "_s0"))
        return refs, unpack, flat_fmt

    def _layers(self) -> list[list[int]]:
        """Leaves (indexes) grouped into non-overlapping, offset-ordered layers."""
        order = sorted(range(len(self.leaves)), key=lambda i: (self.leaves[i].off, i))
        layers: list[list[int]] = []
        ends: list[int] = []
        for i in order:
            lf = self.leaves[i]
            for li, end in enumerate(ends):
                if end <= lf.off:
                    layers[li].append(i)
                    ends[li] = lf.off + lf.size
                    break
            else:
                layers.append([i])
                ends.append(lf.off + lf.size)
        return layers

    # -- expressions --

    def expr(self, type_id: int, off: int, alias: str = "") -> str:
        """A Python expression (with leaf tokens) decoding ``type_id`` at byte ``off``."""
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise BTFError(f"{self.root_name}: types nested too deeply")
        try:
            t, al = self.resolve(type_id)
            k = t.kind
            if k == Kind.INT:
                return self.int_expr(t, 0, t.int_bits, t.int_offset, off, t.size)
            if k == Kind.PTR:
                return self.leaf(off, 8, "Q")
            if k in (Kind.ENUM, Kind.ENUM64):
                return self.enum_expr(t, 0, t.size * 8, off, t.size)
            if k == Kind.FLOAT:
                f = _FFMT.get(t.size)
                return self.leaf(off, t.size, f) if f else self.leaf(off, t.size, f"{t.size}s")
            if k == Kind.ARRAY:
                return self.array_expr(t, off)
            if k in (Kind.STRUCT, Kind.UNION):
                return self.record_expr(t, off, al or alias)
            if k == Kind.DATASEC:
                return self.datasec_expr(t, off)
            if k == Kind.VAR:
                return self.expr(t.type_id, off)
            raise BTFError(f"{self.root_name}: {_safe_type_name(self.btf, t.id)} "
                           f"({k.name}) cannot be decoded as data")
        finally:
            self.depth -= 1

    def _ifmt(self, size: int, signed: bool) -> str:
        return (_SFMT if signed else _UFMT)[size] if size in _UFMT else f"{size}s"

    def int_expr(self, t: Type, bitoff: int, bits: int, extra: int, base: int, limit: int) -> str:
        """An INT ``bits`` wide at bit ``bitoff + extra`` of the record at byte ``base``
        (``limit`` bytes long); a plain int when byte aligned and full width."""
        _check_int(t, bits, extra, self.root_name)
        signed = bool(t.int_encoding & INT_SIGNED)
        is_bool = bool(t.int_encoding & INT_BOOL)
        bitoff += extra
        if bits == t.size * 8 and bitoff % 8 == 0:
            off = base + bitoff // 8
            if is_bool and t.size == 1:
                return self.leaf(off, 1, "?")
            tok = self.leaf(off, t.size, self._ifmt(t.size, signed))
            if t.size not in _UFMT:
                tok = f"_from_bytes({tok}, {self.order!r}, signed={signed})"
        else:
            tok = self.bitfield(bitoff, bits, signed, t.size, base, limit)
        return f"bool({tok})" if is_bool else tok

    def bitfield(self, bitoff: int, bits: int, signed: bool, tsize: int, base: int, limit: int) -> str:
        unit, width, shift = _bit_unit(bitoff, bits, tsize, limit, self.endian, self.root_name)
        if width in _UFMT:
            tok = self.leaf(base + unit, width, _UFMT[width])
        else:
            tok = f"_from_bytes({self.leaf(base + unit, width, f'{width}s')}, {self.order!r})"
        mask = (1 << bits) - 1
        v = f"(({tok} >> {shift}) & {mask:#x})" if shift else f"({tok} & {mask:#x})"
        if signed:
            sign = 1 << (bits - 1)
            v = f"(({v} ^ {sign:#x}) - {sign:#x})"
        return v

    def enum_map(self, t: Type) -> tuple[dict[int, Any], dict[str, int]]:
        return _enum_map(self.cache, t)

    def enum_expr(self, t: Type, bitoff: int, bits: int, base: int, limit: int) -> str:
        signed = bool(t.kflag)
        if t.size <= 0 or bits <= 0 or bits > t.size * 8:
            raise BTFError(f"{self.root_name}: enum [{t.id}] of {t.size} bytes read as {bits} bits")
        if bits == t.size * 8 and bitoff % 8 == 0:
            tok = self.leaf(base + bitoff // 8, t.size, self._ifmt(t.size, signed))
            if t.size not in _UFMT:
                tok = f"_from_bytes({tok}, {self.order!r}, signed={signed})"
        else:
            tok = self.bitfield(bitoff, bits, signed, t.size, base, limit)
        values, _ = self.enum_map(t)
        g = self.name_obj("eg", values.get)
        v = self.var()
        self.stmts.append(f"{v} = {tok}\n{v} = {g}({v}, {v})")
        return v

    def array_expr(self, t: Type, off: int) -> str:
        n = t.nelems
        et, _ = self.resolve(t.elem_type_id)
        esize = self.size_of(t.elem_type_id)
        if n == 0:
            return "''" if _is_char(et) else ("b''" if _is_byte(et) else "()")
        if _is_char(et):
            return f"{self.name_obj('tx', _TextMemo(n).__getitem__)}({self.leaf(off, n, f'{n}s')})"
        if _is_byte(et):
            return self.leaf(off, n, f"{n}s")
        scalar = self.scalar_fmt(et)
        if scalar is not None:
            fmt, post = scalar
            tok = self.leaf(off, n * esize, f"{n}{fmt}" if len(fmt) == 1 else fmt * n, n)
            return f"tuple(map({post}, {tok}))" if post else tok
        # composite elements: unroll when small, else call the element's own decoder
        probe = self.sub(esize)
        probe.expr(t.elem_type_id, 0)
        if n * max(len(probe.leaves), 1) <= _UNROLL:
            items = [self.expr(t.elem_type_id, off + i * esize) for i in range(n)]
            return "(" + ", ".join(items) + ("," if n == 1 else "") + ")"
        elem = self.sub(esize)
        ecodec = elem.finish(elem.expr(t.elem_type_id, 0), _no_encode, self.root_name, None)
        fn = self.name_obj("sub", ecodec.decode)
        self.needs_buf = True
        return f"tuple([{fn}(buf, off + {off} + _k * {esize}) for _k in range({n})])"

    def scalar_fmt(self, t: Type) -> tuple[str, str | None] | None:
        """(struct format, post-processing function name or None) for one-value types."""
        k = t.kind
        if k == Kind.INT and t.int_bits == t.size * 8 and not t.int_offset and t.size in _UFMT:
            if t.int_encoding & INT_BOOL:
                return ("?", None) if t.size == 1 else (_UFMT[t.size], "bool")
            return self._ifmt(t.size, bool(t.int_encoding & INT_SIGNED)), None
        if k == Kind.PTR:
            return "Q", None
        if k == Kind.FLOAT and t.size in _FFMT:
            return _FFMT[t.size], None
        if k in (Kind.ENUM, Kind.ENUM64) and t.size in _UFMT:
            values, _ = self.enum_map(t)
            g = values.get
            return self._ifmt(t.size, bool(t.kflag)), self.name_obj("ef", lambda v, g=g: g(v, v))
        if k == Kind.ARRAY and t.nelems:
            et, _ = self.resolve(t.elem_type_id)
            if _is_char(et):
                return f"{t.nelems}s", self.name_obj("tx", _TextMemo(t.nelems).__getitem__)
            if _is_byte(et):
                return f"{t.nelems}s", None
        return None

    def record_class(self, t: Type, alias: str, fields: list[str]) -> type[Record]:
        cls = self.cache.records.get(t.id)
        if cls is None:
            ns: dict[str, Any] = {"__slots__": (), "_fields": tuple(fields),
                                  "_btf_name": _value_name(self.btf, t, alias)}
            for i, f in enumerate(fields):
                if f not in _RESERVED:
                    ns[f] = _tuplegetter(i, f"field {f}")
            cls = self.cache.records[t.id] = type(_py_name(t.name or alias or "anon"), (Record,), ns)
        return cls

    def record_fields(self, t: Type, bitbase: int, base: int, limit: int) -> list[tuple[str, Any]]:
        """(name, thunk -> expression) per field, anonymous members flattened.

        ``base``/``limit``: byte offset and size of the named record that owns the fields
        (bitfield storage units are chosen relative to it, as the encoder does).
        """
        return [(m.name, self._member_thunk(t, m, mt, bitoff, base, limit))
                for m, mt, bitoff in _named_members(self, t, bitbase)]

    def _member_thunk(self, parent: Type, m: Any, mt: Type, bitoff: int, base: int,
                      limit: int) -> Callable[[], str]:
        kind = _member_kind(m, mt, bitoff)
        if kind == "int":
            nb, extra = (m.bitfield_size, 0) if m.bitfield_size else (mt.int_bits, mt.int_offset)
            return lambda: self.int_expr(mt, bitoff, nb, extra, base, limit)
        if kind == "enum":
            return lambda: self.enum_expr(mt, bitoff, m.bitfield_size or mt.size * 8, base, limit)
        if kind == "bad":
            raise BTFError(f"{self.root_name}: member {m.name} of "
                           f"{_safe_type_name(self.btf, parent.id)} is a bitfield of "
                           f"{mt.kind.name}, which cannot be decoded")
        return lambda: self.expr(m.type_id, base + bitoff // 8)

    def record_expr(self, t: Type, off: int, alias: str) -> str:
        if t.id in self.active:
            raise BTFError(f"{self.root_name}: type [{t.id}] contains itself")
        if off + t.size > self.limit:
            raise BTFError(f"{self.root_name}: {_safe_type_name(self.btf, t.id)} at byte {off} "
                           f"lies outside the {self.limit}-byte type")
        self.active.add(t.id)
        try:
            fields = self.record_fields(t, 0, off, t.size)
            cls = self.record_class(t, alias, _unique([f for f, _ in fields]))
            items = [thunk() for _, thunk in fields]
        finally:
            self.active.discard(t.id)
        c = self.name_obj("R", cls)
        return f"{c}(({', '.join(items)}{',' if len(items) == 1 else ''}))"

    def datasec_expr(self, t: Type, off: int) -> str:
        fields, items = [], []
        for vi in t.secinfos:
            fields.append(self.btf[vi.type_id].name or f"var{len(fields)}")
            items.append(self.expr(vi.type_id, off + vi.offset))
        cls = self.record_class(t, "", _unique(fields))
        c = self.name_obj("R", cls)
        return f"{c}(({', '.join(items)}{',' if len(items) == 1 else ''}))"


def _source(unpack: list[tuple[str, str]], body: list[str], result: str, many: bool) -> str:
    """Python source of ``decode(buf, off=0)`` and, for one layer, ``many(iter_unpack)``."""
    src = ["def decode(buf, off=0):", "    try:"]
    src += [f"        {target} = {fn}(buf, off)" for target, fn in unpack]
    src += ["    except (_struct_error, TypeError) as e:",
            "        raise _short(_name, _size, buf, off, e) from None"]
    src += ["    " + line for line in body] + [f"    return {result}"]
    if many:
        target = unpack[0][0]
        cls, paren, _ = result.partition("((")          # "_R<n>((<row>))"?
        plain = (cls[:2] == "_R" and cls[2:].isdigit() and paren and result[-2:] == "))"
                 and result[len(cls) + 2:-2] == target)
        if not body and plain:                          # the record is the row itself
            src += ["def many(it):", f"    return list(map({cls}, it))"]
        elif not body:
            src += ["def many(it):", f"    return [{result} for {target} in it]"]
        else:
            src += ["def many(it):", "    out = []", "    app = out.append",
                    f"    for {target} in it:"]
            src += ["        " + line for line in body]
            src += [f"        app({result})", "    return out"]
    return "\n".join(src)


_CASTABLE = frozenset("BHIQbhiqfd")


def _check_int(t: Type, bits: int, extra: int, where: str) -> None:
    if t.size <= 0 or bits <= 0 or bits > t.size * 8 or extra < 0:
        raise BTFError(f"{where}: int type [{t.id}] of {t.size} bytes has {bits} bits at "
                       f"bit offset {extra}")


def _named_members(owner: Any, t: Type, bitbase: int, depth: int = 0) -> list[tuple[Any, Type, int]]:
    """(member, resolved type, bit offset) of each named member of struct/union ``t``:
    members of anonymous nested structs/unions are flattened in (as C spells them),
    unnamed bitfields (padding) skipped. ``owner``: the _Compiler or _Encoders asking."""
    if depth > _MAX_DEPTH:
        raise BTFError(f"{owner.root_name}: types nested too deeply")
    out: list[tuple[Any, Type, int]] = []
    for m in t.members:
        mt, _ = owner.resolve(m.type_id)
        bitoff = bitbase + m.bit_offset
        if m.name:
            out.append((m, mt, bitoff))
        elif mt.kind in (Kind.STRUCT, Kind.UNION) and not m.bitfield_size:
            _check_anon(owner, t, mt, bitoff)
            owner.active.add(mt.id)
            try:
                out += _named_members(owner, mt, bitoff, depth + 1)
            finally:
                owner.active.discard(mt.id)
    return out


def _check_anon(c: Any, parent: Type, mt: Type, bitoff: int) -> None:
    if bitoff % 8:
        raise BTFError(f"{c.root_name}: anonymous member of {_safe_type_name(c.btf, parent.id)} "
                       f"is not byte aligned")
    if mt.id in c.active:
        raise BTFError(f"{c.root_name}: type [{mt.id}] contains itself")


def _member_kind(m: Any, mt: Type, bitoff: int) -> str:
    """"int"/"enum" for bitfields (or unaligned ints), "bad" for impossible ones, else ""."""
    bits = m.bitfield_size
    if mt.kind == Kind.INT:
        if bits or bitoff % 8 or mt.int_offset or mt.int_bits != mt.size * 8:
            return "int"
    elif mt.kind in (Kind.ENUM, Kind.ENUM64):
        if bits or bitoff % 8:
            return "enum"
    elif bits or bitoff % 8:
        return "bad"
    return ""


def _enum_map(cache: _BTFCache, t: Type) -> tuple[dict[int, Any], dict[str, int]]:
    """(value -> EnumValue, name -> value) of an enum type, cached per BTF."""
    m = cache.enums.get(t.id)
    if m is None:
        cls = type(_py_name(t.name or "enum"), (EnumValue,), {"enum_name": t.name or "enum"})
        values: dict[int, Any] = {}
        names: dict[str, int] = {}
        bits = t.size * 8
        for e in t.enumerators:
            v = e.value
            if bits:
                v &= (1 << bits) - 1
                if t.kflag and v >= 1 << (bits - 1):
                    v -= 1 << bits
            if v not in values:
                inst = cls(v)
                inst.name = e.name
                values[v] = inst
            names.setdefault(e.name, v)
        m = cache.enums[t.id] = (values, names)
    return m


def _no_encode(buf: Any, off: int, v: Any, path: str) -> None:
    raise MapError(f"{path}: cannot encode")  # pragma: no cover - element decoders only


_RESERVED = frozenset({"_fields", "_asdict", "_replace", "_make", "_btf_name"})


def _unique(names: list[str]) -> list[str]:
    """Make field names unique: later duplicates get ``_2``, ``_3``..."""
    used: set[str] = set()
    out = []
    for n in names:
        cand, i = n, 1
        while cand in used:
            i += 1
            cand = f"{n}_{i}"
        used.add(cand)
        out.append(cand)
    return out


def _py_name(name: str) -> str:
    s = "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "anon"
    return "_" + s if s[0].isdigit() else s


def _value_name(btf: BTF, t: Type, alias: str) -> str:
    if t.kind in (Kind.STRUCT, Kind.UNION):
        return t.name or alias or f"anon {t.kind.name.lower()}"
    return alias or _safe_type_name(btf, t.id)


def _is_char(t: Type) -> bool:
    return t.kind == Kind.INT and t.size == 1 and (t.name == "char" or bool(t.int_encoding & INT_CHAR))


def _is_byte(t: Type) -> bool:
    return (t.kind == Kind.INT and t.size == 1 and not t.int_encoding
            and t.int_bits == 8 and not t.int_offset and t.name != "char")


def _bit_unit(bitoff: int, bits: int, tsize: int, limit: int, endian: str,
              where: str) -> tuple[int, int, int]:
    """(byte offset, width, shift) of the storage unit holding a bitfield.

    Prefer the declared type's aligned unit (all bitfields of one ``u32`` then share one
    read), then any smaller aligned unit, then the smallest unaligned window.
    """
    if bitoff < 0 or bitoff + bits > limit * 8:
        raise BTFError(f"{where}: bitfield at bit {bitoff} ({bits} bits) lies outside "
                       f"its {limit}-byte record")
    last = bitoff + bits - 1
    for w in sorted({1, 2, 4, 8}, key=lambda w: (w != tsize, w)):
        start = (bitoff // (8 * w)) * w
        if last // (8 * w) == bitoff // (8 * w) and start + w <= limit:
            return start, w, _shift(bitoff - start * 8, bits, w, endian)
    start = bitoff // 8
    n = (last // 8) - start + 1
    for w in (1, 2, 4, 8):
        if w >= n:
            s = min(start, limit - w)
            if s >= 0 and s * 8 <= bitoff and last < (s + w) * 8:
                return s, w, _shift(bitoff - s * 8, bits, w, endian)
    return start, n, _shift(bitoff - start * 8, bits, n, endian)


def _shift(rel: int, bits: int, width: int, endian: str) -> int:
    return rel if endian == "<" else width * 8 - rel - bits


# ---------------------------------------------------------------- encoders

if TYPE_CHECKING:
    _Enc = Callable[[Any, int, Any, str], None]


def _at(inner: _Enc, delta: int) -> _Enc:
    """``inner`` shifted by ``delta`` bytes."""
    if not delta:
        return inner

    def enc(buf: Any, off: int, v: Any, path: str) -> None:
        inner(buf, off + delta, v, path)
    return enc


class _Encoders:
    """Encode closures for one compiler's BTF; layouts mirror the decoder's.

    Every closure is ``enc(buf, off, value, path)`` writing into a zeroed bytearray.
    """

    def __init__(self, comp: _Compiler) -> None:
        self.c = comp
        self.btf = comp.btf
        self.endian = comp.endian
        self.order = comp.order
        self.active: set[int] = set()

    def top(self, type_id: int) -> _Enc:
        """The root encoder: also accepts bytes of exactly the type's size (raw)."""
        inner = self.encoder(type_id, 0)
        size = self.c.limit

        def enc(buf: Any, off: int, v: Any, path: str) -> None:
            if isinstance(v, _BYTES_LIKE) and len(v) == size:
                buf[off:off + size] = v
                return
            inner(buf, off, v, path)
        return enc

    def encoder(self, type_id: int, depth: int) -> _Enc:
        if depth > _MAX_DEPTH:
            raise BTFError(f"{self.c.root_name}: types nested too deeply")
        t, alias = self.c.resolve(type_id)
        k = t.kind
        if k == Kind.INT:
            return self.int_enc(t, 0, t.int_bits, t.int_offset, t.size)
        if k == Kind.PTR:
            return _int_encoder(64, False, 8, self.endian, "pointer")
        if k in (Kind.ENUM, Kind.ENUM64):
            return self.enum_enc(t, 0, t.size * 8, t.size)
        if k == Kind.FLOAT:
            return self.float_enc(t)
        if k == Kind.ARRAY:
            return self.array_enc(t, depth)
        if k in (Kind.STRUCT, Kind.UNION):
            return self.record_enc(t, alias, depth)
        if k == Kind.DATASEC:
            return self.datasec_enc(t, depth)
        if k == Kind.VAR:
            return self.encoder(t.type_id, depth + 1)
        raise BTFError(f"{self.c.root_name}: {_safe_type_name(self.btf, t.id)} "
                       f"({k.name}) cannot be encoded")

    # scalars --------------------------------------------------------------

    def int_enc(self, t: Type, bitoff: int, bits: int, extra: int, limit: int) -> _Enc:
        """Mirror of ``_Compiler.int_expr`` (offsets relative to the owning record)."""
        _check_int(t, bits, extra, self.c.root_name)
        signed = bool(t.int_encoding & INT_SIGNED)
        is_bool = bool(t.int_encoding & INT_BOOL)
        tname = t.name or f"int{t.size * 8}"
        bitoff += extra
        if bits == t.size * 8 and bitoff % 8 == 0:
            plain = _int_encoder(bits, signed, t.size, self.endian, tname)
            if is_bool:
                def enc_bool(buf: Any, off: int, v: Any, path: str) -> None:
                    plain(buf, off, _as_bool(v, path), path)
                return _at(enc_bool, bitoff // 8)
            return _at(plain, bitoff // 8)
        return self.bits_enc(bitoff, bits, signed, t.size, limit, tname, None, is_bool)

    def bits_enc(self, bitoff: int, bits: int, signed: bool, tsize: int, limit: int, tname: str,
                 enum_names: dict[str, int] | None, is_bool: bool = False) -> _Enc:
        unit, width, shift = _bit_unit(bitoff, bits, tsize, limit, self.endian, self.c.root_name)
        order = self.order
        mask = (1 << bits) - 1
        lo, hi = -(1 << (bits - 1)), 1 << bits
        desc = f"{tname}:{bits}"

        def enc(buf: Any, off: int, v: Any, path: str) -> None:
            iv = int(_as_bool(v, path)) if is_bool else _as_int(v, path, desc, enum_names)
            if not lo <= iv < hi:
                raise MapError(f"{path}: {iv} out of range for bitfield {desc}")
            a = off + unit
            cur = int.from_bytes(buf[a:a + width], order)
            cur = (cur & ~(mask << shift)) | ((iv & mask) << shift)
            buf[a:a + width] = cur.to_bytes(width, order)

        return enc

    def enum_enc(self, t: Type, bitoff: int, bits: int, limit: int) -> _Enc:
        _, names = _enum_map(self.c.cache, t)
        tname = f"enum {t.name or '(anon)'}"
        if t.size <= 0 or bits <= 0 or bits > t.size * 8:
            raise BTFError(f"{self.c.root_name}: enum [{t.id}] of {t.size} bytes read as {bits} bits")
        if bits == t.size * 8 and bitoff % 8 == 0:
            return _at(_int_encoder(bits, bool(t.kflag), t.size, self.endian, tname, names),
                       bitoff // 8)
        return self.bits_enc(bitoff, bits, bool(t.kflag), t.size, limit, tname, names)

    def float_enc(self, t: Type) -> _Enc:
        f = _FFMT.get(t.size)
        name = t.name or f"float{t.size * 8}"
        if f is None:
            def enc_raw(buf: Any, off: int, v: Any, path: str) -> None:
                if isinstance(v, _BYTES_LIKE):
                    _raw_exact(buf, off, v, t.size, path)
                    return
                raise MapError(f"{path}: give {name} ({t.size} bytes) as bytes")
            return enc_raw
        s = struct.Struct(self.endian + f)

        def enc(buf: Any, off: int, v: Any, path: str) -> None:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise MapError(f"{path}: expected a number for {name}, got {type(v).__name__}")
            try:
                s.pack_into(buf, off, v)
            except (struct.error, OverflowError) as e:
                raise MapError(f"{path}: {v!r} does not fit {name}: {e}") from None

        return enc

    # arrays ---------------------------------------------------------------

    def array_enc(self, t: Type, depth: int) -> _Enc:
        n = t.nelems
        et, _ = self.c.resolve(t.elem_type_id)
        esize = self.c.size_of(t.elem_type_id)
        tname = _safe_type_name(self.btf, t.id)
        if _is_char(et) or _is_byte(et):
            return _text_encoder(n, tname, _is_char(et))
        elem = self.encoder(t.elem_type_id, depth + 1)
        total = n * esize

        def enc(buf: Any, off: int, v: Any, path: str) -> None:
            if isinstance(v, _BYTES_LIKE):
                _raw_exact(buf, off, v, total, path)
                return
            if isinstance(v, (str, Mapping)) or not isinstance(v, Iterable):
                raise MapError(f"{path}: expected a sequence for {tname}, got {type(v).__name__}")
            items = list(v)
            if len(items) > n:
                raise MapError(f"{path}: {len(items)} elements do not fit {tname}")
            for i, x in enumerate(items):
                elem(buf, off + i * esize, x, f"{path}[{i}]")

        return enc

    # composites -----------------------------------------------------------

    def resolve(self, type_id: int) -> tuple[Type, str]:
        return self.c.resolve(type_id)

    def record_fields(self, t: Type, bitbase: int, limit: int, depth: int) -> list[tuple[str, _Enc]]:
        out: list[tuple[str, _Enc]] = []
        for m, mt, bitoff in _named_members(self, t, bitbase):
            kind = _member_kind(m, mt, bitoff)
            if kind == "int":
                nb, extra = (m.bitfield_size, 0) if m.bitfield_size else (mt.int_bits, mt.int_offset)
                e = self.int_enc(mt, bitoff, nb, extra, limit)
            elif kind == "enum":
                e = self.enum_enc(mt, bitoff, m.bitfield_size or mt.size * 8, limit)
            elif kind == "bad":
                raise BTFError(f"{self.c.root_name}: member {m.name} is a bitfield of {mt.kind.name}")
            else:
                e = _at(self.encoder(m.type_id, depth + 1), bitoff // 8)
            out.append((m.name, e))
        return out

    @property
    def root_name(self) -> str:
        return self.c.root_name

    def record_enc(self, t: Type, alias: str, depth: int) -> _Enc:
        if t.id in self.active:
            raise BTFError(f"{self.c.root_name}: type [{t.id}] contains itself")
        self.active.add(t.id)
        try:
            fields = self.record_fields(t, 0, t.size, depth)
        finally:
            self.active.discard(t.id)
        kind = "union" if t.kind == Kind.UNION else "struct"
        return _record_encoder(_unique([n for n, _ in fields]), [e for _, e in fields], t.size,
                               f"{kind} {t.name or alias or '(anon)'}")

    def datasec_enc(self, t: Type, depth: int) -> _Enc:
        names, encs = [], []
        for vi in t.secinfos:
            names.append(self.btf[vi.type_id].name or f"var{len(names)}")
            encs.append(_at(self.encoder(vi.type_id, depth + 1), vi.offset))
        return _record_encoder(_unique(names), encs, t.size, f"section {t.name}")


def _text_encoder(n: int, tname: str, is_char: bool) -> _Enc:
    """char[n]: str or bytes, NUL padded; u8[n]: bytes (or a list of ints)."""

    def enc(buf: Any, off: int, v: Any, path: str) -> None:
        if not is_char:
            if isinstance(v, str):
                raise MapError(f"{path}: expected bytes for {tname}, got str")
            if isinstance(v, (list, tuple)):
                if len(v) > n:
                    raise MapError(f"{path}: {len(v)} elements do not fit {tname}")
                try:
                    v = bytes(v)
                except (ValueError, TypeError) as e:
                    raise MapError(f"{path}: {e}") from None
        _put_bytes(buf, off, v, n, path, tname)

    return enc


def _record_encoder(names: list[str], encs: list[_Enc], size: int, tname: str) -> _Enc:
    """Struct/union/datasec encoder: from a dict (given fields), a record or a sequence.

    Fields are written last to first, so for a union the first member wins.
    """
    index = {n: i for i, n in enumerate(names)}
    nf = len(names)
    paths = [f".{n}" for n in names]

    def enc(buf: Any, off: int, v: Any, path: str) -> None:
        if isinstance(v, (tuple, list)) and not (hasattr(v, "_asdict") and not isinstance(v, Record)):
            if len(v) > nf:
                raise MapError(f"{path}: {len(v)} values for the {nf} fields of {tname}")
            for i in range(len(v) - 1, -1, -1):
                encs[i](buf, off, v[i], path + paths[i])
            return
        if isinstance(v, Mapping) or hasattr(v, "_asdict"):
            d = v if isinstance(v, Mapping) else v._asdict()
            idx = []
            for k in d:
                i = index.get(k)
                if i is None:
                    raise MapError(f"{path}: {tname} has no field {k!r} (fields: {', '.join(names)})")
                idx.append(i)
            for i in sorted(idx, reverse=True):
                encs[i](buf, off, d[names[i]], path + paths[i])
            return
        if isinstance(v, _BYTES_LIKE):
            _raw_exact(buf, off, v, size, path)
            return
        raise MapError(f"{path}: expected a record, dict or tuple for {tname}, got "
                       f"{type(v).__name__} {v!r:.40}")

    return enc


def _as_bool(v: Any, path: str) -> bool:
    if isinstance(v, (bool, int)):
        return bool(v)
    raise MapError(f"{path}: expected a bool, got {type(v).__name__}")


def _raw_exact(buf: Any, off: int, v: Any, size: int, path: str) -> None:
    raw = bytes(v)
    if len(raw) != size:
        raise MapError(f"{path}: {len(raw)} raw bytes given for a {size}-byte value")
    buf[off:off + size] = raw
