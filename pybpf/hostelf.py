"""The host's ELF files (executables, shared libraries, the vdso): header, PT_LOAD segments,
sections by name, symbol tables and notes, read with ``struct``.

What uprobes, USDT, symbolization and ``btf dump FILE`` need of an ELF file, without
pyelftools: importing it costs a tool ~25 ms of start-up, more than the rest of a warm
start. The file is mapped, not read: only the tables asked for are copied out. Both
classes (32/64-bit) and byte orders; malformed input raises :class:`pybpf.ELFError`.
BPF objects have their own reader (:mod:`pybpf.elf`).
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator

from .errors import ELFError

ET_DYN = 3
PT_LOAD = 1
PF_X = 1
SHT_SYMTAB, SHT_NOTE, SHT_NOBITS, SHT_DYNSYM = 2, 7, 8, 11
STT_FUNC, STT_GNU_IFUNC = 2, 10
# header fields after e_ident: type, machine, version, entry, phoff, shoff, flags, ehsize,
# phentsize, phnum, shentsize, shnum, shstrndx
_EHDR = {64: "HHIQQQIHHHHHH", 32: "HHIIIIIHHHHHH"}
_PHDR = {64: "IIQQQQQQ", 32: "IIIIIIII"}      # 32-bit order differs: see _segments
_SHDR = {64: "IIQQQQIIQQ", 32: "IIIIIIIIII"}
_SYM = {64: "IBBHQQ", 32: "IIIBBH"}


class Segment:
    """A PT_LOAD program header."""

    __slots__ = ("vaddr", "memsz", "offset", "filesz", "flags")

    def __init__(self, vaddr: int, memsz: int, offset: int, filesz: int, flags: int) -> None:
        self.vaddr, self.memsz, self.offset, self.filesz, self.flags = (
            vaddr, memsz, offset, filesz, flags)

    def __repr__(self) -> str:
        return (f"Segment(vaddr={self.vaddr:#x}, memsz={self.memsz:#x}, offset={self.offset:#x}, "
                f"filesz={self.filesz:#x}, flags={self.flags})")


def file_offset(segments: tuple[Segment, ...], vaddr: int, executable: bool) -> int | None:
    """The file offset of virtual address ``vaddr`` through the PT_LOAD segment holding it
    (only executable ones if ``executable``), or None."""
    for s in segments:
        if executable and not s.flags & PF_X:
            continue
        if s.vaddr <= vaddr < s.vaddr + max(s.memsz, s.filesz):
            return vaddr - s.vaddr + s.offset
    return None


class Section:
    """A section header, with its name."""

    __slots__ = ("name", "type", "addr", "offset", "size", "link", "info", "entsize")

    def __init__(self, name: str, type_: int, addr: int, offset: int, size: int, link: int,
                 info: int, entsize: int) -> None:
        self.name, self.type, self.addr, self.offset, self.size = name, type_, addr, offset, size
        self.link, self.info, self.entsize = link, info, entsize


class HostELF:
    """An ELF file of the host, opened from ``path`` (mapped) or from ``image`` (bytes)."""

    def __init__(self, path: str, image: bytes | None = None) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        if image is None:
            try:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    if size == 0:
                        raise ELFError("empty file, not ELF", path=path)
                    self._map = mmap.mmap(f.fileno(), size, mmap.MAP_PRIVATE, mmap.PROT_READ)
            except OSError as e:
                raise ELFError(f"cannot read: {e.strerror}", path=path) from e
        self._buf: bytes | mmap.mmap = image if image is not None else self._map  # type: ignore[assignment]
        try:
            self._parse_header()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None

    def __enter__(self) -> HostELF:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _parse_header(self) -> None:
        b = self._buf
        if len(b) < 16 or b[:4] != b"\x7fELF":
            raise ELFError("not an ELF file (bad magic)", path=self.path)
        cls, order = b[4], b[5]
        if cls not in (1, 2) or order not in (1, 2):
            raise ELFError(f"bad ELF class {cls} or data encoding {order}", path=self.path)
        self.bits = 64 if cls == 2 else 32
        self.little = order == 1
        self.e = "<" if self.little else ">"
        (self.e_type, self.machine, _v, _entry, phoff, shoff, _fl, _eh, phentsize, phnum,
         shentsize, shnum, shstrndx) = self._unpack(_EHDR[self.bits], 16)
        self._phoff, self._phentsize, self._phnum = phoff, phentsize, phnum
        self._shoff, self._shentsize, self._shnum, self._shstrndx = (
            shoff, shentsize, shnum, shstrndx)
        self._sections: list[Section] | None = None

    def _unpack(self, fmt: str, off: int) -> tuple:
        try:
            return struct.unpack_from(self.e + fmt, self._buf, off)
        except (struct.error, OverflowError):
            raise ELFError(f"truncated ELF structure at offset {off:#x}", path=self.path) from None

    @property
    def pie(self) -> bool:
        """ET_DYN: a position-independent executable or a shared library."""
        return self.e_type == ET_DYN

    def segments(self) -> tuple[Segment, ...]:
        """The PT_LOAD program headers."""
        out = []
        size = struct.calcsize(_PHDR[self.bits])
        if self._phnum and self._phentsize < size:
            raise ELFError(f"bad program header size {self._phentsize}", path=self.path)
        for i in range(self._phnum):
            f = self._unpack(_PHDR[self.bits], self._phoff + i * self._phentsize)
            if self.bits == 64:
                p_type, flags, offset, vaddr, _pa, filesz, memsz, _al = f
            else:
                p_type, offset, vaddr, _pa, filesz, memsz, flags, _al = f
            if p_type == PT_LOAD:
                out.append(Segment(vaddr, memsz, offset, filesz, flags))
        return tuple(out)

    def sections(self) -> list[Section]:
        """Every section header (index order), with names."""
        if self._sections is None:
            size = struct.calcsize(_SHDR[self.bits])
            if self._shnum and self._shentsize < size:
                raise ELFError(f"bad section header size {self._shentsize}", path=self.path)
            hdrs = [self._unpack(_SHDR[self.bits], self._shoff + i * self._shentsize)
                    for i in range(self._shnum)]
            names = b""
            if hdrs and self._shstrndx < len(hdrs):
                _n, _t, _f, _a, off, sz, *_ = hdrs[self._shstrndx]
                names = self._bytes(off, sz)
            self._sections = [
                Section(_cstr(names, name), typ, addr, off, sz, link, info, ent)
                for name, typ, _f, addr, off, sz, link, info, _al, ent in hdrs]
        return self._sections

    def section(self, name: str) -> Section | None:
        """The first section called ``name``, or None."""
        for s in self.sections():
            if s.name == name:
                return s
        return None

    def data(self, sec: Section) -> bytes:
        """A section's bytes (empty for SHT_NOBITS)."""
        if sec.type == SHT_NOBITS:
            return b""
        return self._bytes(sec.offset, sec.size)

    def _bytes(self, off: int, size: int) -> bytes:
        if off < 0 or size < 0 or off + size > len(self._buf):
            raise ELFError(f"data at {off:#x}+{size:#x} lies past the end of the file",
                           path=self.path)
        return self._buf[off:off + size]  # (a slice of either is a bytes copy)

    def symbols(self, sec: Section) -> Iterator[tuple[str, int, int, int, int, int]]:
        """(name, value, size, type, bind, shndx) of each entry of a symbol table."""
        secs = self.sections()
        if sec.link >= len(secs):
            raise ELFError(f"bad string table index {sec.link}", path=self.path, section=sec.name)
        strtab = self.data(secs[sec.link])
        fmt = self.e + _SYM[self.bits]
        entsize = struct.calcsize(fmt)
        data = self.data(sec)
        data = data[:len(data) - len(data) % entsize]
        for ent in struct.iter_unpack(fmt, data):
            if self.bits == 64:
                name_off, info, _other, shndx, value, size = ent
            else:
                name_off, value, size, info, _other, shndx = ent
            yield _cstr(strtab, name_off), value, size, info & 0xF, info >> 4, shndx

    def notes(self, sec: Section) -> Iterator[tuple[bytes, int, bytes]]:
        """(owner, type, descriptor) of each note of a SHT_NOTE section."""
        data, e, pos = self.data(sec), self.e, 0
        while pos + 12 <= len(data):
            namesz, descsz, ntype = struct.unpack_from(e + "III", data, pos)
            pos += 12
            owner = data[pos:pos + namesz].rstrip(b"\0")
            pos += (namesz + 3) & ~3
            desc = data[pos:pos + descsz]
            pos += (descsz + 3) & ~3
            if len(desc) != descsz:
                raise ELFError(f"note truncated at offset {pos:#x}", path=self.path,
                               section=sec.name)
            yield owner, ntype, desc


def _cstr(tab: bytes, off: int) -> str:
    end = tab.find(b"\0", off)
    return tab[off:end if end >= 0 else len(tab)].decode("utf-8", "replace")
