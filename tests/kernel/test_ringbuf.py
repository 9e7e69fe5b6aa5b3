"""Ring buffer reader on real records: values, discards, wrap-around, full ring, fds."""

from __future__ import annotations

import os
import selectors
import struct
import threading
import time

import pytest

import pybpf
from pybpf.maps.ringbuf import RingBufferPoller
from tests.conftest import obj_path

pytestmark = pytest.mark.kernel


@pytest.fixture
def rbobj():
    with pybpf.load(obj_path("events_ringbuf"), rodata={"base_value": 5000}) as o:
        yield o


def emit(obj, n: int) -> None:
    obj.data.emit_n = n
    obj.programs["emit"].test_run(ctx=b"")


def test_records_decoded_with_values(rbobj, no_fd_leak):
    rb = rbobj.maps["rb"]
    assert isinstance(rb, pybpf.RingBuffer) and rb.event_type == "struct event"
    emit(rbobj, 10)
    events = rb.poll(timeout=1)
    assert [e.seq for e in events] == list(range(10))           # discarded record skipped
    assert {e.pid for e in events} == {os.getpid()}
    assert [e.value for e in events] == [5000 + i for i in range(10)]
    assert all(e.tag == "pybpf" for e in events)
    assert rb.poll(timeout=0) == []


def test_wrap_around_and_full_ring(rbobj):
    rb = rbobj.maps["rb"]
    seen = []
    for _ in range(7):                       # 7 x 50 records of 32 bytes through a 4 KiB ring
        emit(rbobj, 50)
        seen += [e.seq for e in rb.poll(timeout=1)]
    assert seen == list(range(350))
    emit(rbobj, 200)                         # 200 x 32 B + headers > 4 KiB: some refused
    got = rb.poll(timeout=1)
    assert rbobj.bss.dropped == 200 - len(got) > 0
    assert [e.seq for e in got] == list(range(350, 350 + len(got)))


def test_callback_raw_and_selectors(rbobj):
    rb = rbobj.maps["rb"]
    emit(rbobj, 3)
    sel = selectors.DefaultSelector()
    sel.register(rb, selectors.EVENT_READ)
    assert sel.select(timeout=1)
    sel.close()
    sizes = []
    assert rb.poll(timeout=0, callback=lambda v: sizes.append(len(v)), raw=True) == 3
    assert sizes == [24, 24, 24]
    emit(rbobj, 2)
    got = []
    assert rb.poll(timeout=0, callback=got.append) == 2
    assert [e.seq for e in got] == [3, 4]


def test_explicit_event_type_and_bytes(rbobj):
    rb = rbobj.maps["rb"]
    rb.event_type = "struct event"
    emit(rbobj, 1)
    (e,) = rb.poll(timeout=1)
    assert e._asdict()["tag"] == "pybpf"


def test_values_from_the_context_struct(no_fd_leak):
    with pybpf.load(obj_path("events_ringbuf")) as o:
        rb = o.maps["rb"]
        ctx = struct.pack("<QII", 0xC0FFEE_0000, 37, 0)
        o.programs["emit_ctx"].test_run(ctx=ctx)
        got = rb.poll(timeout=1)
        assert [e.value for e in got] == [0xC0FFEE_0000 + i for i in range(37)]
        assert [e.seq for e in got] == list(range(37))
        rb.close()


def test_tracepoint_openat_of_this_process(tmp_path):
    path = tmp_path / "pybpf-ringbuf-probe.txt"
    path.write_text("x")
    with pybpf.load(obj_path("events_tp"), rodata={"targ_tgid": os.getpid()}) as o:
        rb = o.maps["opens"]
        assert rb.event_type == "struct open_event"
        with o.programs["on_openat"].attach():
            for _ in range(3):
                with open(path):
                    pass
            time.sleep(0.01)
            events = rb.poll(timeout=1)
        mine = [e for e in events if e.fname == str(path)]
        assert len(mine) == 3
        comm = open("/proc/self/comm").read().strip()
        assert {(e.pid, e.comm) for e in mine} == {(os.getpid(), comm)}
        assert {e.tid for e in mine} == {threading.get_native_id()}


def test_poller_over_two_ring_buffers():
    with pybpf.load(obj_path("events_ringbuf")) as a, \
            pybpf.load(obj_path("events_ringbuf"), rodata={"base_value": 9000}) as b:
        got: dict[str, list[int]] = {"a": [], "b": []}
        with RingBufferPoller() as poller:
            poller.add(a.maps["rb"], lambda e: got["a"].append(e.value))
            poller.add(b.maps["rb"], lambda e: got["b"].append(e.value))
            assert poller.poll(timeout=0) == 0
            emit(b, 2)
            assert poller.poll(timeout=1) == 2
            emit(a, 3)
            assert poller.poll(timeout=1) == 3
        assert got == {"a": [1000, 1001, 1002], "b": [9000, 9001]}


