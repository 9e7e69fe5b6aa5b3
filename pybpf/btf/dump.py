"""BTF -> C header (a vmlinux.h), equivalent to ``bpftool btf dump ... format c``.

Types are emitted so that everything a definition needs by value is defined before it;
pointers and typedefs of records only need a forward declaration. Member offsets are
reproduced exactly: gaps become anonymous bitfields (``long: 24;``), layouts tighter than
the natural one are ``packed``. Names used twice for different types get ``___N`` suffixes.

The dumper reads the raw type words of the blob through per-id tables (kind, size-or-type)
and memo dicts instead of decoding ``Type`` objects: a kernel BTF has 126k types and the
header touches ~40k of them. Dependency lists, sizes, alignments, layouts and the
declarations of types that inline no anonymous body are computed once per type id.
"""

from __future__ import annotations

import gc
import sys
from array import array
from collections.abc import Callable, Iterable, Sequence
from itertools import compress

from ..errors import BPFError, BTFError
from .types import BTF, COMPOSITES, ENUMS, MAX_CHAIN, MODIFIERS, Kind

_HEAD = """#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
_TAIL = """
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""
# kind numbers as plain ints: IntEnum member lookups cost ~0.2 us each on hot paths
(_UNKN, _INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF, _VOLATILE, _CONST,
 _RESTRICT, _FUNC, _FUNC_PROTO, _VAR, _DATASEC, _FLOAT, _DECL_TAG, _TYPE_TAG, _ENUM64) = range(20)

_QUAL = {_CONST: "const", _VOLATILE: "volatile", _RESTRICT: "restrict"}
_SKIP = frozenset({"__builtin_va_list"})   # a compiler builtin: never redeclare it
_TOP = (_STRUCT, _UNION, _ENUM, _ENUM64, _TYPEDEF, _FWD)
_SIZED = (_INT, _STRUCT, _UNION, _ENUM, _ENUM64, _DATASEC, _FLOAT)
_KEYWORD = {_STRUCT: "struct", _UNION: "union", _ENUM: "enum", _ENUM64: "enum"}
_TYPEDEF_OR_MOD = MODIFIERS | {_TYPEDEF}
_WALKED = frozenset(_KEYWORD) | {_TYPEDEF, _FWD, _FUNC_PROTO}   # what deps() looks into
_PACKED = " __attribute__((packed))"
_LIMIT = 4 * MAX_CHAIN     # longer pointer/array/modifier chains are cycles in corrupt BTF
_SPACES = b"\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f "    # what str.isspace() is true of in ASCII

_Layout = tuple[dict[int, tuple[int, ...]] | None, bool, tuple[int, ...]]


def _flags(kinds: Iterable[int]) -> bytes:
    """A ``bytes.translate`` table: kind byte -> 1 for ``kinds``, else 0."""
    s = set(kinds)
    return bytes(1 if (b & 0x1F) in s else 0 for b in range(256))


_TOP_F, _ENUM_F, _UNSIZED_F = _flags(_TOP), _flags(ENUMS), _flags(set(range(32)) - set(_SIZED))
_ARRAY_F, _COMP_F, _PROTO_F = _flags((_ARRAY,)), _flags(COMPOSITES), _flags((_FUNC_PROTO,))
_KIND_T = bytes(b & 0x1F for b in range(256))


def _space_ended(strings: bytes) -> bool:
    """Whether a string of an ASCII table ends in a space (a few ``find`` calls: spaces are
    rare in BTF)."""
    for c in _SPACES:
        i = strings.find(c)
        while i >= 0:
            if strings[i + 1:i + 2] in (b"\0", b""):
                return True
            i = strings.find(c, i + 1)
    return False


class _Memo(dict):
    """key -> fn(key), computed on first use (a hit is a plain dict lookup: no Python call)."""

    def __init__(self, fn: Callable[[int], object]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, key: int) -> object:
        v = self[key] = self.fn(key)
        return v


