"""Maps shared with BPF programs (bpf_src/tests/maps_types.bpf.c): BPF writes, Python reads
decoded values, and the reverse, through BPF_PROG_TEST_RUN."""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conftest import obj_path, require_feature  # noqa: E402

import pybpf  # noqa: E402
from pybpf import features  # noqa: E402
from pybpf.errors import MapError  # noqa: E402
from pybpf.maps import (  # noqa: E402
    ArrayMap,
    ArrayOfMapsMap,
    BloomFilterMap,
    HashMap,
    LPMKey,
    LPMTrieMap,
    PerCPUArrayMap,
    PerCPUHashMap,
    QueueMap,
    StackMap,
    open_map,
    possible_cpu_count,
)
from pybpf.spec import MapSpec  # noqa: E402
from pybpf.sys import bpf as sysbpf  # noqa: E402
from pybpf.sys.consts import MapType  # noqa: E402
from pybpf.sys.cpus import online_cpus  # noqa: E402

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def obj() -> Iterator[Any]:
    o = pybpf.load(obj_path("maps_types"), rodata={"factor": 7})
    yield o
    o.close()


def args(key: int = 0, addr: str = "0.0.0.0", value: int = 0) -> bytes:
    return struct.pack("<I4sQ", key, socket.inet_aton(addr), value)


def run(obj: Any, prog: str, **kw: Any) -> int:
    """Run a SEC("syscall") program with ``args`` as ctx; its (signed) return value."""
    retval, _, _ = obj.programs[prog].test_run(ctx=args(**kw))
    return retval - (1 << 32) if retval >= 1 << 31 else retval


def run_xdp(obj: Any, prog: str, **kw: Any) -> None:
    retval, _, _ = obj.programs[prog].test_run(data=args(**kw))
    assert retval == 2, f"{prog}: XDP verdict {retval}"      # XDP_PASS


def on_cpu(cpu: int) -> Any:
    """Context manager pinning this thread to ``cpu`` (test runs execute where we are)."""
    class _Pin:
        def __enter__(self) -> None:
            self.old = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {cpu})

        def __exit__(self, *exc: object) -> None:
            os.sched_setaffinity(0, self.old)
    return _Pin()


def test_map_classes_follow_types(obj: Any) -> None:
    m = obj.maps
    assert isinstance(m["events"], HashMap) and isinstance(m["arr"], ArrayMap)
    assert isinstance(m["pcpu"], PerCPUArrayMap) and isinstance(m["phash"], PerCPUHashMap)
    assert isinstance(m["routes"], LPMTrieMap) and isinstance(m["fifo"], QueueMap)
    assert isinstance(m["lifo"], StackMap)
    assert isinstance(m["outer"], ArrayOfMapsMap)


def test_bpf_writes_python_reads(obj: Any) -> None:
    assert run(obj, "fill") == 0
    ev = obj.maps["events"][1]
    assert type(ev).__name__ == "event"
    assert (ev.pid, ev.ppid, ev.comm) == (4242, 1, "bpf-writer")
    assert ev.st == 9 and ev.st.name == "ST_DEAD"
    assert (ev.fa, ev.fb, ev.delta, ev.ts) == (5, 4000, -7, 0x1122334455667788)
    assert ev.u.word == 0xDEADBEEF and ev.u.bytes == b"\xef\xbe\xad\xde"
    assert ev.pts[0].x == -1 and ev.pts[1].y == 99 and ev.pts[1].x == 0
    assert ev._asdict()["pts"][1] == {"x": 0, "y": 99}
    assert dict(obj.maps["arr"].items()) == {i: i * 10 + 7 for i in range(8)}   # factor = 7
    assert obj.maps["fifo"].drain() == [1, 2, 3]
    lifo = obj.maps["lifo"]
    assert lifo.pop() == 20 and lifo.pop() == 10 and lifo.pop(None) is None
    assert obj.bss.runs >= 1


def test_percpu_values_per_cpu(obj: Any) -> None:
    n = possible_cpu_count()
    for cpu in online_cpus():
        with on_cpu(cpu):
            assert run(obj, "fill") == 0
    pcpu = obj.maps["pcpu"][0]
    phash = obj.maps["phash"][7]
    assert len(pcpu) == len(phash) == n
    for cpu in online_cpus():
        assert pcpu[cpu] == cpu + 100
        assert (phash[cpu].a, phash[cpu].b) == (cpu + 1000, cpu)
    assert obj.maps["pcpu"].items(batch=True) == [(0, pcpu)]
    obj.maps["fifo"].clear()
    obj.maps["lifo"].clear()


