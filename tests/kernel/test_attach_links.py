"""Links: pinning, kernel link info, BPF cookies, the registry, exit/signal cleanup, sampling."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pybpf
from pybpf import features
from pybpf.attach import live_links
from pybpf.attach.probes import pybpf_events
from pybpf.sys.consts import LinkType
from pybpf.sys.cpus import online_cpus
from tests.conftest import ROOT, obj_path, perf_link_info, require_feature, wait_child

pytestmark = pytest.mark.kernel


@pytest.fixture
def xobj():
    with pybpf.load(obj_path("attach_extra"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


def wait_for(cond, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_pinned_link_outlives_close_until_unpinned(xobj, no_fd_leak):
    path = f"/sys/fs/bpf/pybpf_link_{os.getpid()}"
    link = xobj.programs["raw_count"].attach()
    info = link.info()
    assert info.type == LinkType.RAW_TRACEPOINT and info.prog_id == xobj.programs["raw_count"].id
    assert info.details["name"] == "sys_enter"
    link.pin(path)
    assert Path(path).exists()
    link.close()                                   # the pin keeps it attached
    for _ in range(3):
        os.getppid()
    assert xobj.bss.raw_hits == 3
    link.unpin()
    assert not Path(path).exists()
    # the kernel frees an unpinned link from a work queue: wait until getppid stops counting
    def counting() -> bool:
        before = xobj.bss.raw_hits
        os.getppid()
        return xobj.bss.raw_hits != before
    assert wait_for(lambda: not counting())
    before = xobj.bss.raw_hits
    for _ in range(3):
        os.getppid()
    assert xobj.bss.raw_hits == before


def test_tracepoint_cookie_and_perf_link_info(xobj, no_fd_leak):
    require_feature(features.bpf_cookie(), "BPF cookies (bpf_get_attach_cookie, 5.15)")
    with xobj.programs["tp_cookie_prog"].attach(cookie=0xFEED) as link:
        for _ in range(2):
            os.getppid()
        info = link.info()
    assert (xobj.bss.tp_cookie, xobj.bss.tp_cookie_hits) == (0xFEED, 2)
    assert info.type == LinkType.PERF_EVENT
    require_feature(perf_link_info(), "perf-event link info in bpf_link_info (6.6)")
    assert info.details["perf_event_type"] == "tracepoint"
    assert info.details["cookie"] == 0xFEED
    assert info.details["name"] == "sys_enter_getppid"


def test_uprobe_cookie_and_link_info(xobj, no_fd_leak):
    from pybpf.attach.uprobe import resolve_binary, symbol_offset
    require_feature(features.bpf_cookie(), "BPF cookies (bpf_get_attach_cookie, 5.15)")
    libc = resolve_binary("c")
    with xobj.programs["up_count"].attach_uprobe("c", "getppid", cookie=77) as link:
        os.getppid()
        info = link.info()
    assert (xobj.bss.up_cookie, xobj.bss.up_hits) == (77, 1)
    require_feature(perf_link_info(), "perf-event link info in bpf_link_info (6.6)")
    assert info.details["perf_event_type"] == "uprobe"
    assert info.details["offset"] == symbol_offset(libc, "getppid")
    assert info.details["name"] == libc


def test_ioctl_attached_perf_event_cannot_be_pinned(xobj):
    from pybpf.attach.link import PerfLink
    from pybpf.attach.tracefs import event_id
    from pybpf.sys.consts import PerfType
    from pybpf.sys.perf import perf_event_open
    fd = perf_event_open(PerfType.TRACEPOINT, event_id("syscalls", "sys_enter_getppid"))
    link = PerfLink(xobj.programs["tp_cookie_prog"].fd, fd, "ioctl test", use_link=False)
    with link:
        os.getppid()
        with pytest.raises(pybpf.AttachError, match="cannot be pinned"):
            link.pin("/sys/fs/bpf/never")
        with pytest.raises(pybpf.AttachError, match="not a BPF link"):
            link.info()
    assert xobj.bss.tp_cookie_hits == 1
    os.getppid()
    assert xobj.bss.tp_cookie_hits == 1


def test_registry_close_is_idempotent_and_gc_detaches(xobj, no_fd_leak):
    link = xobj.programs["up_count"].attach_uprobe("c", "getppid", legacy=True)
    name = link.event_name
    assert link in live_links()
    link.close()
    link.close()
    assert link not in live_links() and link.closed
    link = xobj.programs["up_count"].attach_uprobe("c", "getppid", legacy=True)
    name = link.event_name
    del link
    gc.collect()
    assert name not in [e for e, _p in pybpf_events("uprobe")]


CHILD = """
import os, signal, sys, time, pybpf
from pybpf.attach import install_signal_handlers
obj = pybpf.load(sys.argv[1], rodata={"targ_pid": os.getpid()})
link = obj.programs["up_count"].attach_uprobe("c", "getppid", legacy=True)
if sys.argv[2] == "handlers":
    install_signal_handlers()
print(link.event_name, flush=True)
if sys.argv[2] == "exit":
    sys.exit(3)                    # no close(): atexit detaches
time.sleep(60)
"""


def _child(mode: str) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([sys.executable, "-c", CHILD, obj_path("attach_extra"), mode],
                         stdout=subprocess.PIPE, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return p, p.stdout.readline().strip()


def _events() -> list[str]:
    return [e for e, _p in pybpf_events("uprobe")]


def test_sigterm_with_signal_handlers_detaches_then_dies_by_the_signal():
    p, name = _child("handlers")
    assert name in _events()
    p.send_signal(signal.SIGTERM)
    assert wait_child(p, 180) == -signal.SIGTERM        # default action kept (180 s: TCG guests)
    assert name not in _events()


def test_interpreter_exit_detaches_what_is_left():
    p, name = _child("exit")
    assert wait_child(p, 180) == 3
    assert name and name not in _events()


def test_perf_sampling_one_link_per_cpu(xobj, no_fd_leak):
    cpus = online_cpus()
    with xobj.programs["sample_cpu"].attach_perf_event(frequency=499) as link:
        assert len(link.links) == len(cpus)
        end = time.monotonic() + 0.4
        while time.monotonic() < end:
            pass
    hits = xobj.bss.samples_target
    assert hits > 20, hits                         # ~200 expected at 499 Hz of busy CPU


def test_perf_sampling_cpu_filter(xobj):
    cpus = online_cpus()
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpus[0]})
    try:
        with xobj.programs["sample_cpu"].attach_perf_event(period=1_000_000, cpu=cpus[1]):
            end = time.monotonic() + 0.3                # busy on cpus[0]: not sampled
            while time.monotonic() < end:
                pass
        assert xobj.bss.samples_target == 0
        with xobj.programs["sample_cpu"].attach_perf_event(period=1_000_000, cpu=cpus[0]):
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                pass
    finally:
        os.sched_setaffinity(0, old)
    assert xobj.bss.samples_target > 20
    assert {i for i, v in enumerate(xobj.bss.sample_cpu_seen) if v} == {cpus[0]}


def test_perf_sampling_pid_filter():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nend=time.time()+3\n"
                             "while time.time() < end: pass"])
    try:
        with pybpf.load(obj_path("attach_extra"), rodata={"targ_pid": busy.pid}) as o:
            with o.programs["sample_cpu"].attach_perf_event(frequency=999, pid=busy.pid) as link:
                assert len(link.links) == 1
                end = time.monotonic() + 0.4
                while time.monotonic() < end:               # we are busy too: not sampled
                    pass
            assert o.bss.samples_target > 20
            assert o.bss.samples_other == 0
    finally:
        busy.kill()
        busy.wait()
