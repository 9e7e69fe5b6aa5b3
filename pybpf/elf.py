"""ELF BPF object -> ObjectSpec: programs, subprogram linking, maps, global data, BTF.

Everything here is a pure function of the object's bytes: no kernel is involved.
"""

from __future__ import annotations

import os
import struct

from . import insn as I
from ._log import get_logger
from ._record import Record
from .attach.sections import lookup as lookup_section
from .btf.types import BTF, Kind
from .errors import BPFError, BTFError, ELFError
from .mapdefs import global_data_map, parse_btf_map, parse_legacy_maps, values_offset
from .spec import MapSpec, ObjectSpec, ProgramSpec, RelocSpec
from .sys.consts import PSEUDO_CALL, PSEUDO_FUNC

log = get_logger("pybpf.elf")

EM_BPF = 247
EVENT_SECTION = ".pybpf.events"   # PYBPF_EVENT() declarations: read, never loaded
SHF_EXECINSTR = 0x4
SHN_UNDEF = 0
_REL = struct.Struct("<QQ")  # r_offset, r_info
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")   # name type flags addr offset size link info align entsize
_SYM = struct.Struct("<IBBHQQ")        # name info other shndx value size
SHT_PROGBITS, SHT_SYMTAB, SHT_RELA, SHT_NOBITS, SHT_REL = 1, 2, 4, 8, 9
# a .bss becomes one array map value: none can be this large (the kernel's cap is the
# largest kmalloc, a few MiB), and a corrupt size must not make us allocate gigabytes
MAX_NOBITS = 64 << 20
_SHN = {0: "SHN_UNDEF", 0xFFF1: "SHN_ABS", 0xFFF2: "SHN_COMMON", 0xFFFF: "SHN_XINDEX"}
_STT = ("STT_NOTYPE", "STT_OBJECT", "STT_FUNC", "STT_SECTION", "STT_FILE", "STT_COMMON",
        "STT_TLS")
_STB = ("STB_LOCAL", "STB_GLOBAL", "STB_WEAK")


class _Sym(Record):
    __slots__ = ("name", "shndx", "value", "size", "type", "bind")

    def __init__(self, name: str, shndx: int | str, value: int, size: int, type: str,  # noqa: A002
                 bind: str) -> None:
        self.name, self.shndx, self.value, self.size, self.type, self.bind = (
            name, shndx, value, size, type, bind)


class _Func(Record):
    """A function inside an executable section (offset and size in bytes)."""

    __slots__ = ("name", "section", "offset", "size", "is_program")

    def __init__(self, name: str, section: str, offset: int, size: int, is_program: bool) -> None:
        self.name, self.section, self.offset, self.size = name, section, offset, size
        self.is_program = is_program


class _Parsed(Record):
    """The ELF file's pieces: section data by name, symbols, relocations (target section ->
    offset -> symbol), every section's size."""

    __slots__ = ("path", "obj_name", "sections", "shndx_name", "exec_sections", "data_sections",
                 "symbols", "relocs", "sizes")

    def __init__(self, path: str, obj_name: str) -> None:
        self.path, self.obj_name = path, obj_name
        self.sections: dict[str, bytes] = {}
        self.shndx_name: dict[int, str] = {}
        self.exec_sections: list[str] = []
        self.data_sections: list[str] = []
        self.symbols: list[_Sym] = []
        self.relocs: dict[str, dict[int, _Sym]] = {}
        self.sizes: dict[str, int] = {}


