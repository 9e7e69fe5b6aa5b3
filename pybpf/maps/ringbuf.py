"""BPF ring buffer reader: mmap'd consumer/producer pages, epoll wake-ups, typed records.

Layout (kernel/bpf/ringbuf.c): page 0 holds ``consumer_pos`` (mapped read-write); page 1
holds ``producer_pos``, followed by the data area mapped *twice* back to back (read-only),
so a record that wraps the end of the ring is contiguous in memory: no copies at the wrap.
Each record: a u32 length with BUSY (bit 31) and DISCARD (bit 30) flags, a u32 page
offset, then the data; records are 8-byte aligned.
"""

from __future__ import annotations

import mmap
import select
import struct
from collections.abc import Callable, Iterator

from .._log import get_logger
from .._record import Frozen, _set
from ..errors import BPFError, MapError
from ..sys import bpf as sysbpf
from ..sys.consts import MapType
from ..sys.perf import PAGE_SIZE
from .base import BaseMap, register_map_class
from .codec import Codec, codec_for, paused_gc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.maps")

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


_LEN = 0x3FFFFFFF     # the length bits of a record header
_PROBE = 16           # headers compared before a run is trusted to be long
_CHUNK = 4096         # records decoded at a time when callbacks run in between
_ALL = 1 << 62


def _run_length(data: memoryview, off: int, n: int, stride: int, length: int) -> int:
    """How many of the ``n`` records at ``off`` (``stride`` apart) are committed records of
    exactly ``length`` bytes: their headers (read as strided u32 views) equal ``length``.

    A short probe comes first, then ever longer stretches, so that records of mixed
    lengths cost a few header reads each and a long uniform run few Python steps.
    """
    step, done, k = stride >> 2, 0, _PROBE
    while done < n:
        m = min(k, n - done)
        a = off + done * stride
        hdrs = data[a:a + m * stride].cast("I")[::step].tolist()
        if hdrs.count(length) != m:
            return done + next(i for i, h in enumerate(hdrs) if h != length)
        done += m
        k <<= 4
    return n


_bytes_structs: dict[tuple[int, int, int], struct.Struct] = {}


def bytes_struct(skip: int, length: int, stride: int) -> struct.Struct:
    """A (cached) Struct reading ``length`` bytes after ``skip`` header bytes as ``bytes``
    from a record of ``stride`` bytes: ``iter_unpack`` copies a run out of a ring."""
    key = (skip, length, stride)
    s = _bytes_structs.get(key)
    if s is None:
        s = _bytes_structs[key] = struct.Struct(f"{skip}x{length}s{stride - skip - length}x")
    return s


class RecordBatch(Frozen):
    """``count`` records of ``length`` bytes copied out of a ring buffer: record ``i``
    starts at byte ``8 + i * stride`` of ``data`` (each keeps its 8-byte ring header;
    ``data`` holds ``count * stride + 8`` bytes).

    ``numpy.frombuffer(b.data, dtype, b.count, offset=8)`` with a dtype of itemsize
    ``stride`` views them all; ``decode(codec)`` gives decoded records.
    """

    __slots__ = ("data", "count", "length", "stride")
    data: bytes
    count: int
    length: int
    stride: int

    def __init__(self, data: bytes, count: int, length: int, stride: int) -> None:
        _set(self, "data", data)
        _set(self, "count", count)
        _set(self, "length", length)
        _set(self, "stride", stride)

    def views(self) -> list[memoryview]:
        mv, n = memoryview(self.data), self.length
        return [mv[o:o + n] for o in range(HDR, HDR + self.count * self.stride, self.stride)]

    def decode(self, codec: Codec) -> list[Any]:
        if self.length < codec.size:
            raise MapError(f"records of {self.length} bytes are shorter than {codec.name} "
                           f"({codec.size} bytes)")
        return codec.decode_many(self.data, self.count, self.stride, HDR)


