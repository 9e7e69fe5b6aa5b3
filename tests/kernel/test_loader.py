"""Core loader on the real kernel: global data, subprograms, bpf_loop, tail calls, map-in-map."""

from __future__ import annotations

import pytest

import pybpf
from pybpf import features
from pybpf.sys.consts import ProgType
from tests.conftest import obj_path, require_feature

BPF_FUNC_LOOP = 181


def basic(**kw) -> pybpf.Object:
    """loader_basic, without its bpf_loop program where the kernel lacks the helper (< 5.17)."""
    spec = pybpf.ObjectSpec.from_file(obj_path("loader_basic"))
    if not features.helper(ProgType.XDP, BPF_FUNC_LOOP):
        spec.programs["loop_prog"].skip = True
    return spec.load(**kw)

pytestmark = pytest.mark.kernel

PKT = bytes(64)


def test_xdp_globals_maps_subprogs_loop(no_fd_leak):
    with basic() as obj:
        prog = obj.programs["xdp_prog"]
        assert prog.type == pybpf.sys.consts.ProgType.XDP if hasattr(pybpf, "sys") else True
        ret, _, _ = prog.test_run(PKT)
        assert ret == 2                              # XDP_PASS: first byte is 0
        ret, _, _ = prog.test_run(b"\x01" + PKT[1:])
        assert ret == 1                              # XDP_DROP
        assert obj.bss.runs == 2
        assert obj.data.total == 100 + 2 * 6         # scale(2) with multiplier 3, twice
        assert obj.globals(".data.loops").loop_sum == 0
        assert obj.bss.last_msg == "hello xdp"
        assert obj.maps["counts"][0] == 2
        assert obj.rodata.multiplier == 3
        assert obj.rodata.origin.x == 1 and obj.rodata.origin.y == 2


def test_bpf_loop_callback(no_fd_leak):
    require_feature(features.helper(ProgType.XDP, BPF_FUNC_LOOP), "the bpf_loop helper (5.17)")
    with basic() as obj:
        assert obj.programs["loop_prog"].test_run(PKT)[0] == 2
        assert obj.programs["loop_prog"].test_run(PKT)[0] == 2
        assert obj.globals(".data.loops").loop_sum == 20   # bpf_loop 0..4 twice


def test_rodata_set_before_load_and_syscall_prog(no_fd_leak):
    with basic(rodata={"multiplier": 5}) as obj:
        ret, _, _ = obj.programs["sys_prog"].test_run(ctx=b"")
        assert ret == 3 + 50                         # global_add(1, 2) + scale(10)
        assert obj.maps["results"][1] == 53
        assert obj.rodata.multiplier == 5


def test_rodata_is_frozen(no_fd_leak):
    with basic() as obj:
        with pytest.raises(pybpf.MapError):
            obj.rodata.multiplier = 9


def test_spec_edit_before_load(no_fd_leak):
    spec = pybpf.ObjectSpec.from_file(obj_path("loader_basic"))
    spec.programs["loop_prog"].skip = True
    spec.maps["counts"].max_entries = 1024
    spec.programs["sys_prog"].skip = True
    with spec.load() as obj:
        assert obj.maps["counts"].max_entries == 1024
        assert "sys_prog" not in obj.programs
        assert obj.programs["xdp_prog"].test_run(PKT)[0] == 2


def test_tail_call_and_map_in_map(no_fd_leak):
    with pybpf.load(obj_path("loader_tailcall")) as obj:
        ret, _, _ = obj.programs["tail_entry"].test_run(PKT)
        assert ret == 42                             # tail call into tail_target
        inner_b = obj.maps["inner_b"]
        assert inner_b[0] == 7                       # written through outer[1]
        assert obj.maps["inner_a"][0] == 0


def test_legacy_maps_section(no_fd_leak):
    with pybpf.load(obj_path("loader_legacy")) as obj:
        m = obj.maps["legacy_counts"]
        assert m.max_entries == 2 and m.value_size == 8
        obj.programs["legacy_prog"].test_run(PKT)
        assert m[1] == 5


def test_program_identity(no_fd_leak):
    with basic() as obj:
        p = obj.programs["xdp_prog"]
        assert p.id > 0 and len(p.tag) == 16
        assert p.info().type == int(p.type)
        assert len(p.xlated()) % 8 == 0 and len(p.map_ids()) >= 3


def test_verifier_rejection_shows_log_and_source(no_fd_leak):
    with pytest.raises(pybpf.VerifierError) as ei:
        pybpf.load(obj_path("bad_verifier"))
    e = ei.value
    assert e.program == "unchecked"
    assert "invalid mem access" in e.log or "map_value_or_null" in e.log
    assert e.source_line is not None and "*v > 3" in e.source_line
    assert "unchecked" in str(e) and "verifier" in str(e)


def test_close_releases_everything():
    from tests.conftest import open_fds
    before = open_fds()
    obj = pybpf.load(obj_path("loader_tailcall"))
    assert len(open_fds() - before) >= 5
    obj.close()
    assert open_fds() - before == set()
    obj.close()                                       # idempotent


def test_pinned_map_reused_across_loads(no_fd_leak):
    """pinning = LIBBPF_PIN_BY_NAME: the pin outlives the object (as in libbpf) and the next
    load reuses the map with its contents; an incompatible pin is refused."""
    import os
    import shutil
    root = f"/sys/fs/bpf/pybpf_test_pins_{os.getpid()}"
    try:
        for expected in (1, 2):
            with pybpf.load(obj_path("loader_pinned"), pin_root=root) as obj:
                obj.programs["bump"].test_run(ctx=b"")
                assert obj.maps["shared_counter"][0] == expected
        assert os.path.exists(f"{root}/shared_counter")
        spec = pybpf.ObjectSpec.from_file(obj_path("loader_pinned"))
        spec.maps["shared_counter"].max_entries = 2
        with pytest.raises(pybpf.LoadError, match="incompatible"):
            spec.load(pin_root=root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
