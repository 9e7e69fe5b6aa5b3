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
