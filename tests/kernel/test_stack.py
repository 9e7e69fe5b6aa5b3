"""Stack traces: CPU samples of a gcc-built busy loop symbolized by name; kernel stacks."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

import pybpf
from pybpf.maps.stack import StackTraceMap
from pybpf.symbols import KernelSymbols, UserSymbols, fold
from tests.conftest import obj_path

pytestmark = pytest.mark.kernel

def test_sampled_user_stacks_name_the_busy_function(busy_proc):
    with pybpf.load(obj_path("events_stack"), rodata={"targ_tgid": busy_proc.pid}) as o:
        stacks = o.maps["stacks"]
        assert isinstance(stacks, StackTraceMap) and stacks.depth == 127
        with o.programs["on_sample"].attach_perf_event(frequency=499):
            time.sleep(1.0)
        counts = dict(o.maps["counts"].items())
        assert o.bss.samples >= 100
        assert sum(counts.values()) == o.bss.samples
        by_leaf: dict[str, int] = {}
        for key, n in counts.items():
            frames = stacks.frames(key.user_stack, pid=busy_proc.pid, offset=False)
            assert frames, f"no user stack for {key}"
            by_leaf[frames[0]] = by_leaf.get(frames[0], 0) + n
            if frames[0] == "pybpf_busy_spin":
                assert frames[1:3] == ["pybpf_busy_outer", "main"]
        assert by_leaf.get("pybpf_busy_spin", 0) >= 0.9 * o.bss.samples, by_leaf
        top = max(counts, key=counts.get)
        line = fold(stacks.frames(top.user_stack, pid=busy_proc.pid, offset=False), counts[top])
        assert line.endswith(f"main;pybpf_busy_outer;pybpf_busy_spin {counts[top]}")
        raw = stacks.stack(top.user_stack)
        assert all(isinstance(a, int) and 0 < a < 1 << 47 for a in raw)
        assert stacks[top.user_stack] == raw
        assert stacks.stack(-14) == [] and stacks.frames(-14) == []


def test_user_symbols_offsets_and_modules(idle_proc):
    us = UserSymbols(idle_proc.pid)
    # readelf, not nm: nm loads binutils' LTO plugin, seconds under the matrix's TCG
    syms = subprocess.run(["readelf", "-sW", idle_proc.args[0]], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    spin = int(next(ln.split()[1] for ln in syms if ln.endswith(" pybpf_busy_spin")), 16)
    maps = open(f"/proc/{idle_proc.pid}/maps").read().splitlines()
    exe_maps = [ln.split() for ln in maps if ln.endswith(idle_proc.args[0])]
    base = int(exe_maps[0][0].split("-")[0], 16)     # PIE: offset 0 mapped at the base
    assert us.sym(base + spin) == "pybpf_busy_spin"
    assert us.sym(base + spin + 2) == "pybpf_busy_spin+0x2"
    assert us.sym(base + spin + 2, module=True) == "pybpf_busy_spin+0x2 [busy]"
    assert us.sym(8) == "[unknown]"


def test_kernel_stack_of_a_syscall():
    with pybpf.load(obj_path("events_stack"), rodata={"targ_tgid": os.getpid()}) as o:
        with o.programs["on_getpid"].attach():
            os.getpid()
        sid = o.data.getpid_stack
        assert sid >= 0
        frames = o.maps["stacks"].frames(sid, offset=False)
        assert "do_syscall_64" in frames, frames
        assert all(f != "[unknown]" for f in frames)
        ks = KernelSymbols.shared()
        addr = o.maps["stacks"].stack(sid)[0]
        assert ks.sym(addr).startswith(frames[0] + "+0x")
        assert ks.address(frames[0]) <= addr


def test_bpf_program_frames_follow_loads_and_unloads():
    ks = KernelSymbols()                      # read before the program exists
    with pybpf.load(obj_path("events_stack"), rodata={"targ_tgid": os.getpid()}) as o:
        prog = o.programs["on_getpid"]
        name = f"bpf_prog_{prog.tag}_on_getpid"
        # the same program loaded by an earlier test (same tag, same name) stays in kallsyms
        # until the kernel frees it, after an RCU grace period: wait for this one to be alone
        deadline = time.monotonic() + 5
        while _kallsyms_count(name) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _kallsyms_count(name) == 1
        with prog.attach():
            os.getpid()
        addr = o.maps["stacks"].stack(o.data.getpid_stack)[0]   # bpf_get_stackid's caller
        s = ks.resolve(addr)
        assert s is not None and (s.name, s.module) == (name, "bpf"), s
        assert 0 < s.offset < prog.info().jited_prog_len
        assert ks.address(name) == addr - s.offset
        assert ks.sym(addr, offset=False, module=True) == f"{name} [bpf]"
    deadline = time.monotonic() + 5           # the kernel frees programs after an RCU grace
    while name in ks.sym(addr) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert name not in ks.sym(addr)           # unloaded: its symbol is gone
    assert ks.address(name) is None


def _kallsyms_count(name: str) -> int:
    with open("/proc/kallsyms") as f:
        return sum(1 for ln in f if ln.split()[2] == name)
