"""USDT probes: .note.stapsdt sites, argument specs, one uprobe per site.

Programs read arguments with ``BPF_USDT(...)`` (bpf_src/include/pybpf_usdt.h, or libbpf's
<bpf/usdt.bpf.h>: the same convention). At attach time each distinct argument spec of the
probe's sites becomes a record in the object's ``__bpf_usdt_specs`` array; every site gets
a uprobe whose BPF cookie is that record's index (kernels without BPF cookies: the
``__bpf_usdt_ip_to_spec_id`` hash maps the probe's address to it instead). Semaphores
(``ref_ctr_offset``) are counted up by the kernel while a uprobe is attached.
"""

from __future__ import annotations

import difflib
import errno
import functools
import os
import re
import struct
import threading
from dataclasses import dataclass

from .._log import get_logger
from ..errors import AttachError, BPFError, ELFError, NotSupportedError
from ..hostelf import HostELF, Segment, file_offset
from ..sys import bpf as sysbpf
from ..sys.cdefs import ffi
from ..sys.fd import FD
from .link import Link, MultiLink, close_multi_on_error
from .uprobe import attach_uprobe, resolve_binary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.attach")

NT_STAPSDT = 3
SPEC_MAP = "__bpf_usdt_specs"
IP_MAP = "__bpf_usdt_ip_to_spec_id"
MAX_ARGS = 12

# enum __bpf_usdt_arg_type
ARG_CONST, ARG_REG, ARG_REG_DEREF, ARG_SIB = 0, 1, 2, 3

# offsetof(struct pt_regs, reg) on x86-64, and every name a register goes by in arg specs
_X86_64_PT_REGS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "rbp": 32, "rbx": 40, "r11": 48,
                   "r10": 56, "r9": 64, "r8": 72, "rax": 80, "rcx": 88, "rdx": 96, "rsi": 104,
                   "rdi": 112, "rip": 128, "rsp": 152}
_X86_ALIASES = {
    "rax": ("eax", "ax", "al"), "rbx": ("ebx", "bx", "bl"), "rcx": ("ecx", "cx", "cl"),
    "rdx": ("edx", "dx", "dl"), "rsi": ("esi", "si", "sil"), "rdi": ("edi", "di", "dil"),
    "rbp": ("ebp", "bp", "bpl"), "rsp": ("esp", "sp", "spl"), "rip": ("eip",),
    **{f"r{i}": (f"r{i}d", f"r{i}w", f"r{i}b") for i in range(8, 16)},
}
X86_64_REGS: dict[str, int] = {
    **_X86_64_PT_REGS,
    **{alias: _X86_64_PT_REGS[r] for r, names in _X86_ALIASES.items() for alias in names},
}


# ---- notes ----

@dataclass(frozen=True)
class UsdtNote:
    """One probe site as the note records it (addresses before any prelink adjustment)."""

    provider: str
    name: str
    pc: int
    base: int
    semaphore: int
    args: str

    @property
    def probe(self) -> str:
        return f"{self.provider}:{self.name}"


def parse_stapsdt_notes(data: bytes, addr_size: int = 8, little: bool = True) -> list[UsdtNote]:
    """Decode the notes of a .note.stapsdt section."""
    e = "<" if little else ">"
    a = "Q" if addr_size == 8 else "I"
    out: list[UsdtNote] = []
    pos = 0
    while pos + 12 <= len(data):
        namesz, descsz, ntype = struct.unpack_from(e + "III", data, pos)
        pos += 12
        owner = data[pos:pos + namesz].rstrip(b"\0")
        pos += (namesz + 3) & ~3
        desc = data[pos:pos + descsz]
        pos += (descsz + 3) & ~3
        if len(desc) != descsz:
            raise AttachError(f".note.stapsdt: note truncated at offset {pos:#x}")
        if owner != b"stapsdt" or ntype != NT_STAPSDT:
            continue
        if descsz < 3 * addr_size + 2:
            raise AttachError(f".note.stapsdt: note too short ({descsz} bytes)")
        pc, base, sema = struct.unpack_from(e + 3 * a, desc, 0)
        strings = desc[3 * addr_size:].split(b"\0")
        if len(strings) < 3:
            raise AttachError(f".note.stapsdt: malformed strings in note at {pos:#x}")
        provider, name, args = (s.decode(errors="replace") for s in strings[:3])
        out.append(UsdtNote(provider, name, pc, base, sema, args))
    return out


