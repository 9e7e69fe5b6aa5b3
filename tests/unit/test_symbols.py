"""Symbolization without the kernel: kallsyms text, this process's own ELF files, folding."""

from __future__ import annotations

import ctypes
import os

import pytest

from pybpf import symbols
from pybpf.maps.stack import symbolize
from pybpf.symbols import KernelSymbols, Symbol, UserSymbols, fold, fold_stacks

KALLSYMS = """\
ffffffff81000000 T _stext
ffffffff81000100 t helper
ffffffff81000180 D some_data
ffffffff81000200 T vfs_read
ffffffff81000300 W weak_fn
ffffffffc0001000 t mod_fn\t[mymod]
0000000000000000 T zeroed
"""


@pytest.fixture
def ksyms(tmp_path):
    p = tmp_path / "kallsyms"
    p.write_text(KALLSYMS)
    return KernelSymbols(str(p))


def test_kernel_symbols_bisect(ksyms):
    assert len(ksyms) == 5                       # text only; data and zero addresses dropped
    assert ksyms.sym(0xFFFFFFFF81000200) == "vfs_read"
    assert ksyms.sym(0xFFFFFFFF81000212) == "vfs_read+0x12"
    assert ksyms.sym(0xFFFFFFFF81000190) == "helper+0x90"      # data symbols are skipped
    assert ksyms.sym(0xFFFFFFFF81000305, module=True) == "weak_fn+0x5 [kernel]"
    assert ksyms.sym(0xFFFFFFFFC0001010, module=True) == "mod_fn+0x10 [mymod]"
    assert ksyms.sym(0x1000) == "[unknown]"
    assert ksyms.resolve(0xFFFFFFFF81000212) == Symbol("vfs_read", 0x12, "kernel")
    assert ksyms.address("vfs_read") == 0xFFFFFFFF81000200 and ksyms.address("nope") is None


def test_return_addresses_resolve_one_byte_back(ksyms):
    # a call to a noreturn function as the last instruction of helper
    assert symbolize(ksyms, 0xFFFFFFFF81000200, False) == "vfs_read"
    assert symbolize(ksyms, 0xFFFFFFFF81000200, True) == "helper+0x100"
    assert symbolize(ksyms, 0xFFFFFFFF81000200, True, offset=False) == "helper"


def test_missing_kallsyms_is_not_fatal(tmp_path):
    ks = KernelSymbols(str(tmp_path / "none"))
    assert len(ks) == 0 and ks.sym(0xFFFFFFFF81000000) == "[unknown]"


def _addr(fn) -> int:
    return ctypes.cast(fn, ctypes.c_void_p).value


def test_user_symbols_of_this_process():
    libc = ctypes.CDLL(None)
    us = UserSymbols(os.getpid())
    getpid = _addr(libc.getpid)
    assert us.sym(getpid) == "getpid"
    assert us.sym(getpid + 4) == "getpid+0x4"
    assert us.sym(getpid, module=True).startswith("getpid [libc.so")
    assert us.sym(_addr(ctypes.pythonapi.PyList_New), offset=False) == "PyList_New"
    assert us.sym(16) == "[unknown]"
    assert us.module(getpid).endswith(".so.6") or "libc" in us.module(getpid)


def test_elf_tables_cached_per_inode():
    libc = ctypes.CDLL(None)
    a, b = UserSymbols(os.getpid()), UserSymbols(os.getpid())
    addr = _addr(libc.getpid)
    ma, mb = a._mapping(addr), b._mapping(addr)
    assert a._elf(ma) is b._elf(mb)
    assert len(a._elf(ma)) > 1000                # libc's dynamic symbols


def test_maps_line_parsing():
    m = symbols._parse_maps_line(
        "7f3a1c000000-7f3a1c021000 r-xp 00002000 fd:01 1234 /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert (m.start, m.end, m.offset, m.dev, m.inode) == (0x7F3A1C000000, 0x7F3A1C021000,
                                                          0x2000, "fd:01", 1234)
    assert m.path == "/usr/lib/x86_64-linux-gnu/libc.so.6"
    assert symbols._parse_maps_line("7f00-7f10 rw-p 00000000 00:00 0\n") is None   # not code
    vdso = symbols._parse_maps_line("7ffd1000-7ffd3000 r-xp 00000000 00:00 0  [vdso]\n")
    assert vdso.path == "[vdso]"


