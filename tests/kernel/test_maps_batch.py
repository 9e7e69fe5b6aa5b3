"""Batch map operations agree with per-key iteration (100k entries), and fall back cleanly."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_maps_types  # noqa: E402
from _codec_btf import Builder, common  # noqa: E402
from test_maps_types import Maker  # noqa: E402

from pybpf.maps import possible_cpu_count  # noqa: E402
from pybpf.sys import bpf as sysbpf  # noqa: E402
from pybpf.sys.cdefs import ffi  # noqa: E402
from pybpf.sys.consts import MapFlags, MapType  # noqa: E402

pytestmark = pytest.mark.kernel
mkmap = test_maps_types.mkmap          # the fixture, shared

N = 100_000


@pytest.mark.slow       # ~47 s under the matrix's TCG; the host suite runs it
def test_hash_batch_matches_per_key_100k(mkmap: Maker) -> None:
    m = mkmap(MapType.HASH, 4, 8, N)
    expected = {i: i * 3 + 1 for i in range(N)}
    assert m.update_batch(expected) == N
    per_key = dict(m.items())
    batch = m.items(batch=True)
    assert len(batch) == N and dict(batch) == per_key == expected
    assert sorted(m.values(batch=True)) == sorted(expected.values())
    keys, values, count = m.dump_raw()
    assert count == N and len(keys) == 4 * N and len(values) == 8 * N
    assert dict(zip(struct.unpack(f"<{N}I", keys), struct.unpack(f"<{N}Q", values),
                    strict=True)) == expected
    assert m.delete_batch(range(0, N, 2)) == N // 2
    assert len(m) == N // 2
    assert m.delete_batch([1, 1, 3, 10**6]) == 2            # missing keys are skipped
    drained = m.lookup_and_delete_batch()
    assert dict(drained) == {k: v for k, v in expected.items() if k % 2 and k not in (1, 3)}
    assert len(m) == 0 and m.items(batch=True) == []


def test_small_chunks_grow_on_enospc(mkmap: Maker) -> None:
    m = mkmap(MapType.HASH, 4, 4, 4096)
    m.update_batch({i: i for i in range(3000)})
    seen = []
    for kbuf, _vbuf, n in m._batch_chunks(chunk=1):      # buckets hold > 1 entry: ENOSPC
        seen += struct.unpack(f"<{n}I", ffi.buffer(kbuf, 4 * n))
    assert sorted(seen) == list(range(3000))


def test_struct_values_batch(mkmap: Maker) -> None:
    b = Builder()
    c = common(b)
    val = b.struct("rec", 24, [("pid", c["u32"], 0), ("comm", b.array(c["char"], 16), 32),
                               ("n", c["u32"], 160)])
    btf = b.build()
    btf_fd, _, text = sysbpf.btf_load(b.encode(), log_level=1, log_size=1 << 16)
    assert btf_fd is not None, text
    with btf_fd:
        m = mkmap(MapType.HASH, 4, 24, 20_000, btf=btf, btf_fd=btf_fd, key_type_id=c["u32"],
                  value_type_id=val)
        m.update_batch({i: {"pid": i, "comm": f"p{i}", "n": i % 7} for i in range(20_000)})
        batch = dict(m.items(batch=True))
        assert batch == dict(m.items())
        assert batch[12345].comm == "p12345" and batch[12345].n == 12345 % 7


def test_percpu_batch(mkmap: Maker) -> None:
    n = possible_cpu_count()
    m = mkmap(MapType.PERCPU_HASH, 4, 4, 1000)
    m.update_batch({i: [i + cpu for cpu in range(n)] for i in range(1000)})
    batch = dict(m.items(batch=True))
    assert batch == dict(m.items())
    assert batch[10] == [10 + cpu for cpu in range(n)]
    a = mkmap(MapType.PERCPU_ARRAY, 4, 4, 16)
    a.update_batch({i: i for i in range(16)})
    assert a.items(batch=True) == [(i, [i] * n) for i in range(16)]


def test_array_batch_and_fallbacks(mkmap: Maker) -> None:
    a = mkmap(MapType.ARRAY, 4, 8, 1000)
    a.update_batch((i, i * i) for i in range(1000))
    assert a.items(batch=True) == list(a.items()) == [(i, i * i) for i in range(1000)]
    lpm = mkmap(MapType.LPM_TRIE, 8, 4, 16, flags=MapFlags.NO_PREALLOC)   # no batch ops
    lpm.update_batch({f"10.{i}.0.0/16": i for i in range(10)})
    assert sorted(v for _, v in lpm.items(batch=True)) == list(range(10))
    assert lpm.delete_batch([f"10.{i}.0.0/16" for i in range(5)]) == 5
    assert len(lpm) == 5
    assert sorted(v for _, v in lpm.lookup_and_delete_batch()) == list(range(5, 10))
    assert len(lpm) == 0
