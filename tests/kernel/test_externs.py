"""``__kconfig`` and ``__ksym`` externs read by a real program, and the newer BTF kinds of the
same object (FLOAT, ENUM64, signed ENUM, DECL_TAG, TYPE_TAG) loading through the kernel."""

from __future__ import annotations

import os

import pytest

import pybpf
from pybpf.externs import kallsyms, kernel_config, kernel_version_code
from tests.conftest import obj_path

pytestmark = pytest.mark.kernel


def test_kconfig_and_ksym_values_seen_by_the_program(no_fd_leak):
    with pybpf.load(obj_path("btf_externs")) as o:
        assert o.programs["read_externs"].test_run()[0] == 0
        b, d = o.bss, o.data
        major, minor = (int(x) for x in os.uname().release.split(".")[:2])
        assert b.kver == kernel_version_code() and b.kver >> 16 == major
        assert (b.kver >> 8) & 0xFF == minor
        cfg = kernel_config()     # /proc/config.gz or /boot/config-*; weak externs: 0 if absent
        assert b.hz == int(cfg.get("CONFIG_HZ", "0"))
        assert b.bpf_syscall == (1 if cfg.get("CONFIG_BPF_SYSCALL") == "y" else 0)
        assert b.no_such == 0                                     # weak, unknown option
        assert b.hostname == cfg.get("CONFIG_DEFAULT_HOSTNAME", "").strip('"')[:7]
        assert b.sched_addr == kallsyms()["schedule"] != 0       # typeless __ksym
        assert b.wide == 1 << 32 and d.wide_e == 1 << 32          # ENUM64
        assert d.neg == -1 and d.neg.name == "PYBPF_NEG"          # signed ENUM
        assert d.ratio == 0.5                                     # FLOAT
        assert b.runs == 1
