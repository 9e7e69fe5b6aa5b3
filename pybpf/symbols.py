"""Address -> symbol: kernel (/proc/kallsyms) and user space (/proc/PID/maps + ELF symtabs).

    ksyms = KernelSymbols.shared()           # kallsyms read once per process
    ksyms.sym(0xffffffff81234567)            # "vfs_read+0x17"
    usyms = UserSymbols(pid)
    usyms.sym(0x55d0c0a01139)                # "main+0x9", "[unknown]" when unresolvable
    fold(["leaf", "caller", "main"], 12)     # "main;caller;leaf 12" (flame graph input)

User symbols come from each mapped file's ``.symtab`` (else ``.dynsym``; a separate debug
file under /usr/lib/debug/.build-id is used when the binary is stripped). ELF tables are
cached per (device, inode), so many processes of one binary parse it once. The ``[vdso]``
is read from the process's memory (it is an ELF image). C++ names are demangled with
``c++filt`` (binutils) when it is installed, else left mangled.

Kernel symbols include JIT-compiled BPF programs (``bpf_prog_<tag>_<name> [bpf]``); as
programs come and go, the BPF part of kallsyms is reread when a lookup lands outside the
core kernel and the set of loaded programs changed since the last read.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import os
import shutil
import struct
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._log import get_logger
from .errors import ELFError
from .hostelf import SHT_DYNSYM, SHT_SYMTAB, STT_FUNC, STT_GNU_IFUNC, HostELF

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.symbols")

__all__ = ["ElfSymbols", "KernelSymbols", "Symbol", "UNKNOWN", "UserSymbols", "demangle",
           "fold", "fold_stacks"]

UNKNOWN = "[unknown]"
_TEXT_TYPES = frozenset("tTwW")
_MAX_UNSIZED = 1 << 20      # no kernel function is this long: farther is past the text's end


@dataclass(frozen=True, slots=True)
class Symbol:
    """A resolved address: function ``name``, ``offset`` into it, ``module`` it lives in."""

    name: str
    offset: int
    module: str

    def format(self, offset: bool = True, module: bool = False) -> str:
        text = f"{self.name}+{self.offset:#x}" if offset and self.offset else self.name
        return f"{text} [{self.module}]" if module and self.module else text

    def __str__(self) -> str:
        return self.format()


class _Table:
    """Sorted start addresses with names (and sizes: 0 means up to the next symbol)."""

    __slots__ = ("addrs", "names", "sizes", "mods")

    def __init__(self, entries: list[tuple[int, int, str, str]]) -> None:
        entries.sort()
        self.addrs = [e[0] for e in entries]
        self.sizes = [e[1] for e in entries]
        self.names = [e[2] for e in entries]
        self.mods = [e[3] for e in entries]

    def find(self, addr: int) -> tuple[str, int, str] | None:
        i = bisect.bisect_right(self.addrs, addr) - 1
        if i < 0:
            return None
        start, size = self.addrs[i], self.sizes[i]
        if size and addr >= start + size:      # in a gap after a sized symbol
            return None
        return self.names[i], addr - start, self.mods[i]

    def __len__(self) -> int:
        return len(self.addrs)


# ---------------------------------------------------------------- kernel

def _read_kallsyms(path: str, bpf_only: bool = False) -> tuple[list[Any], list[Any]]:
    """(kernel and module text symbols, BPF ones) of a kallsyms file."""
    static: list[tuple[int, int, str, str]] = []
    bpf: list[tuple[int, int, str, str]] = []
    with open(path) as f:
        for line in f:
            if bpf_only and not line.endswith("[bpf]\n"):
                continue
            parts = line.split()
            if len(parts) < 3 or parts[1] not in _TEXT_TYPES:
                continue
            addr = int(parts[0], 16)
            if addr:
                mod = parts[3].strip("[]") if len(parts) > 3 else "kernel"
                (bpf if mod == "bpf" else static).append((addr, 0, parts[2], mod))
    return static, bpf


def _bpf_generation() -> tuple[int, ...] | None:
    """The ids of the loaded BPF programs (None: not allowed to list them)."""
    from .errors import BPFError
    from .sys import bpf as sysbpf
    ids: list[int] = []
    try:
        i: int | None = 0
        while (i := sysbpf.get_next_id("prog", i)) is not None:  # type: ignore[arg-type]
            ids.append(i)
    except (BPFError, OSError):
        return None
    return tuple(ids)


class KernelSymbols:
    """Kernel text symbols from /proc/kallsyms (module and BPF program symbols included)."""

    def __init__(self, path: str = "/proc/kallsyms") -> None:
        self.path = path
        static: list[tuple[int, int, str, str]] = []
        bpf: list[tuple[int, int, str, str]] = []
        try:
            static, bpf = _read_kallsyms(path)
        except OSError as e:
            log.warning("cannot read %s: %s; kernel addresses stay unresolved", path, e)
        if not static and os.path.exists(path):
            log.warning("%s shows no addresses (kptr_restrict? run as root)", path)
        self._table = _Table(static)
        self._bpf = _Table(bpf)
        self._bpf_gen = _bpf_generation() if path == "/proc/kallsyms" else None
        self._by_name: dict[str, int] | None = None

    @classmethod
    @functools.cache
    def shared(cls) -> KernelSymbols:
        """The process-wide instance (kallsyms is read once, its BPF part when it changes)."""
        return cls()

    def __len__(self) -> int:
        return len(self._table) + len(self._bpf)

    def refresh_bpf(self) -> bool:
        """Reread the BPF program symbols if programs were loaded or unloaded since the
        last read; whether they were reread."""
        if self.path != "/proc/kallsyms" or (gen := _bpf_generation()) == self._bpf_gen:
            return False
        try:
            self._bpf = _Table(_read_kallsyms(self.path, bpf_only=True)[1])
        except OSError as e:
            log.debug("cannot reread %s: %s", self.path, e)
        self._bpf_gen, self._by_name = gen, None
        return True

    def _find(self, addr: int) -> tuple[str, int, str] | None:
        hit = self._table.find(addr)
        bhit = self._bpf.find(addr)
        if bhit is not None and (hit is None or bhit[1] < hit[1]):
            hit = bhit
        return hit if hit is not None and hit[1] < _MAX_UNSIZED else None

    def resolve(self, addr: int) -> Symbol | None:
        hit = self._find(addr)
        if (hit is None or hit[2] != "kernel") and self.refresh_bpf():
            hit = self._find(addr)
        return Symbol(*hit) if hit is not None else None

    def sym(self, addr: int, offset: bool = True, module: bool = False) -> str:
        """``func+0x12`` (``module``: with `` [mod]``), or "[unknown]"."""
        s = self.resolve(addr)
        return s.format(offset, module) if s is not None else UNKNOWN

    def address(self, name: str) -> int | None:
        """The address of kernel symbol ``name`` (first match), or None."""
        if name.startswith("bpf_"):
            self.refresh_bpf()
        if self._by_name is None:
            self._by_name = {}
            for t in (self._table, self._bpf):
                for a, n in zip(t.addrs, t.names, strict=True):
                    self._by_name.setdefault(n, a)
        return self._by_name.get(name)


# ---------------------------------------------------------------- user space

class ElfSymbols:
    """Function symbols of one ELF file, looked up by the file's virtual addresses."""

    def __init__(self, path: str, name: str | None = None, *, image: bytes | None = None,
                 demangle: bool = True) -> None:
        """Symbols of the ELF file ``path``, or of ``image`` (its bytes, e.g. the vdso)."""
        self.path = path
        self.name = name or os.path.basename(path)
        self.loads: list[tuple[int, int, int]] = []    # (p_offset, p_vaddr, p_filesz)
        self.build_id: str | None = None
        entries: list[tuple[int, int, str, str]] = []
        try:
            with HostELF(path, image) as elf:
                entries = self._read(elf)
        except (ELFError, ValueError, struct.error) as e:
            log.debug("no symbols from %s: %s", path, e)
        if demangle and any(e[2].startswith("_Z") for e in entries):
            names = _demangled([e[2] for e in entries if e[2].startswith("_Z")])
            entries = [(a, n, names.get(sym, sym), m) for a, n, sym, m in entries]
        self._table = _Table(entries)

    def _read(self, elf: HostELF) -> list[tuple[int, int, str, str]]:
        self.loads = [(s.offset, s.vaddr, max(s.filesz, 1)) for s in elf.segments()]
        note = elf.section(".note.gnu.build-id")
        if note is not None:
            for owner, ntype, desc in elf.notes(note):
                if owner == b"GNU" and ntype == _NT_GNU_BUILD_ID:
                    self.build_id = desc.hex()
        entries = _func_symbols(elf, ".symtab", self.name)
        if not entries and self.build_id:
            dbg = f"/usr/lib/debug/.build-id/{self.build_id[:2]}/{self.build_id[2:]}.debug"
            if os.path.exists(dbg):
                with HostELF(dbg) as debug:
                    entries = _func_symbols(debug, ".symtab", self.name)
        if not entries:
            entries = _func_symbols(elf, ".dynsym", self.name)
        return entries

    def __len__(self) -> int:
        return len(self._table)

    def vaddr(self, file_offset: int) -> int | None:
        """The ELF virtual address of byte ``file_offset`` of the file (via PT_LOADs)."""
        for off, va, size in self.loads:
            if off <= file_offset < off + size:
                return file_offset - off + va
        return None

    def resolve_vaddr(self, vaddr: int) -> Symbol | None:
        hit = self._table.find(vaddr)
        return Symbol(*hit) if hit is not None else None


