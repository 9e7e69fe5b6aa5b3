""".BTF.ext: per-section func_info, line_info and CO-RE relocation records."""

from __future__ import annotations

import struct

from .._record import Frozen, Record, _set
from ..errors import BTFError
from .types import BTF


class FuncInfo(Frozen):
    """A bpf_func_info record: ``insn_off`` in bytes within the ELF section."""

    __slots__ = ("insn_off", "type_id")

    def __init__(self, insn_off: int, type_id: int) -> None:
        _set(self, "insn_off", insn_off)
        _set(self, "type_id", type_id)


class LineInfo(Frozen):
    """A bpf_line_info record, with its file name and source line text."""

    __slots__ = ("insn_off", "file_name_off", "line_off", "line_col", "file_name", "line_text")

    def __init__(self, insn_off: int, file_name_off: int, line_off: int, line_col: int,
                 file_name: str = "", line_text: str = "") -> None:
        _set(self, "insn_off", insn_off)
        _set(self, "file_name_off", file_name_off)
        _set(self, "line_off", line_off)
        _set(self, "line_col", line_col)
        _set(self, "file_name", file_name)
        _set(self, "line_text", line_text)

    @property
    def line(self) -> int:
        return self.line_col >> 10

    @property
    def col(self) -> int:
        return self.line_col & 0x3FF


class CoreRelo(Frozen):
    """A bpf_core_relo record: the instruction (bytes), local type, access string, kind."""

    __slots__ = ("insn_off", "type_id", "access_str", "kind")

    def __init__(self, insn_off: int, type_id: int, access_str: str, kind: int) -> None:
        _set(self, "insn_off", insn_off)
        _set(self, "type_id", type_id)
        _set(self, "access_str", access_str)
        _set(self, "kind", kind)


class BTFExt(Record):
    """Every .BTF.ext record, per ELF section name."""

    __slots__ = ("func_info", "line_info", "core_relos")

    def __init__(self, func_info: dict[str, list[FuncInfo]] | None = None,
                 line_info: dict[str, list[LineInfo]] | None = None,
                 core_relos: dict[str, list[CoreRelo]] | None = None) -> None:
        self.func_info = {} if func_info is None else func_info
        self.line_info = {} if line_info is None else line_info
        self.core_relos = {} if core_relos is None else core_relos


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
