"""``__kconfig`` and ``__ksym`` externs read by a real program, and the newer BTF kinds of the
same object (FLOAT, ENUM64, signed ENUM, DECL_TAG, TYPE_TAG) loading through the kernel."""

from __future__ import annotations

import os

import pytest

import pybpf
from pybpf.externs import kallsyms, kernel_config, kernel_version_code
from tests.conftest import obj_path, require_feature

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


def test_typed_ksym(no_fd_leak):
    """runqueues (per-CPU, typed by kernel BTF): struct rq's cpu is the CPU the run took."""
    from pybpf.btf import load_kernel
    from pybpf.btf.types import Kind
    require_feature(bool(load_kernel().find_all("runqueues", Kind.VAR)),
                    "per-CPU variables in its BTF (runqueues), which typed __ksym need")
    require_feature("runqueues" in kallsyms(),
                    "data symbols in /proc/kallsyms (CONFIG_KALLSYMS_ALL), which typed "
                    "__ksym variables need")
    with pybpf.load(obj_path("btf_ksym")) as o:
        for cpu in sorted(os.sched_getaffinity(0))[:2]:
            assert o.programs["read_rq"].test_run(ctx=b"", cpu=cpu, flags=1)[0] == 0
            assert o.data.rq_cpu == o.data.this_cpu == cpu


def test_kfunc_calls(no_fd_leak):
    """bpf_task_from_pid / bpf_task_release, resolved to kernel BTF FUNC ids: the program
    finds this process's task by pid and reads its tgid through the trusted pointer."""
    from pybpf.btf import load_kernel
    from pybpf.btf.types import Kind
    require_feature(bool(load_kernel().find_all("bpf_task_from_pid", Kind.FUNC)),
                    "the bpf_task_from_pid kfunc (6.2)")
    with pybpf.load(obj_path("btf_kfunc"), rodata={"targ_pid": os.getpid()}) as o:
        assert o.btf_fd is not None          # the kfunc's extern FUNC rewritten as libbpf does
        with o.programs["kfunc_enter"].attach():
            for _ in range(3):
                os.getppid()
        assert o.bss.hits == 3 and o.data.found_tgid == os.getpid()


def test_unknown_kfunc_named(no_fd_leak):
    """A kfunc the kernel lacks (the object's call renamed before load) is named."""
    from dataclasses import replace

    from pybpf.errors import LoadError
    spec = pybpf.ObjectSpec.from_file(obj_path("btf_kfunc"))
    ps = spec.programs["kfunc_enter"]
    ps.relocs = [replace(r, target="pybpf_no_such_kfunc") if r.target == "bpf_task_from_pid"
                 else r for r in ps.relocs]
    with pytest.raises(LoadError, match="kfunc 'pybpf_no_such_kfunc' not found in kernel BTF"):
        spec.load()


def test_weak_ksyms_missing_from_the_kernel(no_fd_leak):
    """__weak kfunc and typed variable no kernel has: guarded uses load and see 0 (the
    verifier drops the dead call); a program that reaches the call fails naming it."""
    from pybpf.errors import VerifierError
    spec = pybpf.ObjectSpec.from_file(obj_path("bad_ksym_weak"))
    assert spec.weak_externs == {"pybpf_no_such_kfunc", "pybpf_no_such_var"}
    spec.programs["called"].skip = True
    with spec.load() as o:
        assert o.btf_fd is not None
        assert o.programs["guarded"].test_run(ctx=b"")[0] == 0
        assert (o.data.seen, o.data.var_seen) == (0, 0)
    with pytest.raises(VerifierError) as ei:
        pybpf.load(obj_path("bad_ksym_weak"))
    assert "program called reached a call to __weak kfunc pybpf_no_such_kfunc, which this " \
           "kernel lacks" in str(ei.value.__cause__)