def test_python_writes_bpf_reads(obj: Any) -> None:
    value = {"pid": 77, "ppid": 2, "comm": "py-writer", "st": "ST_RUNNING", "fa": 7, "fb": 8191,
             "delta": -300, "ts": 5, "u": {"word": 0x01020304},
             "pts": [{"x": 1, "y": 2}, {"x": 3, "y": -4}]}
    obj.maps["in_events"][3] = value
    expect = 77 + ord("p") + 1 + 7 + 8191 - 300 + 5 + 0x04 - 4
    assert run(obj, "read_event", key=3) == expect
    copied = obj.maps["events"][103]                       # BPF copied it unchanged
    assert copied == obj.maps["in_events"][3]
    assert copied.comm == "py-writer" and copied.st.name == "ST_RUNNING" and copied.delta == -300
    assert run(obj, "read_event", key=4) == -1


def test_python_writes_percpu_bpf_reads_its_slot(obj: Any) -> None:
    n = possible_cpu_count()
    obj.maps["phash"][5] = [{"a": 500 + cpu, "b": 0} for cpu in range(n)]
    for cpu in online_cpus():
        with on_cpu(cpu):
            assert run(obj, "read_percpu", key=5) == 500 + cpu
    obj.maps["phash"][6] = {"a": 66}                       # one value: every CPU
    for cpu in online_cpus():
        with on_cpu(cpu):
            assert run(obj, "read_percpu", key=6) == 66


def test_lpm_longest_prefix_from_bpf(obj: Any) -> None:
    routes = obj.maps["routes"]
    routes["10.0.0.0/8"] = 8
    routes["10.1.0.0/16"] = 16
    routes[LPMKey(24, bytes([10, 1, 2, 0]))] = 24
    for addr, want in [("10.1.2.3", 24), ("10.1.3.3", 16), ("10.9.9.9", 8), ("11.0.0.1", 0xFFFFFFFF)]:
        run_xdp(obj, "lpm_probe", addr=addr)
        assert obj.maps["arr"][0] == want, addr
        assert routes.get(addr) == (None if want == 0xFFFFFFFF else want)
    assert set(routes) == {LPMKey(8, bytes([10, 0, 0, 0])), LPMKey(16, bytes([10, 1, 0, 0])),
                           LPMKey(24, bytes([10, 1, 2, 0]))}


def test_queue_python_push_bpf_pop(obj: Any) -> None:
    q = obj.maps["fifo"]
    q.clear()
    q.push(11)
    q.push(12)
    assert run(obj, "pop_fifo") == 11
    assert q.pop() == 12 and run(obj, "pop_fifo") == -1


def test_bloom_both_ways() -> None:
    require_feature(features.map_type(MapType.BLOOM_FILTER), "bloom filter maps (5.16)")
    with pybpf.load(obj_path("maps_bloom")) as obj:
        _bloom_both_ways(obj)


def _bloom_both_ways(obj: Any) -> None:
    bloom = obj.maps["bloom"]
    assert isinstance(bloom, BloomFilterMap)
    bloom.push(77)
    run_xdp(obj, "bloom_probe", key=77)
    assert obj.maps["arr"][1] == 1
    run_xdp(obj, "bloom_probe", key=555, value=1)          # BPF adds 555
    assert obj.maps["arr"][1] == 1 and 555 in bloom


def test_map_in_map(obj: Any) -> None:
    obj.maps["inner_a"][0] = 31337
    assert obj.maps["outer"][0] == obj.maps["inner_a"].id
    assert run(obj, "read_inner", key=0) == 31337
    fd = sysbpf.map_create(MapType.ARRAY, 4, 8, 1, name="inner_py")
    inner = open_map(fd, MapSpec("inner_py", MapType.ARRAY, 4, 8, 1), None)
    try:
        inner[0] = 4242
        obj.maps["outer"][1] = inner
        assert obj.maps["outer"][1] == inner.id
        assert run(obj, "read_inner", key=1) == 4242
        with obj.maps["outer"].get_map(1) as reopened:
            assert reopened[0] == 4242
        del obj.maps["outer"][1]
        assert run(obj, "read_inner", key=1) == -1
    finally:
        inner.close()


def test_global_variables(obj: Any) -> None:
    assert obj.rodata.factor == 7 and "factor" in dir(obj.rodata)
    with pytest.raises(MapError, match=r"rodata is frozen after load; set it with "
                                       r"pybpf.load\(\.\.\., rodata=\{\.\.\.\}\) or spec.rodata"):
        obj.rodata.factor = 8
    with pytest.raises(AttributeError, match="known: greeting"):
        obj.data.nope = 1
    obj.data.greeting = "Hi"
    runs = obj.bss.runs
    assert run(obj, "read_globals") == 7 * 1000 + runs * 10 + ord("H")
    obj.bss.runs = 3
    assert run(obj, "read_globals") == 7 * 1000 + 30 + ord("H")
    assert obj.data.greeting == "Hi"
