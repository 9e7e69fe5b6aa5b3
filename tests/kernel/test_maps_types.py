"""Every map type created from Python (MAP_CREATE + MapSpec) and exercised on the kernel."""

from __future__ import annotations

import errno
import gc
import ipaddress
import os
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))

from _codec_btf import Builder, common  # noqa: E402
from conftest import require_feature  # noqa: E402

from pybpf import features  # noqa: E402
from pybpf.errors import BPFError, BPFPermissionError, MapError  # noqa: E402
from pybpf.maps import (  # noqa: E402
    ArrayMap,
    ArrayOfMapsMap,
    BaseMap,
    BloomFilterMap,
    GlobalVars,
    HashMap,
    HashOfMapsMap,
    LPMKey,
    LPMTrieMap,
    Map,
    PerCPUArrayMap,
    PerCPUHashMap,
    ProgArrayMap,
    QueueMap,
    StackMap,
    open_map,
    possible_cpu_count,
)
from pybpf.spec import MapSpec  # noqa: E402
from pybpf.sys import bpf as sysbpf  # noqa: E402
from pybpf.sys.consts import MapFlags, MapType, ProgType, UpdateFlags  # noqa: E402
from pybpf.sys.fd import FD  # noqa: E402

pytestmark = pytest.mark.kernel

Maker = Callable[..., Any]


@pytest.fixture
def mkmap(no_fd_leak: None) -> Iterator[Maker]:
    """Create a map from Python: mkmap(type, key_size, value_size, max_entries, ...)."""
    made: list[Any] = []

    def make(mtype: MapType, ks: int, vs: int, n: int, *, flags: int = 0, btf: Any = None,
             key_type_id: int = 0, value_type_id: int = 0, btf_fd: FD | None = None,
             inner_map_fd: int = 0, map_extra: int = 0, name: str = "t") -> Any:
        fd = sysbpf.map_create(mtype, ks, vs, n, flags=flags, name=name,
                               btf_fd=int(btf_fd) if btf_fd is not None else 0,
                               btf_key_type_id=key_type_id if btf_fd is not None else 0,
                               btf_value_type_id=value_type_id if btf_fd is not None else 0,
                               inner_map_fd=inner_map_fd, map_extra=map_extra)
        spec = MapSpec(name=name, type=mtype, key_size=ks, value_size=vs, max_entries=n,
                       flags=flags, key_type_id=key_type_id, value_type_id=value_type_id, btf=btf)
        m = open_map(fd, spec, btf)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


# ---------------------------------------------------------------- hash

def test_hash_basic_dict_protocol(mkmap: Maker) -> None:
    m = mkmap(MapType.HASH, 4, 8, 16)
    assert isinstance(m, HashMap) and isinstance(m, Map)
    assert len(m) == 0 and not m and list(m) == []
    for i in range(10):
        m[i] = i * 100
    assert len(m) == 10 and m
    assert m[3] == 300 and m.get(42) is None and m.get(42, -1) == -1
    assert 3 in m and 42 not in m and "x" not in m
    assert dict(m.items()) == {i: i * 100 for i in range(10)}
    assert sorted(m.keys()) == list(range(10)) and sorted(m.values()) == [i * 100 for i in range(10)]
    del m[3]
    assert 3 not in m
    with pytest.raises(KeyError):
        del m[3]
    with pytest.raises(KeyError):
        m[3]
    assert m.pop(4) == 400 and 4 not in m
    assert m.pop(4, "gone") == "gone"
    m.update({20: 1, 21: 2})
    assert m[21] == 2
    m.clear()
    assert len(m) == 0


def test_hash_update_flags_and_full(mkmap: Maker) -> None:
    m = mkmap(MapType.HASH, 4, 4, 2)
    m.put(1, 10, UpdateFlags.NOEXIST)
    with pytest.raises(MapError, match="already exists"):
        m.put(1, 11, UpdateFlags.NOEXIST)
    with pytest.raises(MapError, match="does not exist"):
        m.put(2, 11, UpdateFlags.EXIST)
    m.put(1, 12, UpdateFlags.EXIST)
    assert m[1] == 12
    m[2] = 2
    with pytest.raises(MapError, match=r"map t: map is full \(2 entries\)") as ei:
        m[3] = 3
    assert ei.value.errno == errno.E2BIG
    with pytest.raises(MapError, match="out of range for u32"):
        m[1] = 1 << 40