def test_fold():
    assert fold(["leaf", "mid", "main"]) == "main;mid;leaf"
    assert fold(["a;b", "main"], 3) == "main;a:b 3"
    assert fold_stacks([(["f", "main"], 2), (["g", "main"], 1), (["f", "main"], 5)]) == \
        "main;f 7\nmain;g 1"


def test_bpf_program_symbols_and_the_end_of_kernel_text(tmp_path):
    p = tmp_path / "kallsyms"
    p.write_text(KALLSYMS + "ffffffffc0002000 t bpf_prog_0123456789abcdef_on_getpid\t[bpf]\n"
                            "ffffffffc0002400 t bpf_prog_fedcba9876543210_sub\t[bpf]\n")
    ks = KernelSymbols(str(p))
    assert len(ks) == 7
    assert ks.sym(0xFFFFFFFFC0002049, module=True) == \
        "bpf_prog_0123456789abcdef_on_getpid+0x49 [bpf]"
    assert ks.sym(0xFFFFFFFFC0002410) == "bpf_prog_fedcba9876543210_sub+0x10"
    assert ks.sym(0xFFFFFFFFC0001010) == "mod_fn+0x10"          # below the BPF symbols
    assert ks.address("bpf_prog_fedcba9876543210_sub") == 0xFFFFFFFFC0002400
    # far past the last symbol of the kernel's text: not a kernel function
    assert ks.sym(0xFFFFFFFF81000300 + (2 << 20)) == "[unknown]"
    assert not ks.refresh_bpf()               # a file, not /proc/kallsyms: nothing to reread


def _vdso_function() -> int:
    vdso = ctypes.CDLL("linux-vdso.so.1", mode=os.RTLD_NOLOAD)   # glibc lists the vdso
    return ctypes.cast(vdso.__vdso_clock_gettime, ctypes.c_void_p).value


def test_vdso_frames():
    addr = _vdso_function()
    us = UserSymbols(os.getpid())
    assert us.module(addr) == "[vdso]"
    s = us.resolve(addr)
    assert s is not None and s.name in ("clock_gettime", "__vdso_clock_gettime")
    assert s.offset == 0 and s.module == "vdso"
    assert us.sym(addr + 3, module=True) == f"{s.name}+0x3 [vdso]"
    vdso = next(m for m in us._maps if m.path == "[vdso]")
    assert us.resolve(vdso.end - 1) is None   # past the last (sized) function: the tail
    assert us.sym(vdso.end - 1, module=True) == "[unknown] [vdso]"


CXX = r"""
namespace pybpf { struct Spin { static int twice(int x); }; }
int pybpf::Spin::twice(int x) { return 2 * x; }
template <typename T> T plus_one(T v) { return v + 1; }
template long plus_one<long>(long);
int main() { return pybpf::Spin::twice(plus_one<long>(1)); }
"""


@pytest.fixture(scope="module")
def cxx_bin(tmp_path_factory):
    import shutil
    import subprocess
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    d = tmp_path_factory.mktemp("cxx")
    (d / "t.cc").write_text(CXX)
    subprocess.run(["g++", "-O0", "-o", str(d / "t"), str(d / "t.cc")], check=True)
    return str(d / "t")


def test_cxx_names_demangled(cxx_bin, monkeypatch):
    if symbols._cxxfilt() is None:
        pytest.skip("c++filt is not installed")
    names = set(symbols.ElfSymbols(cxx_bin)._table.names)
    assert {"pybpf::Spin::twice(int)", "long plus_one<long>(long)", "main"} <= names
    raw = set(symbols.ElfSymbols(cxx_bin, demangle=False)._table.names)
    assert {"_ZN5pybpf4Spin5twiceEi", "_Z8plus_oneIlET_S0_"} <= raw
    assert symbols.demangle(["_ZN5pybpf4Spin5twiceEi", "main", "_Znot_valid"]) == \
        ["pybpf::Spin::twice(int)", "main", "_Znot_valid"]
    # without c++filt the names stay as the ELF file spells them
    monkeypatch.setattr(symbols, "_cxxfilt", lambda: None)
    assert symbols.demangle(["_ZN5pybpf4Spin5twiceEi"]) == ["_ZN5pybpf4Spin5twiceEi"]
    assert "_ZN5pybpf4Spin5twiceEi" in symbols.ElfSymbols(cxx_bin)._table.names
