"""CO-RE: relocate field offsets, sizes, existence, type ids and enum values against a target
BTF (the running kernel's), with libbpf's semantics: candidates by essential name (``___flavor``
stripped), matching through anonymous members, ambiguity detection, and poisoning of
relocations that cannot be resolved (the program fails only if that instruction is reached).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum

from .. import insn as I
from .._log import DEBUG, get_logger
from .._record import Frozen, Record, _set, simple_enum
from ..errors import CORERelocationError
from .ext import CoreRelo
from .types import BTF, COMPOSITES, ENUMS, INT_SIGNED, Kind, Type

log = get_logger("pybpf.core")

POISON_HELPER = I.POISON_HELPER
MAX_DEPTH = 32


@simple_enum(IntEnum)
class CoreReloKind:
    FIELD_BYTE_OFFSET = 0
    FIELD_BYTE_SIZE = 1
    FIELD_EXISTS = 2
    FIELD_SIGNED = 3
    FIELD_LSHIFT_U64 = 4
    FIELD_RSHIFT_U64 = 5
    TYPE_ID_LOCAL = 6
    TYPE_ID_TARGET = 7
    TYPE_EXISTS = 8
    TYPE_SIZE = 9
    ENUMVAL_EXISTS = 10
    ENUMVAL_VALUE = 11
    TYPE_MATCHES = 12


FIELD_KINDS = frozenset(range(0, 6))
TYPE_KINDS = frozenset({6, 7, 8, 9, 12})
ENUM_KINDS = frozenset({10, 11})
# a missing target gives 0 instead of poison
EXISTENCE_KINDS = frozenset({CoreReloKind.FIELD_EXISTS, CoreReloKind.TYPE_EXISTS,
                             CoreReloKind.ENUMVAL_EXISTS, CoreReloKind.TYPE_MATCHES})


def essential_name(name: str) -> str:
    """``task_struct___old`` -> ``task_struct`` (libbpf flavors)."""
    i = name.find("___")
    return name[:i] if i > 0 else name


class _Spec(Record):
    """A resolved access: the BTF, root type, bit offset and the final field.

    ``field_type_id``: type of the accessed field / element; ``bitfield_size``: 0 when not a
    bitfield; ``names``: per raw accessor, the member name."""

    __slots__ = ("btf", "root_id", "raw", "bit_offset", "field_type_id", "bitfield_size",
                 "enum_value", "names")

    def __init__(self, btf: BTF, root_id: int, raw: list[int], bit_offset: int = 0,
                 field_type_id: int = 0, bitfield_size: int = 0, enum_value: int = 0,
                 names: list[str | None] | None = None) -> None:
        self.btf, self.root_id, self.raw, self.bit_offset = btf, root_id, raw, bit_offset
        self.field_type_id, self.bitfield_size = field_type_id, bitfield_size
        self.enum_value = enum_value
        self.names = [] if names is None else names


_RESULT_FIELDS = ("relo", "section", "orig_val", "new_val", "poison", "fail_reason",
                  "orig_size", "new_size", "target_id", "target_btf", "local_name", "program",
                  "validate", "modules", "module")


class CoreResult(Frozen):
    """The outcome of one relocation. ``poison``: the instruction was turned into a trap.

    ``validate`` is False for bitfields: clang and libbpf size their loads differently, so
    (as libbpf does) the instruction's original value is not checked against ours.
    ``modules``: no candidate in vmlinux, the loaded modules' BTF was searched; ``module``:
    the module whose type was the target, if any."""

    __slots__ = _RESULT_FIELDS
    relo: CoreRelo
    section: str
    orig_val: int
    new_val: int
    poison: bool
    fail_reason: str
    orig_size: int
    new_size: int
    target_id: int
    target_btf: BTF | None
    local_name: str
    program: str
    validate: bool
    modules: bool
    module: str

    def __init__(self, relo: CoreRelo, section: str, orig_val: int, new_val: int,
                 poison: bool = False, fail_reason: str = "", orig_size: int = 0,
                 new_size: int = 0, target_id: int = 0, target_btf: BTF | None = None,
                 local_name: str = "", program: str = "", validate: bool = True,
                 modules: bool = False, module: str = "") -> None:
        for n, v in zip(_RESULT_FIELDS, (relo, section, orig_val, new_val, poison, fail_reason,
                                         orig_size, new_size, target_id, target_btf,
                                         local_name, program, validate, modules, module),
                        strict=True):
            _set(self, n, v)

    def describe(self) -> str:
        kind = CoreReloKind(self.relo.kind).name.lower()
        what = f"{self.local_name} ({self.relo.access_str})"
        head = f"{self.section} insn#{self.relo.insn_off // 8} {kind} {what}"
        if self.poison:
            return f"{head} -> unresolved, poisoned: {self.fail_reason}"
        where = f" [module {self.module}]" if self.module else ""
        return f"{head} -> {self.new_val} (was {self.orig_val}){where}"


class CoreRelocator:
    """Computes and applies CO-RE relocations of one object against target BTF(s)."""

    def __init__(self, local: BTF, target: BTF | Sequence[BTF],
                 modules: Callable[[], Sequence[BTF]] | None = None) -> None:
        """``modules``: gives the kernel modules' split BTFs, searched (as libbpf does) only
        for a type with no candidate at all in ``target``."""
        self.local = local
        self.targets = [target] if isinstance(target, BTF) else list(target)
        self._modules = modules
        self._module_btfs: Sequence[BTF] | None = None
        self._cands: dict[int, list[tuple[BTF, int]]] = {}
        self._via_modules: set[int] = set()     # local ids whose candidates came from modules

    # ---- public ----

    def relocate_section(self, insns: bytearray, relos: Iterable[CoreRelo],
                         section: str = "") -> list[CoreResult]:
        out = []
        for relo in relos:
            res = self.compute(relo, section)
            self.apply(insns, relo, res)
            if log.isEnabledFor(DEBUG):
                log.debug("%s", res.describe())
            out.append(res)
        return out

    def compute(self, relo: CoreRelo, section: str = "") -> CoreResult:
        kind = relo.kind
        local_t = self.local[relo.type_id]
        lname = self.local.type_name(relo.type_id)
        if kind == CoreReloKind.TYPE_ID_LOCAL:
            return CoreResult(relo, section, relo.type_id, relo.type_id, local_name=lname)
        if not local_t.name and kind != CoreReloKind.TYPE_ID_LOCAL:
            raise CORERelocationError(f"{section} insn#{relo.insn_off // 8}: CO-RE relocation "
                                      f"against anonymous type [{relo.type_id}]")
        local_spec = self._parse_spec(relo)
        if kind not in TYPE_KINDS:               # name the field or enumerator, not just the type
            path = ".".join(n for n in local_spec.names if n)
            lname = f"{lname}.{path}" if path and kind not in ENUM_KINDS else (
                f"{lname}::{path}" if path else lname)
        orig, orig_size = self._value(kind, local_spec, self.local, relo.type_id)
        validate = not (kind in FIELD_KINDS and local_spec.bitfield_size)
        results: list[tuple[int, int, int, BTF]] = []
        reasons = []
        cands = self._candidates(relo.type_id)
        mods = relo.type_id in self._via_modules
        for btf, cand in cands:
            try:
                targ = self._match(local_spec, kind, btf, cand)
            except _NoMatch as e:
                reasons.append(str(e))
                continue
            val, size = self._value(kind, targ, btf, cand)
            results.append((val, size, cand, btf))
        if not results:
            if kind in EXISTENCE_KINDS:
                return CoreResult(relo, section, orig, 0, orig_size=orig_size, local_name=lname,
                                  validate=validate, modules=mods)
            reason = reasons[0] if reasons else f"no {lname} in the kernel's BTF"
            return CoreResult(relo, section, orig, 0, poison=True, fail_reason=reason,
                              orig_size=orig_size, local_name=lname, validate=validate,
                              modules=mods)
        vals = {(v, s) for v, s, _, _ in results}
        if len(vals) > 1 and kind != CoreReloKind.TYPE_ID_TARGET:
            detail = ", ".join(f"[{c}] -> {v}" for v, _, c, _ in results)
            raise CORERelocationError(f"{section} insn#{relo.insn_off // 8}: ambiguous CO-RE "
                                      f"relocation {CoreReloKind(kind).name} of {lname} "
                                      f"({relo.access_str}): candidates disagree: {detail}")
        val, size, cand, btf = results[0]
        return CoreResult(relo, section, orig, val, orig_size=orig_size, new_size=size,
                          target_id=cand, target_btf=btf, local_name=lname, validate=validate,
                          modules=mods, module=btf.name if mods else "")

    def apply(self, insns: bytearray, relo: CoreRelo, res: CoreResult) -> None:
        """Patch the instruction at ``relo.insn_off`` (byte offset into ``insns``)."""
        idx = relo.insn_off // 8
        where = f"{res.section} insn#{idx}"
        if relo.insn_off % 8 or idx >= I.count(insns):
            raise CORERelocationError(f"{where}: CO-RE relocation outside the code")
        ins = I.decode(insns, idx)
        if res.poison:
            if ins.code == I.LD_IMM64:
                _poison(insns, idx + 1)
            _poison(insns, idx)
            return
        cls = ins.cls
        if cls in (I.ALU, I.ALU64):
            if ins.code & 0x08:
                raise CORERelocationError(f"{where}: CO-RE relocation on a register ALU op")
            if res.validate and ins.imm != _s32(res.orig_val):
                raise CORERelocationError(f"{where}: expected imm {res.orig_val}, found {ins.imm}")
            I.set_imm(insns, idx, res.new_val)
        elif cls in (I.LDX, I.ST, I.STX):
            if res.validate and ins.off != res.orig_val:
                raise CORERelocationError(f"{where}: expected offset {res.orig_val}, found {ins.off}")
            if not -(1 << 15) <= res.new_val < (1 << 15):
                raise CORERelocationError(f"{where}: field offset {res.new_val} does not fit s16")
            code = ins.code
            if res.new_size and res.orig_size and res.new_size != res.orig_size:
                if I.mem_size(ins) != res.orig_size:
                    raise CORERelocationError(f"{where}: access size {I.mem_size(ins)} is not the "
                                              f"field's size {res.orig_size}")
                code = (code & ~0x18) | {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}[res.new_size]
            I.encode_into(insns, idx, I.Insn(code, ins.dst, ins.src, res.new_val, ins.imm))
        elif ins.code == I.LD_IMM64:
            hi = I.decode(insns, idx + 1).imm & 0xFFFFFFFF
            cur = (hi << 32) | (ins.imm & 0xFFFFFFFF)
            if res.validate and cur != res.orig_val & 0xFFFFFFFFFFFFFFFF:
                raise CORERelocationError(f"{where}: expected imm64 {res.orig_val}, found {cur}")
            I.set_ld_imm64(insns, idx, res.new_val)
        else:
            raise CORERelocationError(f"{where}: CO-RE relocation on unsupported instruction "
                                      f"{I.format_insn(ins)}")

    # ---- specs ----

    def _parse_spec(self, relo: CoreRelo) -> _Spec:
        btf = self.local
        try:
            raw = [int(x) for x in relo.access_str.split(":")]
        except ValueError:
            raise CORERelocationError(f"bad CO-RE access string {relo.access_str!r}") from None
        spec = _Spec(btf, relo.type_id, raw)
        if relo.kind in TYPE_KINDS:
            return spec
        if relo.kind in ENUM_KINDS:
            t = btf.skip_modifiers(relo.type_id)
            if t.kind not in ENUMS or raw[0] >= len(t.enumerators):
                raise CORERelocationError(f"enum relocation on {btf.type_name(relo.type_id)} "
                                          f"with bad index {raw[0]}")
            e = t.enumerators[raw[0]]
            spec.names, spec.enum_value = [e.name], e.value
            return spec
        tid = relo.type_id
        spec.bit_offset = raw[0] * _size(btf, tid) * 8
        spec.names = [None]
        for a in raw[1:]:
            t = btf.resolve(tid)
            if t.kind in COMPOSITES:
                if a >= len(t.members):
                    raise CORERelocationError(f"access {relo.access_str}: member {a} out of range "
                                              f"in {btf.type_name(tid)}")
                m = t.members[a]
                spec.bit_offset += m.bit_offset
                spec.bitfield_size = m.bitfield_size
                spec.names.append(m.name or None)
                tid = m.type_id
            elif t.kind == Kind.ARRAY:
                spec.bit_offset += a * _size(btf, t.elem_type_id) * 8
                spec.bitfield_size = 0
                spec.names.append(None)
                tid = t.elem_type_id
            else:
                raise CORERelocationError(f"access {relo.access_str}: cannot index into "
                                          f"{btf.type_name(tid)}")
        spec.field_type_id = tid
        return spec

    def _candidates(self, local_id: int) -> list[tuple[BTF, int]]:
        cached = self._cands.get(local_id)
        if cached is not None:
            return cached
        lt = self.local.skip_modifiers(local_id)
        ess = essential_name(lt.name)
        out = [(btf, tid) for btf in self.targets for tid in btf.ids_by_name(ess)
               if _kind_compat(lt.kind, btf[tid].kind)]
        if not out and self._modules is not None:
            if self._module_btfs is None:
                self._module_btfs = self._modules()
            self._via_modules.add(local_id)
            out = [(btf, tid) for btf in self._module_btfs for tid in btf.ids_by_name(ess)
                   if tid >= btf.start_id and _kind_compat(lt.kind, btf[tid].kind)]
        self._cands[local_id] = out
        return out

    def _match(self, local: _Spec, kind: int, btf: BTF, cand: int) -> _Spec:
        if kind in TYPE_KINDS:
            if kind == CoreReloKind.TYPE_MATCHES:
                ok = _types_match(self.local, local.root_id, btf, cand, 0)
            else:
                ok = _types_compat(self.local, local.root_id, btf, cand, 0)
            if not ok:
                raise _NoMatch(f"{btf.type_name(cand)} [{cand}] is incompatible")
            return _Spec(btf, cand, local.raw)
        if kind in ENUM_KINDS:
            t = btf.skip_modifiers(cand)
            want = essential_name(local.names[0] or "")
            for e in t.enumerators:
                if essential_name(e.name) == want:
                    s = _Spec(btf, cand, local.raw, names=[e.name])
                    s.enum_value = e.value
                    return s
            raise _NoMatch(f"enum {t.name} has no value {want}")
        targ = _Spec(btf, cand, local.raw)
        targ.bit_offset = local.raw[0] * _size(btf, cand) * 8
        ltid, ttid = local.root_id, cand
        for i, a in enumerate(local.raw[1:], start=1):
            lt, tt = self.local.resolve(ltid), btf.resolve(ttid)
            if lt.kind in COMPOSITES:
                lm = lt.members[a]
                if not lm.name and i < len(local.raw) - 1:
                    # an anonymous member on the way: only named members are matched (as
                    # libbpf does), the next one looked for through the target's anonymous
                    # members (6.18 wraps file.f_path in one; earlier kernels do not)
                    ltid = lm.type_id
                    continue
                if not lm.name:   # the anonymous member itself: the structure must match
                    if tt.kind not in COMPOSITES or a >= len(tt.members):
                        raise _NoMatch("anonymous member layout differs")
                    tm = tt.members[a]
                    targ.bit_offset += tm.bit_offset
                    targ.bitfield_size = tm.bitfield_size
                    ltid, ttid = lm.type_id, tm.type_id
                    continue
                if tt.kind not in COMPOSITES:
                    raise _NoMatch(f"{btf.type_name(ttid)} is not a struct/union")
                found = _find_member(btf, tt, essential_name(lm.name), 0)
                if found is None:
                    raise _NoMatch(f"{self.local.type_name(local.root_id)} has no field "
                                   f"{lm.name!r} in the kernel")
                off, tm = found
                if not _fields_compat(self.local, lm.type_id, btf, tm.type_id, 0):
                    raise _NoMatch(f"field {lm.name!r} has an incompatible type")
                targ.bit_offset += off
                targ.bitfield_size = tm.bitfield_size
                ltid, ttid = lm.type_id, tm.type_id
            else:   # array element
                if tt.kind != Kind.ARRAY:
                    raise _NoMatch(f"{btf.type_name(ttid)} is not an array")
                if tt.nelems and a >= tt.nelems and not (i == len(local.raw) - 1 and tt.nelems == 1):
                    raise _NoMatch(f"array index {a} out of bounds ({tt.nelems})")
                targ.bit_offset += a * _size(btf, tt.elem_type_id) * 8
                targ.bitfield_size = 0
                ltid, ttid = lt.elem_type_id, tt.elem_type_id
        targ.field_type_id = ttid
        return targ

    def _value(self, kind: int, spec: _Spec, btf: BTF, type_id: int) -> tuple[int, int]:
        """(relocated value, field byte size for memory-access size fix-ups)."""
        k = CoreReloKind(kind)
        if k == CoreReloKind.TYPE_ID_LOCAL:
            return type_id, 0
        if k == CoreReloKind.TYPE_ID_TARGET:
            return spec.root_id, 0
        if k in (CoreReloKind.TYPE_EXISTS, CoreReloKind.TYPE_MATCHES, CoreReloKind.ENUMVAL_EXISTS,
                 CoreReloKind.FIELD_EXISTS):
            return 1, 0
        if k == CoreReloKind.TYPE_SIZE:
            return _size(btf, spec.root_id), 0
        if k == CoreReloKind.ENUMVAL_VALUE:
            return spec.enum_value, 0
        return _field_value(k, spec)


class _NoMatch(Exception):
    pass


def _field_value(k: CoreReloKind, spec: _Spec) -> tuple[int, int]:
    btf = spec.btf
    mt = btf.resolve(spec.field_type_id)
    bit_off = spec.bit_offset
    if spec.bitfield_size:
        bit_sz = spec.bitfield_size
        byte_sz = mt.size
        byte_off = bit_off // 8 // byte_sz * byte_sz
        while bit_off + bit_sz - byte_off * 8 > byte_sz * 8:
            if byte_sz >= 8:
                raise CORERelocationError("bitfield cannot be read with a 64-bit load")
            byte_sz *= 2
            byte_off = bit_off // 8 // byte_sz * byte_sz
        mem_size = 0
    else:
        byte_sz = _size(btf, spec.field_type_id)
        bit_sz = byte_sz * 8
        byte_off = bit_off // 8
        mem_size = byte_sz if mt.kind in (Kind.INT, Kind.PTR, Kind.ENUM, Kind.ENUM64) else 0
    if k == CoreReloKind.FIELD_BYTE_OFFSET:
        return byte_off, mem_size
    if k == CoreReloKind.FIELD_BYTE_SIZE:
        return byte_sz, 0
    if k == CoreReloKind.FIELD_SIGNED:
        signed = mt.kflag if mt.kind in ENUMS else bool(mt.int_encoding & INT_SIGNED)
        return int(signed), 0
    if k == CoreReloKind.FIELD_LSHIFT_U64:
        return 64 - (bit_off + bit_sz - byte_off * 8), 0
    if k == CoreReloKind.FIELD_RSHIFT_U64:
        return 64 - bit_sz, 0
    raise CORERelocationError(f"unknown field relocation kind {k}")


def _find_member(btf: BTF, t: Type, name: str, depth: int) -> tuple[int, object] | None:
    """(bit offset, member) of ``name`` in ``t``, searching anonymous members too."""
    if depth > MAX_DEPTH:
        return None
    for m in t.members:
        if m.name:
            if essential_name(m.name) == name:
                return m.bit_offset, m
        else:
            inner = btf.resolve(m.type_id)
            if inner.kind in COMPOSITES:
                found = _find_member(btf, inner, name, depth + 1)
                if found is not None:
                    return m.bit_offset + found[0], found[1]
    return None


def _kind_compat(a: Kind, b: Kind) -> bool:
    return a == b or (a in ENUMS and b in ENUMS)


def _size(btf: BTF, tid: int) -> int:
    try:
        return btf.size_of(tid)
    except Exception as e:  # noqa: BLE001 - BTFError for sizeless kinds
        raise CORERelocationError(f"type {btf.type_name(tid)} has no size: {e}") from None


def _fields_compat(lb: BTF, lid: int, tb: BTF, tid: int, depth: int) -> bool:
    lt, tt = lb.resolve(lid), tb.resolve(tid)
    if lt.kind in COMPOSITES and tt.kind in COMPOSITES:
        return True
    if not _kind_compat(lt.kind, tt.kind):
        return False
    if lt.kind in ENUMS or lt.kind == Kind.FWD:
        return not lt.name or not tt.name or essential_name(lt.name) == essential_name(tt.name)
    if lt.kind in (Kind.INT, Kind.FLOAT, Kind.PTR):
        return lt.kind != Kind.INT or (lt.int_offset == 0 and tt.int_offset == 0)
    if lt.kind == Kind.ARRAY:
        return depth < MAX_DEPTH and _fields_compat(lb, lt.elem_type_id, tb, tt.elem_type_id, depth + 1)
    return False


def _types_compat(lb: BTF, lid: int, tb: BTF, tid: int, depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    lt, tt = lb.resolve(lid), tb.resolve(tid)
    if not _kind_compat(lt.kind, tt.kind):
        return False
    k = lt.kind
    if k in (Kind.UNKN, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FWD, Kind.FLOAT):
        return True
    if k == Kind.INT:
        return lt.int_offset == 0 and tt.int_offset == 0
    if k == Kind.PTR:
        return _types_compat(lb, lt.type_id, tb, tt.type_id, depth + 1)
    if k == Kind.ARRAY:
        return _types_compat(lb, lt.elem_type_id, tb, tt.elem_type_id, depth + 1)
    if k == Kind.FUNC_PROTO:
        return (len(lt.params) == len(tt.params)
                and _types_compat(lb, lt.type_id, tb, tt.type_id, depth + 1)
                and all(_types_compat(lb, a.type_id, tb, b.type_id, depth + 1)
                        for a, b in zip(lt.params, tt.params, strict=True)))
    return False


def _names_match(local: str, target: str) -> bool:
    """libbpf's name rule for TYPE_MATCHES: an anonymous target needs an anonymous local;
    else the essential names (no ``___flavor``) are equal."""
    if not target:
        return not local
    return essential_name(local) == essential_name(target)


def _types_match(lb: BTF, lid: int, tb: BTF, tid: int, depth: int,
                 behind_ptr: bool = False) -> bool:
    """libbpf's stricter ``bpf_core_types_match`` (TYPE_MATCHES): modifiers and typedefs
    stripped, names matched at every level, kinds equal, except that behind a pointer a
    struct/union matches any same-kind type of its name (or a forward declaration of it);
    a composite matches when each local member has a same-named target member of a
    matching type; enums when each local enumerator's name is in the target's."""
    if depth > MAX_DEPTH:
        return False
    lt, tt = lb.skip_modifiers(lid), tb.skip_modifiers(tid)
    while lt.kind == Kind.TYPEDEF:
        lt = lb.skip_modifiers(lt.type_id)
    while tt.kind == Kind.TYPEDEF:
        tt = tb.skip_modifiers(tt.type_id)
    if not _names_match(lt.name or "", tt.name or ""):
        return False
    k, tk = lt.kind, tt.kind
    if k == Kind.UNKN:
        return tk == Kind.UNKN
    if k == Kind.FWD:                          # kflag: a union's forward declaration
        if tk == Kind.FWD:
            return lt.kflag == tt.kflag
        return behind_ptr and tk == (Kind.UNION if lt.kflag else Kind.STRUCT)
    if k in ENUMS:
        if tk not in ENUMS or lt.size != tt.size or len(lt.enumerators) > len(tt.enumerators):
            return False
        names = [e.name for e in tt.enumerators]
        return all(any(_names_match(e.name, n) for n in names) for e in lt.enumerators)
    if k in COMPOSITES:
        if behind_ptr:
            return tk == k or (tk == Kind.FWD and tt.kflag == (k == Kind.UNION))
        if tk != k or len(lt.members) > len(tt.members):
            return False
        return all(any(_names_match(lm.name, tm.name)
                       and _types_match(lb, lm.type_id, tb, tm.type_id, depth + 1)
                       for tm in tt.members)
                   for lm in lt.members)
    if k == Kind.INT:
        return (tk == Kind.INT and lt.size == tt.size
                and bool(lt.int_encoding & INT_SIGNED) == bool(tt.int_encoding & INT_SIGNED))
    if k == Kind.PTR:
        return tk == Kind.PTR and _types_match(lb, lt.type_id, tb, tt.type_id, depth + 1, True)
    if k == Kind.ARRAY:
        return (tk == Kind.ARRAY and lt.nelems == tt.nelems
                and _types_match(lb, lt.elem_type_id, tb, tt.elem_type_id, depth + 1,
                                 behind_ptr))
    if k == Kind.FUNC_PROTO:
        return (tk == Kind.FUNC_PROTO and len(lt.params) == len(tt.params)
                and all(_types_match(lb, a.type_id, tb, b.type_id, depth + 1, behind_ptr)
                        for a, b in zip(lt.params, tt.params, strict=True))
                and _types_match(lb, lt.type_id, tb, tt.type_id, depth + 1, behind_ptr))
    return False                               # FLOAT and the rest: libbpf has no rule


def _poison(insns: bytearray, idx: int) -> None:
    I.encode_into(insns, idx, I.Insn(I.CALL, 0, 0, 0, POISON_HELPER))


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v

