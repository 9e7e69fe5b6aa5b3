"""A child this test execs, seen by a tracepoint program and read back from a ring buffer and
a perf buffer as typed records (pid, parent, comm, file name)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

import pybpf
from tests.conftest import obj_path

pytestmark = pytest.mark.kernel


def test_exec_of_a_child_in_ring_and_perf_buffers(tmp_path, no_fd_leak):
    exe = tmp_path / "pybpf-exec-probe"
    shutil.copy("/bin/true", exe)
    with pybpf.load(obj_path("events_exec"), rodata={"targ_ppid": os.getpid()}) as o:
        rb, pb = o.maps["execs"], o.maps["exec_samples"]
        assert rb.event_type == "struct exec_event"
        with o.programs["on_exec"].attach():
            children = [subprocess.Popen([str(exe)]) for _ in range(3)]
            for c in children:
                assert c.wait() == 0
            time.sleep(0.01)
            ring = rb.poll(timeout=1)
            perf = []
            deadline = time.monotonic() + 2
            while len(perf) < len(children) and time.monotonic() < deadline:
                perf += pb.poll(timeout=0.2)
    want = {(c.pid, os.getpid(), "pybpf-exec-prob", str(exe)) for c in children}
    assert {(e.pid, e.ppid, e.comm, e.filename) for e in ring} == want
    assert len(ring) == 3
    assert {(e.pid, e.ppid, e.comm, e.filename) for e in perf} == want
    assert len(perf) == 3
    assert pb.lost == 0
