"""kprobes/kretprobes (PMU and kprobe_events) where the kernel has them: the qemu matrix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pybpf
from pybpf.attach.kprobe import kprobes_available
from pybpf.attach.tracefs import tracefs_path
from tests.conftest import obj_path, require_feature

pytestmark = pytest.mark.kernel


@pytest.fixture
def kobj():
    require_feature(kprobes_available(), "kprobes (CONFIG_KPROBES unset)")
    with pybpf.load(obj_path("attach_kprobe"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


@pytest.mark.parametrize("legacy", [False, True])
def test_kprobe_and_kretprobe(kobj, legacy):
    entry = kobj.programs["on_entry"].attach_kprobe("__x64_sys_getppid", legacy=legacy)
    ret = kobj.programs["on_return"].attach_kprobe("__x64_sys_getppid", retprobe=True, legacy=legacy)
    with entry, ret:
        for _ in range(4):
            os.getppid()
    assert kobj.bss.kprobe_hits == 4 and kobj.bss.kretprobe_hits == 4
    assert kobj.bss.kret_value == os.getppid()
    events = Path(tracefs_path(), "kprobe_events").read_text()
    assert f"pybpf_{os.getpid()}_" not in events


def test_auto_attach_from_section(kobj):
    with kobj.programs["on_entry"].attach():
        os.getppid()
    assert kobj.bss.kprobe_hits == 1
