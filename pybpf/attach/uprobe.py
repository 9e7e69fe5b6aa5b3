"""uprobes/uretprobes: library and symbol resolution, perf PMU then uprobe_events.

Symbols come from the ELF .symtab and .dynsym (read by :mod:`pybpf.hostelf`) (versioned names such as
``malloc@@GLIBC_2.2.5`` match ``malloc``); a symbol's virtual address becomes the file
offset uprobes take through the PT_LOAD segment that contains it (PIE and shared libraries
alike). Parsed tables are cached per (device, inode, mtime).
"""

from __future__ import annotations

import difflib
import errno
import functools
import os
import platform
import shutil
import struct
import subprocess
import threading
from collections import OrderedDict

from .._log import get_logger
from ..errors import AttachError, BPFError, ELFError, NotSupportedError
from ..hostelf import SHT_DYNSYM, SHT_SYMTAB, STT_FUNC, STT_GNU_IFUNC, HostELF, Segment, file_offset
from .link import Link
from .probes import (
    attach_legacy,
    attach_pmu,
    has_events_file,
    pmu_format_bit,
    pmu_type,
    uprobe_line,
    uprobe_pmu_attr,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.attach")

LD_SO_CACHE = "/etc/ld.so.cache"
_NEW_MAGIC = b"glibc-ld.so.cache1.1"
_ARCH_FLAGS = {"x86_64": 0x0300, "aarch64": 0x0A00, "ppc64le": 0x0500, "ppc64": 0x0500,
               "s390x": 0x0400, "riscv64": 0x1000}
STB_LOCAL = 0
SHN_UNDEF = 0


# ---- library resolution ----

def parse_ld_so_cache(data: bytes, machine: str | None = None) -> dict[str, str]:
    """soname -> path from /etc/ld.so.cache bytes (glibc's "new" format), for ``machine``."""
    base = data.find(_NEW_MAGIC)
    if base < 0 or len(data) < base + 48:
        raise AttachError("ld.so.cache: no glibc-ld.so.cache1.1 header")
    nlibs, _strlen = struct.unpack_from("<II", data, base + 20)
    want = _ARCH_FLAGS.get(machine or platform.machine())
    out: dict[str, str] = {}
    for i in range(nlibs):
        off = base + 48 + 24 * i
        if off + 24 > len(data):
            raise AttachError(f"ld.so.cache: truncated at entry {i} of {nlibs}")
        flags, key, value = struct.unpack_from("<iII", data, off)
        if want is not None and flags & 0xFF00 != want:
            continue
        out.setdefault(_cstr(data, base + key), _cstr(data, base + value))
    return out


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    if off >= len(data) or end < 0:
        raise AttachError(f"ld.so.cache: bad string offset {off:#x}")
    return data[off:end].decode(errors="replace")


def _ldconfig_p() -> dict[str, str]:
    """soname -> path from ``ldconfig -p`` (fallback when the cache format is unknown)."""
    for exe in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            text = subprocess.run([exe, "-p"], capture_output=True, text=True, check=True).stdout
            break
        except (OSError, subprocess.CalledProcessError):
            continue
    else:
        return {}
    out: dict[str, str] = {}
    arch = platform.machine().replace("_", "-")
    for line in text.splitlines()[1:]:
        name, _, path = line.strip().partition(" => ")
        soname, _, flags = name.partition(" (")
        if path and (arch in flags or "64bit" in flags or "," not in flags):
            out.setdefault(soname, path)
    return out


@functools.lru_cache(maxsize=1)
def _library_index(cache_key: tuple[int, int]) -> dict[str, str]:
    try:
        with open(LD_SO_CACHE, "rb") as f:
            return parse_ld_so_cache(f.read())
    except (OSError, AttachError) as e:
        log.debug("ld.so.cache unusable (%s); asking ldconfig -p", e)
        return _ldconfig_p()


def libraries() -> dict[str, str]:
    """soname -> path of this machine's shared libraries (reparsed when the cache changes)."""
    try:
        st = os.stat(LD_SO_CACHE)
        key = (st.st_ino, st.st_mtime_ns)
    except OSError:
        key = (0, 0)
    return _library_index(key)


def _version_key(soname: str) -> tuple[int, ...]:
    tail = soname.partition(".so")[2].strip(".")
    return tuple(int(p) for p in tail.split(".") if p.isdigit())


def find_library(name: str, libs: dict[str, str] | None = None) -> str | None:
    """Path of a library named "c", "libc", "libc.so.6", "ssl", "libssl" ... or None."""
    libs = libraries() if libs is None else libs
    if name in libs:
        return libs[name]
    base = name if name.startswith("lib") else f"lib{name}"
    hits = [s for s in libs if s == base or s.startswith(base + ".so")]
    if not hits:
        return None
    return libs[max(hits, key=lambda s: (_version_key(s), -len(s)))]


def resolve_binary(target: str) -> str:
    """A path, a library short name ("c" -> libc.so.6, "ssl" -> libssl.so.3) or a command."""
    if not target:
        raise AttachError("uprobe needs a binary path or library name")
    if "/" in target:
        if not os.path.isfile(target):
            raise AttachError(f"uprobe target {target!r} does not exist (or is not a file)",
                              errno.ENOENT)
        return os.path.realpath(target)
    lib = find_library(target)
    if lib:
        return os.path.realpath(lib)
    exe = shutil.which(target)
    if exe:
        return os.path.realpath(exe)
    if os.path.isfile(target):
        return os.path.realpath(target)
    libs = libraries()
    base = target if target.startswith("lib") else f"lib{target}"
    shorts = sorted({s.split(".so")[0] for s in libs})
    raise AttachError(f"library {target!r} not found by ld.so.cache, nor a command on PATH"
                      f"{_near(base, shorts)}", errno.ENOENT)


def _near(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, 5, 0.6)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


# ---- ELF symbols ----

class ElfSymbols:
    """Function symbols and loadable segments of one ELF file."""

    __slots__ = ("path", "pie", "segments", "funcs", "versioned", "ambiguous")

    def __init__(self, path: str, pie: bool, segments: tuple[Segment, ...],
                 funcs: dict[str, int], versioned: dict[str, int],
                 ambiguous: dict[str, tuple[int, ...]] | None = None) -> None:
        self.path = path
        self.pie = pie                      # ET_DYN: executable PIE or shared library
        self.segments = segments
        self.funcs = funcs                  # name -> vaddr (default versions)
        self.versioned = versioned          # "name@VER" / "name@@VER" -> vaddr
        self.ambiguous = ambiguous or {}    # local functions of one name at several places

    def __repr__(self) -> str:
        return f"ElfSymbols({self.path!r}, {len(self.funcs)} functions)"

    def vaddr_to_offset(self, vaddr: int, executable: bool = True) -> int:
        """File offset of a virtual address, through the PT_LOAD segment containing it
        (an executable one first)."""
        off = file_offset(self.segments, vaddr, True) if executable else None
        if off is None:
            off = file_offset(self.segments, vaddr, False)
        if off is None:
            raise AttachError(f"address {vaddr:#x} is not in a loadable segment of {self.path}")
        return off

    def lookup(self, symbol: str) -> int:
        """vaddr of a function: "malloc", "malloc@@GLIBC_2.2.5" or "memcpy@GLIBC_2.2.5"."""
        if "@" in symbol:
            base, _, ver = symbol.partition("@")
            ver = ver.lstrip("@")
            for key in (f"{base}@@{ver}", f"{base}@{ver}"):
                if key in self.versioned:
                    return self.versioned[key]
        elif symbol in self.funcs:
            return self.funcs[symbol]
        elif symbol in self.ambiguous:
            addrs = ", ".join(f"{a:#x}" for a in self.ambiguous[symbol])
            raise AttachError(f"symbol {symbol!r} is ambiguous in {self.path}: local functions "
                              f"at {addrs}; attach by offset instead")
        names = sorted(set(self.funcs) | {k.split("@")[0] for k in self.versioned})
        raise AttachError(f"symbol {symbol!r} not found in {self.path}{_near(symbol, names)}",
                          errno.ENOENT)


def _verdefs(elf: HostELF) -> dict[int, str]:
    """Version index -> name from .gnu.version_d."""
    sec = elf.section(".gnu.version_d")
    if sec is None:
        return {}
    secs = elf.sections()
    strtab = elf.data(secs[sec.link]) if sec.link < len(secs) else b""
    data, e = elf.data(sec), elf.e
    out: dict[int, str] = {}
    off = 0
    for _ in range(sec.info or 1000):
        if off + 20 > len(data):
            break
        _v, _flags, ndx, cnt, _h, aux, nxt = struct.unpack_from(e + "HHHHIII", data, off)
        if cnt and off + aux + 8 <= len(data):
            name_off = struct.unpack_from(e + "I", data, off + aux)[0]
            end = strtab.find(b"\0", name_off)
            out[ndx] = strtab[name_off:end if end >= 0 else len(strtab)].decode(errors="replace")
        if not nxt:
            break
        off += nxt
    return out


def _versym(elf: HostELF) -> tuple[int, ...] | None:
    sec = elf.section(".gnu.version")
    if sec is None:
        return None
    data = elf.data(sec)
    return struct.unpack(f"{elf.e}{len(data) // 2}H", data[: len(data) // 2 * 2])


def _parse_elf(path: str) -> ElfSymbols:
    try:
        with HostELF(path) as elf:
            funcs: dict[str, int] = {}
            hidden: dict[str, int] = {}
            versioned: dict[str, int] = {}
            locals_: dict[str, set[int]] = {}
            verdefs = _verdefs(elf)
            for secname, want in ((".symtab", SHT_SYMTAB), (".dynsym", SHT_DYNSYM)):
                sec = elf.section(secname)
                if sec is None or sec.type != want:
                    continue
                versym = _versym(elf) if secname == ".dynsym" else None
                for i, (name, value, _size, typ, bind, shndx) in enumerate(elf.symbols(sec)):
                    if typ not in (STT_FUNC, STT_GNU_IFUNC) or shndx == SHN_UNDEF or not name:
                        continue
                    if bind == STB_LOCAL and "@" not in name:
                        locals_.setdefault(name, set()).add(value)
                        continue
                    base, at, ver = name.partition("@")
                    is_hidden = False
                    if at:                                   # .symtab "name@@VER" / "name@VER"
                        is_hidden = not ver.startswith("@")
                        versioned[name] = value
                    elif versym is not None and i < len(versym):
                        vi = versym[i]
                        vname = verdefs.get(vi & 0x7FFF)
                        is_hidden = bool(vi & 0x8000)
                        if vname and (vi & 0x7FFF) > 1:
                            versioned[f"{base}{'@' if is_hidden else '@@'}{vname}"] = value
                    (hidden if is_hidden else funcs).setdefault(base, value)
            for name, value in hidden.items():
                funcs.setdefault(name, value)
            ambiguous: dict[str, tuple[int, ...]] = {}
            for name, values in locals_.items():
                if name in funcs:
                    continue
                if len(values) == 1:
                    funcs[name] = next(iter(values))
                else:
                    ambiguous[name] = tuple(sorted(values))
            return ElfSymbols(path, elf.pie, elf.segments(), funcs, versioned, ambiguous)
    except (ELFError, struct.error) as e:
        raise AttachError(f"cannot read ELF symbols of {path}: {e}") from e


_elf_cache: OrderedDict[tuple[str, int, int, int], ElfSymbols] = OrderedDict()
_elf_lock = threading.Lock()
ELF_CACHE_SIZE = 32


def elf_symbols(path: str) -> ElfSymbols:
    """Parsed symbols of ``path``, cached per (path, device, inode, mtime)."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise AttachError(f"cannot stat {path}: {e.strerror}", e.errno) from e
    key = (path, st.st_dev, st.st_ino, st.st_mtime_ns)
    with _elf_lock:
        hit = _elf_cache.get(key)
        if hit is not None:
            _elf_cache.move_to_end(key)
            return hit
    syms = _parse_elf(path)
    with _elf_lock:
        _elf_cache[key] = syms
        while len(_elf_cache) > ELF_CACHE_SIZE:
            _elf_cache.popitem(last=False)
    return syms


def symbol_offset(path: str, symbol: str) -> int:
    """File offset of function ``symbol`` (or of an address "0x...") in the ELF at ``path``."""
    syms = elf_symbols(path)
    if symbol.startswith("0x"):
        try:
            return syms.vaddr_to_offset(int(symbol, 16))
        except ValueError:
            pass
    return syms.vaddr_to_offset(syms.lookup(symbol))


# ---- attach ----

def uprobes_available() -> bool:
    if pmu_type("uprobe") is not None:
        return True
    try:
        return has_events_file("uprobe")
    except AttachError:
        return False


def attach_uprobe(prog: Any, path: str, symbol: str | None = None, retprobe: bool = False,
                  pid: int = -1, offset: int = 0, ref_ctr_offset: int = 0, cookie: int = 0,
                  legacy: bool | None = None) -> Link:
    """uprobe (uretprobe) on ``path`` (or a library/command name) at ``symbol+offset``.

    Without ``symbol``, ``offset`` is a file offset; a symbol "0x401136" is a virtual address.
    ``pid`` limits it to one process; ``ref_ctr_offset`` is a USDT semaphore's file offset.
    ``legacy=True`` forces uprobe_events (the PMU is used when the kernel has one).
    """
    binary = resolve_binary(path)
    off = (symbol_offset(binary, symbol) if symbol else 0) + offset
    target = f"{symbol or ''}{f'+{offset:#x}' if offset and symbol else ''}" or f"{offset:#x}"
    what = f"{'uretprobe' if retprobe else 'uprobe'} {binary}:{target}"
    if pid != -1:
        what += f" pid {pid}"
        if not os.path.exists(f"/proc/{pid}"):
            raise AttachError(f"cannot attach {what}: no process {pid}", errno.ESRCH)
    ptype = pmu_type("uprobe")
    try:
        if ptype is not None and not legacy:
            attr = uprobe_pmu_attr(ptype, pmu_format_bit("uprobe", "retprobe"),
                                   pmu_format_bit("uprobe", "ref_ctr_offset"), binary, off,
                                   retprobe, ref_ctr_offset, pid)
            return attach_pmu(prog, attr, cookie, what)
        if not has_events_file("uprobe"):
            raise AttachError(f"cannot attach {what}: kernel has no uprobes (no uprobe PMU and "
                              f"no uprobe_events: CONFIG_UPROBES / CONFIG_UPROBE_EVENTS unset)",
                              errno.EOPNOTSUPP)
        return attach_legacy(prog, "uprobe",
                             lambda n: uprobe_line(n, binary, off, retprobe, ref_ctr_offset),
                             pid, cookie, what)
    except BPFError as e:
        if isinstance(e, (AttachError, NotSupportedError)):
            raise
        hint = {errno.EINVAL: f"offset {off:#x} is not a probe-able instruction of {binary}?",
                errno.ENOENT: f"{binary} vanished?", errno.ESRCH: f"no process {pid}"}
        if e.errno in hint:
            raise AttachError(f"cannot attach {what}: {e} ({hint[e.errno]})", e.errno) from e
        raise
