"""ELF -> ObjectSpec without a kernel: programs, subprogram linking, maps, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import pybpf
from pybpf import insn as I
from pybpf.sys.consts import MapType, ProgType
from tests.conftest import obj_path


def spec(name: str) -> pybpf.ObjectSpec:
    return pybpf.ObjectSpec.from_file(obj_path(name))


def test_programs_and_types():
    s = spec("loader_basic")
    assert set(s.programs) == {"xdp_prog", "loop_prog", "sys_prog"}
    assert s.programs["xdp_prog"].type == ProgType.XDP
    assert s.programs["sys_prog"].type == ProgType.RAW_TRACEPOINT
    assert s.license == "GPL"
    assert {"scale", "global_add", "add_idx"} <= set(s.subprogs)


def test_subprograms_appended_and_calls_relocated():
    progs = spec("loader_basic").programs
    assert len(progs["xdp_prog"].origins) >= 2       # scale appended
    assert len(progs["loop_prog"].origins) >= 2      # add_idx (the callback) appended
    for p in (progs["xdp_prog"], progs["loop_prog"]):
        starts = {b for b, *_ in p.origins}
        for i in range(len(p.insns) // 8):
            ins = I.decode(p.insns, i)
            if ins.code == I.CALL and ins.src == 1:
                assert i + ins.imm + 1 in starts     # every bpf-to-bpf call lands on a function
            if ins.code == I.LD_IMM64 and ins.src == 4:
                assert i + ins.imm + 1 in starts     # the bpf_loop callback too


def test_maps_and_global_data():
    s = spec("loader_basic")
    counts = s.maps["counts"]
    assert (counts.type, counts.key_size, counts.value_size, counts.max_entries) == (MapType.HASH, 4, 8, 64)
    for sec in (".rodata", ".data", ".bss", ".data.loops"):
        assert s.maps[sec].is_global_data and s.maps[sec].max_entries == 1
    assert s.maps[".rodata"].name == "loader_b.rodata"
    kinds = {r.kind for r in s.programs["xdp_prog"].relocs}
    assert {"map", "map_value"} <= kinds


def test_map_in_map_and_prog_array_initial_slots():
    s = spec("loader_tailcall")
    assert s.maps["outer"].init_slots == {0: "inner_a", 1: "inner_b"}
    assert s.maps["outer"].inner is not None and s.maps["outer"].inner.type == MapType.ARRAY
    assert s.maps["jumps"].init_slots == {1: "tail_target"}


def test_legacy_maps():
    m = spec("loader_legacy").maps["legacy_counts"]
    assert (m.type, m.key_size, m.value_size, m.max_entries) == (MapType.ARRAY, 4, 8, 2)


def test_missing_license():
    with pytest.raises(pybpf.ELFError, match="no license section"):
        spec("bad_nolicense")


def test_unknown_section():
    with pytest.raises(pybpf.ELFError, match="unknown program section 'no_such_kind/foo'"):
        spec("bad_section")


def test_not_elf_and_truncated(tmp_path: Path):
    with pytest.raises(pybpf.ELFError, match="not an ELF"):
        pybpf.ObjectSpec.from_bytes(b"hello world")
    data = Path(obj_path("loader_basic")).read_bytes()
    for cut in (16, 64, len(data) // 3, len(data) - 9):
        with pytest.raises(pybpf.BPFError):
            pybpf.ObjectSpec.from_bytes(data[:cut])


def test_wrong_machine():
    data = bytearray(Path(obj_path("loader_basic")).read_bytes())
    struct.pack_into("<H", data, 18, 62)             # EM_X86_64
    with pytest.raises(pybpf.ELFError, match="e_machine"):
        pybpf.ObjectSpec.from_bytes(bytes(data))


def test_relocation_to_unknown_symbol():
    """A relocation whose symbol is undefined and no extern -> a clear error."""
    data = bytearray(Path(obj_path("loader_legacy")).read_bytes())
    import io

    from elftools.elf.elffile import ELFFile
    elf = ELFFile(io.BytesIO(bytes(data)))
    symtab = elf.get_section_by_name(".symtab")
    # make the map symbol undefined (st_shndx = 0)
    for i, sym in enumerate(symtab.iter_symbols()):
        if sym.name == "legacy_counts":
            off = symtab["sh_offset"] + i * symtab["sh_entsize"] + 6
            struct.pack_into("<H", data, off, 0)
    with pytest.raises(pybpf.ELFError, match="unresolved symbol 'legacy_counts'"):
        pybpf.ObjectSpec.from_bytes(bytes(data))


def test_huge_bss_size_is_refused_not_allocated():
    """Found by the fuzzer: a corrupt .bss size made the parser allocate it (MemoryError)."""
    import io

    from elftools.elf.elffile import ELFFile
    data = bytearray(Path(obj_path("loader_basic")).read_bytes())
    elf = ELFFile(io.BytesIO(bytes(data)))
    idx = next(i for i, s in enumerate(elf.iter_sections()) if s.name == ".bss")
    struct.pack_into("<Q", data, elf["e_shoff"] + idx * elf["e_shentsize"] + 32, 1 << 56)
    with pytest.raises(pybpf.ELFError, match=r"zero-filled size 72057594037927936 is over 64 MiB"):
        pybpf.ObjectSpec.from_bytes(bytes(data))
