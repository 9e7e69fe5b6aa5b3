"""Every CO-RE relocation kind against the running kernel (core_kinds.bpf.c).

Expected values come from the kernel's BTF and from this process's own state (pid, comm, a
prctl-set bitfield); test_oracle.py checks the same object against libbpf's relocations."""

from __future__ import annotations

import ctypes
import os

import pytest

import pybpf
from pybpf.btf import load_kernel
from pybpf.btf.kernel import load_module
from pybpf.btf.types import Kind
from pybpf.errors import VerifierError
from tests.conftest import obj_path, require_feature

pytestmark = pytest.mark.kernel

PR_SET_CHILD_SUBREAPER = 36


def _member(btf, struct: str, name: str):
    t = btf.find(struct, Kind.STRUCT)
    return next(m for m in t.members if m.name == name)


def _offset(btf, t, name: str) -> int | None:
    """Byte offset of ``name`` in ``t``, looking inside anonymous members."""
    for m in t.members:
        if m.name == name:
            return m.bit_offset // 8
        if not m.name:
            inner = _offset(btf, btf.resolve(m.type_id), name)
            if inner is not None:
                return m.bit_offset // 8 + inner
    return None


def _set_subreaper(on: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _run(obj) -> object:
    assert obj.programs["core_all"].test_run(ctx=b"")[0] == 0
    return obj.bss


def test_every_relocation_kind() -> None:
    k = load_kernel()
    task = k.find("task_struct", Kind.STRUCT)
    with pybpf.load(obj_path("core_kinds")) as obj:
        _set_subreaper(True)
        try:
            on = _run(obj).subreaper
        finally:
            _set_subreaper(False)
        b = _run(obj)
        # field offsets / sizes / signedness / existence, through anonymous unions too
        assert b.tgid_off == _member(k, "task_struct", "tgid").bit_offset // 8
        assert (b.pid_size, b.comm_size) == (4, 16)
        assert (b.prio_signed, b.flags_signed) == (1, 0)
        assert (b.exists_pid, b.exists_missing, b.exists_comm_elem) == (1, 0, 1)
        assert b.tstamp_off == _offset(k, k.find("sk_buff", Kind.STRUCT), "tstamp")
        se = _member(k, "task_struct", "se")
        assert b.se_runtime_off == se.bit_offset // 8 + _member(
            k, "sched_entity", "sum_exec_runtime").bit_offset // 8
        # types: local and kernel ids, sizes, existence, matches
        assert obj.spec.btf[b.task_local_id].name == "task_struct"
        assert b.task_target_id == task.id
        assert (b.task_size, b.sigstruct_size) == (task.size, k.find("signal_struct").size)
        assert (b.exists_task, b.exists_missing_type) == (1, 0)
        assert (b.matches_task, b.matches_wrong) == (1, 0)
        # enumerators: kernel values whatever the local numbering
        ringbuf = next(e.value for e in k.find("bpf_map_type").enumerators
                       if e.name == "BPF_MAP_TYPE_RINGBUF")
        assert (b.ringbuf_val, b.renum_ringbuf_val) == (ringbuf, ringbuf) == (27, 27)
        assert (b.exists_ringbuf, b.exists_nope, b.exists_hash_renum) == (1, 0, 1)
        # signal->is_child_subreaper, set and cleared by prctl: a 1-bit bitfield (a bool
        # from 7.2 on); offset, size and shifts as libbpf computes them for a probed read
        bit = _member(k, "signal_struct", "is_child_subreaper")
        assert (on, b.subreaper) == (1, 0)
        ftype = k.resolve(bit.type_id)
        size, width = ftype.size, bit.bitfield_size or ftype.size * 8
        off = bit.bit_offset // 8 // size * size
        assert (b.subreaper_off, b.subreaper_size) == (off, size)
        assert b.subreaper_rshift == 64 - width
        assert b.subreaper_lshift == 64 - (bit.bit_offset + width - off * 8)
        # real reads through relocated offsets; the guarded read of a missing field is dead
        assert b.read_tgid == os.getpid()
        with open("/proc/self/comm") as f:
            assert b.read_comm == f.read().strip()
        assert b.missing_read == 7


def test_relocation_kinds_reported() -> None:
    """The loader's CO-RE results cover all thirteen kinds, each with a resolved value or
    (only for the missing field's guarded read) a poisoned instruction."""
    with pybpf.load(obj_path("core_kinds")) as obj:
        kinds = {r.relo.kind for r in obj.core_results}
        poisoned = [r.describe() for r in obj.core_results if r.poison]
    assert kinds == set(range(13))
    assert len(poisoned) == 1 and "pybpf_no_such_field" in poisoned[0]


def test_poisoned_relocation_reached() -> None:
    with pytest.raises(VerifierError) as ei:
        pybpf.load(obj_path("bad_core_poison"))
    msg = str(ei.value)
    assert "reached a CO-RE relocation that failed on this kernel" in msg
    assert "struct task_struct___pybpf.pybpf_no_such_field" in msg
    assert "has no field 'pybpf_no_such_field'" in msg


def _veth_relocated() -> tuple[dict[str, int], set[str]]:
    """(the program's globals after a run, the modules its CO-RE targets came from)."""
    with pybpf.load(obj_path("core_module")) as obj:
        assert obj.programs["core_module"].test_run(ctx=b"")[0] == 0
        names = ("veth_exists", "headroom_off", "veth_size", "veth_id")
        return {n: getattr(obj.bss, n) for n in names}, {r.module for r in obj.core_results}


def _check_veth(src, module: str) -> None:
    b, modules = _veth_relocated()
    t = src.find("veth_priv", Kind.STRUCT)
    assert b["veth_exists"] == 1
    assert b["headroom_off"] == next(m.bit_offset // 8 for m in t.members
                                     if m.name == "requested_headroom")
    assert (b["veth_size"], b["veth_id"]) == (t.size, t.id)
    assert modules == {module}


def test_type_found_in_vmlinux_first() -> None:
    """struct veth_priv: from vmlinux where veth is built in (this host), else from the
    module; absent everywhere, the guarded relocations are dead code and the load works."""
    k = load_kernel()
    if k.find_all("veth_priv", Kind.STRUCT):
        _check_veth(k, "")
    elif not os.path.exists("/sys/kernel/btf/veth"):
        assert _veth_relocated()[0]["veth_exists"] == 0
    else:
        _check_veth(load_module("veth"), "veth")


def test_relocation_against_module_btf() -> None:
    k = load_kernel()
    require_feature(not k.find_all("veth_priv", Kind.STRUCT)
                    and os.path.exists("/sys/kernel/btf/veth"),
                    "module BTF for veth (veth built in, or not loaded as a module)")
    mod = load_module("veth")
    assert mod.find("veth_priv", Kind.STRUCT).id >= k.end_id      # a split-BTF (module) id
    _check_veth(mod, "veth")
