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
from typing import Any

from ..errors import MapError
from ..sys import bpf as sysbpf
from ..sys.consts import MapType
from ..sys.perf import PAGE_SIZE
from .base import BaseMap, register_map_class
from .codec import Codec, codec_for

BUSY = 1 << 31
DISCARD = 1 << 30
HDR = 8
_U32 = struct.Struct("<I")


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
        self._codec: Codec | None = None
        if spec.value_type_id and self.btf is not None:
            self._codec = codec_for(self.btf, spec.value_type_id, self.btf.size_of(spec.value_type_id))

    # ---- event type ----

    @property
    def event_type(self) -> str | None:
        return self.btf.type_name(self.spec.value_type_id) if self._codec else None

    @event_type.setter
    def event_type(self, cname: str) -> None:
        """Decode records as the C type ``cname`` ("struct event") of the object's BTF."""
        from ..elf import _type_by_c_name
        if self.btf is None:
            raise MapError(f"ring buffer {self.name}: the object has no BTF to decode with")
        tid = _type_by_c_name(self.btf, cname)
        self._codec = codec_for(self.btf, tid, self.btf.size_of(tid))

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

    def _drain_decoded(self) -> list[Any]:
        """Decode every available record in one tight loop (consumer position written once
        per batch: the kernel sees the space free when the batch is taken)."""
        c = self._codec
        decode = c.decode if c is not None else None
        size = c.size if c is not None else 0
        data, mask, unpack = self._data, self._mask, _U32.unpack_from
        out: list[Any] = []
        put = out.append
        cons = self._cons[0]
        prod = self._prod_pos[0]
        while cons < prod:
            while cons < prod:
                off = cons & mask
                hdr = unpack(data, off)[0]
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

    def consume(self, callback: Callable[[Any], Any] | None = None, raw: bool = False) -> Any:
        """Take what is available now: a list of records, or the count given to ``callback``."""
        if raw:
            if callback is None:
                raise MapError("consume(raw=True) needs a callback (views die on advance)")
            n = 0
            for rec in self._records():
                callback(rec)
                n += 1
            return n
        records = self._drain_decoded()
        if callback is None:
            return records
        for r in records:
            callback(r)
        return len(records)

    def poll(self, timeout: float | None = None, callback: Callable[[Any], Any] | None = None,
             raw: bool = False) -> Any:
        """Wait up to ``timeout`` seconds for records, then take every available one.

        Returns the records (a list; with ``raw=True`` an iterator of memoryviews), or,
        with ``callback``, the number of records passed to it.
        """
        if self._cons[0] >= self._prod_pos[0]:
            self._epoll.poll(-1 if timeout is None else timeout)
        if raw and callback is None:
            return self._records()
        return self.consume(callback, raw)

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
        self._rbs[rb.fd] = (rb, callback)
        self._epoll.register(rb.fd, select.EPOLLIN)

    def poll(self, timeout: float | None = None) -> int:
        """Wait for any ring buffer, then drain every one; returns the records handled."""
        n = sum(rb.consume(cb) for rb, cb in self._rbs.values())
        if n:
            return n
        self._epoll.poll(-1 if timeout is None else timeout)
        return sum(rb.consume(cb) for rb, cb in self._rbs.values())

    def close(self) -> None:
        self._epoll.close()


register_map_class(MapType.RINGBUF, RingBuffer)
