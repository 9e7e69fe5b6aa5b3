"""uprobes: offsets, addresses, libraries by short name, versioned symbols, pid filters,
semaphores (ref_ctr_offset), return values, and the errors a user can hit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pybpf
from pybpf.attach.uprobe import elf_symbols, find_library, resolve_binary, symbol_offset
from tests.conftest import obj_path

pytestmark = pytest.mark.kernel

ADDER_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) long pybpf_mul(long a, long b) { return a * b; }
int main(int argc, char **argv)
{
	long r = 0;
	for (int i = 0; i < atoi(argv[3]); i++)
		r += pybpf_mul(atol(argv[1]), atol(argv[2]));
	printf("%ld\n", r);
	return 0;
}
"""


@pytest.fixture(scope="module")
def mul(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("mul")
    (d / "mul.c").write_text(ADDER_C)
    subprocess.run(["gcc", "-O1", "-o", str(d / "mul"), str(d / "mul.c")], check=True)
    return str(d / "mul")


@pytest.fixture
def anyobj():
    """Counts every hit (targ_pid 0): the kernel-side filters are what is tested."""
    with pybpf.load(obj_path("attach_extra")) as o:
        yield o


@pytest.fixture
def selfobj():
    with pybpf.load(obj_path("attach_extra"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


@pytest.mark.parametrize("how", ["symbol", "offset", "address", "symbol+0"])
def test_uprobe_by_symbol_offset_or_address(anyobj, mul, how, no_fd_leak):
    prog = anyobj.programs["up_count"]
    syms = elf_symbols(mul)
    kw = {"symbol": {"symbol": "pybpf_mul", "offset": 0},
          "offset": {"symbol": None, "offset": symbol_offset(mul, "pybpf_mul")},
          "address": {"symbol": hex(syms.lookup("pybpf_mul"))},
          "symbol+0": {"symbol": "pybpf_mul", "offset": 0}}[how]
    with prog.attach_uprobe(mul, **kw):
        out = subprocess.run([mul, "6", "7", "5"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "210"
    assert anyobj.bss.up_hits == 5


@pytest.mark.parametrize("legacy", [False, True])
def test_uretprobe_sees_the_value_returned(anyobj, mul, legacy, no_fd_leak):
    with anyobj.programs["upret"].attach_uprobe(mul, "pybpf_mul", retprobe=True, legacy=legacy):
        subprocess.run([mul, "-12", "1000001", "1"], capture_output=True, check=True)
    assert anyobj.bss.upret_value == (-12 * 1000001) % 2**64


@pytest.mark.parametrize("name", ["c", "libc", "libc.so.6"])
def test_libc_by_short_name_and_versioned_symbol(selfobj, name, no_fd_leak):
    assert resolve_binary(name) == os.path.realpath(find_library("c"))
    with selfobj.programs["up_count"].attach_uprobe(name, "getppid@@GLIBC_2.2.5"):
        for _ in range(4):
            os.getppid()
    assert selfobj.bss.up_hits == 4


def test_other_libraries_by_short_name(selfobj):
    for name, sym in (("ssl", "SSL_new"), ("libssl", "SSL_new"), ("stdc++", "__cxa_throw")):
        if find_library(name) is None:
            continue
        with selfobj.programs["up_count"].attach_uprobe(name, sym) as link:
            assert os.path.basename(find_library(name)).split(".so")[0] in link.description


def test_pid_filter(anyobj, no_fd_leak):
    code = "import os, sys\nsys.stdin.readline()\nfor _ in range(6): os.getppid()\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)
    try:
        with anyobj.programs["up_count"].attach_uprobe("c", "getppid", pid=child.pid):
            for _ in range(10):
                os.getppid()                                  # not the filtered pid
            child.communicate("go\n", timeout=10)
    finally:
        child.kill()
        child.wait()
    assert anyobj.bss.up_hits == 6


def test_ref_ctr_offset_sets_a_semaphore(anyobj, tmp_path):
    from tests.kernel.test_attach_usdt import TARGET_C
    (tmp_path / "t.c").write_text(TARGET_C)
    exe = str(tmp_path / "t")
    subprocess.run(["gcc", "-O2", "-o", exe, str(tmp_path / "t.c")], check=True)
    from pybpf.attach.usdt import find_sites
    _f, (site,) = find_sites(exe, "pybpftest", "gated")
    assert subprocess.run([exe], capture_output=True, text=True).stdout.strip() == "0"
    for legacy in (False, True):
        with anyobj.programs["up_count"].attach_uprobe(exe, None, offset=site.offset,
                                                       ref_ctr_offset=site.ref_ctr_offset,
                                                       legacy=legacy):
            out = subprocess.run([exe], capture_output=True, text=True).stdout
        assert out.strip() == "1"                            # the kernel raised the semaphore
    assert anyobj.bss.up_hits == 2                           # and the gated probe site ran


def test_uprobe_errors(anyobj, mul):
    prog = anyobj.programs["up_count"]
    with pytest.raises(pybpf.AttachError, match=r"symbol 'pybpf_mux' not found in .*mul "
                                                r"\(did you mean: pybpf_mul"):
        prog.attach_uprobe(mul, "pybpf_mux")
    with pytest.raises(pybpf.AttachError, match=r"library 'libsssl' not found .*did you mean: "
                                                r"libssl"):
        prog.attach_uprobe("libsssl", "SSL_new")
    with pytest.raises(pybpf.AttachError, match="does not exist"):
        prog.attach_uprobe("/nonexistent/bin", "main")
    with pytest.raises(pybpf.AttachError, match="no process 999999999"):
        prog.attach_uprobe(mul, "pybpf_mul", pid=999999999)
    with pytest.raises(pybpf.AttachError, match="cannot read ELF symbols"):
        prog.attach_uprobe("/etc/hostname", "main")