def test_iteration_survives_deleting_the_current_key(mkmap: Maker) -> None:
    m = mkmap(MapType.HASH, 4, 4, 256)
    for i in range(200):
        m[i] = i
    seen = []
    for k in m:                       # deleting the current key restarts the kernel walk
        seen.append(k)
        del m[k]
    assert sorted(seen) == list(range(200)) and len(m) == 0
    for i in range(100):
        m[i] = i
    seen = []
    for k in m:                       # delete every other key, including ones not seen yet
        seen.append(k)
        if k % 2 == 0:
            del m[k]
        m.pop(k ^ 1, None) if k % 3 == 0 else None
    assert len(seen) == len(set(seen))
    assert set(seen) <= set(range(100))


def test_lru_hash_evicts(mkmap: Maker) -> None:
    m = mkmap(MapType.LRU_HASH, 4, 4, 64)
    for i in range(1000):
        m[i] = i
    assert 0 < len(m) <= 64 + possible_cpu_count() * 64
    assert 999 in m and m[999] == 999


# ---------------------------------------------------------------- typed (BTF) maps

def _typed_btf() -> tuple[Builder, dict[str, int]]:
    b = Builder()
    c = common(b)
    state = b.enum("state", 4, {"IDLE": 0, "RUNNING": 1, "DEAD": 9})
    key = b.struct("flow", 8, [("saddr", c["u32"], 0), ("sport", c["u16"], 32),
                               ("proto", c["u8"], 48), ("pad", c["u8"], 56)])
    val = b.struct("stats", 40, [("pid", c["u32"], 0), ("comm", b.array(c["char"], 16), 32),
                                 ("st", state, 160), ("bytes", c["u64"], 192),
                                 ("hi", c["u32"], 256, 4), ("lo", c["u32"], 260, 28)], kflag=True)
    return b, {"key": key, "val": val, **c}


def test_btf_typed_hash_and_from_id(mkmap: Maker) -> None:
    b, ids = _typed_btf()
    btf_fd, err, text = sysbpf.btf_load(b.encode(), log_level=1, log_size=1 << 16)
    assert btf_fd is not None, text
    try:
        btf = b.build()
        m = mkmap(MapType.HASH, 8, 40, 32, btf=btf, btf_fd=btf_fd, key_type_id=ids["key"],
                  value_type_id=ids["val"])
        k = {"saddr": 0x0100007F, "sport": 80, "proto": 6}
        m[k] = {"pid": os.getpid(), "comm": "pytest", "st": "RUNNING", "bytes": 1 << 40,
                "hi": 9, "lo": 12345}
        (key, val), = m.items()
        assert key.saddr == 0x0100007F and key.sport == 80 and key.proto == 6
        assert (val.pid, val.comm, val.st.name, val.bytes, val.hi, val.lo) == (
            os.getpid(), "pytest", "RUNNING", 1 << 40, 9, 12345)
        assert m[key] == val and m[tuple(key)] == val
        # reopened by id: the BTF comes back from the kernel and decodes the same
        again = BaseMap.from_id(m.id)
        try:
            assert isinstance(again, HashMap) and again.name == "t"
            if again.btf is not None:
                assert dict(again.items()) == {key: val}
                assert type(next(iter(again))).__name__ == "flow"
            else:
                assert again[m.key_codec.encode(key)] == m.value_codec.encode(val)
        finally:
            again.close()
    finally:
        btf_fd.close()


def test_pin_and_from_pinned(mkmap: Maker, tmp_path: Path) -> None:
    if not os.path.ismount("/sys/fs/bpf"):
        pytest.fail("bpffs is not mounted at /sys/fs/bpf")
    m = mkmap(MapType.HASH, 4, 4, 8, name="pinme")
    m[1] = 2
    path = f"/sys/fs/bpf/pybpf_test_pin_{os.getpid()}"
    m.pin(path)
    try:
        assert m.pin_path == path and os.path.exists(path)
        with BaseMap.from_pinned(path) as p:
            assert isinstance(p, HashMap) and p.name == "pinme" and p[1] == 2
            p[3] = 4
        assert m[3] == 4
    finally:
        m.unpin()
    assert not os.path.exists(path) and m.pin_path is None


# ---------------------------------------------------------------- arrays

def test_array(mkmap: Maker) -> None:
    m = mkmap(MapType.ARRAY, 4, 8, 8)
    assert isinstance(m, ArrayMap)
    assert len(m) == 8 and list(m) == list(range(8)) and dict(m.items()) == dict.fromkeys(range(8), 0)
    m[2] = 42
    assert m[2] == 42 and 7 in m and 8 not in m
    with pytest.raises(KeyError):
        m[8]
    with pytest.raises(MapError, match="array elements cannot be deleted"):
        del m[2]
    m.zero(2)
    assert m[2] == 0
    m.update_batch({i: i + 1 for i in range(8)})
    assert m.items(batch=True) == [(i, i + 1) for i in range(8)] == list(m.items())
    m.clear()
    assert set(m.values()) == {0}
    with pytest.raises(MapError, match="map is full|out of range"):
        m[100] = 1