def test_raw_iterator_and_closed_map():
    with pybpf.load(obj_path("events_ringbuf")) as o:
        rb = o.maps["rb"]
        emit(o, 4)
        seqs = [struct.unpack_from("<I", v)[0] for v in rb.poll(timeout=1, raw=True)]
        assert seqs == [0, 1, 2, 3] and rb.poll(timeout=0) == []
        emit(o, 1)
        (e,) = rb.consume(type="struct event")
        assert e.seq == 4
    with pytest.raises(pybpf.MapError, match="closed"):
        rb.poll(timeout=0)


def test_packed_batches(rbobj):
    rb = rbobj.maps["rb"]
    emit(rbobj, 40)                           # one discarded record first, then 40
    batches = rb.consume_batches()
    assert [(b.count, b.length, b.stride) for b in batches] == [(40, 24, 32)]
    (b,) = batches
    assert [e.seq for e in b.decode(rb._codec)] == list(range(40))
    assert [struct.unpack_from("<I", v)[0] for v in b.views()] == list(range(40))
    assert rb.consume_batches() == [] and rb.poll(timeout=0) == []
    for _ in range(3):                        # runs that cross the end of the 4 KiB ring
        emit(rbobj, 100)
        got = [e.seq for b in rb.consume_batches() for e in b.decode(rb._codec)]
        assert got == list(range(got[0], got[0] + 100))


# records of mixed lengths: runs (longer than the reader's 16-header probe), alternations,
# discards inside runs, records shorter than struct event (24 bytes) and longer ones
MIXED = [24] * 20 + [0] + [24] * 5 + [8, 12, 8, 12] + [0, 0] + [40] * 15 + [3] * 10 + [24] * 7


def emit_mixed(obj, lens: list[int]) -> list[tuple[int, int]]:
    """Emit records of ``lens`` (0: discarded); the (index, length) of those kept."""
    obj.bss.lens = bytes(lens) + bytes(64 - len(lens))
    obj.data.emit_n = len(lens)
    obj.programs["emit_mixed"].test_run(ctx=b"")
    return [(i, n) for i, n in enumerate(lens) if n]


def payload(i: int, n: int) -> bytes:
    return bytes([i, n] + [0] * (n - 2))[:n]


def test_mixed_lengths_every_mode(rbobj):
    rb = rbobj.maps["rb"]
    for lap in range(3):                      # 2 KiB a lap through the 4 KiB ring: wraps
        kept = emit_mixed(rbobj, MIXED)
        if lap == 0:
            got = rb.consume(raw=bytes)
            assert got == [payload(i, n) for i, n in kept]
        elif lap == 1:
            got = rb.consume()
            for (i, n), r in zip(kept, got, strict=True):
                if n >= 24:                   # decoded: seq is the first u32 (i, n, 0, 0)
                    assert r.seq == i | n << 8 and r.tag == ""
                else:
                    assert r == payload(i, n)
        else:
            views: list[bytes] = []
            assert rb.consume(lambda v, out=views: out.append(bytes(v)), raw=True) == len(kept)
            assert views == [payload(i, n) for i, n in kept]
        assert rb.consume() == [] and not rb.pending() and rbobj.bss.dropped == 0
    kept = emit_mixed(rbobj, MIXED)
    batches = [(b.count, b.length) for b in rb.consume_batches()]
    assert batches == [(20, 24), (5, 24), (1, 8), (1, 12), (1, 8), (1, 12), (15, 40), (10, 3),
                       (7, 24)]


def test_callback_that_raises_consumes_its_record(rbobj):
    rb = rbobj.maps["rb"]
    emit(rbobj, 10)
    seen: list[int] = []

    def cb(e):
        seen.append(e.seq)
        if e.seq == 3:
            raise ValueError("stop")

    with pytest.raises(ValueError, match="stop"):
        rb.consume(cb)
    assert seen == [0, 1, 2, 3]
    assert [e.seq for e in rb.consume()] == list(range(4, 10))
    kept = emit_mixed(rbobj, MIXED)
    views: list[bytes] = []

    def raw_cb(v):
        views.append(bytes(v))
        if len(views) == 30:
            raise KeyError("raw")

    with pytest.raises(KeyError):
        rb.consume(raw_cb, raw=True)
    assert views == [payload(i, n) for i, n in kept[:30]]
    assert rb.consume(raw=bytes) == [payload(i, n) for i, n in kept[30:]]


def test_raw_iterator_left_early_consumes_what_it_gave(rbobj):
    rb = rbobj.maps["rb"]
    emit(rbobj, 30)
    it = rb.poll(timeout=1, raw=True)
    first = [struct.unpack_from("<I", next(it))[0] for _ in range(12)]
    it.close()
    assert first == list(range(12))
    assert [e.seq for e in rb.consume()] == list(range(12, 30))
    emit(rbobj, 5)
    it = rb.poll(timeout=1, raw=True)
    next(it)                                  # its run is handed back when it ends
    assert [e.seq for e in rb.consume()] == list(range(30, 35))
    it.close()                                # stale: must not move the position back
    emit(rbobj, 2)
    assert [e.seq for e in rb.consume()] == [35, 36]