class _Tables:
    """Per-id views of a BTF and its base, id 0 being void.

    ``K`` kind (bytes), ``ST`` size-or-type word, ``INFO`` info word, ``NOFF`` name offset
    (nonzero iff named), ``NAME`` name; memo dicts ``MEM`` (member names, types, bit
    offsets, bitfield sizes), ``ENUMV`` (names, values), ``PAR`` (param names, types),
    ``ARR`` (element type, count). From the raw words where every BTF of the chain has its
    blob, else from decoded ``Type`` objects.
    """

    def __init__(self, btf: BTF) -> None:
        btfs = []
        b: BTF | None = btf
        while b is not None:
            btfs.append(b)
            b = b.base
        btfs.reverse()
        self.MEM = _Memo(self._members)
        self.ENUMV = _Memo(self._enumerators)
        self.PAR = _Memo(self._params)
        self.ARR = _Memo(self._array)
        self.NAME = _Memo(self._name)
        self.STR = _Memo(self._string)     # string offset -> str
        self.W: object = None
        self.text: str | None = None       # the string table as one str (ASCII tables)
        self.plain = False     # no string ends in a space: decl() templates fit every name
        if all(x.raw and x._words is not None and x.index is not None for x in btfs):
            self._from_words(btfs)
        else:
            self._from_types(btf)

    def _from_words(self, btfs: list[BTF]) -> None:
        from .parse import headers
        infos: list[int] = [0]
        sts: list[int] = [0]
        offs = array("I", [0])
        noffs = array("I", [0])
        parts = []
        shift = 0
        for b in btfs:
            b_infos, b_sts, w = headers(b)  # type: ignore[misc]  # (every b has its blob)
            infos += b_infos
            sts += b_sts
            words = b._words
            offs += array("I", [o + shift for o in words]) if shift else words
            noffs += b.index.names
            parts.append(w)
            shift += len(w)
        if len(parts) == 1:
            self.W = parts[0]
        else:
            W = array("I")
            for w in parts:
                W.frombytes(w.tobytes())
            self.W = W
        self.strings = s = b"".join(b.strings for b in btfs)
        if s.isascii() and s[:1] == b"\0":
            self.text = s.decode("ascii") + ("" if s.endswith(b"\0") else "\0")
            self.plain = not _space_ended(s)
        hi = slice(3, None, 4) if sys.byteorder == "little" else slice(0, None, 4)
        self.K = bytes(array("I", infos))[hi].translate(_KIND_T)
        self.INFO, self.ST, self.OFF, self.NOFF = infos, sts, offs, noffs

    def _from_types(self, btf: BTF) -> None:
        kinds, infos, sts, noffs = [0], [0], [0], [0]
        self.NAME[0] = "void"
        for tid in range(1, btf.end_id):
            t = btf[tid]
            k = int(t.kind)
            kinds.append(k)
            infos.append((k << 24) | (int(t.kflag) << 31) | t.vlen)
            sts.append(t.size if k in _SIZED else t.type_id)
            noffs.append(1 if t.name else 0)
            self.NAME[tid] = t.name
            if k in COMPOSITES:
                m = t.members
                self.MEM[tid] = ([x.name for x in m], [x.type_id for x in m],
                                 [x.bit_offset for x in m], [x.bitfield_size for x in m])
            elif k in ENUMS:
                self.ENUMV[tid] = ([e.name for e in t.enumerators],
                                   [e.value for e in t.enumerators])
            elif k == _FUNC_PROTO:
                self.PAR[tid] = ([p.name for p in t.params], [p.type_id for p in t.params])
            elif k == _ARRAY:
                self.ARR[tid] = (t.elem_type_id, t.nelems)
        self.K, self.INFO, self.ST, self.NOFF = bytes(kinds), infos, sts, noffs

    # ---- memo fillers (raw words) ----

    def _string(self, off: int) -> str:
        s = self.strings
        if not 0 <= off < len(s):
            raise BTFError(f"string offset {off} out of range")
        n = s.find(b"\0", off)
        return s[off:n if n >= 0 else len(s)].decode("utf-8", "replace")

    def strs(self, offs: list[int]) -> list[str]:
        """The strings at ``offs`` (ASCII tables: sliced from the table as one str, without
        a cache: most member names are asked for once, and a slice costs less than a
        cache miss)."""
        text = self.text
        if text is not None:
            find = text.find
            r = [text[o:find("\0", o)] for o in offs]
            if "" not in r or max(offs) < len(self.strings):   # (past the end: "" too)
                return r
        return list(map(self.STR.__getitem__, offs))      # _string raises past the end

    def _name(self, tid: int) -> str:
        if tid == 0:
            return "void"
        n = self.NOFF[tid]
        return self.STR[n] if n else ""

    def _members(self, tid: int) -> tuple[list[str], list[int], list[int], list[int]]:
        info = self.INFO[tid]
        o = self.OFF[tid] + 3
        w = self.W[o:o + 3 * (info & 0xFFFF)].tolist()
        if self.text is not None:    # the string at offset 0 is "": what unnamed members get
            names = self.strs(w[0::3])
        else:
            names = [self.STR[n] if n else "" for n in w[0::3]]
        offs = w[2::3]
        if info >> 31 and offs and max(offs) >> 24:      # bitfield sizes in the top byte
            v = names, w[1::3], [x & 0xFFFFFF for x in offs], [x >> 24 for x in offs]
        else:
            v = names, w[1::3], offs, [0] * len(names)
        self.MEM[tid] = v        # (stored here too: callers on a miss skip __missing__)
        return v

    def _enumerators(self, tid: int) -> tuple[list[str], list[int]]:
        info = self.INFO[tid]
        o = self.OFF[tid] + 3
        n = info & 0xFFFF
        signed = info >> 31
        if self.K[tid] == _ENUM64:
            w = self.W[o:o + 3 * n].tolist()
            vals = [(hi << 32) | lo for lo, hi in zip(w[1::3], w[2::3], strict=True)]
            if signed:
                vals = [v - (1 << 64) if v >> 63 else v for v in vals]
            return self.strs(w[0::3]), vals
        w = self.W[o:o + 2 * n].tolist()
        vals = w[1::2]
        if signed:
            vals = [v - (1 << 32) if v >> 31 else v for v in vals]
        return self.strs(w[0::2]), vals

    def _params(self, tid: int) -> tuple[list[str], list[int]]:
        o = self.OFF[tid] + 3
        w = self.W[o:o + 2 * (self.INFO[tid] & 0xFFFF)].tolist()
        if self.text is not None:
            return self.strs(w[0::2]), w[1::2]
        return [self.STR[n] if n else "" for n in w[0::2]], w[1::2]

    def _array(self, tid: int) -> tuple[int, int]:
        o = self.OFF[tid]
        return self.W[o + 3], self.W[o + 5]

    def unreferenced_anon_enums(self, start: int, end: int) -> list[int]:
        """Anonymous enums nothing local refers to (``enum { false, true };``): emitted on
        their own."""
        K, NOFF = self.K, self.NOFF
        loc = K[start:end]
        anon = {i for i in compress(range(start, end), loc.translate(_ENUM_F)) if not NOFF[i]}
        if not anon:
            return []
        ids = range(start, end)
        anon.difference_update(compress(self.ST[start:end], loc.translate(_UNSIZED_F)))
        arrays = compress(ids, loc.translate(_ARRAY_F))
        comps = compress(ids, loc.translate(_COMP_F))
        protos = compress(ids, loc.translate(_PROTO_F))
        if self.W is None:
            anon.difference_update([self.ARR[i][0] for i in arrays])
            for i in comps:
                anon.difference_update(self.MEM[i][1])
            for i in protos:
                anon.difference_update(self.PAR[i][1])
        else:     # member and param types, read straight from the words
            W, OFF, INFO = self.W, self.OFF, self.INFO
            anon.difference_update([W[OFF[i] + 3] for i in arrays])
            for step, recs in ((3, comps), (2, protos)):
                for i in recs:
                    o = OFF[i]
                    types = W[o + 4:o + 3 + step * (INFO[i] & 0xFFFF):step]
                    if not anon.isdisjoint(types):      # (a test is cheaper than a removal)
                        anon.difference_update(types)
        return sorted(anon)