def test_mmapable_array_and_global_vars(mkmap: Maker) -> None:
    b = Builder()
    c = common(b)
    v1 = b.var("counter", c["u64"])
    v2 = b.var("name", b.array(c["char"], 8))
    sec = b.datasec(".data", 16, [(v1, 0, 8), (v2, 8, 8)])
    btf = b.build()
    m = mkmap(MapType.ARRAY, 4, 16, 1, flags=MapFlags.MMAPABLE)
    mm = m.mmap(writable=True)
    g = GlobalVars(mm, btf, sec, writable=True)
    g.counter = 7
    g.name = "hey"
    assert m[0] == struct.pack("<Q8s", 7, b"hey")         # raw codec: the value bytes
    m[0] = struct.pack("<Q8s", 9, b"kern")
    assert (g.counter, g.name) == (9, "kern")
    assert dir(g) == ["counter", "name"] and g._asdict() == {"counter": 9, "name": "kern"}
    with pytest.raises(AttributeError, match=r"\.data has no variable 'nope' \(known: counter, name\)"):
        g.nope = 1
    with pytest.raises(MapError, match="writable mmap"):
        m.freeze()
    del g, mm                          # the mapping goes with its last buffer
    gc.collect()
    m.freeze()
    robuf = m.mmap(writable=False)
    with pytest.raises(TypeError):
        robuf[0:1] = b"x"                # read-only mapping: no write reaches the memory
    ro = GlobalVars(robuf, btf, sec, writable=False)
    assert ro.counter == 9
    with pytest.raises(MapError, match="read-only"):
        ro.counter = 1
    with pytest.raises(BPFPermissionError):
        m[0] = bytes(16)


# ---------------------------------------------------------------- per-CPU

def test_percpu_hash_and_array(mkmap: Maker) -> None:
    n = possible_cpu_count()
    h = mkmap(MapType.PERCPU_HASH, 4, 4, 8)
    assert isinstance(h, PerCPUHashMap) and h.ncpus == n
    h[1] = 5                                       # one value: every CPU
    assert h[1] == [5] * n
    h[2] = list(range(10, 10 + n))
    assert h[2] == list(range(10, 10 + n))
    assert h.sum(2) == sum(range(10, 10 + n))
    with pytest.raises(MapError, match="possible CPUs"):
        h[3] = [1] * (n + 1)
    assert sorted(h.items(batch=True)) == sorted(h.items()) == [(1, [5] * n), (2, list(range(10, 10 + n)))]
    a = mkmap(MapType.PERCPU_ARRAY, 4, 12, 4)      # value size 12: 16 bytes per CPU slot
    assert isinstance(a, PerCPUArrayMap)
    a[1] = [bytes([i]) * 12 for i in range(n)]
    assert a[1] == [bytes([i]) * 12 for i in range(n)]
    assert a[0] == [bytes(12)] * n and len(a) == 4
    a.clear()
    assert a[1] == [bytes(12)] * n
    lru = mkmap(MapType.LRU_PERCPU_HASH, 4, 8, 16)
    lru[7] = 1
    assert lru[7] == [1] * n


# ---------------------------------------------------------------- LPM trie

def test_lpm_trie_longest_prefix(mkmap: Maker) -> None:
    m = mkmap(MapType.LPM_TRIE, 8, 4, 32, flags=MapFlags.NO_PREALLOC)
    assert isinstance(m, LPMTrieMap)
    m["10.0.0.0/8"] = 8
    m[ipaddress.ip_network("10.1.0.0/16")] = 16
    m[LPMKey(24, bytes([10, 1, 2, 0]))] = 24
    m[(32, "10.1.2.3")] = 32
    assert m["10.1.2.3"] == 32
    assert m["10.1.2.4"] == 24
    assert m["10.1.3.1"] == 16
    assert m["10.200.0.1"] == 8
    assert m.longest_match("10.9.9.9") == 8 and m.longest_match("11.0.0.1") is None
    assert "11.0.0.1" not in m and "10.1.2.200" in m
    keys = set(m)
    assert keys == {LPMKey(8, bytes([10, 0, 0, 0])), LPMKey(16, bytes([10, 1, 0, 0])),
                    LPMKey(24, bytes([10, 1, 2, 0])), LPMKey(32, bytes([10, 1, 2, 3]))}
    assert LPMKey(16, bytes([10, 1, 0, 0])).network() == ipaddress.ip_network("10.1.0.0/16")
    del m["10.1.0.0/16"]
    assert m["10.1.3.1"] == 8
    assert dict(m.items(batch=True)) == dict(m.items())      # no batch: per-key fallback
    with pytest.raises(MapError, match="prefix length 33 not in 0..32"):
        m[(33, "10.0.0.0")] = 1
    v6 = mkmap(MapType.LPM_TRIE, 20, 4, 8, flags=MapFlags.NO_PREALLOC)
    v6["2001:db8::/32"] = 1
    v6["2001:db8:1::/48"] = 2
    assert v6["2001:db8:1::5"] == 2 and v6["2001:db8:2::5"] == 1