# ---- argument specs ----

@dataclass(frozen=True)
class UsdtArg:
    """Where one argument lives and how wide it is."""

    kind: int                # ARG_*
    size: int                # bytes: 1, 2, 4, 8
    signed: bool
    val_off: int = 0         # constant (ARG_CONST) or displacement
    reg: str = ""            # base register
    reg_off: int = 0
    idx_reg: str = ""        # SIB index register
    idx_reg_off: int = 0
    scale: int = 1

    @property
    def bitshift(self) -> int:
        return 64 - 8 * self.size


_ARG_RE = re.compile(r"^(?:(-?\d+)@)?(.+)$")
_DEREF_RE = re.compile(r"^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%(\w+)\)$")
_SIB_RE = re.compile(r"^(-?(?:0x[0-9a-fA-F]+|\d+))?\(%(\w+),%(\w+)(?:,(\d+))?\)$")


def _reg(name: str, regs: dict[str, int], spec: str) -> int:
    try:
        return regs[name]
    except KeyError:
        raise AttachError(f"USDT argument {spec!r}: unsupported register %{name}") from None


def parse_arg(spec: str, regs: dict[str, int] = X86_64_REGS) -> UsdtArg:
    """One x86-64 argument spec: ``-4@%edi``, ``8@-8(%rbp)``, ``4@$42``, ``8@(%rax,%rdx,8)``."""
    m = _ARG_RE.match(spec.strip())
    if not m:
        raise AttachError(f"USDT argument {spec!r}: not SIZE@LOCATION")
    size_s, loc = m.groups()
    size = int(size_s) if size_s else 8
    if abs(size) not in (1, 2, 4, 8):
        raise AttachError(f"USDT argument {spec!r}: size {size} is not 1, 2, 4 or 8")
    signed, size = size < 0, abs(size)
    if loc.startswith("$"):
        try:
            val = int(loc[1:], 0)
        except ValueError:
            raise AttachError(f"USDT argument {spec!r}: constant is not a number "
                              f"(symbolic constants are not supported)") from None
        return UsdtArg(ARG_CONST, size, signed, val_off=val)
    if loc.startswith("%"):
        return UsdtArg(ARG_REG, size, signed, reg=loc[1:], reg_off=_reg(loc[1:], regs, spec))
    m = _DEREF_RE.match(loc)
    if m:
        off, reg = m.groups()
        if reg == "rip":
            raise AttachError(f"USDT argument {spec!r}: %rip-relative operands are not supported")
        return UsdtArg(ARG_REG_DEREF, size, signed, val_off=int(off or "0", 0), reg=reg,
                       reg_off=_reg(reg, regs, spec))
    m = _SIB_RE.match(loc)
    if m:
        off, base, idx, scale = m.groups()
        sc = int(scale or "1")
        if sc not in (1, 2, 4, 8):
            raise AttachError(f"USDT argument {spec!r}: scale {sc} is not 1, 2, 4 or 8")
        return UsdtArg(ARG_SIB, size, signed, val_off=int(off or "0", 0), reg=base,
                       reg_off=_reg(base, regs, spec), idx_reg=idx,
                       idx_reg_off=_reg(idx, regs, spec), scale=sc)
    raise AttachError(f"USDT argument {spec!r}: unsupported location {loc!r} (symbolic or "
                      f"%rip-relative operands cannot be read from BPF)")


