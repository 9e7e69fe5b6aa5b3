"""pybpf.hostelf against pyelftools (the oracle) on the host's own binaries, and on corrupt
input (pybpf.ELFError only)."""

from __future__ import annotations

import os
import sys

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybpf.errors import ELFError
from pybpf.hostelf import HostELF, file_offset

BINARIES = [p for p in ("/lib/x86_64-linux-gnu/libc.so.6", "/bin/bash", "/bin/true",
                        os.path.realpath(sys.executable),
                        "/lib/x86_64-linux-gnu/libstdc++.so.6") if os.path.exists(p)]


@pytest.mark.parametrize("path", BINARIES)
def test_same_answers_as_pyelftools(path):
    with open(path, "rb") as f, HostELF(path) as ours:
        ref = ELFFile(f)
        assert ours.bits == ref.elfclass and ours.little == ref.little_endian
        assert ours.pie == (ref.header["e_type"] == "ET_DYN")
        loads = [s for s in ref.iter_segments() if s["p_type"] == "PT_LOAD"]
        assert [(s.vaddr, s.memsz, s.offset, s.filesz, s.flags) for s in ours.segments()] == [
            (s["p_vaddr"], s["p_memsz"], s["p_offset"], s["p_filesz"], s["p_flags"]) for s in loads]
        assert [s.name for s in ours.sections()] == [s.name for s in ref.iter_sections()]
        for name in (".dynsym", ".symtab", ".gnu.version_d", ".note.gnu.build-id", ".text"):
            mine, theirs = ours.section(name), ref.get_section_by_name(name)
            assert (mine is None) == (theirs is None), name
            if mine is None:
                continue
            assert (mine.addr, mine.offset, mine.size, mine.link, mine.info) == (
                theirs["sh_addr"], theirs["sh_offset"], theirs["sh_size"], theirs["sh_link"],
                theirs["sh_info"])
            assert mine.type == {"SHT_DYNSYM": 11, "SHT_SYMTAB": 2, "SHT_NOTE": 7}.get(
                theirs["sh_type"], mine.type)
            if name in (".dynsym", ".symtab"):
                got = list(ours.symbols(mine))
                want = [(s.name, s["st_value"], s["st_size"], s["st_info"]["type"],
                         s["st_info"]["bind"], s["st_shndx"]) for s in theirs.iter_symbols()]
                assert len(got) == len(want)
                for g, w in zip(got, want, strict=True):
                    assert g[:3] == w[:3]
            if name == ".note.gnu.build-id":
                (owner, ntype, desc), = ours.notes(mine)
                (note,) = list(theirs.iter_notes())
                assert (owner, desc.hex()) == (b"GNU", note["n_desc"])


def test_file_offset():
    with HostELF(BINARIES[0]) as elf:
        segs = elf.segments()
    text = next(s for s in segs if s.flags & 1)
    assert file_offset(segs, text.vaddr + 16, True) == text.offset + 16
    assert file_offset(segs, 1 << 60, False) is None


@pytest.mark.parametrize("data, why", [(b"", "bad magic"), (b"\x7fELF", "bad magic"),
                                       (b"\x7fELF" + bytes(12), "bad ELF class"),
                                       (b"\x7fELF\x02\x01" + bytes(10), "truncated")])
def test_bad_headers(data, why):
    with pytest.raises(ELFError, match=why):
        HostELF("x", data)


def test_missing_file_is_an_elf_error(tmp_path):
    with pytest.raises(ELFError, match="cannot read"):
        HostELF(str(tmp_path / "nope"))


with open("/bin/true" if os.path.exists("/bin/true") else BINARIES[0], "rb") as _f:
    TRUE = _f.read()


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 1 << 12), st.integers(0, 255)), max_size=8),
       st.none() | st.integers(0, 1 << 14))
def test_corrupt_headers_raise_elf_errors_only(flips, cut):
    buf = bytearray(TRUE)
    for pos, val in flips:                # the headers and tables live in the first pages
        buf[pos % len(buf)] = val
    data = bytes(buf[:cut] if cut is not None else buf)
    try:
        with HostELF("fuzz", data) as elf:
            elf.segments()
            for sec in elf.sections():
                elf.data(sec)
                if sec.type in (2, 11):
                    list(elf.symbols(sec))
                if sec.type == 7:
                    list(elf.notes(sec))
    except ELFError:
        pass