class _Names(dict):
    """id -> C name, ``___N`` suffixed in the order names are first asked for."""

    def __init__(self, K: bytes, NAME: dict[int, str]) -> None:
        super().__init__()
        self.K, self.NAME = K, NAME
        self.tags: dict[str, int] = {}       # struct/union/enum name -> times given
        self.ordinary: dict[str, int] = {}   # typedef name -> times given

    def __missing__(self, tid: int) -> str:
        k = self.K[tid]
        base = self.NAME[tid]
        if k == _FWD:          # a FWD shares its name with the definition, if any: no suffix
            n = base
        else:
            taken = self.tags if k in _KEYWORD else self.ordinary
            cnt = taken.get(base, 0) + 1
            taken[base] = cnt
            n = base if cnt == 1 else f"{base}___{cnt}"
        self[tid] = n
        return n


class _Dumper:
    def __init__(self, btf: BTF) -> None:
        self.btf = btf
        tb = self.tb = _Tables(btf)
        self.K, self.ST, self.INFO, self.NAME = tb.K, tb.ST, tb.INFO, tb.NAME
        self.MEM, self.ENUMV, self.PAR, self.ARR = tb.MEM, tb.ENUMV, tb.PAR, tb.ARR
        self.plain = tb.plain
        self.S = _Memo(self._size_of)
        self.A = _Memo(self._align_of)
        self.SA = _Memo(self._bits)            # (alignment, size) in bits
        self.DS = _Memo(self._deps_strong_of)  # deps of a use by value
        self.DW = _Memo(self._deps_weak)       # deps of a use through a pointer
        self.L0 = _Memo(self._layout0)         # natural layout (and whether it must be packed)
        self.L1 = _Memo(self._layout1)         # packed layout
        self._align: dict[int, int] = {}
        self.tpl: dict[int, tuple[str, str]] = {}    # id -> declaration around a name
        self.tpl0: dict[int, str] = {}               # id -> declaration without a name
        self.bodies = 0                              # anonymous bodies inlined so far
        self.out: list[str] = []
        self.done: set[int] = set()          # fully defined
        self.declared: set[int] = set()      # forward-declared (or defined)
        self.busy: set[int] = set()
        self.fin: set[int] = set()   # deps entries (see deps()) with nothing left to do
        self.names = _Names(tb.K, tb.NAME)
        self.enum_vals: dict[str, int] = {}

    def release(self) -> None:
        """Drop every table now (the memos refer back to the dumper: without this, only a
        garbage collection would free them)."""
        self.tb.__dict__.clear()
        self.__dict__.clear()

    # ---- type walks ----

    def _resolve(self, tid: int) -> int:
        return self._follow(tid, _TYPEDEF_OR_MOD, "typedef/modifier")

    def _skip_modifiers(self, tid: int) -> int:
        return self._follow(tid, MODIFIERS, "modifier")

    def _follow(self, tid: int, kinds: frozenset[int], what: str) -> int:
        """The first type from ``tid`` on whose kind is not in ``kinds``."""
        K, ST = self.K, self.ST
        t = tid
        for _ in range(MAX_CHAIN):
            if K[t] not in kinds:
                return t
            t = ST[t]
        raise BTFError(f"BTF type [{tid}]: {what} chain loops or is too long")

    def _bits(self, tid: int) -> tuple[int, int]:
        """``SA[tid]``, computed and stored (callers on a miss skip ``__missing__``)."""
        k = self.K[tid]
        if k == _PTR:
            v = (64, 64)
        elif k == _INT or k == _ENUM or k == _ENUM64 or k == _FLOAT:   # as A and S have it
            size = self.ST[tid]
            v = (max(1, min(size, 8)) * 8, size * 8)
        else:
            a = self.A.get(tid) or self._align_of(tid)
            size = self.S.get(tid)
            v = (a * 8, (self._size_of(tid) if size is None else size) * 8)
        self.SA[tid] = v
        return v

    def _size_of(self, tid: int) -> int:
        """Byte size (arrays multiplied out, pointers 8); stored in ``S``."""
        K, mult, x = self.K, 1, tid
        for _ in range(MAX_CHAIN + 1):
            k = K[x]
            t = self._resolve(x) if k in _TYPEDEF_OR_MOD else x
            k = K[t]
            if k == _PTR:
                v = mult * 8
                break
            if k == _ARRAY:
                x, n = self.ARR[t]
                mult *= n
            elif k in _SIZED:
                v = mult * self.ST[t]
                break
            elif k == _VAR:
                x = self.ST[t]
            else:
                raise BTFError(f"type [{t}] {Kind(k).name} has no size")
        else:
            raise BTFError(f"BTF type [{x}]: nested too deeply (a cycle?)")
        self.S[tid] = v
        return v

    def _align_of(self, tid: int) -> int:
        """Alignment in bytes; stored in ``A``."""
        k = self.K[tid]
        t = tid
        if k in _TYPEDEF_OR_MOD:
            t = self._resolve(tid)
            k = self.K[t]
        if k == _PTR:
            a = 8
        elif k == _ARRAY:
            a = self.A[self.ARR[t][0]]
        elif k == _STRUCT or k == _UNION:
            a = self._align.get(t)
            if a is None:
                A = self.A
                members = self.MEM[t][1]
                a = 1 if self.L0[t][1] or not members else max([A[m] for m in members])
                self._align[t] = a
        elif k == _INT or k == _FLOAT or k == _ENUM or k == _ENUM64:
            a = max(1, min(self.ST[t], 8))
        else:
            a = 1
        self.A[tid] = a
        return a

    def _layout0(self, tid: int) -> _Layout:
        self.L0[tid] = (None, False, ())   # while computed: a cycle by value reads "not packed"
        return self._layout_of(tid, False)

    def _layout1(self, tid: int) -> _Layout:
        return self._layout_of(tid, True)

    def _layout_of(self, tid: int, packed: bool) -> _Layout:
        """(the padding bitfields to emit before members, by member index, or None if there
        are none; whether the natural layout is too loose for the offsets; the trailing
        padding bitfields)."""
        _names, types, boffs, bsizes = self.MEM[tid]
        S = self.S
        if self.K[tid] == _UNION:
            for mt, bs in zip(types, bsizes, strict=True):
                if not bs:
                    S[mt]             # what the body's offset tracking needs (may raise)
            return None, False, ()
        A = self.A
        size = self.ST[tid] * 8
        if not packed and not any(bsizes):
            # no bitfields: most members sit where C puts them (the end of the previous one
            # rounded up to their alignment); the general loop below handles the rest
            SA, cur, m8 = self.SA, 0, 8
            for mt, bo in zip(types, boffs, strict=True):
                a8, bits = SA[mt]
                if a8 > m8:
                    m8 = a8
                if bo != -(-cur // a8) * a8:
                    break
                cur = bo + bits
            else:
                nat_size = -(-cur // m8) * m8
                return (None, nat_size > size,
                        tuple(_gap_chunks(cur, size - cur)) if nat_size < size else ())
        cur, pads, need_pack, max_align = 0, {}, False, 1
        members = enumerate(zip(types, boffs, bsizes, strict=True))
        if packed:
            for i, (mt, bo, bs) in members:    # (after the natural layout: S[] known)
                end = bo + (bs or S[mt] * 8)
                if bo > cur:
                    pads[i] = tuple(_gap_chunks(cur, bo - cur))
                cur = end
        else:
            for i, (mt, bo, bs) in members:
                a = A[mt]
                if a > max_align:
                    max_align = a
                if bs:
                    ub = S[mt] * 8
                    nat = cur if cur // ub == (cur + bs - 1) // ub else -(-cur // ub) * ub
                    end = bo + bs
                else:
                    a8 = a * 8
                    nat = -(-cur // a8) * a8
                    end = bo + S[mt] * 8
                if bo != nat:              # tighter: packed; looser: padding (bo > nat >= cur)
                    if bo < nat:
                        need_pack = True
                    else:
                        pads[i] = tuple(_gap_chunks(cur, bo - cur))
                cur = end
        nat_size = -(-cur // (max_align * 8)) * max_align * 8
        if nat_size > size:
            need_pack = True
        tail = tuple(_gap_chunks(cur, size - cur)) if nat_size < size else ()
        return pads or None, need_pack, tail

    # ---- declarations ----

    def decl(self, tid: int, name: str, indent: int) -> str:
        """C declaration of ``name`` with type ``tid`` (anonymous records inline).

        Around a nonempty name that ends in no space, a declaration is ``P + name + S``
        with ``P`` and ``S`` fixed per type: those are kept unless an anonymous body was
        inlined (its text depends on the indent and on enumerator names seen before)."""
        if name and not name[-1].isspace():
            t = self.tpl.get(tid) or self._template(tid, indent)
            return t[0] + name + t[1]
        if name:
            return self._decl(tid, name, indent)
        d = self.tpl0.get(tid)
        if d is None:
            n = self.bodies
            d = self._decl(tid, "", indent)
            if n == self.bodies:
                self.tpl0[tid] = d
        return d

    def _template(self, tid: int, indent: int) -> tuple[str, str]:
        """``(P, S)``: ``decl(tid, name)`` is ``P + name + S`` for a name that is not empty
        and ends in no space; built on the template of the type ``tid`` refers to, as
        ``_decl`` builds on its declaration; kept unless an anonymous body was inlined."""
        K, ST, tpl = self.K, self.ST, self.tpl
        n = self.bodies
        k = K[tid]
        if k == _PTR:
            st = ST[tid]
            p, s = tpl.get(st) or self._template(st, indent)
            tk = K[st]
            if tk in MODIFIERS:
                tk = K[self._skip_modifiers(st)]
            r = (p + "(*", ")" + s) if tk == _ARRAY or tk == _FUNC_PROTO else (p + "*", s)
        elif k == _CONST or k == _VOLATILE or k == _RESTRICT:
            st = ST[tid]
            q = _QUAL[k]
            p, s = tpl.get(st) or self._template(st, indent)
            if K[self._skip_modifiers(st) if K[st] in MODIFIERS else st] == _PTR:
                r = (f"{p}{q} ", s)
            elif p.startswith(q + " "):     # const const int -> const int
                r = (p, s)
            else:
                r = (f"{q} {p}", s)
        elif k == _TYPE_TAG:
            r = tpl.get(ST[tid]) or self._template(ST[tid], indent)
        elif k == _ARRAY:
            elem, cnt = self.ARR[tid]
            p, s = tpl.get(elem) or self._template(elem, indent)
            r = (p, f"[{cnt}]{s}")
        elif k == _FUNC_PROTO:
            pnames, ptypes = self.PAR[tid]
            last = len(ptypes) - 1
            params = ["..." if pt == 0 and i == last else self.decl(pt, pn, indent)
                      for i, (pn, pt) in enumerate(zip(pnames, ptypes, strict=True))]
            p, s = tpl.get(ST[tid]) or self._template(ST[tid], indent)
            r = (p, f"({', '.join(params) or 'void'}){s}")
        elif k == _UNKN:
            r = ("void ", "")
        elif k in _KEYWORD:
            if self.NAME[tid]:
                r = (f"{_KEYWORD[k]} {self.names[tid]} ", "")
            else:
                self.bodies += 1
                r = (self.body(tid, indent) + " ", "")
        elif k == _FWD:
            r = (f"{'union' if self.INFO[tid] >> 31 else 'struct'} {self.names[tid]} ", "")
        elif k == _TYPEDEF:
            r = (self.names[tid] + " ", "")
        else:
            r = (self.NAME[tid] + " ", "")      # INT, FLOAT
        if n == self.bodies:
            tpl[tid] = r
        return r

    def _decl(self, tid: int, name: str, indent: int) -> str:
        K, ST, skip = self.K, self.ST, self._skip_modifiers
        quals: list[str] = []
        for _ in range(_LIMIT):
            k = K[tid]
            if k == _PTR:
                tid = ST[tid]
                tk = K[skip(tid)]
                name = f"(*{name})" if tk == _ARRAY or tk == _FUNC_PROTO else "*" + name
            elif k == _CONST or k == _VOLATILE or k == _RESTRICT:
                tid = ST[tid]
                if K[skip(tid)] == _PTR:
                    name = f"{_QUAL[k]} {name}".rstrip()
                else:
                    quals.append(_QUAL[k])
            elif k == _TYPE_TAG:
                tid = ST[tid]
            elif k == _ARRAY:
                tid, n = self.ARR[tid]
                name = f"{name}[{n}]"
            elif k == _FUNC_PROTO:
                pnames, ptypes = self.PAR[tid]
                last = len(ptypes) - 1
                params = ["..." if pt == 0 and i == last else self.decl(pt, pn, indent)
                          for i, (pn, pt) in enumerate(zip(pnames, ptypes, strict=True))]
                name = f"{name}({', '.join(params) or 'void'})"
                tid = ST[tid]
            else:
                break
        else:
            raise BTFError(f"BTF type [{tid}]: declaration nested too deeply (a cycle?)")
        if k == _UNKN:
            s = f"void {name}".rstrip()
        elif k in _KEYWORD:
            if self.NAME[tid]:
                s = f"{_KEYWORD[k]} {self.names[tid]} {name}".rstrip()
            else:
                self.bodies += 1
                s = f"{self.body(tid, indent)} {name}".rstrip()
        elif k == _FWD:
            s = f"{'union' if self.INFO[tid] >> 31 else 'struct'} {self.names[tid]} {name}".rstrip()
        elif k == _TYPEDEF:
            s = f"{self.names[tid]} {name}".rstrip()
        else:
            s = f"{self.NAME[tid]} {name}".rstrip()      # INT, FLOAT
        for q in reversed(quals):
            if not s.startswith(q + " "):        # const const int -> const int
                s = f"{q} {s}"
        return s

    def body(self, tid: int, indent: int) -> str:
        """``struct x {...}`` (or union, enum) without the ``;``; joined from pieces, with
        no string per line."""
        pad = "\t" * (indent + 1)
        k = self.K[tid]
        if k == _ENUM or k == _ENUM64:
            lines = []
            ev = self.enum_vals
            for n, v in zip(*self.ENUMV[tid], strict=True):
                cnt = ev.get(n, 0) + 1
                ev[n] = cnt
                if cnt != 1:
                    n = f"{n}___{cnt}"
                lines.append(f"{pad}{n} = {v}ULL,\n" if v > 0x7FFFFFFF else f"{pad}{n} = {v},\n")
            attr = _PACKED if self.ST[tid] < 4 else ""
            head = f"enum {self.names[tid]} {{\n" if self.NAME[tid] else "enum {\n"
            return head + ("".join(lines) or "\n") + "\t" * indent + "}" + attr
        names, types, boffs, bsizes = self.MEM[tid]
        parts: list[str] = ["", "{\n"]
        get, decl, sub = self.tpl.get, self.decl, indent + 1
        made: dict[int, str] = {}
        lay = self.L0.get(tid)
        lines = False
        if lay is None and k == _STRUCT and self.plain and "" not in names and not any(bsizes):
            # the natural layout checked while the member lines are made (most structs)
            lay = self._natural(tid, names, types, boffs, parts, pad, sub, made)
            lines = lay is not None and not lay[1]
            if not lines:          # start over; declarations made so far are kept
                parts = ["", "{\n"]
        if lay is None:
            lay = self.L0[tid]
        pads, packed, tail = lay
        if packed:
            pads, _, tail = self.L1[tid]
        if not lines:
            plain = self.plain
            for i, mn, mt, bs in zip(range(len(names)), names, types, bsizes, strict=True):
                if pads is not None and i in pads:
                    parts += [f"{pad}long: {n};\n" for n in pads[i]]
                t = get(mt)
                if made and i in made:
                    d = made[i]
                elif t is not None and mn and (plain or not mn[-1].isspace()):
                    parts += (pad, t[0], mn, t[1], f": {bs};\n" if bs else ";\n")
                    continue
                else:
                    d = decl(mt, mn, sub)
                parts += (pad, d, f": {bs};\n" if bs else ";\n")
        if tail:
            parts += [f"{pad}long: {n};\n" for n in tail]
        parts[0] = f"{_KEYWORD[k]} {self.names[tid]} " if self.NAME[tid] else f"{_KEYWORD[k]} "
        parts += ("\t" * indent, "}", _PACKED if packed else "")
        return "".join(parts)

    def _natural(self, tid: int, names: list[str], types: list[int], boffs: list[int],
                 parts: list[str], pad: str, sub: int, made: dict[int, str]) -> _Layout | None:
        """Member lines of a struct without bitfields into ``parts`` while checking that
        every member sits where C puts it; its ``L0`` layout, or None (not natural) after
        the lines so far. Declarations that no template holds go to ``made``."""
        L0, sa, bits_of, get = self.L0, self.SA.get, self._bits, self.tpl.get
        L0[tid] = (None, False, ())        # as _layout0 does
        cur, m8 = 0, 8
        for i, mn, mt, bo in zip(range(len(names)), names, types, boffs, strict=True):
            a8, bits = sa(mt) or bits_of(mt)
            if bo != cur + -cur % a8:      # cur rounded up to the alignment
                del L0[tid]
                return None
            if a8 > m8:
                m8 = a8
            cur = bo + bits
            t = get(mt)
            if t is None:
                d = made[i] = self.decl(mt, mn, sub)
                parts += (pad, d, ";\n")
            else:
                p, s = t
                parts += (pad, p, mn, s, ";\n")
        size = self.ST[tid] * 8
        nat_size = -(-cur // m8) * m8
        lay = L0[tid] = (None, nat_size > size,
                         tuple(_gap_chunks(cur, size - cur)) if nat_size < size else ())
        return lay

    # ---- ordering ----

    def _deps_strong(self, tid: int) -> list[int]:
        """``DS[tid]``, computed and stored (callers on a miss skip ``__missing__``)."""
        v = self.DS[tid] = self._deps_strong_of(tid)
        return v

    def _deps_strong_of(self, tid: int) -> list[int]:
        """``deps`` of a use by value, a fresh walk; chains share their target's list."""
        k = self.K[tid]
        if k == _PTR or k == _FUNC_PROTO:      # (a prototype's parts are all weak)
            st = tid if k == _FUNC_PROTO else self.ST[tid]
            acc = self.DW.get(st)
            return self._deps_weak(st) if acc is None else acc
        if k in MODIFIERS:
            return self.DS[self.ST[tid]]
        if k == _ARRAY:
            return self.DS[self.ARR[tid][0]]
        if k not in _WALKED:
            return []
        if self.NAME[tid]:
            if k == _TYPEDEF:    # what it names must be complete first
                return self.DS[self.ST[tid]] + [tid]
            return [tid]
        acc: list[int] = []
        self.deps(tid, True, acc, set())
        return acc

    def _deps_weak(self, tid: int) -> list[int]:
        """``deps`` of a use through a pointer, a fresh walk; stored in ``DW``."""
        k = self.K[tid]
        DW = self.DW
        if k == _PTR or k in MODIFIERS or k == _ARRAY:
            st = self.ARR[tid][0] if k == _ARRAY else self.ST[tid]
            acc = DW.get(st)
            if acc is None:
                acc = self._deps_weak(st)
        elif k == _FUNC_PROTO:
            # deps() walks the parts with one set of anonymous types seen; fresh walks of
            # each part differ from that only by repeated entries, which emit() skips
            acc = list(DW[self.ST[tid]])
            for p in self.PAR[tid][1]:
                if p:
                    acc += DW[p]
        elif k not in _WALKED:
            acc = []
        elif self.NAME[tid]:
            acc = [tid if k == _ENUM or k == _ENUM64 or k == _TYPEDEF else ~tid]
        else:
            acc = []
            self.deps(tid, False, acc, set())
        DW[tid] = acc
        return acc

    def deps(self, tid: int, strong: bool, acc: list[int], seen: set[int]) -> None:
        """Named types ``tid`` refers to: the id of one that must be emitted first (needed
        complete, or a typedef or enum), ``~id`` of one that only needs a declaration."""
        K, ST = self.K, self.ST
        for _ in range(_LIMIT):
            k = K[tid]
            if k == _PTR:
                strong = False
                tid = ST[tid]
            elif k in MODIFIERS:
                tid = ST[tid]
            elif k == _ARRAY:
                tid = self.ARR[tid][0]
            else:
                break
        else:
            raise BTFError(f"BTF type [{tid}]: nested too deeply (a cycle?)")
        if k == _FUNC_PROTO:
            self.deps(ST[tid], False, acc, seen)
            for p in self.PAR[tid][1]:
                if p:
                    self.deps(p, False, acc, seen)
        elif k in _KEYWORD or k == _TYPEDEF or k == _FWD:
            if k == _TYPEDEF and strong:   # used by value: what it names must be complete
                self.deps(ST[tid], True, acc, seen)
            if self.NAME[tid]:
                acc.append(tid if strong or k == _ENUM or k == _ENUM64 or k == _TYPEDEF else ~tid)
            elif tid not in seen:          # anonymous: its members are ours
                seen.add(tid)
                if k == _STRUCT or k == _UNION:
                    for m in self.MEM[tid][1]:
                        self.deps(m, strong, acc, seen)

    def emit(self, tid: int) -> None:
        """Define ``tid`` after what it needs (callers skip ids already done or busy)."""
        K = self.K
        k = K[tid]
        if k == _FWD:
            self.forward(tid)
            return
        if self.NAME[tid] in _SKIP:
            self.done.add(tid)
            self.fin.add(tid)
            self.names[tid] = self.NAME[tid]
            return
        busy, done, fin = self.busy, self.done, self.fin
        busy.add(tid)
        if k == _TYPEDEF:
            st = self.ST[tid]
            target = self._skip_modifiers(st)
            direct = (K[target] == _STRUCT or K[target] == _UNION) and self.NAME[target]
            lists = (self.DW[st] if direct else self.DS[st],)
        elif k == _STRUCT or k == _UNION:
            ds, fill = self.DS.get, self._deps_strong
            mem = self.MEM.get(tid) or self.tb._members(tid)
            lists = [x if (x := ds(m)) is not None else fill(m) for m in mem[1]]
        else:
            lists = ()
        for acc in lists:
            for x in acc:
                if x in fin:       # most are: done already
                    continue
                if x >= 0:
                    if x not in busy:
                        self.emit(x)
                elif ~x != tid:    # a struct, union or FWD not declared yet
                    self.forward(~x)
        busy.discard(tid)
        if tid in done:
            return
        if k == _TYPEDEF:
            self.out.append(f"typedef {self.decl(self.ST[tid], self.names[tid], 0)};\n\n")
        else:
            self.out += (self.body(tid, 0), ";\n\n")
        done.add(tid)
        self.declared.add(tid)
        fin.add(tid)
        fin.add(~tid)

    def forward(self, tid: int) -> None:
        k = self.K[tid]
        if k == _ENUM or k == _ENUM64 or k == _TYPEDEF:
            if tid not in self.done and tid not in self.busy:
                self.emit(tid)
            return
        if tid in self.declared:
            return
        if k == _FWD:
            tag = "union" if self.INFO[tid] >> 31 else "struct"
        else:
            tag = _KEYWORD.get(k) or Kind(k).name.lower()
        self.out.append(f"{tag} {self.names[tid]};\n\n")
        self.declared.add(tid)
        self.fin.add(~tid)

    def top_ids(self) -> list[int]:
        """What a whole-blob dump emits: named records, enums, typedefs and FWDs, then
        anonymous enums nothing refers to, in id order."""
        btf, tb = self.btf, self.tb
        start, end = btf.start_id, btf.end_id
        NOFF = tb.NOFF
        ids = [i for i in compress(range(start, end), self.K[start:end].translate(_TOP_F))
               if NOFF[i]]
        if tb.text is not None:
            names = tb.strs(list(map(NOFF.__getitem__, ids)))
            self.NAME.update(zip(ids, names, strict=True))
        else:
            names = list(map(self.NAME.__getitem__, ids))
        ids = [i for i, n in zip(ids, names, strict=True) if n not in _SKIP]
        ids += tb.unreferenced_anon_enums(start, end)
        ids.sort()
        return ids


def _gap_chunks(cur: int, gap: int) -> Iterable[int]:
    """Split a padding gap into anonymous bitfields that never straddle a long."""
    while gap > 0:
        n = min(gap, 64 - cur % 64)
        yield n
        cur += n
        gap -= n


def dump_c(btf: BTF, types: Sequence[str] | None = None) -> str:
    """A C header declaring ``types`` (names; default: every type) and their dependencies."""
    return _dump_c(btf, types, release=True)


def _dump_c(btf: BTF, types: Sequence[str] | None, release: bool) -> str:
    """``dump_c``; without ``release`` the dumper's tables are left to the garbage collector
    (see ``main``)."""
    gc_was = gc.isenabled()
    gc.disable()         # the dump makes ~10^6 objects and no cyclic garbage: no collections
    d = None
    try:
        d = _Dumper(btf)
        return _dump(d, types)
    except RecursionError:
        raise BTFError("BTF types nest too deeply to dump (a cycle?)") from None
    finally:
        if d is not None and release:
            d.release()
        if gc_was:
            gc.enable()


def _dump(d: _Dumper, types: Sequence[str] | None) -> str:
    btf = d.btf
    if types:
        ids = []
        for name in types:
            found = [t for t in btf.find_all(name) if t.kind in _TOP]
            if not found:
                raise BTFError(f"no struct, union, enum or typedef named {name!r} in this BTF")
            ids.append(max(found, key=lambda t: t.kind != _FWD).id)
    else:
        ids = d.top_ids()
    done, busy, emit = d.done, d.busy, d.emit
    for tid in ids:
        if tid not in done and tid not in busy:
            emit(tid)
    out = d.out
    out.insert(0, _HEAD)
    out.append(_TAIL)
    return "".join(out)


def _btf_of_file(path: str) -> BTF:
    from .parse import parse_btf
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x7fELF":
        from ..hostelf import HostELF
        with HostELF(path, data) as elf:
            sec = elf.section(".BTF")
            if sec is None:
                raise BTFError(f"{path}: no .BTF section")
            return parse_btf(elf.data(sec))
    if path.startswith("/sys/kernel/btf/") and not path.endswith("/vmlinux"):
        from .kernel import load_kernel
        return parse_btf(data, base=load_kernel())
    if path == "/sys/kernel/btf/vmlinux":
        from .kernel import load_kernel
        return load_kernel()
    return parse_btf(data)


def main(argv: Sequence[str]) -> int:
    """``pybpf btf dump [FILE] [--types a,b]``: print the C header."""
    from ..tools._options import Arg, Opt, parse
    a = parse("pybpf btf dump", "Dump BTF as a C header (vmlinux.h)",
              [Opt("--types", type=str, default="", metavar="A,B,...",
                   help="comma-separated type names to emit (and what they need)")], argv,
              [Arg("file", default="/sys/kernel/btf/vmlinux", optional=True,
                   help="BTF blob or ELF object (default: the kernel's)")])
    try:
        out = _dump_c(_btf_of_file(a.file), [t for t in a.types.split(",") if t] or None,
                      release=False)
    except OSError as e:
        raise BPFError(f"{a.file}: {e.strerror}") from e
    # the process ends next: its ~10^6 table objects are frozen out of the collector rather
    # than freed one by one (~30 ms for a kernel's BTF)
    gc.freeze()
    sys.stdout.write(out)
    return 0
