"""BTF -> C header (a vmlinux.h), equivalent to ``bpftool btf dump ... format c``.

Types are emitted so that everything a definition needs by value is defined before it;
pointers and typedefs of records only need a forward declaration. Member offsets are
reproduced exactly: gaps become anonymous bitfields (``long: 24;``), layouts tighter than
the natural one are ``packed``. Names used twice for different types get ``___N`` suffixes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence

from ..errors import BPFError, BTFError
from .types import BTF, COMPOSITES, ENUMS, MODIFIERS, Kind, Type

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
_K_VOLATILE = int(Kind.VOLATILE)

_QUAL = {_K_CONST: "const", _K_VOLATILE: "volatile", _K_RESTRICT: "restrict"}
_SKIP = frozenset({"__builtin_va_list"})   # a compiler builtin: never redeclare it
_TOP = (_K_STRUCT, _K_UNION, _K_ENUM, _K_ENUM64, _K_TYPEDEF, _K_FWD)


class _Types(dict):
    """id -> Type, decoded on first use (a hit is a plain dict lookup: no Python call)."""

    def __init__(self, btf: BTF) -> None:
        super().__init__()
        self.btf = btf

    def __missing__(self, tid: int) -> Type:
        t = self[tid] = self.btf[tid]
        return t


class _Memo(dict):
    """id -> fn(id), computed on first use."""

    def __init__(self, fn: Callable[[int], object]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, tid: int) -> object:
        v = self[tid] = self.fn(tid)
        return v


class _Dumper:
    def __init__(self, btf: BTF) -> None:
        self.btf = btf
        self.T = _Types(btf)
        self.R = _Memo(btf.resolve)             # typedefs and modifiers followed
        self.M = _Memo(btf.skip_modifiers)
        self.S = _Memo(btf.size_of)
        self.A = _Memo(self._align_of)
        self._layouts: dict[tuple[int, bool], tuple[list[tuple[int, int]], bool]] = {}
        self.out: list[str] = []
        self.done: set[int] = set()          # fully defined
        self.declared: set[int] = set()      # forward-declared (or defined)
        self.busy: set[int] = set()
        self.names: dict[int, str] = {}
        self.taken: dict[tuple[str, str], int] = {}   # (namespace, name) -> count
        self.enum_vals: dict[str, int] = {}
        self._align: dict[int, int] = {}
        self._packed: dict[int, bool] = {}

    # ---- naming ----

    def name(self, tid: int) -> str:
        n = self.names.get(tid)
        if n is None:
            t = self.T[tid]
            ns = "tag" if t.kind in COMPOSITES or t.kind in ENUMS or t.kind == _K_FWD else "ord"
            base = t.name
            if t.kind == _K_FWD:
                # a FWD shares its name with the definition, if any: no suffix
                n = base
            else:
                cnt = self.taken.get((ns, base), 0) + 1
                self.taken[(ns, base)] = cnt
                n = base if cnt == 1 else f"{base}___{cnt}"
            self.names[tid] = n
        return n

    def tag(self, t: Type) -> str:
        if t.kind == _K_FWD:
            return "union" if t.kflag else "struct"
        return "enum" if t.kind in ENUMS else t.kind.name.lower()

    # ---- layout ----

    def align(self, tid: int) -> int:
        return self.A[tid]

    def _align_of(self, tid: int) -> int:
        """Alignment of ``tid`` (a pure function of the type: memoized in ``self.A``)."""
        t = self.R[tid]
        if t.kind == _K_PTR:
            return 8
        if t.kind == _K_ARRAY:
            return self.A[t.elem_type_id]
        if t.kind in COMPOSITES:
            a = self._align.get(t.id)
            if a is None:
                A = self.A
                a = 1 if self.packed(t) else max((A[m.type_id] for m in t.members), default=1)
                self._align[t.id] = a
            return a
        if t.kind in (_K_INT, _K_FLOAT) or t.kind in ENUMS:
            return max(1, min(t.size, 8))
        return 1

    def packed(self, t: Type) -> bool:
        p = self._packed.get(t.id)
        if p is None:
            self._packed[t.id] = False
            p = self._layout(t, packed=False)[1]
            self._packed[t.id] = p
        return p

    def _layout(self, t: Type, packed: bool) -> tuple[list[tuple[int, int]], bool]:
        """(per member: padding bits to emit before it, needs packed); memoized."""
        key = (t.id, packed)
        r = self._layouts.get(key)
        if r is None:
            r = self._layouts[key] = self._layout_of(t, packed)
        return r

    def _layout_of(self, t: Type, packed: bool) -> tuple[list[tuple[int, int]], bool]:
        if t.kind == _K_UNION:
            return [(0, 0)] * len(t.members), False
        cur, pads, need_pack, max_align = 0, [], False, 1
        A = self.A
        for m in t.members:
            a = 1 if packed else A[m.type_id]
            max_align = max(max_align, a)
            if m.bitfield_size:
                ub = self.S[m.type_id] * 8
                nat = cur if (cur // ub) == ((cur + m.bitfield_size - 1) // ub) or packed \
                    else -(-cur // ub) * ub
                end = m.bit_offset + m.bitfield_size
            else:
                nat = -(-cur // (a * 8)) * (a * 8)
                end = m.bit_offset + self.S[m.type_id] * 8
            if m.bit_offset < nat:
                need_pack = True
            pads.append((max(0, m.bit_offset - cur) if m.bit_offset > nat or packed else 0,
                         m.bit_offset))
            cur = end
        size_bits = t.size * 8
        nat_size = -(-cur // (max_align * 8)) * max_align * 8
        if nat_size > size_bits:
            need_pack = True
        return pads, need_pack

    # ---- declarations ----

    def decl(self, tid: int, name: str, indent: int) -> str:
        """C declaration of ``name`` with type ``tid`` (anonymous records inline)."""
        t = self.T[tid]
        k = t.kind
        if k == _K_UNKN:
            return f"void {name}".rstrip()
        if k in MODIFIERS:
            if k == _K_TYPE_TAG:
                return self.decl(t.type_id, name, indent)
            inner = self.M[t.type_id]
            if inner.kind == _K_PTR:
                return self.decl(t.type_id, f"{_QUAL[k]} {name}".rstrip(), indent)
            inner_decl = self.decl(t.type_id, name, indent)
            if inner_decl.startswith(_QUAL[k] + " "):     # const const int -> const int
                return inner_decl
            return f"{_QUAL[k]} {inner_decl}"
        if k == _K_PTR:
            target = self.M[t.type_id]
            inner = f"*{name}"
            if target.kind in (_K_ARRAY, _K_FUNC_PROTO):
                inner = f"(*{name})"
            return self.decl(t.type_id, inner, indent)
        if k == _K_ARRAY:
            return self.decl(t.elem_type_id, f"{name}[{t.nelems}]", indent)
        if k == _K_FUNC_PROTO:
            params = []
            for i, p in enumerate(t.params):
                if p.type_id == 0 and i == len(t.params) - 1:
                    params.append("...")
                else:
                    params.append(self.decl(p.type_id, p.name, indent))
            return self.decl(t.type_id, f"{name}({', '.join(params) or 'void'})", indent)
        if k in COMPOSITES or k in ENUMS:
            if not t.name:
                return f"{self.body(t, indent)} {name}".rstrip()
            return f"{self.tag(t)} {self.name(tid)} {name}".rstrip()
        if k == _K_FWD:
            return f"{self.tag(t)} {self.name(tid)} {name}".rstrip()
        if k == _K_TYPEDEF:
            return f"{self.name(tid)} {name}".rstrip()
        return f"{t.name} {name}".rstrip()      # INT, FLOAT

    def body(self, t: Type, indent: int) -> str:
        pad = "\t" * (indent + 1)
        if t.kind in ENUMS:
            lines = []
            for e in t.enumerators:
                n = e.name
                cnt = self.enum_vals.get(n, 0) + 1
                self.enum_vals[n] = cnt
                n = n if cnt == 1 else f"{n}___{cnt}"
                v = f"{e.value}ULL" if e.value > 0x7FFFFFFF else str(e.value)
                lines.append(f"{pad}{n} = {v},")
            attr = " __attribute__((packed))" if t.size < 4 else ""
            head = f"enum {self.name(t.id)} " if t.name else "enum "
            return head + "{\n" + "\n".join(lines) + "\n" + "\t" * indent + "}" + attr
        packed = self.packed(t)
        pads, _ = self._layout(t, packed)
        lines = []
        cur = 0
        for m, (gap, _off) in zip(t.members, pads, strict=True):
            if gap:
                lines.extend(f"{pad}long: {n};" for n in _gap_chunks(cur, gap))
            d = self.decl(m.type_id, m.name, indent + 1)
            if m.bitfield_size:
                d += f": {m.bitfield_size}"
            lines.append(f"{pad}{d};")
            cur = m.bit_offset + (m.bitfield_size or self.S[m.type_id] * 8)
        if t.kind == _K_STRUCT and t.size * 8 > cur:
            a = 1 if packed else max((self.A[m.type_id] for m in t.members), default=1)
            if -(-cur // (a * 8)) * a * 8 < t.size * 8:
                lines.extend(f"{pad}long: {n};" for n in _gap_chunks(cur, t.size * 8 - cur))
        head = f"{t.kind.name.lower()} {self.name(t.id)} " if t.name else f"{t.kind.name.lower()} "
        attr = " __attribute__((packed))" if packed else ""
        return head + "{\n" + "\n".join(lines) + ("\n" if lines else "") + "\t" * indent + "}" + attr

    # ---- ordering ----

    def deps(self, tid: int, strong: bool, acc: list[tuple[int, bool]], seen: set[int]) -> None:
        """Named types ``tid`` refers to: strong (needed complete) or weak (a declaration)."""
        t = self.T[tid]
        k = t.kind
        if k in MODIFIERS:
            self.deps(t.type_id, strong, acc, seen)
        elif k == _K_PTR:
            self.deps(t.type_id, False, acc, seen)
        elif k == _K_ARRAY:
            self.deps(t.elem_type_id, strong, acc, seen)
        elif k == _K_FUNC_PROTO:
            self.deps(t.type_id, False, acc, seen)
            for p in t.params:
                if p.type_id:
                    self.deps(p.type_id, False, acc, seen)
        elif k in COMPOSITES or k in ENUMS or k == _K_TYPEDEF or k == _K_FWD:
            if k == _K_TYPEDEF and strong:   # used by value: what it names must be complete
                self.deps(t.type_id, True, acc, seen)
            if t.name:
                acc.append((tid, strong or k in ENUMS))
            elif tid not in seen:          # anonymous: its members are ours
                seen.add(tid)
                for m in t.members:
                    self.deps(m.type_id, strong, acc, seen)

    def emit(self, tid: int) -> None:
        if tid in self.done or tid in self.busy:
            return
        t = self.T[tid]
        if t.kind == _K_FWD:
            self.forward(tid)
            return
        if t.name in _SKIP:
            self.done.add(tid)
            self.names[tid] = t.name
            return
        self.busy.add(tid)
        acc: list[tuple[int, bool]] = []
        if t.kind == _K_TYPEDEF:
            target = self.M[t.type_id]
            direct = target.kind in COMPOSITES and target.name
            self.deps(t.type_id, not direct, acc, set())
        elif t.kind in COMPOSITES:
            for m in t.members:
                self.deps(m.type_id, True, acc, set())
        for dep, strong in acc:
            if dep == tid:
                continue
            if strong or self.T[dep].kind == _K_TYPEDEF:
                self.emit(dep)
            else:
                self.forward(dep)
        self.busy.discard(tid)
        if tid in self.done:
            return
        if t.kind == _K_TYPEDEF:
            self.out.append(f"typedef {self.decl(t.type_id, self.name(tid), 0)};\n\n")
        else:
            self.out.append(self.body(t, 0) + ";\n\n")
        self.done.add(tid)
        self.declared.add(tid)

    def forward(self, tid: int) -> None:
        t = self.T[tid]
        if tid in self.declared or t.kind in ENUMS or t.kind == _K_TYPEDEF:
            if t.kind in ENUMS or t.kind == _K_TYPEDEF:
                self.emit(tid)
            return
        self.out.append(f"{self.tag(t)} {self.name(tid)};\n\n")
        self.declared.add(tid)


def _top_and_anon_enums(btf: BTF, d: _Dumper) -> list[int] | None:
    """The ids ``dump_c`` emits for a whole blob, found from the raw type headers (only the
    types the header will contain get decoded). None when ``btf`` has no blob."""
    from .parse import headers
    h = headers(btf)
    if h is None:
        return None
    infos, sts, w = h
    first = btf.start_id
    top = {int(k) for k in _TOP}
    enums = {int(k) for k in ENUMS}
    sized = {int(k) for k in (_K_INT, _K_STRUCT, _K_UNION, _K_ENUM, _K_ENUM64,
                              _K_DATASEC, _K_FLOAT)}
    names = btf.index.names
    T = d.T
    ids = [first + i for i, (info, noff) in enumerate(zip(infos, names, strict=True))
           if noff and (info >> 24) & 0x1F in top]
    ids = [tid for tid in ids if T[tid].name not in _SKIP]
    anon = {first + i for i, (info, noff) in enumerate(zip(infos, names, strict=True))
            if not noff and (info >> 24) & 0x1F in enums}
    if anon:
        refs = {st for info, st in zip(infos, sts, strict=True) if (info >> 24) & 0x1F not in sized}
        words = btf._words
        for i, info in enumerate(infos):
            k = (info >> 24) & 0x1F
            o = words[i]
            if k == _K_ARRAY:
                refs.add(w[o + 3])
            elif k == _K_STRUCT or k == _K_UNION:
                refs.update(w[o + 4:o + 3 + 3 * (info & 0xFFFF):3])
            elif k == _K_FUNC_PROTO:
                refs.update(w[o + 4:o + 3 + 2 * (info & 0xFFFF):2])
        ids += sorted(anon - refs)
    return ids


def _unreferenced_anon_enums(btf: BTF) -> list[int]:
    """Anonymous enums nothing refers to (``enum { false, true };``): emitted on their own."""
    anon = {t.id for t in btf if t.kind in ENUMS and not t.name}
    for t in btf:
        anon.discard(t.type_id)
        anon.discard(t.elem_type_id)
        for m in t.members:
            anon.discard(m.type_id)
        for p in t.params:
            anon.discard(p.type_id)
    return sorted(anon)


def _gap_chunks(cur: int, gap: int) -> Iterable[int]:
    """Split a padding gap into anonymous bitfields that never straddle a long."""
    while gap > 0:
        n = min(gap, 64 - cur % 64)
        yield n
        cur += n
        gap -= n


def dump_c(btf: BTF, types: Sequence[str] | None = None) -> str:
    """A C header declaring ``types`` (names; default: every type) and their dependencies."""
    d = _Dumper(btf)
    if types:
        ids = []
        for name in types:
            found = [t for t in btf.find_all(name) if t.kind in _TOP]
            if not found:
                raise BTFError(f"no struct, union, enum or typedef named {name!r} in this BTF")
            ids.append(max(found, key=lambda t: t.kind != _K_FWD).id)
    else:
        fast = _top_and_anon_enums(btf, d)
        if fast is not None:
            ids = fast
        else:
            ids = [t.id for t in btf if t.kind in _TOP and t.name and t.name not in _SKIP]
            ids += _unreferenced_anon_enums(btf)
        ids.sort()
    for tid in ids:
        d.emit(tid)
    return _HEAD + "".join(d.out) + _TAIL


def _btf_of_file(path: str) -> BTF:
    from .parse import parse_btf
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x7fELF":
        import io

        from elftools.elf.elffile import ELFFile
        sec = ELFFile(io.BytesIO(data)).get_section_by_name(".BTF")
        if sec is None:
            raise BTFError(f"{path}: no .BTF section")
        return parse_btf(sec.data())
    if path.startswith("/sys/kernel/btf/") and not path.endswith("/vmlinux"):
        from .kernel import load_kernel
        return parse_btf(data, base=load_kernel())
    if path == "/sys/kernel/btf/vmlinux":
        from .kernel import load_kernel
        return load_kernel()
    return parse_btf(data)


def main(argv: Sequence[str]) -> int:
    """``pybpf btf dump [FILE] [--types a,b]``: print the C header."""
    ap = argparse.ArgumentParser(prog="pybpf btf dump")
    ap.add_argument("file", nargs="?", default="/sys/kernel/btf/vmlinux")
    ap.add_argument("--types", default="")
    a = ap.parse_args(argv)
    try:
        out = dump_c(_btf_of_file(a.file), [t for t in a.types.split(",") if t] or None)
    except OSError as e:
        raise BPFError(f"{a.file}: {e.strerror}") from e
    sys.stdout.write(out)
    return 0
