"""USDT on the real kernel: argument values of every location kind, semaphores, libraries."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import pybpf
from pybpf import features
from pybpf.attach.probes import pybpf_events
from pybpf.attach.usdt import list_usdt
from tests.conftest import obj_path, require_feature

pytestmark = pytest.mark.kernel

# Probes with every argument location gcc produces (registers at -O0, stack slots at -O2),
# constants, an index-register (SIB) operand written by hand, and a semaphore-gated probe.
TARGET_C = r"""
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
#include <stdio.h>
#include <stdlib.h>

unsigned short pybpftest_args_semaphore __attribute__((section(".probes")));
unsigned short pybpftest_consts_semaphore __attribute__((section(".probes")));
unsigned short pybpftest_sib_semaphore __attribute__((section(".probes")));
unsigned short pybpftest_gated_semaphore __attribute__((section(".probes")));
unsigned short pybpftest_typed_semaphore __attribute__((section(".probes")));

static long table[8] = {10, 20, 30, 40, 50, 60, 70, -80};

int main(int argc, char **argv)
{
	volatile signed char c = -5;
	volatile short s = -1234;
	volatile int i = -123456;
	volatile long l = 0x123456789abcdefL;
	volatile unsigned char uc = 250;
	volatile unsigned int ui = 4000000000u;
	long idx = argc > 1 ? atol(argv[1]) : 7;
	long *base = table;

	if (argc > 2)
		getchar();                  /* wait: lets a test attach to this pid */
	STAP_PROBE6(pybpftest, args, c, s, i, l, uc, ui);
	STAP_PROBE3(pybpftest, consts, 42, -7, 1000000);
	__asm__ __volatile__(STAP_PROBE_ASM(pybpftest, sib, -8@0(%%rdi,%%rsi,8))
		: : "D"(base), "S"(idx));
	if (pybpftest_gated_semaphore)
		STAP_PROBE1(pybpftest, gated, idx * 11);
	STAP_PROBE2(pybpftest, typed, (int)idx - 100, l);
	printf("%d\n", pybpftest_gated_semaphore);
	return 0;
}
"""

THROWER_CC = r"""
#include <cstdio>
#include <cstdlib>
int main(int argc, char **argv)
{
	int v = argc > 1 ? atoi(argv[1]) : 42;
	try { throw v; } catch (int e) { printf("%d\n", e); }
	return 0;
}
"""

ARGS = [-5, -1234, -123456, 0x123456789ABCDEF, 250, 4000000000]


@pytest.fixture(scope="module")
def targets(tmp_path_factory) -> dict[str, str]:
    if not Path("/usr/include/x86_64-linux-gnu/sys/sdt.h").exists() and \
            not Path("/usr/include/sys/sdt.h").exists():
        pytest.fail("sys/sdt.h missing: apt-get install systemtap-sdt-dev")
    d = tmp_path_factory.mktemp("usdt")
    (d / "target.c").write_text(TARGET_C)
    out = {}
    # without BPF cookies (< 5.15) pybpf finds a site's spec by its absolute address, known
    # in advance only for a non-PIE executable: build those so that path runs there
    pie = [] if features.bpf_cookie() else ["-no-pie"]
    for opt in ("-O0", "-O2"):
        exe = d / f"target{opt}"
        subprocess.run(["gcc", opt, *pie, "-o", str(exe), str(d / "target.c")], check=True)
        out[opt] = str(exe)
    return out


@pytest.fixture
def uobj():
    with pybpf.load(obj_path("attach_usdt")) as o:
        yield o


def recs(o) -> dict[int, object]:
    return dict(o.maps["usdt_recs"].items())


def test_notes_are_read(targets):
    notes = {n.name: n for n in list_usdt(targets["-O0"])}
    assert set(notes) == {"args", "consts", "sib", "gated", "typed"}
    assert notes["consts"].args == "-4@$42 -4@$-7 -4@$1000000"
    assert notes["sib"].args == "-8@0(%rdi,%rsi,8)"
    assert all(n.semaphore for n in notes.values())


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_argument_values_of_every_location_kind(uobj, targets, opt, no_fd_leak):
    exe = targets[opt]
    prog = uobj.programs["on_usdt"]
    links = [prog.attach_usdt(exe, "pybpftest", name, cookie=c)
             for c, name in ((1, "args"), (2, "consts"), (3, "sib"), (4, "gated"))]
    try:
        out = subprocess.run([exe, "3"], capture_output=True, text=True, check=True).stdout
    finally:
        for link in links:
            link.close()
    assert out.strip() == "1"                      # the semaphore: the kernel counted us in
    r = recs(uobj)
    assert (r[1].cnt, list(r[1].args[:6])) == (6, ARGS)      # registers / stack slots
    assert (r[2].cnt, list(r[2].args[:3])) == (3, [42, -7, 1000000])
    assert (r[3].cnt, r[3].args[0]) == (1, 40)               # table[3] via (%rdi,%rsi,8)
    assert (r[4].cnt, r[4].args[0], r[4].hits) == (1, 33, 1)
    out = subprocess.run([exe, "3"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "0"                      # detached: semaphore back to 0, no hits
    assert recs(uobj)[4].hits == 1


def test_bpf_usdt_typed_arguments_and_legacy_uprobe_events(uobj, targets):
    with uobj.programs["on_typed"].attach_usdt(targets["-O2"], "pybpftest", "typed",
                                               legacy=True) as link:
        names = [e for e, _pid in pybpf_events("uprobe") if e.startswith(f"pybpf_{os.getpid()}_")]
        assert len(names) == 1 and len(link.links) == 1
        subprocess.run([targets["-O2"], "5"], capture_output=True, check=True)
    assert (uobj.bss.typed_a, uobj.bss.typed_b, uobj.bss.typed_hits) == (-95, ARGS[3], 1)
    assert not [e for e, _p in pybpf_events("uprobe") if e.startswith(f"pybpf_{os.getpid()}_")]


def test_pid_filter(uobj, targets):
    exe = targets["-O0"]
    waiting = subprocess.Popen([exe, "2", "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        with uobj.programs["on_usdt"].attach_usdt(exe, "pybpftest", "sib", pid=waiting.pid,
                                                  cookie=9):
            subprocess.run([exe, "5"], capture_output=True, check=True)   # another pid
            out, _ = waiting.communicate("\n", timeout=10)
    finally:
        waiting.kill()
        waiting.wait()
    r = recs(uobj)[9]
    assert (r.hits, r.args[0]) == (1, 30)          # only the waiting process: table[2]


def test_shared_library_probe_libstdcxx_throw(uobj, tmp_path):
    require_feature(features.bpf_cookie(), "BPF cookies (5.15), which USDT in a shared library "
                    "needs when no pid is given")
    if shutil.which("g++") is None:
        pytest.fail("g++ is required")
    (tmp_path / "t.cc").write_text(THROWER_CC)
    exe = tmp_path / "thrower"
    subprocess.run(["g++", "-O1", "-o", str(exe), str(tmp_path / "t.cc")], check=True)
    with uobj.programs["on_throw"].attach_usdt("stdc++", "libstdcxx", "throw") as link:
        assert "libstdc++.so" in link.description
        out = subprocess.run([str(exe), "4242"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "4242"
    assert (uobj.bss.thrown_value, uobj.bss.throw_hits) == (4242, 1)


def test_libc_setjmp_probe(uobj):
    """glibc's own probes (libc:setjmp), where this libc was built with them."""
    from pybpf.attach.uprobe import find_library
    libc = find_library("c")
    if not any(n.probe == "libc:setjmp" for n in list_usdt(libc)):
        pytest.skip(f"{libc} has no USDT notes (glibc built without systemtap, as Debian's is)")
    require_feature(features.bpf_cookie(), "BPF cookies (5.15), which USDT in a shared library "
                    "needs")
    import ctypes
    c = ctypes.CDLL(libc)
    buf = ctypes.create_string_buffer(512)              # a jmp_buf, generously sized
    with pybpf.load(obj_path("attach_usdt"), rodata={"targ_pid": os.getpid()}) as o:
        with o.programs["on_usdt"].attach_usdt("c", "libc", "setjmp"):
            for _ in range(3):
                assert c._setjmp(buf) == 0
        hit = [r for r in recs(o).values() if r.hits]
    assert len(hit) == 1 and hit[0].hits == 3 and hit[0].cnt == 3   # (jmp_buf, mask, ret)
    assert hit[0].args[0] == ctypes.addressof(buf)