class RingBuffer(BaseMap):
    """Consume a BPF_MAP_TYPE_RINGBUF map.

    ``poll(timeout)`` returns the records available (waiting up to ``timeout`` seconds for
    the first one; ``None`` waits forever), decoded with the object's event type when it
    is known (``PYBPF_EVENT``), else as ``bytes``. ``raw=True`` gives memoryviews into the
    ring, ``raw=bytes`` each record's data copied as ``bytes`` (the fastest per-record form).

    Records are taken in runs: every committed record between the consumer and producer
    positions, up to the first one still being written (busy); discarded ones are
    skipped. The consumer position is written after each run, so the kernel gets the
    space back while a long drain goes on. A callback that raises consumes the record it
    was given (as libbpf does); the records after it stay in the ring.
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

    # ---- walking the ring ----

    def fileno(self) -> int:
        """The map fd: readable when records are available (selectors, asyncio)."""
        return self.fd

    def _runs(self, limit: int) -> Iterator[tuple[int, int, int, int, int]]:
        """``(position, offset, count, length, stride)`` of each run of at most ``limit``
        committed records of one length, from the consumer position on.

        ``position`` is the run's consumer position (the consumer page holds it when the
        run is yielded), ``offset`` where its first header lies in the data mapping; the
        double mapping keeps a run contiguous across the end of the ring. Resuming hands
        the run back to the kernel; a caller that stops inside a run writes the position
        itself. Discarded records are skipped; a busy one ends the walk.
        """
        data, mask, ring = self._data, self._mask, self.size
        cons_v, prod_v, unpack = self._cons, self._prod_pos, _U32.unpack_from
        cons = cons_v[0]
        while cons < (prod := prod_v[0]):
            while cons < prod:
                off = cons & mask
                hdr = unpack(data, off)[0]
                if hdr & BUSY:
                    cons_v[0] = cons
                    return
                length = hdr & _LEN
                stride = (length + HDR + 7) & ~7
                if hdr & DISCARD:
                    cons += stride
                    continue
                n = min((prod - cons) // stride, ring // stride, limit)
                if n > 1:
                    n = _run_length(data, off, n, stride, length)
                cons_v[0] = cons
                yield cons, off, n, length, stride
                cons += n * stride
        cons_v[0] = cons

    def _stopped(self, pos: int, n: int, stride: int, it: Any) -> None:
        """A callback raised in the run at ``pos``: the records handed out are consumed."""
        self._cons[0] = pos + (n - it.__length_hint__()) * stride

    def _decode_run(self, c: Codec | None, off: int, n: int, length: int,
                    stride: int) -> list[Any]:
        data = self._data
        if c is not None and length >= c.size:
            if n == 1:
                return [c.decode(data, off + HDR)]
            return c.decode_many(data, n, stride, off + HDR)
        if n == 1:
            return [bytes(data[off + HDR:off + HDR + length])]
        return [b for (b,) in bytes_struct(HDR, length, stride).iter_unpack(
            data[off:off + n * stride])]

    def _deliver(self, c: Codec | None, callback: Callable[[Any], Any]) -> int:
        """Decode run by run (``_CHUNK`` records at most) and call ``callback`` for each."""
        count = 0
        for pos, off, n, length, stride in self._runs(_CHUNK):
            it = iter(self._decode_run(c, off, n, length, stride))
            try:
                for r in it:
                    callback(r)
            except BaseException:
                self._stopped(pos, n, stride, it)
                raise
            count += n
        return count

    def _views(self) -> Iterator[memoryview]:
        """The records as views into the ring; leaving the loop early consumes the records
        seen (unless the ring was consumed further meanwhile)."""
        data = self._data
        for pos, off, n, length, stride in self._runs(_CHUNK):
            start = off + HDR
            it = iter(range(start, start + n * stride, stride))
            try:
                for o in it:
                    yield data[o:o + length]
            except GeneratorExit:
                if self._epoll is not None and self._cons[0] == pos:
                    self._stopped(pos, n, stride, it)
                raise

    def _view_each(self, callback: Callable[[Any], Any]) -> int:
        """``_deliver`` for views, its loop written out: a third faster than a list of
        views per run (the raw path's budget is a few hundred ns per record)."""
        data, count = self._data, 0
        for pos, off, n, length, stride in self._runs(_CHUNK):
            start = off + HDR
            it = iter(range(start, start + n * stride, stride))     # its length: progress
            try:
                for a, b in zip(it, range(start + length, start + length + n * stride, stride),
                                strict=True):
                    callback(data[a:b])
            except BaseException:
                self._stopped(pos, n, stride, it)
                raise
            count += n
        return count

    # ---- consuming ----

    def consume_batches(self) -> list[RecordBatch]:
        """Take every available record as packed copies, one ``RecordBatch`` per run of
        equal-length records (one slice copy per run: the fastest way out of the ring).
        Discarded records are dropped; the space is handed back to the kernel at once."""
        self._check_open()
        data = self._data
        # + HDR: the tail after the last record, so every record has a full stride
        return [RecordBatch(bytes(data[off:off + n * stride + HDR]), n, length, stride)
                for _, off, n, length, stride in self._runs(_ALL)]

    def consume(self, callback: Callable[[Any], Any] | None = None, raw: bool | type = False,
                type: str | None = None) -> Any:  # noqa: A002 - the C type to decode as
        """Take what is available now: a list of records, or the count given to ``callback``.

        ``raw=True`` (with a callback) passes memoryviews into the ring, valid only during
        the call; ``raw=bytes`` gives each record's data as ``bytes`` (list or callback);
        ``type`` decodes as that C type ("struct event") this time.
        """
        self._check_open()
        if raw is bytes:
            codec = None
        elif raw:
            if callback is None:
                raise MapError("consume(raw=True) needs a callback (views die on advance)")
            return self._view_each(callback)
        else:
            codec = self._codec if type is None else resolve_event_type(self.btf, type,
                                                                           self.name)[0]
        if callback is not None:
            return self._deliver(codec, callback)
        out: list[Any] = []
        with paused_gc():       # records are acyclic: no collections while thousands pile up
            for _, off, n, length, stride in self._runs(_ALL):
                out += self._decode_run(codec, off, n, length, stride)
        return out

    def _check_open(self) -> None:
        if self._fd.closed:               # the object was closed under us: unmap now
            self.close()
        if getattr(self, "_epoll", None) is None:
            raise MapError(f"ring buffer {self.name}: closed")

    def pending(self) -> bool:
        """Whether records (possibly still being written) are in the ring."""
        return bool(self._cons[0] < self._prod_pos[0])

    def poll(self, timeout: float | None = None, callback: Callable[[Any], Any] | None = None,
             raw: bool | type = False, type: str | None = None) -> Any:  # noqa: A002
        """Wait up to ``timeout`` seconds (None: forever) for records, then take them all.

        Returns the records (a list), or with ``callback`` the number passed to it.
        ``raw=True`` without a callback returns an iterator of memoryviews into the
        ring: each stays valid until the next one is requested; copy with ``bytes()`` to
        keep one (or ask for ``raw=bytes``).
        """
        self._check_open()
        if self._cons[0] >= self._prod_pos[0]:
            self._epoll.poll(-1 if timeout is None else timeout)
        if raw and raw is not bytes and callback is None:
            return self._views()
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
