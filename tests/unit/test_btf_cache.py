"""CO-RE result cache: a warm run replays exactly what the relocator computed, without the
target BTF; a corrupt cache file is recomputed."""

from __future__ import annotations

import os

import pytest

from pybpf import insn as I
from pybpf.btf import cache as C
from pybpf.btf.core import POISON_HELPER, CoreRelocator
from pybpf.btf.core import CoreReloKind as K
from pybpf.btf.ext import CoreRelo
from tests.unit.test_core import LDX_W, MOV_K, local_btf, target_btf

CASES = [  # (kind, local type, access, instruction)
    (K.FIELD_BYTE_OFFSET, "task", "0:0", I.Insn(LDX_W, 1, 1, 0, 0)),
    (K.FIELD_BYTE_OFFSET, "task", "0:4:3", I.Insn(LDX_W, 1, 1, 48, 0)),
    (K.FIELD_LSHIFT_U64, "bits", "0:1", I.Insn(MOV_K, 1, 0, 0, 56)),
    (K.ENUMVAL_VALUE, "state", "1", I.Insn(MOV_K, 1, 0, 0, 1)),
    (K.TYPE_EXISTS, "gone", "0", I.Insn(MOV_K, 1, 0, 0, 1)),
    (K.FIELD_BYTE_OFFSET, "gone", "0:0", I.Insn(LDX_W, 1, 1, 0, 0)),     # poisoned
]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(C, "kernel_btf_key", lambda: "k" * 40)
    local, ids = local_btf()
    local.raw = b"local BTF bytes"            # what the object key hashes
    code = bytearray(b"".join(c[3].encode() for c in CASES))
    relos = [CoreRelo(8 * i, ids[t], a, int(k)) for i, (k, t, a, _) in enumerate(CASES)]
    return local, code, relos


def test_warm_run_replays_results_without_target_btf(setup):
    local, code, relos = setup
    direct_code = bytearray(code)
    direct = CoreRelocator(local, target_btf()).relocate_section(direct_code, relos, "s")
    cold_code = bytearray(code)
    cold = C.CachedRelocator(local, target_btf)
    res = cold.relocate_section(cold_code, relos, "s")
    assert (cold.hits, cold.misses) == (0, len(relos))
    assert os.path.exists(cold.file)
    warm_code = bytearray(code)
    warm = C.CachedRelocator(local, lambda: pytest.fail("target BTF loaded on a warm run"))
    again = warm.relocate_section(warm_code, relos, "s")
    assert (warm.hits, warm.misses) == (len(relos), 0)
    assert direct_code == cold_code == warm_code
    fields = ("orig_val", "new_val", "poison", "fail_reason", "orig_size", "new_size",
              "target_id", "local_name", "validate")
    for d, a, b in zip(direct, res, again, strict=True):
        assert [getattr(d, f) for f in fields] == [getattr(b, f) for f in fields]
        assert a.describe() == b.describe() == d.describe()
    assert again[-1].poison and "gone" in again[-1].fail_reason
    assert I.decode(warm_code, len(CASES) - 1).imm == POISON_HELPER
    assert again[0].new_val == 8 and again[3].new_val == 4


def test_other_kernel_or_object_misses(setup, monkeypatch):
    local, code, relos = setup
    C.CachedRelocator(local, target_btf).relocate_section(bytearray(code), relos, "s")
    monkeypatch.setattr(C, "kernel_btf_key", lambda: "j" * 40)
    other = C.CachedRelocator(local, target_btf)
    other.relocate_section(bytearray(code), relos, "s")
    assert other.hits == 0
    local.raw = b"another object"
    assert C.CachedRelocator(local, target_btf).entries == {}


@pytest.mark.parametrize("junk", [b"", b"pybpf-core-results 2\n1\t2\n", b"\xff\xfe",
                                  b"pybpf-core-results 2\nx\t0:0\t0\t0\t8\t0\t4\t8\t1\tt\t\n"])
def test_corrupt_cache_is_recomputed(setup, junk):
    local, code, relos = setup
    first = C.CachedRelocator(local, target_btf)
    first.relocate_section(bytearray(code), relos, "s")
    with open(first.file, "wb") as f:
        f.write(junk)
    again = C.CachedRelocator(local, target_btf)
    assert again.entries == {}
    out = bytearray(code)
    again.relocate_section(out, relos, "s")
    assert again.misses == len(relos) and I.decode(out, 0).off == 8


def test_explicit_target_is_not_cached(setup):
    local, _code, _relos = setup
    r = C.relocator(local, target_btf(), lambda: pytest.fail("not used"))
    assert isinstance(r, CoreRelocator)


def test_results_from_module_btf_go_stale_with_the_modules(setup, monkeypatch):
    """A result that searched module BTF is replayed only while the same modules are
    loaded (modules_key); the others do not depend on modules."""
    from tests.unit.test_core import _module_btf
    local, code, relos = setup
    monkeypatch.setattr(C, "modules_key", lambda: "mods-1")
    cold = C.CachedRelocator(local, target_btf, lambda: [_module_btf()])
    res = cold.relocate_section(bytearray(code), relos, "s")
    assert [r.module for r in res] == ["", "", "", "", "mod_a", "mod_a"]
    assert res[4].new_val == 1 and not res[5].poison            # found in the module
    warm = C.CachedRelocator(local, lambda: pytest.fail("target BTF loaded"),
                             lambda: pytest.fail("modules loaded"))
    again = warm.relocate_section(bytearray(code), relos, "s")
    assert (warm.hits, warm.misses) == (len(relos), 0)
    assert [r.describe() for r in again] == [r.describe() for r in res]
    monkeypatch.setattr(C, "modules_key", lambda: "mods-2")      # a module was (re)loaded
    gone = C.CachedRelocator(local, target_btf, lambda: [])
    third = gone.relocate_section(bytearray(code), relos, "s")
    assert (gone.hits, gone.misses) == (len(relos) - 2, 2)
    assert third[4].new_val == 0 and third[5].poison
