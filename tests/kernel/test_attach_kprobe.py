"""kprobes/kretprobes (PMU and kprobe_events), ksyscall, kprobe.multi, cookies, addresses.

The dev host has no kprobes (CONFIG_KPROBES unset): these skip there and run in the qemu
kernel matrix. Each asserts the effect of the getppid() calls the test itself makes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import pybpf
from pybpf import features
from pybpf.attach.kprobe import kprobes_available, match_functions, syscall_prefix, traceable_functions
from pybpf.attach.probes import pybpf_events, write_event
from pybpf.attach.tracefs import tracefs_path
from tests.conftest import obj_path, perf_link_info, require_feature

pytestmark = pytest.mark.kernel

GETPPID = "__x64_sys_getppid"


def kernel_has_type(name: str) -> bool:
    """Feature probe: a kernel struct that exists where the feature is built in."""
    try:
        pybpf.btf.load_kernel().find(name)
        return True
    except pybpf.BTFError:
        return False


@pytest.fixture
def kobj():
    require_feature(kprobes_available(), "kprobes (CONFIG_KPROBES unset)")
    with pybpf.load(obj_path("attach_kprobe"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


@pytest.fixture
def mobj():
    require_feature(kprobes_available(), "kprobes (CONFIG_KPROBES unset)")
    require_feature(features.kprobe_multi(), "multi-kprobe programs (BPF_TRACE_KPROBE_MULTI, 5.18)")
    require_feature(features.bpf_cookie(), "BPF cookies (bpf_get_attach_cookie, 5.15)")
    with pybpf.load(obj_path("attach_kprobe_multi"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


def ours() -> list[str]:
    return [n for n, pid in pybpf_events("kprobe") if pid == os.getpid()]


@pytest.mark.parametrize("legacy", [False, True])
def test_kprobe_and_kretprobe(kobj, legacy, no_fd_leak):
    entry = kobj.programs["on_entry"].attach_kprobe(GETPPID, legacy=legacy)
    ret = kobj.programs["on_return"].attach_kprobe(GETPPID, retprobe=True, legacy=legacy)
    with entry, ret:
        assert len(ours()) == (2 if legacy else 0)
        for _ in range(4):
            os.getppid()
    assert kobj.bss.kprobe_hits == 4 and kobj.bss.kretprobe_hits == 4
    assert kobj.bss.kret_value == os.getppid()
    assert ours() == []


def test_auto_attach_from_section(kobj):
    with kobj.programs["on_entry"].attach():
        os.getppid()
    assert kobj.bss.kprobe_hits == 1


def test_kretprobe_maxactive_goes_through_kprobe_events(kobj):
    with kobj.programs["on_return"].attach_kprobe(GETPPID, retprobe=True, maxactive=8) as link:
        text = Path(tracefs_path(), "kprobe_events").read_text()
        assert f"r8:pybpf/{link.event_name} {GETPPID}" in text
        os.getppid()
    assert kobj.bss.kretprobe_hits == 1


@pytest.mark.parametrize("legacy", [False, True])
def test_kprobe_at_an_address(kobj, legacy):
    addr = next(int(line.split()[0], 16) for line in open("/proc/kallsyms")
                if line.split()[2] == GETPPID)
    with kobj.programs["on_entry"].attach_kprobe(addr, legacy=legacy):
        os.getppid()
        os.getppid()
    assert kobj.bss.kprobe_hits == 2


def test_kprobe_cookie(mobj):
    require_feature(kernel_has_type("bpf_perf_link"), "perf-event BPF links (BPF cookies)")
    with mobj.programs["on_cookie"].attach_kprobe(GETPPID, cookie=0xC0FFEE) as link:
        os.getppid()
        details = link.info().details
    assert mobj.bss.cookie_seen == 0xC0FFEE
    require_feature(perf_link_info(), "perf-event link info in bpf_link_info (6.6)")
    assert (details["perf_event_type"], details["cookie"]) == ("kprobe", 0xC0FFEE)


def test_ksyscall_auto_attach(mobj):
    assert syscall_prefix() == "__x64_sys_"
    with mobj.programs["on_ksys"].attach():
        for _ in range(3):
            os.getppid()
    assert mobj.bss.ksys_hits == 3


def test_kprobe_multi_glob_and_cookies(mobj):
    require_feature(kernel_has_type("bpf_kprobe_multi_link"), "kprobe.multi links (fprobe)")
    # SEC("kprobe.multi/*sys_getppid"): which names are ftrace-able differs (6.12 lists only
    # __do_sys_getppid, an alias of __x64_sys_getppid); each matched one on the x86-64 path
    # runs once per call (__ia32_sys_getppid matches but is never called here)
    matched = match_functions("*sys_getppid", traceable_functions())
    on_path = len(set(matched) & {"__x64_sys_getppid", "__do_sys_getppid"})
    assert on_path >= 1, matched
    with mobj.programs["on_multi"].attach() as link:
        assert "functions" in link.description
        for _ in range(5):
            os.getppid()
    assert mobj.bss.multi_hits == 5 * on_path
    with mobj.programs["on_multi"].attach_kprobe_multi([GETPPID], cookies=[7]):
        os.getppid()
    assert mobj.bss.multi_hits == 5 * on_path + 1 and mobj.bss.multi_cookie_sum == 7


def test_unknown_function_lists_close_matches(kobj):
    with pytest.raises(pybpf.AttachError, match=r"__x64_sys_getppidd.*close: __x64_sys_getppid"):
        kobj.programs["on_entry"].attach_kprobe("__x64_sys_getppidd")
    with pytest.raises(pybpf.AttachError, match="kretprobe must be at a function entry"):
        kobj.programs["on_return"].attach_kprobe(GETPPID, retprobe=True, offset=4)


def test_stale_kprobe_events_are_removed(kobj):
    q = subprocess.Popen(["true"])
    q.wait()
    write_event("kprobe", f"p:pybpf/pybpf_{q.pid}_0 {GETPPID}")
    assert (f"pybpf_{q.pid}_0", q.pid) in pybpf_events("kprobe")
    with kobj.programs["on_entry"].attach_kprobe(GETPPID, legacy=True):
        assert (f"pybpf_{q.pid}_0", q.pid) not in pybpf_events("kprobe")
