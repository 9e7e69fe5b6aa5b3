"""Fuzzing the ELF, BTF and .BTF.ext parsers: corrupt input raises only pybpf errors, never
hangs or leaks another exception type."""

from __future__ import annotations

import io
from pathlib import Path

from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.btf.ext import parse_btf_ext
from pybpf.btf.parse import parse_btf
from pybpf.errors import BPFError, BTFError
from pybpf.spec import ObjectSpec
from tests.conftest import obj_path

OBJ = Path(obj_path("loader_basic")).read_bytes()
_elf = ELFFile(io.BytesIO(OBJ))
BTF_RAW = _elf.get_section_by_name(".BTF").data()
EXT_RAW = _elf.get_section_by_name(".BTF.ext").data()

FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


def mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    buf = bytearray(data)
    for pos, val in flips:
        buf[pos % len(buf)] = val
    return bytes(buf[:cut] if cut is not None else buf)


flips = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=8)
cuts = st.none() | st.integers(0, 1 << 16)


def decode_all(btf) -> None:
    for t in btf:
        for m in t.members:
            btf.type_name(m.type_id) if m.type_id < len(btf) else None


@FUZZ
@given(flips, cuts)
def test_btf_parser(fl, cut):
    data = mutate(BTF_RAW, fl, cut)
    try:
        decode_all(parse_btf(data))
    except BTFError:
        pass


@FUZZ
@given(flips, cuts, st.sampled_from(["task_struct", "int", "x", "events"]))
def test_btf_parser_lazy(fl, cut, name):
    """The lazily scanned parse: lookups and reads of a corrupt blob raise BTFError only."""
    data = mutate(BTF_RAW, fl, cut)
    try:
        btf = parse_btf(data, lazy=True)
        for tid in btf.ids_by_name(name):
            btf.type_name(tid)
        btf[len(btf) - 1]
        decode_all(btf)
    except BTFError:
        pass


@FUZZ
@given(flips, cuts)
def test_btf_ext_parser(fl, cut):
    btf = parse_btf(BTF_RAW)
    try:
        parse_btf_ext(mutate(EXT_RAW, fl, cut), btf)
    except BTFError:
        pass


@FUZZ
@given(st.binary(max_size=200))
def test_btf_random_bytes(data):
    try:
        decode_all(parse_btf(b"\x9f\xeb\x01\x00" + data))
    except BTFError:
        pass


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(flips, cuts)
def test_elf_object(fl, cut):
    try:
        ObjectSpec.from_bytes(mutate(OBJ, fl, cut))
    except BPFError:
        pass
