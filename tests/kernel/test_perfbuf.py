"""Perf buffer reader on real samples: values, per-CPU rings, wrap-around, lost samples."""

from __future__ import annotations

import os
import selectors

import pytest

import pybpf
from pybpf.sys.cpus import online_cpus
from tests.conftest import obj_path

pytestmark = pytest.mark.kernel

PKT = b"\0" * 64
REC = 120                     # perf record: 8 header + 4 raw size + 104-byte sample + 4 pad


@pytest.fixture
def pinned_cpu():
    """Run on one CPU: test_run emits on the current CPU's ring."""
    old = os.sched_getaffinity(0)
    cpu = min(old)
    os.sched_setaffinity(0, {cpu})
    yield cpu
    os.sched_setaffinity(0, old)


@pytest.fixture
def pbobj():
    with pybpf.load(obj_path("events_perfbuf")) as o:
        yield o


def emit(obj, n: int) -> None:
    obj.data.emit_n = n
    obj.programs["emit"].test_run(PKT)


def check(e, seq: int, cpu: int) -> None:
    assert (e.seq, e.cpu, e.value) == (seq, cpu, 7000 + seq)
    assert e.fill == bytes((seq + j) & 0xFF for j in range(84))


def test_samples_decoded(pbobj, pinned_cpu, no_fd_leak):
    pb = pbobj.maps["pb"]
    assert isinstance(pb, pybpf.PerfBuffer) and pb.event_type == "struct pb_sample"
    assert pb.cpus == list(online_cpus())
    emit(pbobj, 10)
    got = pb.poll(timeout=1)
    assert len(got) == 10
    for i, e in enumerate(got):
        check(e, i, pinned_cpu)
    assert pb.poll(timeout=0) == [] and pb.lost == 0


def test_every_cpu_ring(pbobj):
    pb = pbobj.maps["pb"]
    old = os.sched_getaffinity(0)
    cpus = sorted(old)
    try:
        for cpu in cpus:
            os.sched_setaffinity(0, {cpu})
            emit(pbobj, 2)
    finally:
        os.sched_setaffinity(0, old)
    got = sorted(pb.poll(timeout=1), key=lambda e: e.seq)
    assert [e.seq for e in got] == list(range(2 * len(cpus)))
    assert [e.cpu for e in got] == [c for c in cpus for _ in range(2)]


def test_records_crossing_the_ring_end(pbobj, pinned_cpu):
    pb = pbobj.maps["pb"]
    pb.reopen(pages=1)
    size = os.sysconf("SC_PAGE_SIZE")
    seen = []
    for _ in range(20):                       # 400 x 120 B through a 4 KiB ring
        emit(pbobj, 20)
        got = pb.poll(timeout=1)
        for e in got:
            check(e, e.seq, pinned_cpu)
        seen += [e.seq for e in got]
    assert seen == list(range(400)) and pb.lost == 0
    crossing = [k for k in range(400) if (k * REC) % size + REC > size]
    assert len(crossing) >= 9                 # records that were split at the ring end


def test_lost_samples_counted(pbobj, pinned_cpu):
    pb = pbobj.maps["pb"]
    pb.reopen(pages=1)
    reports = []
    pb.lost_callback = lambda cpu, n: reports.append((cpu, n))
    for _ in range(3):
        emit(pbobj, 64)                       # 192 x 120 B into a 4 KiB ring, unread
    got = pb.poll(timeout=1)
    assert 0 < len(got) < 192
    assert [e.seq for e in got] == list(range(len(got)))
    failed = pbobj.bss.failed
    assert failed == 192 - len(got)
    emit(pbobj, 1)                            # the kernel writes the LOST record first
    (last,) = pb.poll(timeout=1)
    assert last.seq == 192
    assert pb.lost == failed and reports == [(pinned_cpu, failed)]


def test_raw_views_callback_and_selectors(pbobj, pinned_cpu):
    pb = pbobj.maps["pb"]
    sel = selectors.DefaultSelector()
    sel.register(pb, selectors.EVENT_READ)
    assert sel.select(timeout=0) == []
    emit(pbobj, 3)
    assert sel.select(timeout=1)
    sel.close()
    raw = [bytes(v) for v in pb.poll(timeout=0, raw=True)]
    assert [len(r) for r in raw] == [108, 108, 108]
    assert [int.from_bytes(r[:4], "little") for r in raw] == [0, 1, 2]
    emit(pbobj, 2)
    got = []
    assert pb.poll(timeout=1, callback=got.append) == 2
    assert [e.seq for e in got] == [3, 4]
    pb.event_type = None
    emit(pbobj, 1)
    (b,) = pb.poll(timeout=1)
    assert isinstance(b, bytes) and len(b) == 108 and b[:4] == (5).to_bytes(4, "little")
    emit(pbobj, 1)
    (e,) = pb.poll(timeout=1, type="struct pb_sample")
    check(e, 6, pinned_cpu)
    with pytest.raises(pybpf.MapError, match="no_such"):
        pb.event_type = "struct no_such"


def test_close_releases_rings(no_fd_leak):
    with pybpf.load(obj_path("events_perfbuf")) as o:
        pb = o.maps["pb"]
        pb.reopen(pages=2)
        assert pb.pages == 2
    with pytest.raises(pybpf.MapError):
        pb.poll(timeout=0)


def test_runs_decoded_in_bulk_and_raw_bytes(pbobj, pinned_cpu):
    pb = pbobj.maps["pb"]
    pb.reopen(pages=8)                        # 32 KiB: 64 x 120 B records in one run
    emit(pbobj, 64)
    got = pb.poll(timeout=1)
    assert len(got) == 64
    for i, e in enumerate(got):
        check(e, i, pinned_cpu)
    for _ in range(4):                        # 256 more: runs that stop at the ring end
        emit(pbobj, 64)
    raw = pb.consume(raw=bytes)
    assert [len(r) for r in raw] == [108] * 256
    assert [int.from_bytes(r[:4], "little") for r in raw] == list(range(64, 320))
    assert all(r[16:100] == bytes((k + j) & 0xFF for j in range(84))
               for k, r in zip(range(64, 320), raw, strict=True))
    assert pb.lost == 0
