"""BPF ring buffer reader: mmap'd consumer/producer pages, epoll wake-ups, typed records.

Layout (kernel/bpf/ringbuf.c): page 0 holds ``consumer_pos`` (mapped read-write); page 1
holds ``producer_pos``, followed by the data area mapped *twice* back to back (read-only),
so a record that wraps the end of the ring is contiguous in memory: no copies at the wrap.
Each record: a u32 length with BUSY (bit 31) and DISCARD (bit 30) flags, a u32 page
offset, then the data; records are 8-byte aligned.
"""

from __future__ import annotations

import logging
import mmap
import select
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import BPFError, MapError
from ..sys import bpf as sysbpf
from ..sys.consts import MapType
from ..sys.perf import PAGE_SIZE
from .base import BaseMap, register_map_class
from .codec import Codec, codec_for

log = logging.getLogger("pybpf.maps")

__all__ = ["RecordBatch", "RingBuffer", "RingBufferPoller"]

BUSY = 1 << 31
DISCARD = 1 << 30
HDR = 8
_U32 = struct.Struct("<I")


def event_codec(btf: Any, type_id: int) -> Codec | None:
    """The codec for event record type ``type_id`` of ``btf`` (None: records stay bytes)."""
    if not type_id or btf is None:
        return None
    try:
        return codec_for(btf, type_id, btf.size_of(type_id))
    except BPFError as e:
        log.warning("cannot decode event type [%d] (%s); records are bytes", type_id, e)
        return None


def event_type_name(btf: Any, type_id: int) -> str:
    """The C name of an event type ("struct event")."""
    return str(btf.type_name(type_id))


def resolve_event_type(btf: Any, cname: str | None, map_name: str) -> tuple[Codec | None, int]:
    """(codec, type id) for the C type ``cname`` of ``btf``; (None, 0) for None (bytes)."""
    if cname is None:
        return None, 0
    from ..elf import _type_by_c_name
    if btf is None:
        raise MapError(f"map {map_name}: the object has no BTF to decode {cname!r} with")
    try:
        tid = _type_by_c_name(btf, cname)
    except BPFError as e:
        raise MapError(f"map {map_name}: no type {cname!r} in the object's BTF ({e})") from None
    return codec_for(btf, tid, btf.size_of(tid)), tid


_MIN_RUN = 8          # records: below this the bulk path costs more than it saves


def _run_length(data: memoryview, off: int, n: int, stride: int, size: int) -> int:
    """How many of the ``n`` records at ``off`` (``stride`` apart) are committed records of
    exactly ``size`` bytes: their headers, read as one strided view, equal ``size``."""
    hdrs = data[off:off + n * stride].cast("I")[::stride >> 2].tolist()
    if hdrs.count(size) == n:
        return n
    for i, h in enumerate(hdrs):
        if h != size:
            return i
    return n  # pragma: no cover - count() said one differs


@dataclass(frozen=True, slots=True)
class RecordBatch:
    """``count`` records of ``length`` bytes copied out of a ring buffer: record ``i``
    starts at byte ``8 + i * stride`` of ``data`` (each keeps its 8-byte ring header;
    ``data`` holds ``count * stride + 8`` bytes).

    ``numpy.frombuffer(b.data, dtype, b.count, offset=8)`` with a dtype of itemsize
    ``stride`` views them all; ``decode(codec)`` gives decoded records.
    """

    data: bytes
    count: int
    length: int
    stride: int

    def views(self) -> list[memoryview]:
        mv = memoryview(self.data)
        return [mv[o:o + self.length] for o in range(HDR, HDR + self.count * self.stride,
                                                      self.stride)]

    def decode(self, codec: Codec) -> list[Any]:
        if self.length < codec.size:
            raise MapError(f"records of {self.length} bytes are shorter than {codec.name} "
                           f"({codec.size} bytes)")
        return codec.decode_many(self.data, self.count, self.stride, HDR)


