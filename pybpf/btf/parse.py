"""Raw BTF bytes -> BTF: a scan locates the type headers; types decode lazily.

The scan is the only O(types) work of a parse. It walks the type section as 32-bit words
with a step table keyed by each header's ``info`` word (kind and vlen give the record
length), so a type costs one dict lookup and no Python object. Kernel BTF is scanned
lazily (:class:`LazyIndex`): only as far as the types asked for. Names are not indexed: a
lookup finds the string in the string table, then that string offset at type-header
positions (in the scanned index's name offsets, or in the raw section, then walked to).
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left
from operator import itemgetter

from ..errors import BTFError
from .types import BTF, Enumerator, Kind, Member, Param, Type, VarSecinfo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

MAGIC = 0xEB9F
_EXTRA = {  # bytes that follow the 12-byte btf_type, per kind: (fixed, per-vlen)
    Kind.INT: (4, 0), Kind.ARRAY: (12, 0), Kind.STRUCT: (0, 12), Kind.UNION: (0, 12),
    Kind.ENUM: (0, 8), Kind.FUNC_PROTO: (0, 8), Kind.VAR: (4, 0), Kind.DATASEC: (0, 12),
    Kind.DECL_TAG: (4, 0), Kind.ENUM64: (0, 12),
}
_KINDS = tuple(Kind)
_NKINDS = len(_KINDS)
# record length in 32-bit words: header (3) + fixed + per-vlen * vlen, indexed by kind
_FIXED_W = [3 + _EXTRA.get(k, (0, 0))[0] // 4 for k in _KINDS]
_PER_W = [_EXTRA.get(k, (0, 0))[1] // 4 for k in _KINDS]
_NATIVE = "<" if sys.byteorder == "little" else ">"
# up to this many types, names go into a dict at parse time (object BTF); above, lookups
# search the blob (kernel BTF)
_DICT_LIMIT = 20000


class Index:
    """Where every local type starts and what it is named: what the disk cache stores.

    ``words[i]``: offset of local type ``i`` in 32-bit words from the start of the type
    section; ``names[i]``: its name's string offset.
    """

    __slots__ = ("words", "names", "_names_raw", "offset")

    def __init__(self, words: array, names: array) -> None:
        self.words, self.names = words, names
        self._names_raw: bytes | None = None
        self.offset = words.__getitem__      # local index -> word offset (IndexError past it)

    @property
    def count(self) -> int:
        return len(self.words)

    def ids_named(self, str_off: int) -> list[int]:
        """Local indexes of the types whose name is at string offset ``str_off``."""
        raw = self._names_raw
        if raw is None:
            raw = self._names_raw = self.names.tobytes()
        pat = array("I", [str_off]).tobytes()
        out = []
        p = raw.find(pat)
        while p >= 0:
            if not p & 3:
                out.append(p >> 2)
            p = raw.find(pat, p + 1)
        return out


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


def _words(data: bytes, t0: int, end: int, e: str) -> memoryview | array:
    """The type section as native unsigned 32-bit words (a view when no swap is needed)."""
    n = (end - t0) // 4
    if e == _NATIVE:
        return memoryview(data)[t0:t0 + 4 * n].cast("I")
    a = array("I")
    a.frombytes(data[t0:t0 + 4 * n])
    a.byteswap()
    return a


# name lookups a LazyIndex answers by searching its raw type section (~3 ms each for
# vmlinux) before it walks the rest and searches the names of the whole index instead
_MAX_FINDS = 2


class LazyIndex:
    """The :class:`Index` of a blob, scanned only as far as it is asked to.

    A walk over the type section finds where each type starts (record lengths follow from
    the header's info word, learnt once per distinct word: a type costs one dict lookup and
    no Python object). Kernel BTF has ~126k types, and CO-RE for a tool touches a few dozen
    of them, mostly in the first tenth of vmlinux: ``offset(i)`` walks up to type ``i``,
    ``ids_named`` finds a name's offset in the raw section with ``bytes.find`` and walks
    only up to the last header it could be. ``count``, ``words`` and ``names`` walk it all
    (then ``full`` is the complete Index, handed to ``on_complete``, e.g. a disk cache).
    """

    def __init__(self, data: bytes, first_id: int = 1) -> None:
        e, t0, end, _s0, _sl = _header(data)
        if (end - t0) % 4:
            raise BTFError("BTF type section does not end on a type boundary", offset=end)
        self._data, self._e, self._t0, self._end = data, e, t0, end
        self._n = (end - t0) // 4
        self._first_id = first_id
        info_at = array("I")           # info_at[i]: the info word of a header at word i
        info_at.frombytes(memoryview(data)[t0 + 4:end])
        if e != _NATIVE:
            info_at.byteswap()
        self._info_at = info_at
        self._steps: dict[int, int] = {}   # info word -> record length in words
        self._offs: list[int] = []
        self._i = 0                        # the next header's word
        self._finds = 0                    # name lookups that searched the raw section
        self.full: Index | None = None
        self.on_complete: Callable[[Index], None] | None = None

    def _scan(self, stop: int) -> None:
        """Walk the headers that start below word ``stop``."""
        offs, steps, info_at, i = self._offs, self._steps, self._info_at, self._i
        put = offs.append
        try:
            while True:
                try:
                    while i < stop:
                        put(i)
                        i += steps[info_at[i]]
                    break
                except KeyError:   # first header with this info word: learn its length
                    offs.pop()
                    info = info_at[i]
                    kind = (info >> 24) & 0x1F
                    if kind >= _NKINDS:
                        raise BTFError(f"unknown BTF kind {kind}",
                                       offset=self._t0 + 4 * i) from None
                    steps[info] = _FIXED_W[kind] + _PER_W[kind] * (info & 0xFFFF)
        except IndexError:         # a header at or past the last word: the end, or a cut
            offs.pop()
            if i < self._n:
                raise BTFError("truncated BTF type", offset=self._t0 + 4 * i) from None
        self._i = i
        if i >= self._n:
            self._finish()

    def _finish(self) -> None:
        offs = self._offs
        if self._i != self._n:
            raise BTFError("BTF type section does not end on a type boundary",
                           offset=self._t0 + 4 * offs[-1])
        if self._first_id + len(offs) > 0x7FFFFFFF:
            raise BTFError("too many BTF types", offset=self._t0)
        self._info_at = array("I")     # (peak memory: the blob, one copy of it, the offsets)
        w = _words(self._data, self._t0, self._end, self._e)
        names = itemgetter(*offs)(w) if len(offs) > 1 else [w[o] for o in offs]
        self.full = Index(array("I", offs), array("I", names))
        if self.on_complete is not None:
            self.on_complete(self.full)

    def complete(self) -> Index:
        """The whole Index (walking what is left)."""
        if self.full is None:
            self._scan(self._n + 1)
        assert self.full is not None
        return self.full

    def offset(self, local: int) -> int:
        """Word offset of local type ``local`` (IndexError past the last type)."""
        offs = self._offs
        while len(offs) <= local and self.full is None:
            self._scan(self._i + 8 * (local - len(offs) + 1))   # ~6 words a type
        return offs[local]

    @property
    def count(self) -> int:
        return self.complete().count

    @property
    def words(self) -> array:
        return self.complete().words

    @property
    def names(self) -> array:
        return self.complete().names

    def ids_named(self, str_off: int) -> list[int]:
        """Local indexes of the types whose name is at string offset ``str_off``: the
        aligned places of that word in the section whose next word is a valid info word
        (kind 1..max, unused bits clear) are walked to and kept if a header starts there."""
        if self.full is None and self._finds >= _MAX_FINDS:
            self.complete()      # a pass over the section costs ~3 ms; the rest ~10 ms
        if self.full is not None:
            return self.full.ids_named(str_off)
        self._finds += 1
        data, t0, end, offs = self._data, self._t0, self._end, self._offs
        pat = struct.pack(self._e + "I", str_off)
        out = []
        p = data.find(pat, t0, end)
        while p >= 0:
            w = (p - t0) >> 2
            if not (p - t0) & 3 and w + 1 < self._n:
                info = struct.unpack_from(self._e + "I", data, p + 4)[0]
                if 0 < (info >> 24) & 0x1F < _NKINDS and not info & 0x60FF0000:
                    if w >= self._i and self.full is None:
                        self._scan(w + 1)
                    k = bisect_left(offs, w)
                    if k < len(offs) and offs[k] == w:
                        out.append(k)
            p = data.find(pat, p + 1, end)
        return out


def build_index(data: bytes, first_id: int = 1) -> Index:
    """The whole :class:`Index` of a blob (one walk over its type section)."""
    return LazyIndex(data, first_id).complete()


def _ends_at(data: bytes, e: str, t0: int, last: int, end: int) -> bool:
    """Whether the type at word ``last`` is the final one of the section (checks an index)."""
    pos = t0 + 4 * last
    if pos + 12 > end:
        return False
    info = struct.unpack_from(e + "I", data, pos + 4)[0]
    kind = (info >> 24) & 0x1F
    return kind < _NKINDS and pos + 4 * (_FIXED_W[kind] + _PER_W[kind] * (info & 0xFFFF)) == end


def parse_btf(data: bytes, base: BTF | None = None, index: Index | None = None,
              lazy: bool = False) -> BTF:
    """Parse a BTF blob (either endianness); ``base`` for split BTF (kernel modules).

    ``index`` (from :func:`build_index`, e.g. a disk cache) skips the scan of the types;
    ``lazy`` scans only as far as lookups need (:class:`LazyIndex`, for kernel BTF: a
    corrupt blob is then only found out where it is read).
    """
    if not isinstance(data, bytes):
        data = bytes(data)
    e, t0, end, s0, str_len = _header(data)
    strings = bytes(data[s0:s0 + str_len])
    str_base = len(base.strings) if base is not None else 0
    first_id = base.end_id if base is not None else 1
    idx: Index | LazyIndex
    if index is not None:
        words = index.words
        if len(index.names) != len(words) or (words and (words[0] or not _ends_at(data, e, t0, words[-1], end))):
            raise BTFError("BTF index does not match the blob", offset=0)
        idx = index
    elif lazy:
        idx = LazyIndex(data, first_id)
    else:
        idx = build_index(data, first_id)
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

    names: dict[str, list[int]] | None = None
    lookup = None
    if isinstance(idx, Index) and idx.count <= _DICT_LIMIT:
        names = {}
        words = idx.words
        for i, off in enumerate(idx.names):
            if off:
                names.setdefault(name_at(off, t0 + 4 * words[i]), []).append(first_id + i)
    else:
        lookup = _name_lookup(idx, strings, str_base, first_id)
    offset = idx.offset

    def decode(tid: int) -> Type:
        return _decode(data, t0 + 4 * offset(tid - first_id), tid, e, name_at, cache.get)

    return BTF(strings=strings, count=idx.count if isinstance(idx, Index) else None,
               _decode=decode, _names=names, base=base, endian=e, raw=data, _t0=t0,
               _lookup=lookup, index=idx)


def _name_lookup(index: Index | LazyIndex, strings: bytes, str_base: int, first_id: int):  # noqa: ANN202
    def lookup(name: str) -> list[int]:
        """Local ids named ``name``: find the string, then the types carrying its offset."""
        if not name:
            return []
        needle = b"\0" + name.encode() + b"\0"
        ids: list[int] = []
        pos = strings.find(needle)
        while pos >= 0:
            ids += [first_id + i for i in index.ids_named(pos + 1 + str_base)]
            pos = strings.find(needle, pos + 1)
        ids.sort()
        return ids

    return lookup


def headers(btf: BTF) -> tuple[list[int], list[int], memoryview | array] | None:
    """Bulk header fields of a parsed blob's local types, without decoding any:
    (info words, size-or-type words, the type section as words). None if not from a blob."""
    words = btf._words
    if words is None or not btf.raw:
        return None
    e, t0, end, _s0, _sl = _header(btf.raw)
    w = _words(btf.raw, t0, end, e)
    if len(words) < 2:          # itemgetter of one index returns a scalar
        return [w[o + 1] for o in words], [w[o + 2] for o in words], w
    at = itemgetter(*words)     # one C call each, on views shifted by one and two words
    return list(at(w[1:])), list(at(w[2:])), w


_S = {e: (struct.Struct(e + "III"), struct.Struct(e + "I"), struct.Struct(e + "i"))
      for e in "<>"}


_tnew = tuple.__new__
# kind numbers as plain ints: IntEnum member lookups are slow on this hot path
(_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FUNC, _FUNC_PROTO, _VAR, _DATASEC, _DECL_TAG,
 _ENUM64) = 1, 2, 3, 4, 5, 6, 12, 13, 14, 15, 17, 19
_SIZED_K = (False, True, False, False, True, True, True, False, False, False, False, False,
            False, False, False, True, True, False, False, True)


def _decode(data: bytes, pos: int, tid: int, e: str, name_at, ng) -> Type:  # noqa: ANN001
    """One type at ``pos``; ``ng`` is the name cache's ``get`` (hits skip a Python call)."""
    s3, s1, si = _S[e]
    name_off, info, st = s3.unpack_from(data, pos)
    k = (info >> 24) & 0x1F
    vlen, kflag = info & 0xFFFF, info >> 31 == 1
    name = name_at(name_off, pos) if name_off else ""
    p = pos + 12
    if _SIZED_K[k]:
        t = Type(tid, _KINDS[k], name, st, 0, kflag)
    else:
        t = Type(tid, _KINDS[k], name, 0, st, kflag)
    if k == _FUNC or k == _FUNC_PROTO:
        if k == _FUNC:
            t.linkage = vlen
        else:
            t.params = tuple([_tnew(Param, ((ng(n) or name_at(n, p)) if n else "", ty)) for n, ty in
                              struct.iter_unpack(e + "II", data[p:p + 8 * vlen])])
    elif k == _STRUCT or k == _UNION:
        recs = s3.iter_unpack(data[p:p + 12 * vlen])
        if kflag:
            t.members = tuple([_tnew(Member, ((ng(mn) or name_at(mn, p)) if mn else "", mt, off & 0xFFFFFF,
                                              off >> 24)) for mn, mt, off in recs])
        else:
            t.members = tuple([_tnew(Member, ((ng(mn) or name_at(mn, p)) if mn else "", mt, off, 0))
                               for mn, mt, off in recs])
    elif k == _INT:
        (v,) = s1.unpack_from(data, p)
        t.int_encoding, t.int_offset, t.int_bits = (v >> 24) & 0xF, (v >> 16) & 0xFF, v & 0xFF
    elif k == _ARRAY:
        t.elem_type_id, t.index_type_id, t.nelems = s3.unpack_from(data, p)
    elif k == _ENUM:
        fmt = e + ("Ii" if kflag else "II")
        t.enumerators = tuple([_tnew(Enumerator, (ng(n) or name_at(n, p), v)) for n, v in
                               struct.iter_unpack(fmt, data[p:p + 8 * vlen])])
    elif k == _ENUM64:
        vals = []
        for n, lo, hi in s3.iter_unpack(data[p:p + 12 * vlen]):
            v = (hi << 32) | lo
            if kflag and v >> 63:
                v -= 1 << 64
            vals.append(Enumerator(name_at(n, p), v))
        t.enumerators = tuple(vals)
    elif k == _VAR:
        (t.linkage,) = s1.unpack_from(data, p)
    elif k == _DATASEC:
        t.secinfos = tuple([VarSecinfo(*r) for r in s3.iter_unpack(data[p:p + 12 * vlen])])
    elif k == _DECL_TAG:
        (t.component_idx,) = si.unpack_from(data, p)
    return t