def test_python_semaphore_probe_auto_attached_from_section(uobj):
    py = "/usr/bin/python3.11"
    if not os.path.exists(py) or not any(n.probe == "python:import__find__load__start"
                                         for n in list_usdt(py)):
        pytest.skip("Debian's python3.11 with USDT probes is not installed")
    code = "try:\n import pybpf_usdt_marker\nexcept ImportError:\n pass\n"
    with uobj.programs["on_py_import"].attach():    # SEC("usdt//usr/bin/python3.11:python:...")
        subprocess.run([py, "-S", "-c", code], check=True)
    subprocess.run([py, "-S", "-c", code.replace("marker", "marker_late")], check=True)
    seen = dict(uobj.maps["py_imports"].items())
    assert seen["pybpf_usdt_marker"] == 1
    assert "pybpf_usdt_marker_late" not in seen    # after detach


def test_usdt_errors(uobj, targets):
    with pytest.raises(pybpf.AttachError, match=r"no USDT probe pybpftest:argz .*close: "
                                                r"pybpftest:args"):
        uobj.programs["on_usdt"].attach_usdt(targets["-O0"], "pybpftest", "argz")
    with pytest.raises(pybpf.AttachError, match="has no USDT probes"):
        uobj.programs["on_usdt"].attach_usdt("/bin/true", "x", "y")
    with pybpf.load(obj_path("attach_extra")) as other:
        with pytest.raises(pybpf.AttachError, match="does not use __bpf_usdt_specs"):
            other.programs["up_count"].attach_usdt(targets["-O0"], "pybpftest", "args")


def test_spec_slots_fill_up_and_are_reused_after_detach(uobj, targets):
    prog = uobj.programs["on_usdt"]               # the object sets BPF_USDT_MAX_SPEC_CNT 8
    links = [prog.attach_usdt(targets["-O0"], "pybpftest", "consts", cookie=i) for i in range(8)]
    try:
        with pytest.raises(pybpf.AttachError, match=r"__bpf_usdt_specs is full \(8 specs"):
            prog.attach_usdt(targets["-O0"], "pybpftest", "consts")
    finally:
        for link in links:
            link.close()
    for _ in range(10):
        prog.attach_usdt(targets["-O0"], "pybpftest", "consts").close()
