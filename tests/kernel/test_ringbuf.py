"""Ring buffer reader on real records: values, discards, wrap-around, full ring, fds."""

from __future__ import annotations

import os
import selectors

import pytest

import pybpf
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