class RingBuffer(BaseMap):
    """Consume a BPF_MAP_TYPE_RINGBUF map.

    ``poll(timeout)`` returns the records available (waiting up to ``timeout`` seconds for
    the first one; ``None`` waits forever), decoded with the object's event type when it
    is known (``PYBPF_EVENT``), else as ``bytes``. ``raw=True`` yields memoryviews into the
    ring that stay valid only until the next record is requested.
    """

    def __init__(self, fd: Any, spec: Any, btf: Any = None) -> None:
        super().__init__(fd, spec, btf)
        size = sysbpf.obj_info(self.fd, "bpf_map_info").max_entries
        self.size, self._mask = size, size - 1
        try:
            self._cons_map = mmap.mmap(self.fd, PAGE_SIZE, mmap.MAP_SHARED,
                                       mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            self._prod_map = mmap.mmap(self.fd, PAGE_SIZE + 2 * size, mmap.MAP_SHARED,
                                       mmap.PROT_READ, offset=PAGE_SIZE)
        except OSError as e:
            raise MapError(f"ring buffer {self.name}: mmap failed: {e.strerror}", e.errno) from e
        self._cons = memoryview(self._cons_map).cast("Q")
        self._prod = memoryview(self._prod_map)
        self._prod_pos = self._prod[:8].cast("Q")
        self._data = self._prod[PAGE_SIZE:]
        self._epoll = select.epoll()
        self._epoll.register(self.fd, select.EPOLLIN)
        self._codec: Codec | None = event_codec(self.btf, spec.value_type_id)
        self._ev_type = spec.value_type_id if self._codec is not None else 0

    # ---- event type ----

    @property
    def event_type(self) -> str | None:
        """The C type records decode as ("struct event"), or None (bytes)."""
        return event_type_name(self.btf, self._ev_type) if self._codec is not None else None

    @event_type.setter
    def event_type(self, cname: str | None) -> None:
        """Decode records as the C type ``cname`` of the object's BTF (None: bytes)."""
        self._codec, self._ev_type = resolve_event_type(self.btf, cname, self.name)

    # ---- consuming ----

    def fileno(self) -> int:
        """The map fd: readable when records are available (selectors, asyncio)."""
        return self.fd

    def _records(self) -> Iterator[memoryview]:
        """Available records as views; the consumer position advances as each is taken."""
        cons = self._cons[0]
        data, mask, cons_view = self._data, self._mask, self._cons
        while True:
            prod = self._prod_pos[0]
            if cons >= prod:
                return
            while cons < prod:
                off = cons & mask
                (hdr,) = _U32.unpack_from(data, off)
                if hdr & BUSY:
                    return
                length = hdr & ~(BUSY | DISCARD)
                nxt = cons + ((length + HDR + 7) & ~7)
                if not hdr & DISCARD:
                    yield data[off + HDR:off + HDR + length]
                cons = nxt
                cons_view[0] = cons

    def _drain_decoded(self, c: Codec | None) -> list[Any]:
        """Decode every available record (consumer position written once per batch: the
        kernel sees the space free when the batch is taken).

        Runs of records of exactly the event type's size are checked and decoded in bulk:
        their headers are read as one strided u32 view, the records with the codec's
        ``decode_many`` (one ``iter_unpack``); the double mapping makes a run contiguous
        even across the end of the ring.
        """
        decode = c.decode if c is not None else None
        size = c.size if c is not None else -1
        stride = (size + HDR + 7) & ~7
        max_run = self.size // stride if c is not None else 0
        data, mask, unpack = self._data, self._mask, _U32.unpack_from
        out: list[Any] = []
        put = out.append
        cons = self._cons[0]
        prod = self._prod_pos[0]
        while cons < prod:
            while cons < prod:
                off = cons & mask
                hdr = unpack(data, off)[0]
                if hdr == size:
                    n = min((prod - cons) // stride, max_run)
                    if n >= _MIN_RUN:
                        n = _run_length(data, off, n, stride, size)
                        out += c.decode_many(data, n, stride, off + HDR)  # type: ignore[union-attr]
                        cons += n * stride
                        continue
                if hdr & BUSY:
                    self._cons[0] = cons
                    return out
                length = hdr & 0x3FFFFFFF
                if not hdr & DISCARD:
                    if decode is not None and length >= size:
                        put(decode(data, off + HDR))
                    else:
                        put(bytes(data[off + HDR:off + HDR + length]))
                cons += (length + HDR + 7) & ~7
            self._cons[0] = cons
            prod = self._prod_pos[0]
        return out

    def consume_batches(self) -> list[RecordBatch]:
        """Take every available record as packed copies, one ``RecordBatch`` per run of
        equal-length records (one slice copy per run: the fastest way out of the ring).
        Discarded records are dropped; the space is handed back to the kernel at once."""
        self._check_open()
        data, mask, unpack = self._data, self._mask, _U32.unpack_from
        out: list[RecordBatch] = []
        cons = self._cons[0]
        busy = False
        while not busy and cons < (prod := self._prod_pos[0]):
            while cons < prod:
                off = cons & mask
                hdr = unpack(data, off)[0]
                if hdr & BUSY:
                    busy = True
                    break
                length = hdr & 0x3FFFFFFF
                stride = (length + HDR + 7) & ~7
                if hdr & DISCARD:
                    cons += stride
                    continue
                n = min((prod - cons) // stride, self.size // stride)
                n = _run_length(data, off, n, stride, length) if n > 1 else 1
                # + HDR: the tail after the last record, so every record has a full stride
                out.append(RecordBatch(bytes(data[off:off + n * stride + HDR]), n, length,
                                       stride))
                cons += n * stride
            self._cons[0] = cons
        return out

    def consume(self, callback: Callable[[Any], Any] | None = None, raw: bool = False,
                type: str | None = None) -> Any:  # noqa: A002 - the C type to decode as
        """Take what is available now: a list of records, or the count given to ``callback``.

        ``raw=True`` (with a callback) passes memoryviews into the ring, valid only during
        the call; ``type`` decodes as that C type ("struct event") this time.
        """
        self._check_open()
        if raw:
            if callback is None:
                raise MapError("consume(raw=True) needs a callback (views die on advance)")
            n = 0
            for rec in self._records():
                callback(rec)
                n += 1
            return n
        codec = self._codec if type is None else resolve_event_type(self.btf, type, self.name)[0]
        records = self._drain_decoded(codec)
        if callback is None:
            return records
        for r in records:
            callback(r)
        return len(records)

    def _check_open(self) -> None:
        if self._fd.closed:               # the object was closed under us: unmap now
            self.close()
        if getattr(self, "_epoll", None) is None:
            raise MapError(f"ring buffer {self.name}: closed")

    def pending(self) -> bool:
        """Whether records (possibly still being written) are in the ring."""
        return bool(self._cons[0] < self._prod_pos[0])

    def poll(self, timeout: float | None = None, callback: Callable[[Any], Any] | None = None,
             raw: bool = False, type: str | None = None) -> Any:  # noqa: A002
        """Wait up to ``timeout`` seconds (None: forever) for records, then take them all.

        Returns the records (a list, iterable), or with ``callback`` the number passed to
        it. ``raw=True`` without a callback returns an iterator of memoryviews into the
        ring: each is valid only until the next one is requested (the space is handed
        back to the kernel then); copy with ``bytes()`` to keep one.
        """
        self._check_open()
        if self._cons[0] >= self._prod_pos[0]:
            self._epoll.poll(-1 if timeout is None else timeout)
        if raw and callback is None:
            return self._records()
        return self.consume(callback, raw, type)

    def close(self) -> None:
        if getattr(self, "_epoll", None) is not None:
            self._epoll.close()
            for v in (self._data, self._prod_pos, self._prod, self._cons):
                v.release()
            self._cons_map.close()
            self._prod_map.close()
            self._epoll = None  # type: ignore[assignment]
        super().close()


class RingBufferPoller:
    """Several ring buffers in one epoll: ``add(rb, callback)``, then ``poll(timeout)``."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._rbs: dict[int, tuple[RingBuffer, Callable[[Any], Any]]] = {}

    def add(self, rb: RingBuffer, callback: Callable[[Any], Any]) -> None:
        """Drain ``rb`` into ``callback`` (one decoded record per call) on each poll."""
        self._rbs[rb.fd] = (rb, callback)
        self._epoll.register(rb.fd, select.EPOLLIN)

    def poll(self, timeout: float | None = None) -> int:
        """Wait for any ring buffer, then drain every one; returns the records handled."""
        n = sum(rb.consume(cb) for rb, cb in self._rbs.values())
        if n:
            return n
        self._epoll.poll(-1 if timeout is None else timeout)
        return sum(rb.consume(cb) for rb, cb in self._rbs.values())

    def fileno(self) -> int:
        """The epoll fd: readable when any ring buffer has records."""
        return self._epoll.fileno()

    def close(self) -> None:
        self._epoll.close()

    def __enter__(self) -> RingBufferPoller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


register_map_class(MapType.RINGBUF, RingBuffer)
