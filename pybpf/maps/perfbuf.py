"""BPF perf buffer reader: one BPF_OUTPUT perf event and mmap'd ring per online CPU.

Each CPU's ring is ``1 + pages`` pages: the control page (``struct perf_event_mmap_page``:
``data_head`` at byte 1024, ``data_tail`` at 1032, ``data_offset``/``data_size`` at 1040/1048
on kernels since 4.1, else the data starts at page 1) and a power-of-two data area. Records
are ``struct perf_event_header`` (u32 type, u16 misc, u16 size) plus a body; a
``PERF_RECORD_SAMPLE`` with ``PERF_SAMPLE_RAW`` carries a u32 size and the bytes the BPF
program gave ``bpf_perf_event_output`` (padded so the record stays 8-byte aligned), a
``PERF_RECORD_LOST`` the number of samples dropped because the ring was full. Records may
wrap the end of the data area: those are reassembled into one buffer.
"""

from __future__ import annotations

import mmap
import select
import struct
from collections.abc import Callable, Iterator

from .._log import get_logger
from ..errors import MapError, SyscallError
from ..spec import MapSpec
from ..sys.consts import (
    PERF_RECORD_LOST,
    PERF_RECORD_SAMPLE,
    PERF_SAMPLE_RAW,
    MapType,
    PerfSwConfig,
    PerfType,
)
from ..sys.cpus import online_cpus
from ..sys.fd import FD
from ..sys.perf import PAGE_SIZE, perf_enable, perf_event_open
from .base import BaseMap, register_map_class
from .codec import Codec, paused_gc
from .ringbuf import bytes_struct, event_codec, event_type_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.maps")

__all__ = ["PerfBuffer"]

_HDR = struct.Struct("<IHH")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_HEAD, _TAIL, _DOFF, _DSIZE = 128, 129, 130, 131      # u64 indexes in the control page
DEFAULT_PAGES = 64
_MIN_RUN = 4          # samples: below this a run is decoded one by one


def _sample_run(data: memoryview, off: int, n: int, rsize: int, raw_n: int) -> int:
    """How many of the ``n`` records at ``off`` (``rsize`` apart) are samples of ``rsize``
    bytes carrying ``raw_n`` bytes: type, record size and raw size read as strided views,
    a short stretch first (mixed records cost a few reads each), then longer ones."""
    done, k = 0, 16
    while done < n:
        m = min(k, n - done)
        region = data[off + done * rsize:off + (done + m) * rsize]
        w = region.cast("I")
        typs, raws = w[::rsize >> 2].tolist(), w[2::rsize >> 2].tolist()
        sizes = region.cast("H")[3::rsize >> 1].tolist()
        if typs.count(PERF_RECORD_SAMPLE) != m or sizes.count(rsize) != m or \
                raws.count(raw_n) != m:
            return done + next(i for i in range(m) if (typs[i], sizes[i], raws[i]) !=
                               (PERF_RECORD_SAMPLE, rsize, raw_n))
        done += m
        k <<= 4
    return n


