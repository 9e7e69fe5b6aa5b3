"""Ring buffer record walking over a synthetic ring laid out as the kernel does.

The kernel cannot be made to leave a record busy (the verifier forces every reservation to
be submitted or discarded before the program ends), so the busy/discard bits are checked
here on a bytearray holding the consumer/producer positions and a doubly mapped data area.
Real records are checked in tests/kernel/test_ringbuf.py.
"""

from __future__ import annotations

import struct
import types

from pybpf.maps.ringbuf import BUSY, DISCARD, RingBuffer, _run_length

SIZE = 256


class Ring:
    """A RingBuffer reading bytearrays; ``put`` writes records at the producer position
    (into both copies of the data area, as the kernel's double mapping shows them)."""

    def __init__(self) -> None:
        self.data = bytearray(2 * SIZE)
        self.cons = bytearray(8)
        self.prod = bytearray(8)
        rb = object.__new__(RingBuffer)
        rb.name, rb.size, rb._mask = "synthetic", SIZE, SIZE - 1
        rb._fd = types.SimpleNamespace(closed=False)
        rb._epoll = object()
        rb._codec = None
        rb._data = memoryview(self.data)
        rb._cons = memoryview(self.cons).cast("Q")
        rb._prod_pos = memoryview(self.prod).cast("Q")
        self.rb = rb
        self.hdrs: list[int] = []

    def put(self, body: bytes, flags: int = 0) -> None:
        pos = self.rb._prod_pos[0]
        stride = (len(body) + 15) & ~7
        rec = struct.pack("<II", len(body) | flags, 0) + body + bytes(stride - 8 - len(body))
        for base in (0, SIZE):
            for k, b in enumerate(rec):
                self.data[base + (pos + k) % SIZE] = b
        self.hdrs.append(pos % SIZE)
        self.rb._prod_pos[0] = pos + stride

    def commit(self, i: int) -> None:
        """Clear the busy bit of the ``i``-th record put."""
        off = self.hdrs[i]
        (h,) = struct.unpack_from("<I", self.data, off)
        for base in (0, SIZE):
            struct.pack_into("<I", self.data, base + off, h & ~BUSY)


def test_busy_record_stops_the_walk_and_discards_are_skipped():
    r = Ring()
    r.put(b"a" * 4)
    r.put(b"x" * 4, DISCARD)
    r.put(b"b" * 4)
    r.put(b"c" * 4, BUSY)                     # still being written
    r.put(b"d" * 4)                           # committed, but behind the busy one
    assert r.rb.consume() == [b"aaaa", b"bbbb"]
    assert r.rb._cons[0] == 3 * 16            # up to the busy record, the discard passed
    assert r.rb.consume() == [] and r.rb.pending()
    r.commit(3)
    assert r.rb.consume() == [b"cccc", b"dddd"]
    assert r.rb._cons[0] == r.rb._prod_pos[0] == 5 * 16 and not r.rb.pending()


def test_runs_wrap_the_ring_end_and_stop_at_busy():
    r = Ring()
    for k in range(5):                        # 5 x 32 B strides, then 7 more: across the end
        r.put(bytes([k]) * 20)
    assert r.rb.consume(raw=bytes) == [bytes([k]) * 20 for k in range(5)]
    for k in range(7):
        r.put(bytes([k]) * 20, BUSY if k == 5 else 0)
    runs = [(n, length) for _, _, n, length, _ in r.rb._runs(1 << 30)]
    assert runs == [(5, 20)]                  # one run, crossing the end, up to the busy one
    assert r.rb._cons[0] == 10 * 32
    r.commit(5 + 5)
    views: list[bytes] = []
    assert r.rb.consume(lambda v: views.append(bytes(v)), raw=True) == 2
    assert views == [bytes([5]) * 20, bytes([6]) * 20]
    assert r.rb._cons[0] == r.rb._prod_pos[0] == 12 * 32


def test_run_length_probe():
    hdr = struct.pack("<II", 24, 0) + bytes(24)
    buf = memoryview(bytearray(hdr * 40 + struct.pack("<II", 24 | DISCARD, 0) + bytes(24)
                               + hdr * 3))
    assert _run_length(buf, 0, 44, 32, 24) == 40
    assert _run_length(buf, 41 * 32, 3, 32, 24) == 3
    assert _run_length(buf, 0, 10, 32, 24) == 10
    assert _run_length(buf, 0, 1, 32, 24) == 1