def parse_args(text: str, regs: dict[str, int] = X86_64_REGS) -> tuple[UsdtArg, ...]:
    """All arguments of a note's spec string (space separated)."""
    args = tuple(parse_arg(s, regs) for s in text.split())
    if len(args) > MAX_ARGS:
        raise AttachError(f"USDT spec {text!r}: {len(args)} arguments, at most {MAX_ARGS}")
    return args


# ---- the spec record layout (read from the map's BTF, default libbpf's) ----

@dataclass(frozen=True)
class SpecLayout:
    """Bit positions of ``struct __bpf_usdt_spec`` fields; ``arg`` fields are per argument."""

    size: int
    arg_size: int
    args_off: int
    max_args: int
    cookie_off: int
    cnt_off: int
    arg: tuple[tuple[str, int, int], ...]   # (field, bit offset, bit width)

    def field_names(self) -> set[str]:
        return {f for f, _o, _w in self.arg}


# pybpf_usdt.h's layout. libbpf's usdt.bpf.h (1.x) has the same bytes with arg_type a
# 32-bit enum: the types it knows read the same; a SIB argument (type 3) it does not know
# makes its bpf_usdt_arg() return -EINVAL instead of a wrong value. Used when the map has
# no BTF to read the layout from.
DEFAULT_LAYOUT = SpecLayout(
    size=208, arg_size=16, args_off=0, max_args=12, cookie_off=192, cnt_off=200,
    arg=(("val_off", 0, 64), ("arg_type", 64, 8), ("idx_reg_off", 72, 12),
         ("scale_bitshift", 84, 4), ("__reserved", 88, 8), ("reg_off", 96, 16),
         ("arg_signed", 112, 8), ("arg_bitshift", 120, 8)))


