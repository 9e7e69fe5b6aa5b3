"""The errors a user can hit while attaching: each names what and why."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import pybpf
from pybpf.attach.kprobe import kprobes_available
from tests.conftest import ROOT, obj_path

pytestmark = pytest.mark.kernel


@pytest.fixture
def xobj():
    with pybpf.load(obj_path("attach_extra"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


def test_unknown_tracepoint_lists_close_matches(xobj):
    prog = xobj.programs["tp_cookie_prog"]
    with pytest.raises(pybpf.AttachError, match=r"unknown tracepoint syscalls:sys_enter_getppi "
                                                r"\(close: sys_enter_getppid"):
        prog.attach_tracepoint("syscalls", "sys_enter_getppi")
    with pytest.raises(pybpf.AttachError, match=r"no category 'syscall'; close: .*syscalls"):
        prog.attach_tracepoint("syscall", "sys_enter_getppid")


def test_unknown_raw_tracepoint_lists_close_matches(xobj):
    with pytest.raises(pybpf.AttachError, match=r"unknown raw tracepoint 'sched_swich' "
                                                r"\(close: sched_switch"):
        xobj.programs["raw_count"].attach_raw_tracepoint("sched_swich")


def test_same_program_twice_on_one_tracepoint(xobj):
    with xobj.programs["tp_cookie_prog"].attach():
        with pytest.raises(pybpf.AttachError, match="already attached to this event"):
            xobj.programs["tp_cookie_prog"].attach()


def test_kprobes_missing_is_said_plainly():
    if kprobes_available():
        pytest.skip("kernel has kprobes: tests/kernel/test_attach_kprobe.py runs them")
    with pybpf.load(obj_path("attach_kprobe_multi"), rodata={"targ_pid": os.getpid()}) as o:
        for attach in (lambda: o.programs["on_cookie"].attach_kprobe("vfs_read"),
                       lambda: o.programs["on_cookie"].attach_kprobe("vfs_read", retprobe=True,
                                                                     legacy=True),
                       lambda: o.programs["on_ksys"].attach(),
                       lambda: o.programs["on_multi"].attach()):
            with pytest.raises(pybpf.AttachError,
                               match=r"kernel has no kprobes \(CONFIG_KPROBES unset: no kprobe "
                                     r"PMU .* and no kprobe_events"):
                attach()


def test_auto_attach_without_target_says_what_to_call(xobj):
    with pytest.raises(pybpf.AttachError, match=r"expected uprobe/<path>:<symbol>.*attach_\*\(\)"):
        xobj.programs["up_count"].attach()
    with pytest.raises(pybpf.AttachError, match="needs a target.*attach_xdp"):
        xobj.programs["xdp_drop_icmp"].attach()


def test_perf_event_without_such_counter(xobj):
    from pybpf.sys.consts import PerfType
    with pytest.raises(pybpf.BPFError, match="perf event type 5 config|not available"):
        xobj.programs["sample_cpu"].attach_perf_event(type=PerfType.BREAKPOINT, config=0)


DROPPED = """
import os, socket, sys, pybpf
obj = pybpf.load(sys.argv[1], rodata={"targ_pid": os.getpid()})
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
for what, attach in [
        ("tracepoint", lambda: obj.programs["tp_cookie_prog"].attach()),
        ("uprobe", lambda: obj.programs["up_count"].attach_uprobe("c", "getppid")),
        ("perf_event", lambda: obj.programs["sample_cpu"].attach_perf_event())]:
    try:
        attach()
        print(what, "ATTACHED")
    except pybpf.BPFError as e:
        print(what, type(e).__name__, e)
"""


def test_missing_privileges_are_named():
    """Loaded as root, then the process becomes nobody (no capabilities) and tries to attach."""
    r = subprocess.run([sys.executable, "-c", DROPPED, obj_path("attach_extra")],
                       capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    assert set(lines) == {"tracepoint", "uprobe", "perf_event"}, r.stdout + r.stderr
    assert lines["tracepoint"].startswith("AttachError") and "run as root" in lines["tracepoint"]
    for what in ("uprobe", "perf_event"):
        assert lines[what].startswith("BPFPermissionError") and "CAP_PERFMON" in lines[what]


def test_process_without_capabilities_cannot_even_load():
    code = ("import pybpf,sys\ntry:\n pybpf.load(sys.argv[1])\nexcept pybpf.BPFError as e:\n"
            " print(type(e).__name__, e)")
    r = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all",
                        sys.executable, "-c", code, obj_path("attach_extra")],
                       capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.startswith("BPFPermissionError") and "CAP_BPF" in r.stdout, r.stdout + r.stderr