_NT_GNU_BUILD_ID = 3


def _func_symbols(elf: HostELF, section: str, module: str) -> list[tuple[int, int, str, str]]:
    """(vaddr, size, name, module) of the defined functions of a symbol table."""
    sec = elf.section(section)
    if sec is None or sec.type not in (SHT_SYMTAB, SHT_DYNSYM):
        return []
    return [(value, size, name, module) for name, value, size, typ, _b, shndx in elf.symbols(sec)
            if typ in (STT_FUNC, STT_GNU_IFUNC) and value and shndx and name]


@functools.cache
def _cxxfilt() -> str | None:
    return shutil.which("c++filt")


def demangle(names: Iterable[str]) -> list[str]:
    """C++ (Itanium ABI) names demangled by ``c++filt`` in one run; names it does not
    know, and all of them when ``c++filt`` is not installed, come back unchanged."""
    names = list(names)
    table = _demangled([n for n in names if n.startswith("_Z")])
    return [table.get(n, n) for n in names]


def _demangled(mangled: list[str]) -> dict[str, str]:
    tool = _cxxfilt()
    if not mangled or tool is None:
        return {}
    try:
        r = subprocess.run([tool, "-n"], input="\n".join(mangled) + "\n", capture_output=True,
                           text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as e:
        log.debug("c++filt failed (%s): C++ names stay mangled", e)
        return {}
    out = r.stdout.splitlines()
    if len(out) != len(mangled):
        log.debug("c++filt gave %d lines for %d names: names stay mangled", len(out), len(mangled))
        return {}
    return dict(zip(mangled, out, strict=True))


_ELF_CACHE: dict[tuple[str, int, bool], ElfSymbols] = {}
_ELF_CACHE_MAX = 256
_VDSO_CACHE: dict[tuple[bytes, bool], ElfSymbols] = {}


def _cached(cache: dict[Any, ElfSymbols], key: Any, make: Any) -> ElfSymbols:
    elf = cache.get(key)
    if elf is None:
        if len(cache) >= _ELF_CACHE_MAX:
            cache.pop(next(iter(cache)))
        elf = cache[key] = make()
    return elf


def _elf_for(dev: str, inode: int, path: str, name: str, demangle: bool = True) -> ElfSymbols:
    """ELF symbols cached by (device, inode): ``path`` only says where to read the file."""
    return _cached(_ELF_CACHE, (dev, inode, demangle),
                   lambda: ElfSymbols(path, name, demangle=demangle))


def _read_mem(pid: int | str, start: int, end: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as f:
            f.seek(start)
            return f.read(end - start)
    except (OSError, OverflowError, ValueError):
        return None


def _vdso_for(pid: int, start: int, end: int, demangle: bool = True) -> ElfSymbols | None:
    """The vdso ELF image mapped at [start, end) in ``pid`` (the kernel's, so this
    process's own copy serves when ``pid``'s memory cannot be read), cached by content."""
    image = _read_mem(pid, start, end)
    if image is None:
        own = next((m for m in _own_maps() if m.path == "[vdso]"), None)
        image = _read_mem("self", own.start, own.end) if own is not None else None
    if not image or not image.startswith(b"\x7fELF"):
        return None
    key = (hashlib.blake2b(image, digest_size=16).digest(), demangle)
    return _cached(_VDSO_CACHE, key,
                   lambda: ElfSymbols("[vdso]", "vdso", image=image, demangle=demangle))


def _own_maps() -> list[_Mapping]:
    with open("/proc/self/maps") as f:
        return [m for line in f if (m := _parse_maps_line(line)) is not None]


@dataclass(frozen=True, slots=True)
class _Mapping:
    start: int
    end: int
    offset: int
    dev: str
    inode: int
    path: str


class UserSymbols:
    """Symbols of process ``pid``'s user-space addresses (its memory map is read once;
    ``refresh()`` rereads it after the process loads more libraries)."""

    def __init__(self, pid: int, demangle: bool = True) -> None:
        self.pid = pid
        self.demangle = demangle
        self._maps: list[_Mapping] = []
        self._starts: list[int] = []
        self.refresh()

    def refresh(self) -> None:
        maps: list[_Mapping] = []
        try:
            with open(f"/proc/{self.pid}/maps") as f:
                for line in f:
                    m = _parse_maps_line(line)
                    if m is not None:
                        maps.append(m)
        except OSError as e:
            log.debug("cannot read the memory map of pid %d: %s", self.pid, e)
        maps.sort(key=lambda m: m.start)
        self._maps, self._starts = maps, [m.start for m in maps]

    def _mapping(self, addr: int) -> _Mapping | None:
        i = bisect.bisect_right(self._starts, addr) - 1
        if i >= 0 and addr < self._maps[i].end:
            return self._maps[i]
        return None

    def _elf(self, m: _Mapping) -> ElfSymbols | None:
        if m.path == "[vdso]":
            return _vdso_for(self.pid, m.start, m.end, self.demangle)
        if not m.path.startswith("/"):
            return None
        path = m.path.removesuffix(" (deleted)")
        for cand in (f"/proc/{self.pid}/root{path}",
                     f"/proc/{self.pid}/map_files/{m.start:x}-{m.end:x}", path):
            if os.path.exists(cand):
                return _elf_for(m.dev, m.inode, cand, os.path.basename(path), self.demangle)
        return None

    def resolve(self, addr: int) -> Symbol | None:
        m = self._mapping(addr)
        if m is None:
            return None
        elf = self._elf(m)
        if elf is None:
            return None
        vaddr = elf.vaddr(addr - m.start + m.offset)
        return elf.resolve_vaddr(vaddr) if vaddr is not None else None

    def module(self, addr: int) -> str | None:
        """The file (or [vdso], [heap] ...) mapped at ``addr``."""
        m = self._mapping(addr)
        return m.path if m is not None else None

    def sym(self, addr: int, offset: bool = True, module: bool = False) -> str:
        """``func+0x12`` (``module``: with `` [libc.so.6]``), or "[unknown]"."""
        s = self.resolve(addr)
        if s is not None:
            return s.format(offset, module)
        if module:
            mod = self.module(addr)
            if mod:
                return f"{UNKNOWN} [{os.path.basename(mod).strip('[]')}]"
        return UNKNOWN


def _parse_maps_line(line: str) -> _Mapping | None:
    parts = line.split(maxsplit=5)
    if len(parts) < 5 or "x" not in parts[1]:
        return None
    lo, _, hi = parts[0].partition("-")
    path = parts[5].rstrip("\n") if len(parts) > 5 else ""
    try:
        return _Mapping(int(lo, 16), int(hi, 16), int(parts[2], 16), parts[3], int(parts[4]),
                        path)
    except ValueError:
        return None


# ---------------------------------------------------------------- flame graphs

def fold(frames: Sequence[str], count: int | None = None) -> str:
    """One folded-stack line: ``frames`` leaf first (as stack maps give them) become
    ``root;...;leaf`` (then `` count`` if given), the input of flamegraph.pl."""
    line = ";".join(f.replace(";", ":") for f in reversed(frames))
    return line if count is None else f"{line} {count}"


def fold_stacks(stacks: Iterable[tuple[Sequence[str], int]]) -> str:
    """Folded lines for (frames, count) pairs, identical stacks merged, sorted."""
    totals: dict[str, int] = {}
    for frames, count in stacks:
        key = fold(frames)
        totals[key] = totals.get(key, 0) + count
    return "\n".join(f"{k} {v}" for k, v in sorted(totals.items()))
