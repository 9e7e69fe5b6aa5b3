""".BTF.ext: per-section func_info, line_info and CO-RE relocation records."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import BTFError
from .types import BTF


@dataclass(frozen=True, slots=True)
class FuncInfo:
    insn_off: int     # bytes, within the ELF section
    type_id: int


@dataclass(frozen=True, slots=True)
class LineInfo:
    insn_off: int
    file_name_off: int
    line_off: int
    line_col: int
    file_name: str = ""
    line_text: str = ""

    @property
    def line(self) -> int:
        return self.line_col >> 10

    @property
    def col(self) -> int:
        return self.line_col & 0x3FF


@dataclass(frozen=True, slots=True)
class CoreRelo:
    insn_off: int
    type_id: int
    access_str: str
    kind: int


@dataclass
class BTFExt:
    func_info: dict[str, list[FuncInfo]] = field(default_factory=dict)
    line_info: dict[str, list[LineInfo]] = field(default_factory=dict)
    core_relos: dict[str, list[CoreRelo]] = field(default_factory=dict)


def _records(data: bytes, start: int, length: int, min_size: int, btf: BTF, what: str):  # noqa: ANN202
    """Yield (section name, record offset, rec_size) for one info block."""
    if length == 0:
        return
    end = start + length
    if end > len(data) or length < 4:
        raise BTFError(f".BTF.ext {what} extends past the end", offset=start)
    (rec_size,) = struct.unpack_from("<I", data, start)
    if rec_size < min_size:
        raise BTFError(f".BTF.ext {what} record size {rec_size} < {min_size}", offset=start)
    pos = start + 4
    while pos < end:
        if pos + 8 > end:
            raise BTFError(f".BTF.ext {what}: truncated section header", offset=pos)
        sec_off, n = struct.unpack_from("<II", data, pos)
        sec = btf.string(sec_off)
        pos += 8
        if pos + n * rec_size > end:
            raise BTFError(f".BTF.ext {what} for {sec}: {n} records overflow", offset=pos)
        for i in range(n):
            yield sec, pos + i * rec_size
        pos += n * rec_size


def parse_btf_ext(data: bytes, btf: BTF) -> BTFExt:
    """Parse .BTF.ext against the object's BTF (strings come from its string table)."""
    if len(data) < 24:
        raise BTFError(".BTF.ext shorter than its header", offset=0)
    magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data)
    if magic != 0xEB9F:
        raise BTFError(f"bad .BTF.ext magic {magic:#06x}", offset=0)
    if version != 1 or hdr_len < 24 or hdr_len > len(data):
        raise BTFError(f"unsupported .BTF.ext header (version {version}, length {hdr_len})", offset=0)
    fi_off, fi_len, li_off, li_len = struct.unpack_from("<IIII", data, 8)
    cr_off = cr_len = 0
    if hdr_len >= 32:
        cr_off, cr_len = struct.unpack_from("<II", data, 24)
    ext = BTFExt()
    for sec, p in _records(data, hdr_len + fi_off, fi_len, 8, btf, "func_info"):
        ext.func_info.setdefault(sec, []).append(FuncInfo(*struct.unpack_from("<II", data, p)))
    for sec, p in _records(data, hdr_len + li_off, li_len, 16, btf, "line_info"):
        io, fo, lo, lc = struct.unpack_from("<IIII", data, p)
        ext.line_info.setdefault(sec, []).append(
            LineInfo(io, fo, lo, lc, btf.string(fo), btf.string(lo)))
    for sec, p in _records(data, hdr_len + cr_off, cr_len, 16, btf, "core_relo"):
        io, tid, ao, kind = struct.unpack_from("<IIII", data, p)
        ext.core_relos.setdefault(sec, []).append(CoreRelo(io, tid, btf.string(ao), kind))
    return ext
