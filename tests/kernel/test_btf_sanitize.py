"""BTF sanitizing: every test object's BTF, rewritten for a kernel that has none of the newer
kinds, still loads into this kernel, and keeps its type ids and sizes. The matrix's 5.10
guest (no ENUM64, signed enums, TYPE_TAG, DECL_TAG) exercises the same path for real."""

from __future__ import annotations

import pytest

from pybpf.btf.encode import prepare_for_kernel
from pybpf.btf.parse import parse_btf
from pybpf.btf.types import Kind
from pybpf.elf import load_spec as read_object
from pybpf.sys import bpf as sysbpf
from tests.conftest import OBJ_DIR

pytestmark = pytest.mark.kernel

OLDEST = frozenset({"btf", "func", "func_global", "datasec"})   # roughly 5.2's BTF
NEW_KINDS = {Kind.FLOAT, Kind.DECL_TAG, Kind.TYPE_TAG, Kind.ENUM64}
OBJECTS = sorted(p.name[:-len(".bpf.o")] for p in OBJ_DIR.glob("*.bpf.o")
                 if not p.name.startswith("bad_"))


@pytest.mark.parametrize("name", OBJECTS)
def test_sanitized_btf_loads_and_keeps_ids(name):
    spec = read_object(str(OBJ_DIR / f"{name}.bpf.o"))
    btf = spec.btf
    assert btf is not None
    blob = prepare_for_kernel(btf, dict(spec.section_sizes), spec.var_offsets, OLDEST)
    out = parse_btf(blob)
    kinds = {t.kind for t in out}
    assert not kinds & NEW_KINDS
    assert not any(t.kind == Kind.ENUM and t.kflag for t in out)
    assert not any(t.kind == Kind.VAR and t.linkage == 2 for t in out)
    for t in btf:                                   # ids unchanged, sizes unchanged
        u = out[t.id]
        assert u.name == t.name or t.kind in (Kind.DECL_TAG, Kind.TYPE_TAG)
        if t.kind in (Kind.STRUCT, Kind.UNION, Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.FLOAT):
            assert out.size_of(t.id) == btf.size_of(t.id)
    fd, err, log = sysbpf.btf_load(blob, log_level=1, log_size=1 << 20)
    assert fd is not None, f"kernel refused sanitized BTF of {name}: {log.strip().splitlines()[-1:]}"
    fd.close()


def test_objects_cover_the_new_kinds():
    """The sanitizer is exercised: the test objects carry the kinds it rewrites."""
    seen = set()
    for name in OBJECTS:
        btf = read_object(str(OBJ_DIR / f"{name}.bpf.o")).btf
        seen |= {t.kind for t in btf} | {("signed-enum" if t.kind == Kind.ENUM and t.kflag
                                          else None) for t in btf}
    assert {Kind.ENUM64, Kind.DECL_TAG, "signed-enum"} <= seen, seen