def layout_from_btf(btf: Any, type_id: int) -> SpecLayout:
    """The layout of the spec struct a BPF object declares (its map value type)."""
    spec = btf.resolve(type_id)
    members = {m.name: m for m in spec.members}
    try:
        args_m, cookie_m, cnt_m = members["args"], members["usdt_cookie"], members["arg_cnt"]
    except KeyError as e:
        raise AttachError(f"{SPEC_MAP} value type {spec.name!r} lacks member {e}") from None
    arr = btf.resolve(args_m.type_id)
    elem = btf.resolve(arr.elem_type_id)
    fields = []
    for m in elem.members:
        width = m.bitfield_size or 8 * btf.size_of(m.type_id)
        fields.append((m.name, m.bit_offset, width))
    return SpecLayout(spec.size, elem.size, args_m.bit_offset // 8, arr.nelems,
                      cookie_m.bit_offset // 8, cnt_m.bit_offset // 8, tuple(fields))


def encode_arg(layout: SpecLayout, arg: UsdtArg) -> bytes:
    names = layout.field_names()
    if arg.kind == ARG_SIB and "idx_reg_off" not in names:
        raise AttachError("USDT argument with an index register (SIB) needs a BPF object "
                          "built with pybpf_usdt.h (its usdt spec has no idx_reg_off)")
    values = {"val_off": arg.val_off, "arg_type": arg.kind, "reg_off": arg.reg_off,
              "arg_signed": int(arg.signed), "arg_bitshift": arg.bitshift,
              "idx_reg_off": arg.idx_reg_off, "scale_bitshift": arg.scale.bit_length() - 1}
    word = 0
    for name, off, width in layout.arg:
        v = values.get(name, 0)
        word |= (v & ((1 << width) - 1)) << off
    return word.to_bytes(layout.arg_size, "little")


def encode_spec(layout: SpecLayout, args: tuple[UsdtArg, ...], cookie: int = 0) -> bytes:
    """One ``struct __bpf_usdt_spec`` record (little-endian)."""
    if len(args) > layout.max_args:
        raise AttachError(f"USDT probe has {len(args)} arguments; the object's spec holds "
                          f"{layout.max_args}")
    buf = bytearray(layout.size)
    for i, a in enumerate(args):
        o = layout.args_off + i * layout.arg_size
        buf[o:o + layout.arg_size] = encode_arg(layout, a)
    struct.pack_into("<Q", buf, layout.cookie_off, cookie & (2**64 - 1))
    struct.pack_into("<h", buf, layout.cnt_off, len(args))
    return bytes(buf)


# ---- sites in a binary ----

@dataclass(frozen=True)
class UsdtSite:
    """A probe site ready to attach: file offsets and the absolute address it has unrelocated."""

    note: UsdtNote
    vaddr: int                 # pc after prelink adjustment
    offset: int                # file offset of the probe instruction
    ref_ctr_offset: int        # file offset of the semaphore (0: none)
    args: tuple[UsdtArg, ...]


@dataclass(frozen=True)
class UsdtFile:
    path: str
    pie: bool
    notes: tuple[UsdtNote, ...]
    stapsdt_base: int | None
    segments: tuple[Segment, ...]


def _vaddr_to_offset(segs: tuple[Segment, ...], vaddr: int, executable: bool, what: str) -> int:
    off = file_offset(segs, vaddr, executable)
    if off is not None:
        return off
    raise AttachError(f"{what} address {vaddr:#x} is in no {'executable ' if executable else ''}"
                      f"loadable segment")


def site_of(f: UsdtFile, note: UsdtNote) -> UsdtSite:
    """File offsets of one note's probe and semaphore (prelink moves both by one delta)."""
    delta = f.stapsdt_base - note.base if f.stapsdt_base is not None and note.base else 0
    pc = note.pc + delta
    where = f"USDT {note.probe} in {f.path}"
    off = _vaddr_to_offset(f.segments, pc, True, where)
    ref = 0
    if note.semaphore:
        ref = _vaddr_to_offset(f.segments, note.semaphore + delta, False, f"{where} semaphore")
    return UsdtSite(note, pc, off, ref, parse_args(note.args))


@functools.lru_cache(maxsize=32)
def _read_usdt_file(path: str, _key: tuple[int, int, int]) -> UsdtFile:
    try:
        with HostELF(path) as elf:
            sec = elf.section(".note.stapsdt")
            notes = () if sec is None else tuple(parse_stapsdt_notes(
                elf.data(sec), elf.bits // 8, elf.little))
            base = elf.section(".stapsdt.base")
            return UsdtFile(path, elf.pie, notes, base.addr if base is not None else None,
                            elf.segments())
    except (ELFError, struct.error) as e:
        raise AttachError(f"cannot read USDT notes of {path}: {e}") from e


def usdt_file(path: str) -> UsdtFile:
    st = os.stat(path)
    return _read_usdt_file(path, (st.st_dev, st.st_ino, st.st_mtime_ns))


def list_usdt(path: str) -> list[UsdtNote]:
    """Every USDT probe site of a binary or library (path or short name)."""
    return list(usdt_file(resolve_binary(path)).notes)


def find_sites(path: str, provider: str, name: str) -> tuple[UsdtFile, list[UsdtSite]]:
    f = usdt_file(path)
    notes = [n for n in f.notes if n.provider == provider and n.name == name]
    if not notes:
        if not f.notes:
            raise AttachError(f"{path} has no USDT probes (no .note.stapsdt section)",
                              errno.ENOENT)
        probes = sorted({n.probe for n in f.notes})
        close = difflib.get_close_matches(f"{provider}:{name}", probes, 5, 0.5)
        raise AttachError(f"no USDT probe {provider}:{name} in {path}"
                          f"{f' (close: {chr(44).join(close)})' if close else ''}"
                          f" ({len(probes)} probes there)", errno.ENOENT)
    return f, [site_of(f, n) for n in notes]


# ---- the program's spec maps ----

_ids_lock = threading.Lock()
_used_ids: dict[int, set[int]] = {}       # spec map id -> spec ids in use by this process


@dataclass
class _SpecMaps:
    specs: FD
    specs_id: int
    max_specs: int
    layout: SpecLayout
    ips: FD | None


def _prog_maps(prog_fd: int) -> list[tuple[int, str]]:
    info = sysbpf.obj_info(prog_fd, "bpf_prog_info")
    n = info.nr_map_ids
    info = sysbpf.obj_info(prog_fd, "bpf_prog_info", {"map_ids": ("nr_map_ids", n, "uint32_t")})
    out = []
    for map_id in list(info.buffers[0][0:info.nr_map_ids]):
        with sysbpf.get_fd_by_id("map", map_id) as fd:
            minfo = sysbpf.obj_info(int(fd), "bpf_map_info")
            out.append((map_id, ffi.string(minfo.name).decode(errors="replace")))
    return out


def _layout_of(map_fd: int, value_size: int) -> SpecLayout:
    """Read the spec layout from the map's BTF; libbpf's layout when there is none."""
    minfo = sysbpf.obj_info(map_fd, "bpf_map_info")
    if minfo.btf_id and minfo.btf_value_type_id:
        try:
            from ..btf.parse import parse_btf
            with sysbpf.get_fd_by_id("btf", minfo.btf_id) as bfd:
                size = sysbpf.obj_info(int(bfd), "bpf_btf_info").btf_size
                binfo = sysbpf.obj_info(int(bfd), "bpf_btf_info",
                                        {"btf": ("btf_size", size, "uint8_t")})
                data = bytes(ffi.buffer(binfo.buffers[0], binfo.btf_size))
            layout = layout_from_btf(parse_btf(data), minfo.btf_value_type_id)
            if layout.size == value_size:
                return layout
        except (BPFError, ValueError, KeyError, IndexError) as e:
            log.debug("usdt spec layout from BTF failed (%s); using libbpf's", e)
    if value_size != DEFAULT_LAYOUT.size:
        raise AttachError(f"{SPEC_MAP}: value size {value_size} is not a known usdt spec layout "
                          f"and the map has no BTF to describe it")
    return DEFAULT_LAYOUT


def spec_maps(prog: Any) -> _SpecMaps:
    """Open the program's __bpf_usdt_specs (and ip map) by the map names the kernel knows."""
    specs = ips = None
    for map_id, name in _prog_maps(prog.fd):
        if SPEC_MAP.startswith(name) and len(name) >= 12:
            specs = map_id
        elif IP_MAP.startswith(name) and len(name) >= 12:
            ips = map_id
    if specs is None:
        raise AttachError(f"program {prog.name} does not use {SPEC_MAP}: USDT programs read "
                          f"arguments with BPF_USDT() / bpf_usdt_arg() from pybpf_usdt.h or "
                          f"<bpf/usdt.bpf.h>")
    sfd = sysbpf.get_fd_by_id("map", specs)
    try:
        minfo = sysbpf.obj_info(int(sfd), "bpf_map_info")
        layout = _layout_of(int(sfd), minfo.value_size)
        ifd = sysbpf.get_fd_by_id("map", ips) if ips is not None else None
    except BaseException:
        sfd.close()
        raise
    return _SpecMaps(sfd, specs, minfo.max_entries, layout, ifd)


def _alloc_ids(maps: _SpecMaps, n: int) -> list[int]:
    with _ids_lock:
        used = _used_ids.setdefault(maps.specs_id, set())
        free = [i for i in range(maps.max_specs) if i not in used][:n]
        if len(free) < n:
            raise AttachError(f"{SPEC_MAP} is full ({maps.max_specs} specs in use): define "
                              f"BPF_USDT_MAX_SPEC_CNT larger in the BPF program")
        used.update(free)
    return free


def _free_ids(maps_id: int, ids: list[int]) -> None:
    with _ids_lock:
        _used_ids.get(maps_id, set()).difference_update(ids)


# ---- attach ----

def _abs_ips(f: UsdtFile, sites: list[UsdtSite], pid: int) -> list[int]:
    """Addresses the probes have in process ``pid`` (for kernels without BPF cookies)."""
    if not f.pie:
        return [s.vaddr for s in sites]
    if pid < 0:
        raise NotSupportedError(
            f"this kernel has no BPF cookies (5.15+): USDT probes in a shared library or PIE "
            f"({f.path}) can then only be attached for one process: pass pid=")
    st = os.stat(f.path)
    maps = []
    try:
        with open(f"/proc/{pid}/maps") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 6 and parts[4] != "0" and os.path.realpath(parts[5]) == f.path:
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    maps.append((lo, hi, int(parts[2], 16), parts[4]))
    except OSError as e:
        raise AttachError(f"cannot read /proc/{pid}/maps: {e.strerror}", e.errno) from e
    out = []
    for s in sites:
        for lo, hi, pgoff, _inode in maps:
            if pgoff <= s.offset < pgoff + (hi - lo):
                out.append(lo + s.offset - pgoff)
                break
        else:
            raise AttachError(f"{f.path} (inode {st.st_ino}) is not mapped in process {pid}")
    return out


def attach_usdt(prog: Any, path: str, provider: str, name: str, pid: int = -1,
                cookie: int = 0, legacy: bool | None = None) -> Link:
    """Attach to every site of USDT probe ``provider:name`` in ``path`` (binary or library)."""
    if not provider or not name:
        raise AttachError("USDT attach needs a provider and a probe name")
    binary = resolve_binary(path)
    f, sites = find_sites(binary, provider, name)
    maps = spec_maps(prog)
    by_spec: dict[bytes, list[UsdtSite]] = {}
    for s in sites:
        by_spec.setdefault(encode_spec(maps.layout, s.args, cookie), []).append(s)
    ids = _alloc_ids(maps, len(by_spec))
    ip_keys: list[int] = []
    links: list[Link] = []
    what = f"usdt {provider}:{name} in {binary}"

    def release() -> None:
        if maps.ips is not None:
            for ip in ip_keys:
                sysbpf.map_delete(int(maps.ips), ffi.new("long *", ip))
            maps.ips.close()
        maps.specs.close()
        _free_ids(maps.specs_id, ids)

    try:
        for spec_id, (record, group) in zip(ids, by_spec.items(), strict=True):
            sysbpf.map_update(int(maps.specs), ffi.new("int *", spec_id),
                              ffi.from_buffer(record))
            for site in group:
                links.append(_attach_site(prog, binary, f, site, spec_id, pid, legacy, maps,
                                          ip_keys))
    except BaseException:
        close_multi_on_error(links)
        release()
        raise
    link = MultiLink(links, f"{prog.name} -> {what} ({len(sites)} sites, {len(ids)} specs)")
    link.on_close(release)
    return link


def _attach_site(prog: Any, binary: str, f: UsdtFile, site: UsdtSite, spec_id: int, pid: int,
                 legacy: bool | None, maps: _SpecMaps, ip_keys: list[int]) -> Link:
    kw = dict(pid=pid, offset=site.offset, ref_ctr_offset=site.ref_ctr_offset, legacy=legacy)
    from ..features import bpf_cookie
    if not ip_keys and bpf_cookie():
        try:
            return attach_uprobe(prog, binary, None, cookie=spec_id, **kw)
        except NotSupportedError as e:
            log.info("no BPF cookies (%s): USDT %s via the ip -> spec id map", e, site.note.probe)
    if maps.ips is None:
        raise NotSupportedError(f"kernel has no BPF cookies and program {prog.name} has no "
                                f"{IP_MAP} map")
    (ip,) = _abs_ips(f, [site], pid)
    sysbpf.map_update(int(maps.ips), ffi.new("long *", ip), ffi.new("uint32_t *", spec_id))
    ip_keys.append(ip)
    return attach_uprobe(prog, binary, None, **kw)