# ---------------------------------------------------------------- queue, stack, bloom

def test_queue_and_stack(mkmap: Maker) -> None:
    q = mkmap(MapType.QUEUE, 0, 4, 3)
    assert isinstance(q, QueueMap) and not isinstance(q, Map)
    for i in (1, 2, 3):
        q.push(i)
    with pytest.raises(MapError, match="map is full"):
        q.push(4)
    q.push(4, UpdateFlags.EXIST)                  # drops the oldest
    assert q.peek() == 2 and q.pop() == 2 and q.drain() == [3, 4]
    with pytest.raises(MapError, match="empty") as ei:
        q.pop()
    assert ei.value.errno == errno.ENOENT
    assert q.pop(None) is None and q.peek("x") == "x" and not q
    s = mkmap(MapType.STACK, 0, 8, 4)
    assert isinstance(s, StackMap)
    for i in (1, 2, 3):
        s.push(i)
    assert s.pop() == 3 and s.drain() == [2, 1]


def test_bloom_filter(mkmap: Maker) -> None:
    require_feature(features.map_type(MapType.BLOOM_FILTER), "bloom filter maps (5.16)")
    m = mkmap(MapType.BLOOM_FILTER, 0, 4, 1000, map_extra=3)
    assert isinstance(m, BloomFilterMap)
    for i in range(0, 100, 2):
        m.push(i)
    assert all(i in m for i in range(0, 100, 2))
    misses = sum(i in m for i in range(1, 100, 2))
    assert misses < 10


# ---------------------------------------------------------------- fd-valued maps

def test_array_and_hash_of_maps(mkmap: Maker) -> None:
    inner = mkmap(MapType.ARRAY, 4, 4, 4, name="inner")
    inner[1] = 77
    aom = mkmap(MapType.ARRAY_OF_MAPS, 4, 4, 4, inner_map_fd=inner.fd)
    assert isinstance(aom, ArrayOfMapsMap)
    assert len(aom) == 0
    aom[2] = inner
    assert aom[2] == inner.id and len(aom) == 1 and dict(aom.items()) == {2: inner.id}
    with aom.get_map(2) as opened:
        assert opened.name == "inner" and opened[1] == 77
    del aom[2]
    assert 2 not in aom
    hom = mkmap(MapType.HASH_OF_MAPS, 4, 4, 4, inner_map_fd=inner.fd)
    assert isinstance(hom, HashOfMapsMap)
    hom[99] = inner.fd
    assert hom[99] == inner.id
    with pytest.raises(MapError, match="expected a map, program or fd"):
        hom[1] = "nope"


def _tiny_prog() -> FD:
    insns = struct.pack("<BBhi", 0xB7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0)  # r0=0; exit
    fd, err, text = sysbpf.prog_load(ProgType.SOCKET_FILTER, insns, "GPL", name="tiny")
    assert fd is not None, f"{os.strerror(err)}: {text}"
    return fd


def test_prog_array(mkmap: Maker) -> None:
    m = mkmap(MapType.PROG_ARRAY, 4, 4, 4)
    assert isinstance(m, ProgArrayMap)
    with _tiny_prog() as prog:
        m[1] = prog
        pid = sysbpf.obj_info(int(prog), "bpf_prog_info").id
        assert m[1] == pid and list(m) == [1]
        m.clear()
        assert len(m) == 0


# ---------------------------------------------------------------- errors, closing

def test_closed_map_and_bad_keys(mkmap: Maker) -> None:
    m = mkmap(MapType.HASH, 4, 4, 4)
    with pytest.raises(MapError, match="expected an integer for u32"):
        m["a"] = 1
    with pytest.raises(MapError, match="4 raw bytes|expected an integer"):
        m[1] = b"123"
    m.close()
    m.close()
    assert m.closed and "closed" in repr(m)
    with pytest.raises(MapError, match="already closed"):
        m[1] = 1
    assert isinstance(MapError("x"), BPFError)