def load_spec(path: str | os.PathLike[str]) -> ObjectSpec:
    """Parse the BPF object at ``path``."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ELFError(f"cannot read object: {e.strerror}", path=p) from e
    return load_spec_bytes(data, p)


def load_spec_bytes(data: bytes, path: str = "<bytes>") -> ObjectSpec:
    """Parse a BPF object from memory; every failure is an ELFError/BTFError naming the place."""
    try:
        return _build_spec(_read_elf(data, path))
    except BPFError:
        raise
    except (struct.error, ValueError, KeyError, IndexError, UnicodeDecodeError,
            OverflowError) as e:  # corrupt headers
        raise ELFError(f"malformed ELF object: {e}", path=path) from e


def _obj_name(path: str) -> str:
    base = os.path.basename(path)
    return base.split(".", 1)[0] or "obj"


class _Section:
    __slots__ = ("name", "type", "flags", "offset", "size", "link", "info")

    def __init__(self, name: str, type_: int, flags: int, offset: int, size: int, link: int,
                 info: int) -> None:
        self.name, self.type, self.flags, self.offset = name, type_, flags, offset
        self.size, self.link, self.info = size, link, info


def _cstr(data: bytes, start: int, off: int) -> str:
    """The NUL-terminated string at ``start + off``."""
    i = start + off
    end = data.index(b"\0", i)
    return data[i:end].decode()


def _read_elf(data: bytes, path: str) -> _Parsed:
    """Sections, symbols and relocations, read with ``struct`` (ELF64 little-endian only)."""
    if data[:4] != b"\x7fELF":
        raise ELFError("not an ELF file (bad magic)", path=path)
    if len(data) < _EHDR.size:
        raise ELFError("truncated ELF header", path=path)
    ident, e_type, e_machine, *_r, e_shoff, _fl, _eh, _phes, _phn, e_shentsize, e_shnum, \
        e_shstrndx = _EHDR.unpack_from(data)
    if ident[5] == 2:
        raise ELFError("big-endian BPF object (bpfeb) cannot load on this little-endian host",
                       path=path)
    if ident[4] != 2 or ident[5] != 1:
        raise ELFError(f"not a 64-bit little-endian ELF (class {ident[4]}, data {ident[5]})",
                       path=path)
    if e_machine != EM_BPF:
        raise ELFError(f"not a BPF object: e_machine is {e_machine} (want EM_BPF = {EM_BPF})",
                       path=path)
    if e_type != 1:
        raise ELFError(f"expected a relocatable object (ET_REL), got e_type {e_type}", path=path)
    if e_shnum and e_shentsize < _SHDR.size:
        raise ELFError(f"bad section header size {e_shentsize}", path=path)
    if e_shoff + e_shnum * e_shentsize > len(data):
        raise ELFError("section headers extend past the end of the file", path=path)
    hdrs = [_SHDR.unpack_from(data, e_shoff + i * e_shentsize) for i in range(e_shnum)]
    if e_shstrndx >= e_shnum:
        raise ELFError(f"bad section name table index {e_shstrndx}", path=path)
    str_off = hdrs[e_shstrndx][4]
    secs = []
    for idx, (sh_name, sh_type, flags, _a, off, size, link, info, _al, _es) in enumerate(hdrs):
        if sh_type != SHT_NOBITS and off + size > len(data):
            raise ELFError(f"section #{idx} extends past the end of the file", path=path)
        if sh_type == SHT_NOBITS and size > MAX_NOBITS:
            raise ELFError(f"section #{idx}: zero-filled size {size} is over "
                           f"{MAX_NOBITS >> 20} MiB, more than a BPF map value can hold",
                           path=path)
        secs.append(_Section(_cstr(data, str_off, sh_name), sh_type, flags, off, size, link, info))
    p = _Parsed(path, _obj_name(path))
    symtab = None
    rel_sections = []
    for idx, sec in enumerate(secs):
        name = sec.name
        p.shndx_name[idx] = name
        if sec.type == SHT_SYMTAB:
            symtab = sec
            continue
        if sec.type == SHT_REL:
            rel_sections.append(sec)
            continue
        if sec.type == SHT_RELA:
            raise ELFError("RELA relocations are not used by BPF objects", path=path, section=name)
        p.sizes[name] = sec.size
        if sec.type == SHT_NOBITS:
            p.sections[name] = bytes(sec.size)
        elif sec.type == SHT_PROGBITS or name in ("license", "version"):
            p.sections[name] = data[sec.offset:sec.offset + sec.size]
        if sec.flags & SHF_EXECINSTR and sec.size:
            p.exec_sections.append(name)
        elif _is_data_section(name) and sec.type in (SHT_PROGBITS, SHT_NOBITS):
            p.data_sections.append(name)
    if symtab is None:
        raise ELFError("no symbol table (.symtab): was the object stripped?", path=path)
    if symtab.link >= len(secs):
        raise ELFError(f"bad string table index {symtab.link}", path=path, section=symtab.name)
    names_off = secs[symtab.link].offset
    nsyms = symtab.size // _SYM.size
    for st_name, st_info, _other, shndx, value, size in _SYM.iter_unpack(
            data[symtab.offset:symtab.offset + nsyms * _SYM.size]):
        t, b = st_info & 0xF, st_info >> 4
        p.symbols.append(_Sym(_cstr(data, names_off, st_name), _SHN.get(shndx, shndx), value, size,
                              _STT[t] if t < len(_STT) else t, _STB[b] if b < len(_STB) else b))
    for rel in rel_sections:
        target = p.shndx_name.get(rel.info, "")
        if target not in p.sections:
            continue  # relocations of debug sections
        table: dict[int, _Sym] = {}
        raw = data[rel.offset:rel.offset + rel.size]
        for i in range(0, len(raw) - len(raw) % 16, 16):
            off, info = _REL.unpack_from(raw, i)
            symi = info >> 32
            if symi >= len(p.symbols):
                raise ELFError(f"relocation refers to symbol #{symi} beyond the symbol table",
                               path=path, section=rel.name, offset=i)
            table[off] = p.symbols[symi]
        p.relocs[target] = table
    return p


def _is_data_section(name: str) -> bool:
    return (name in (".data", ".rodata", ".bss", ".kconfig")
            or name.startswith((".data.", ".rodata.", ".bss.")))


def _sym_section(p: _Parsed, sym: _Sym) -> str:
    if isinstance(sym.shndx, int):
        return p.shndx_name.get(sym.shndx, "")
    return ""  # SHN_UNDEF / ABS / COMMON


def _build_spec(p: _Parsed) -> ObjectSpec:
    license_ = _license(p)
    version = struct.unpack_from("<I", p.sections["version"])[0] if len(p.sections.get("version", b"")) >= 4 else 0
    btf, btf_ext = _parse_btf(p)
    funcs = _functions(p)
    maps = _maps(p, btf)
    _fill_event_types(maps, btf)
    externs = _externs(p, btf)
    programs: dict[str, ProgramSpec] = {}
    subprogs: dict[str, ProgramSpec] = {}
    for f in funcs.values():
        sec_def, target = lookup_section(f.section) if f.is_program else (None, "")
        code = p.sections[f.section][f.offset:f.offset + f.size]
        ps = ProgramSpec(
            name=f.name, section=f.section, insns=code,
            type=sec_def.prog_type if sec_def else 0,  # type: ignore[arg-type]
            expected_attach_type=sec_def.attach_type if sec_def else 0,
            attach_to=target, flags=sec_def.flags if sec_def else 0, license=license_,
            kern_version=version, section_offset=f.offset, is_subprog=not f.is_program)
        (programs if f.is_program else subprogs)[f.name] = ps
    linker = _Linker(p, funcs, maps, externs)
    for ps in programs.values():
        ps.insns, ps.relocs, ps.origins = linker.link(funcs[(ps.section, ps.section_offset)])
    var_offsets = {(_sym_section(p, s), s.name): s.value for s in p.symbols
                   if s.type == "STT_OBJECT" and _sym_section(p, s)}
    return ObjectSpec(path=p.path, programs=programs, maps=maps, license=license_,
                      kern_version=version, btf=btf, btf_ext=btf_ext, subprogs=subprogs,
                      section_code={s: p.sections[s] for s in p.exec_sections}, externs=externs,
                      var_offsets=var_offsets, section_sizes=dict(p.sizes),
                      weak_externs=frozenset(s.name for s in p.symbols if s.name in externs
                                             and s.shndx == "SHN_UNDEF" and s.bind == "STB_WEAK"))


def _license(p: _Parsed) -> str:
    raw = p.sections.get("license")
    if raw is None:
        raise ELFError("no license section: add `char LICENSE[] SEC(\"license\") = \"GPL\";` "
                       "(GPL-only helpers need a GPL-compatible license)", path=p.path)
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace")


def _parse_btf(p: _Parsed) -> tuple[BTF | None, object]:
    raw = p.sections.get(".BTF")
    if raw is None:
        return None, None
    from .btf.ext import parse_btf_ext
    from .btf.parse import parse_btf
    try:
        btf = parse_btf(raw)
        ext_raw = p.sections.get(".BTF.ext")
        ext = parse_btf_ext(ext_raw, btf) if ext_raw else None
    except BTFError as e:
        raise BTFError(f"{p.path}: {e}") from e
    return btf, ext


def _functions(p: _Parsed) -> dict[tuple[str, int], _Func]:
    """Every function of every executable section, keyed by (section, byte offset)."""
    funcs: dict[tuple[str, int], _Func] = {}
    for s in p.symbols:
        sec = _sym_section(p, s)
        if s.type != "STT_FUNC" or sec not in p.exec_sections:
            continue
        size = s.size or p.sizes[sec] - s.value
        if s.value % 8 or size % 8 or s.value + size > p.sizes[sec]:
            raise ELFError(f"function {s.name!r} has a bad offset/size ({s.value}, {size})",
                           path=p.path, section=sec)
        is_prog = sec != ".text"
        funcs[(sec, s.value)] = _Func(s.name, sec, s.value, size, is_prog)
    for sec in p.exec_sections:
        if not any(f.section == sec for f in funcs.values()):
            raise ELFError("executable section without function symbols", path=p.path, section=sec)
        if sec != ".text":
            lookup_section(sec)  # unknown section names fail here, naming the section
    return funcs


def _maps(p: _Parsed, btf: BTF | None) -> dict[str, MapSpec]:
    maps: dict[str, MapSpec] = {}
    if ".maps" in p.sections:
        if btf is None:
            raise ELFError("BTF-defined maps (.maps) need a .BTF section (compile with -g)",
                           path=p.path, section=".maps")
        try:
            datasec = btf.find(".maps", Kind.DATASEC)
        except BTFError as e:
            raise ELFError("no DATASEC .maps in BTF", path=p.path, section=".maps") from e
        # clang may leave DATASEC offsets at 0: the ELF symbols are authoritative
        sym_off = {s.name: s.value for s in p.symbols if _sym_section(p, s) == ".maps"}
        for vi in datasec.secinfos:
            var = btf[vi.type_id]
            spec = parse_btf_map(btf, var.name, var.type_id)
            maps[var.name] = spec
            voff = values_offset(btf, var.type_id)
            if voff is not None:
                start = sym_off.get(var.name, vi.offset)
                spec.init_slots = _initial_slots(p, start + voff, start + max(vi.size, btf.size_of(var.type_id)))
    if "maps" in p.sections:
        syms = [(s.name, s.value) for s in p.symbols
                if _sym_section(p, s) == "maps" and s.type in ("STT_OBJECT", "STT_NOTYPE")
                and s.name]
        for spec in parse_legacy_maps(p.sections["maps"], sorted(syms, key=lambda x: x[1])):
            maps[spec.name] = spec
    for sec in p.data_sections:
        if sec == ".kconfig":
            continue
        maps[sec] = global_data_map(p.obj_name, sec, p.sections[sec], btf)
    return maps


def _initial_slots(p: _Parsed, start: int, end: int) -> dict[int, str]:
    """Map-in-map / prog-array initial values: relocations in .maps at the values array."""
    out = {}
    for off, sym in p.relocs.get(".maps", {}).items():
        if start <= off < end:
            out[(off - start) // 8] = sym.name
    return out


def _fill_event_types(maps: dict[str, MapSpec], btf: BTF | None) -> None:
    """Ring/perf buffer record types, by the first convention that names one:
    ``PYBPF_EVENT(map, T)`` (a ``__pybpf_event_<map>`` pointer in ``.pybpf.events``), a
    ``pybpf:event:<type>`` decl tag on the map, or the object's only ``struct event``."""
    if btf is None:
        return
    from .sys.consts import MapType
    buffers = {n: m for n, m in maps.items()
               if m.type in (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.USER_RINGBUF)}
    if not buffers:
        return
    for ds in btf.find_all(EVENT_SECTION, Kind.DATASEC):
        for vi in ds.secinfos:
            var = btf[vi.type_id]
            m = buffers.get(var.name.removeprefix("__pybpf_event_"))
            ptr = btf.skip_modifiers(var.type_id)
            if m is not None and ptr.kind == Kind.PTR:
                m.value_type_id = ptr.type_id
    for t in btf:
        if t.kind == Kind.DECL_TAG and t.name.startswith("pybpf:event:"):
            m = buffers.get(btf[t.type_id].name)
            if m is not None and not m.value_type_id:
                try:
                    m.value_type_id = _type_by_c_name(btf, t.name[12:])
                except BTFError:
                    log.debug("map %s: event type %s is not in BTF (use PYBPF_EVENT)",
                              btf[t.type_id].name, t.name[12:])
    default = [t.id for t in btf.find_all("event", Kind.STRUCT)]
    for m in buffers.values():
        if not m.value_type_id and len(default) == 1:
            m.value_type_id = default[0]
        m.btf = btf