class _CpuRing:
    """One CPU's perf event fd and its mapped ring."""

    __slots__ = ("cpu", "fd", "mm", "meta", "data", "size", "mask")

    def __init__(self, cpu: int, fd: FD, pages: int) -> None:
        self.cpu, self.fd = cpu, fd
        length = (1 + pages) * PAGE_SIZE
        try:
            self.mm = mmap.mmap(int(fd), length, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError as e:
            raise SyscallError(f"mmap perf buffer ring of cpu {cpu} ({pages} pages)",
                               e.errno or 0) from None
        self.meta = memoryview(self.mm).cast("Q")
        doff, dsize = self.meta[_DOFF], self.meta[_DSIZE]
        if not dsize:                       # kernels before 4.1: data follows the first page
            doff, dsize = PAGE_SIZE, pages * PAGE_SIZE
        self.data = memoryview(self.mm)[doff:doff + dsize]
        self.size, self.mask = dsize, dsize - 1

    def pending(self) -> bool:
        return self.meta[_HEAD] != self.meta[_TAIL]

    def close(self) -> None:
        self.data.release()
        self.meta.release()
        self.mm.close()
        self.fd.close()


class PerfBuffer(BaseMap):
    """Consume a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (``bpf_perf_event_output``).

    The per-CPU rings are opened and installed in the map when the map is opened, so no
    event emitted after a program is attached is missed. ``poll(timeout)`` returns the
    available records decoded with the object's event type (``PYBPF_EVENT``), else as
    ``bytes`` (the sample's raw data, padded to keep 8-byte alignment). Samples the kernel
    dropped on a full ring are counted in ``lost`` and reported to ``lost_callback(cpu, n)``.
    ``reopen(pages)`` replaces the rings (``pages``: a power of two, per CPU).
    """

    def __init__(self, fd: Any, spec: MapSpec, btf: Any = None, pages: int = DEFAULT_PAGES,
                 lost_callback: Callable[[int, int], Any] | None = None) -> None:
        super().__init__(fd, spec, btf)
        self.lost = 0
        self.lost_callback = lost_callback
        self._ev: Codec | None = event_codec(self.btf, spec.value_type_id)
        self._ev_type = spec.value_type_id if self._ev is not None else 0
        self._rings: list[_CpuRing] = []
        self._epoll: select.epoll | None = None
        self.pages = 0
        self.reopen(pages)

    def _codec(self, type_id: int, size: int, what: str) -> Codec | None:
        # the value is a perf event fd; the declared value type names the event record
        return None if what == "value" else super()._codec(type_id, size, what)

    # ---- rings ----

    def reopen(self, pages: int = DEFAULT_PAGES) -> None:
        """(Re)create the per-CPU rings with ``pages`` data pages each; pending records
        of the old rings are dropped."""
        if pages < 1 or pages & (pages - 1):
            raise MapError(f"perf buffer {self.name}: pages must be a power of two, not {pages}")
        self._close_rings()
        cpus = [c for c in online_cpus() if c < self.max_entries or not self.max_entries]
        ep = select.epoll()
        rings: list[_CpuRing] = []
        try:
            for cpu in cpus:
                pfd = perf_event_open(PerfType.SOFTWARE, PerfSwConfig.BPF_OUTPUT, pid=-1,
                                      cpu=cpu, sample_period=1, sample_type=PERF_SAMPLE_RAW,
                                      wakeup_events=1, op=f"open BPF_OUTPUT perf event on cpu {cpu}")
                try:
                    ring = _CpuRing(cpu, pfd, pages)
                except BaseException:
                    pfd.close()
                    raise
                rings.append(ring)
                self.update_raw(_U32.pack(cpu), _U32.pack(int(pfd)))
                perf_enable(int(pfd))
                ep.register(int(pfd), select.EPOLLIN)
        except BaseException:
            for r in rings:
                r.close()
            ep.close()
            raise
        self._rings, self._epoll, self.pages = rings, ep, pages
        self._by_fd = {int(r.fd): r for r in rings}

    def _close_rings(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        for r in self._rings:
            r.close()
        self._rings = []

    @property
    def cpus(self) -> list[int]:
        """The CPUs with a ring."""
        return [r.cpu for r in self._rings]

    # ---- event type ----

    @property
    def event_type(self) -> str | None:
        """The C type records decode as ("struct event"), or None (bytes)."""
        return event_type_name(self.btf, self._ev_type) if self._ev is not None else None

    @event_type.setter
    def event_type(self, cname: str | None) -> None:
        self._ev, self._ev_type = _resolve(self, cname)

    # ---- consuming ----

    def fileno(self) -> int:
        """An epoll fd readable when any CPU's ring has records (selectors, asyncio).

        Register it before records arrive, or ``consume()`` once after registering: the
        kernel reports a perf ring readable once per wake-up.
        """
        self._check_open()
        return self._epoll.fileno()

    def _drain(self, ring: _CpuRing, out: list[Any], codec: Codec | None) -> None:
        """Append the ring's samples to ``out``, decoded with ``codec`` (None: bytes).

        Runs of samples of one size that do not cross the ring end are checked with
        strided header views and decoded in one ``decode_many`` (or ``iter_unpack``).
        """
        meta, data, size, mask = ring.meta, ring.data, ring.size, ring.mask
        unpack_hdr, u32, u64 = _HDR.unpack_from, _U32.unpack_from, _U64.unpack_from
        decode = codec.decode if codec is not None else None
        esize = codec.size if codec is not None else 0
        put = out.append
        tail = meta[_TAIL]
        head = meta[_HEAD]
        while tail < head:
            while tail < head:
                off = tail & mask
                typ, _misc, rsize = unpack_hdr(data, off)
                if rsize < 8:
                    raise MapError(f"perf buffer {self.name}: corrupt record header on cpu "
                                   f"{ring.cpu} (size {rsize})")
                if typ == PERF_RECORD_SAMPLE and rsize >= 16 and not rsize & 7:
                    # decode_many reads whole strides from +12: keep the last one inside
                    n = min(head - tail, size - off - 12) // rsize
                    raw_n = u32(data, off + 8)[0] if n >= _MIN_RUN else rsize
                    if 12 + raw_n <= rsize:
                        n = _sample_run(data, off, n, rsize, raw_n)
                        if n >= _MIN_RUN:
                            if decode is not None and raw_n >= esize:
                                out += codec.decode_many(data, n, rsize, off + 12)  # type: ignore[union-attr]
                            else:
                                out += [b for (b,) in bytes_struct(12, raw_n, rsize).iter_unpack(
                                    data[off:off + n * rsize])]
                            tail += n * rsize
                            continue
                if off + rsize <= size:
                    buf, base = data, off
                else:                               # wraps the ring end: reassemble
                    buf = bytes(data[off:]) + bytes(data[:off + rsize - size])
                    base = 0
                tail += rsize
                if typ == PERF_RECORD_SAMPLE:
                    n = u32(buf, base + 8)[0]
                    if decode is not None and n >= esize:
                        put(decode(buf, base + 12))
                    else:
                        put(bytes(buf[base + 12:base + 12 + n]))
                elif typ == PERF_RECORD_LOST:
                    self._on_lost(ring.cpu, u64(buf, base + 16)[0])
            meta[_TAIL] = tail
            head = meta[_HEAD]

    def _raw_records(self) -> Iterator[memoryview]:
        for ring in self._rings:
            meta, data, size, mask = ring.meta, ring.data, ring.size, ring.mask
            tail, head = meta[_TAIL], meta[_HEAD]
            while tail < head:
                off = tail & mask
                typ, _misc, rsize = _HDR.unpack_from(data, off)
                if rsize < 8:
                    raise MapError(f"perf buffer {self.name}: corrupt record header on cpu "
                                   f"{ring.cpu} (size {rsize})")
                if off + rsize <= size:
                    rec = data[off:off + rsize]
                else:
                    rec = memoryview(bytes(data[off:]) + bytes(data[:off + rsize - size]))
                if typ == PERF_RECORD_SAMPLE:
                    n = _U32.unpack_from(rec, 8)[0]
                    yield rec[12:12 + n]
                elif typ == PERF_RECORD_LOST:
                    self._on_lost(ring.cpu, _U64.unpack_from(rec, 16)[0])
                tail += rsize
                meta[_TAIL] = tail
                if tail >= head:
                    head = meta[_HEAD]

    def _check_open(self) -> None:
        if self._fd.closed:               # the object was closed under us: free the rings
            self._close_rings()
        if self._epoll is None:
            raise MapError(f"perf buffer {self.name}: closed")

    def _on_lost(self, cpu: int, n: int) -> None:
        self.lost += n
        log.debug("perf buffer %s: %d samples lost on cpu %d", self.name, n, cpu)
        if self.lost_callback is not None:
            self.lost_callback(cpu, n)

    def pending(self) -> bool:
        """Whether any ring holds unread records."""
        return any(r.pending() for r in self._rings)

    def consume(self, callback: Callable[[Any], Any] | None = None, raw: bool | type = False,
                type: str | None = None) -> Any:  # noqa: A002 - the C type to decode as
        """Take what is available now: a list of records, or the count given to
        ``callback``. ``raw=True`` (with a callback) passes memoryviews of each sample's
        data, valid only during the call; ``raw=bytes`` gives the data as ``bytes``.
        ``type`` decodes as that C type this time."""
        self._check_open()
        if raw and raw is not bytes:
            if callback is None:
                raise MapError("consume(raw=True) needs a callback (views die on advance)")
            n = 0
            for rec in self._raw_records():
                callback(rec)
                n += 1
            return n
        codec = None if raw else self._ev if type is None else _resolve(self, type)[0]
        out: list[Any] = []
        with paused_gc():       # samples are acyclic: no collections while thousands pile up
            for ring in self._rings:
                if ring.pending():
                    self._drain(ring, out, codec)
        if callback is None:
            return out
        for r in out:
            callback(r)
        return len(out)

    def poll(self, timeout: float | None = None, callback: Callable[[Any], Any] | None = None,
             raw: bool | type = False, type: str | None = None) -> Any:  # noqa: A002
        """Wait up to ``timeout`` seconds (None: forever) for records, then take them all.

        Returns the records (a list; ``raw=True`` without callback: an iterator of
        memoryviews, each valid until the next is requested), or with ``callback`` the
        number of records passed to it.
        """
        self._check_open()
        if not self.pending():
            self._epoll.poll(-1 if timeout is None else timeout)
        if raw and raw is not bytes and callback is None:
            return self._raw_records()
        return self.consume(callback, raw, type)

    def close(self) -> None:
        self._close_rings()
        super().close()


def _resolve(m: PerfBuffer, cname: str | None) -> tuple[Codec | None, int]:
    from .ringbuf import resolve_event_type
    return resolve_event_type(m.btf, cname, m.name)


register_map_class(MapType.PERF_EVENT_ARRAY, PerfBuffer)