def _type_by_c_name(btf: BTF, cname: str) -> int:
    words = cname.split()
    kinds = {"struct": Kind.STRUCT, "union": Kind.UNION}
    if len(words) == 2 and words[0] in kinds:
        return btf.find(words[1], kinds[words[0]]).id
    return btf.find(cname).id


def _externs(p: _Parsed, btf: BTF | None) -> dict[str, str]:
    """Undefined symbols: ``__kconfig`` (in DATASEC .kconfig) or ``__ksym`` (.ksyms)."""
    out: dict[str, str] = {}
    undefined = {s.name for s in p.symbols if s.shndx == "SHN_UNDEF" and s.name}
    if not undefined:
        return out
    if btf is not None:
        for secname, kind in ((".kconfig", "kconfig"), (".ksyms", "ksym")):
            for ds in btf.find_all(secname, Kind.DATASEC):
                for vi in ds.secinfos:
                    out[btf[vi.type_id].name] = kind
    return out


class _Linker:
    """Appends the subprograms a program calls and records kernel-dependent relocations."""

    def __init__(self, p: _Parsed, funcs: dict[tuple[str, int], _Func],
                 maps: dict[str, MapSpec], externs: dict[str, str]) -> None:
        self.p, self.funcs, self.maps, self.externs = p, funcs, maps, externs
        self.maps_by_symbol = {(".maps" if m.section == ".maps" else m.section, n): n
                               for n, m in maps.items()}

    def link(self, entry: _Func) -> tuple[bytes, list[RelocSpec], list[tuple[int, str, int, int]]]:
        """(linked instructions, relocations, origins (final idx, section, sec offset, n))."""
        out = bytearray()
        relocs: list[RelocSpec] = []
        placed: dict[tuple[str, int], int] = {}
        queue = [entry]
        origins = []
        while queue:
            f = queue.pop(0)
            base = len(out) // 8
            placed[(f.section, f.offset)] = base
            out += self.p.sections[f.section][f.offset:f.offset + f.size]
            origins.append((base, f.section, f.offset, f.size // 8))
            queue_calls = self._relocate_function(f, out, base, relocs)
            for idx, target in queue_calls:
                if (target.section, target.offset) not in placed and target not in queue:
                    queue.append(target)
                relocs.append(RelocSpec(idx, "_link", target.section, target.offset))
        # resolve calls now that every callee is placed
        final = []
        for r in relocs:
            if r.kind != "_link":
                final.append(r)
                continue
            target_idx = placed[(r.target, r.addend)]
            ins = I.decode(out, r.insn)
            I.set_imm(out, r.insn, target_idx - r.insn - 1)
            if ins.code == I.LD_IMM64:   # callback address: pseudo-func ld_imm64
                I.set_src(out, r.insn, PSEUDO_FUNC)
                I.set_imm(out, r.insn + 1, 0)
        return bytes(out), final, origins

    def _relocate_function(self, f: _Func, out: bytearray, base: int,
                           relocs: list[RelocSpec]) -> list[tuple[int, _Func]]:
        calls = []
        table = self.p.relocs.get(f.section, {})
        n = f.size // 8
        i = 0
        while i < n:
            sec_off = f.offset + i * 8
            idx = base + i
            ins = I.decode(out, idx)
            sym = table.get(sec_off)
            if sym is not None:
                target = self._reloc_target(f, ins, sym, idx, relocs)
                if target is not None:
                    calls.append((idx, target))
            elif ins.code == I.CALL and ins.src == PSEUDO_CALL:
                tgt_off = sec_off + (ins.imm + 1) * 8
                calls.append((idx, self._func_at(f.section, tgt_off, f.name)))
            i += 2 if ins.code == I.LD_IMM64 else 1
        return calls

    def _reloc_target(self, f: _Func, ins: I.Insn, sym: _Sym, idx: int,
                      relocs: list[RelocSpec]) -> _Func | None:
        sec = _sym_section(self.p, sym)
        where = f"program {f.name} insn {idx}"
        if ins.code == I.CALL:
            if sym.shndx == "SHN_UNDEF" and self.externs.get(sym.name) == "ksym":
                relocs.append(RelocSpec(idx, "ksym", sym.name, 0))     # a kfunc call
                return None
            if sec not in self.p.exec_sections:
                raise ELFError(f"{where}: call to unknown function {sym.name!r}", path=self.p.path,
                               section=f.section)
            tgt_off = sym.value + (ins.imm + 1) * 8
            return self._func_at(sec, tgt_off, f.name)
        if ins.code != I.LD_IMM64:
            raise ELFError(f"{where}: relocation against {sym.name!r} on a non-ld_imm64 "
                           f"instruction ({I.format_insn(ins)})", path=self.p.path, section=f.section)
        if sec in self.p.exec_sections:   # function pointer (bpf_loop callbacks)
            return self._func_at(sec, sym.value + ins.imm, f.name, pseudo_func=True)
        if sec == ".maps" or sec == "maps":
            if sym.name not in self.maps:
                raise ELFError(f"{where}: reference to unknown map {sym.name!r}", path=self.p.path)
            relocs.append(RelocSpec(idx, "map", sym.name))
            return None
        if sec in self.p.data_sections and sec in self.maps:
            relocs.append(RelocSpec(idx, "map_value", sec, ins.imm + sym.value))
            return None
        if sym.shndx == "SHN_UNDEF":
            kind = self.externs.get(sym.name)
            if kind is None:
                raise ELFError(f"{where}: unresolved symbol {sym.name!r} (not a map, global, "
                               f"function or __kconfig/__ksym extern)", path=self.p.path)
            relocs.append(RelocSpec(idx, kind, sym.name, ins.imm))
            return None
        raise ELFError(f"{where}: relocation against {sym.name or sec!r} in unsupported section "
                       f"{sec!r}", path=self.p.path, section=f.section)

    def _func_at(self, section: str, offset: int, caller: str, pseudo_func: bool = False) -> _Func:
        f = self.funcs.get((section, offset))
        if f is None:
            raise ELFError(f"{caller}: {'function pointer' if pseudo_func else 'call'} to "
                           f"offset {offset:#x} which starts no function", path=self.p.path,
                           section=section)
        return f
