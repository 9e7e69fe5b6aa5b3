"""Live maps: the fd-holding base class, the dict-like ``Map`` and the type registry.

``open_map(fd, spec, btf)`` picks the class for ``spec.type`` from a registry; modules for
special map types (ring buffer, perf buffer, stack traces) add theirs with
``register_map_class``. Keys and values go through the codecs of ``pybpf.maps.codec``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping, ValuesView

from .._log import get_logger
from ..errors import BPFError, MapError, SyscallError
from ..spec import MapSpec
from ..sys import bpf as sysbpf
from ..sys.cdefs import ffi
from ..sys.consts import PROT_READ, PROT_WRITE, Cmd, MapFlags, MapType, UpdateFlags
from ..sys.fd import FD
from .codec import Codec, codec_for, paused_gc, raw_codec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..btf.types import BTF

log = get_logger("pybpf.maps")

__all__ = ["BaseMap", "Map", "map_class_for", "open_map", "register_map_class"]

ENOTSUPP = 524                      # kernel-internal "not supported", leaks to user space
_UNSUPPORTED = frozenset({errno.EINVAL, ENOTSUPP, errno.EOPNOTSUPP})
_BATCH_BYTES = 8 << 20              # bound on one batch's key+value buffers
_BATCH_MAX = 1 << 16                # entries per batch call


# ---------------------------------------------------------------- registry

_REGISTRY: dict[int, type[BaseMap]] = {}


def register_map_class(map_type: MapType | int, cls: type[BaseMap]) -> None:
    """Make ``open_map`` use ``cls`` (a ``BaseMap`` subclass) for ``map_type``."""
    _REGISTRY[int(map_type)] = cls


def map_class_for(map_type: MapType | int) -> type[BaseMap]:
    """The class ``open_map`` uses for ``map_type`` (``Map`` when none is registered)."""
    if not _REGISTRY.get(int(MapType.HASH)):
        from . import types as _types  # noqa: F401 - registers the built-in classes
    if int(map_type) in (MapType.RINGBUF, MapType.PERF_EVENT_ARRAY, MapType.STACK_TRACE,
                         MapType.USER_RINGBUF) and int(map_type) not in _REGISTRY:
        _load_optional(int(map_type))
    return _REGISTRY.get(int(map_type), Map)


def _load_optional(map_type: int) -> None:
    """Import the module that registers the reader for a special map type, if present."""
    mod = {MapType.RINGBUF: "ringbuf", MapType.USER_RINGBUF: "ringbuf",
           MapType.PERF_EVENT_ARRAY: "perfbuf", MapType.STACK_TRACE: "stack"}[MapType(map_type)]
    try:
        __import__(f"{__package__}.{mod}")
    except ImportError as e:
        log.debug("no %s module for map type %d: %s", mod, map_type, e)


def open_map(fd: FD | int, spec: MapSpec, btf: BTF | None = None) -> BaseMap:
    """Wrap a map fd in the class registered for ``spec.type``; takes ownership of ``fd``."""
    return map_class_for(spec.type)(fd, spec, btf)


# ---------------------------------------------------------------- helpers

def _as_fd(fd: FD | int) -> FD:
    return fd if isinstance(fd, FD) else FD(int(fd), "map")


def _round8(n: int) -> int:
    return (n + 7) & ~7


def possible_cpu_count() -> int:
    """Number of possible CPUs: per-CPU map values hold one slot per possible CPU."""
    from ..sys.cpus import possible_cpus
    return len(possible_cpus())


def _buf(size: int) -> Any:
    return ffi.new("char[]", max(size, 1))


def _from_bytes(data: bytes) -> Any:
    """A ``char[]`` cdata over ``data`` (kept alive by the cdata); NULL for empty data."""
    return ffi.from_buffer("char[]", data) if data else ffi.NULL


# ---------------------------------------------------------------- base

class BaseMap:
    """A map fd plus its spec and codecs. ``close()`` or ``with`` releases the fd.

    Attributes: ``fd`` (int), ``name``, ``type``, ``key_size``, ``value_size``,
    ``max_entries``, ``flags``, ``spec``, ``btf``, ``key_codec``, ``value_codec``.
    """

    def __init__(self, fd: FD | int, spec: MapSpec, btf: BTF | None = None) -> None:
        self._fd = _as_fd(fd)
        self.spec = spec
        self.btf = btf if btf is not None else spec.btf
        self.name = spec.name
        try:
            self.type: MapType | int = MapType(spec.type)
        except ValueError:
            self.type = int(spec.type)
        self.key_size = spec.key_size
        self.value_size = spec.value_size
        self.max_entries = spec.max_entries
        self.flags = spec.flags
        self._pin_path: str | None = None
        self.key_codec: Codec | None = self._codec(spec.key_type_id, spec.key_size, "key")
        self.value_codec: Codec | None = self._codec(spec.value_type_id, spec.value_size, "value")

    def _codec(self, type_id: int, size: int, what: str) -> Codec | None:
        if size <= 0:
            return None
        try:
            return codec_for(self.btf, type_id, size)
        except BPFError as e:
            log.warning("map %s: cannot decode the %s type with BTF (%s); using raw bytes",
                        self.name, what, e)
            return raw_codec(size)

    # -- identity --

    @property
    def fd(self) -> int:
        try:
            return int(self._fd)
        except ValueError:
            raise MapError(f"map {self.name}: already closed") from None

    @property
    def closed(self) -> bool:
        return self._fd.closed

    def info(self) -> Any:
        """The kernel's ``bpf_map_info`` for this map (id, type, sizes, btf ids ...)."""
        return sysbpf.obj_info(self.fd, "bpf_map_info")

    @property
    def id(self) -> int:
        return int(self.info().id)

    # -- lifetime --

    def close(self) -> None:
        """Close the fd (mmaps of the map stay valid while their buffers live)."""
        self._fd.close()

    def __enter__(self) -> BaseMap:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        tname = self.type.name if isinstance(self.type, MapType) else str(self.type)
        state = "closed" if self._fd.closed else f"fd={int(self._fd)}"
        return (f"<{type(self).__name__} {self.name!r} {tname} key={self.key_size} "
                f"value={self.value_size} max_entries={self.max_entries} {state}>")

    # -- pinning --

    def pin(self, path: str | os.PathLike[str]) -> None:
        """Pin the map at ``path`` on a bpffs (/sys/fs/bpf/..., mounted if needed)."""
        from ..attach.tracefs import pin_object
        p = os.fspath(path)
        pin_object(self.fd, p, f"map {self.name}")
        self._pin_path = p

    def unpin(self, path: str | os.PathLike[str] | None = None) -> None:
        """Remove the pin made by ``pin()`` (or the one at ``path``)."""
        p = os.fspath(path) if path is not None else self._pin_path
        if p is None:
            raise MapError(f"map {self.name}: not pinned by this process; give the path")
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise MapError(f"map {self.name}: unpin {p}: {e.strerror}", e.errno or 0) from None
        if p == self._pin_path:
            self._pin_path = None

    @property
    def pin_path(self) -> str | None:
        return self._pin_path

    @classmethod
    def from_pinned(cls, path: str | os.PathLike[str]) -> BaseMap:
        """Open a pinned map; the class follows the map's type (not necessarily ``cls``)."""
        fd = sysbpf.obj_get(os.fspath(path))
        try:
            m = map_from_fd(fd)
        except BaseException:
            fd.close()
            raise
        m._pin_path = os.fspath(path)
        return m

    @classmethod
    def from_id(cls, map_id: int) -> BaseMap:
        """Open a map by its kernel id (see ``bpftool map``)."""
        fd = sysbpf.get_fd_by_id("map", map_id)
        try:
            return map_from_fd(fd)
        except BaseException:
            fd.close()
            raise

    @classmethod
    def from_fd(cls, fd: FD | int) -> BaseMap:
        """Wrap an existing map fd (ownership moves to the returned map)."""
        return map_from_fd(_as_fd(fd))

    # -- freeze, mmap --

    def freeze(self) -> None:
        """Make the map read-only for user space (BPF_MAP_FREEZE)."""
        try:
            sysbpf.map_freeze(self.fd)
        except SyscallError as e:
            if e.errno == errno.EBUSY:
                raise MapError(f"map {self.name}: cannot freeze it while a writable mmap of it "
                               f"exists (close that first)", errno.EBUSY) from None
            raise type(e)(f"freeze map {self.name}", e.errno or 0) from None

    def mmap(self, writable: bool = True) -> Any:
        """Map the values of a ``BPF_F_MMAPABLE`` array into memory (page-rounded length).

        Returns a buffer (writable, or a read-only memoryview); the mapping lives exactly
        as long as that buffer and the views made from it, so it never dangles (a map
        cannot be frozen while a writable mapping of it exists).
        """
        from ..sys.perf import PAGE_SIZE, Mapping
        if not self.flags & MapFlags.MMAPABLE:
            raise MapError(f"map {self.name}: not created with BPF_F_MMAPABLE; cannot mmap it")
        length = -(-self.value_size * max(self.max_entries, 1) // PAGE_SIZE) * PAGE_SIZE
        prot = PROT_READ | (PROT_WRITE if writable else 0)
        try:
            region = Mapping(self.fd, length, prot, op=f"mmap map {self.name}")
        except SyscallError as e:
            raise type(e)(f"mmap map {self.name}", e.errno or 0) from None
        ptr = ffi.gc(ffi.cast("char *", region.addr), lambda _p, r=region: r.close())
        buf = ffi.buffer(ptr, length)
        return buf if writable else memoryview(buf).toreadonly()

    # -- raw element operations (bytes in, bytes out) --

    def _value_buf_size(self) -> int:
        return self.value_size

    def lookup_raw(self, key: bytes | None, flags: int = 0) -> bytes | None:
        """The raw value bytes for raw ``key`` (None: keyless maps), or None if absent."""
        vsize = self._value_buf_size()
        vbuf = _buf(vsize)
        if not sysbpf.map_lookup(self.fd, _from_bytes(key) if key else ffi.NULL, vbuf, flags):
            return None
        return bytes(ffi.buffer(vbuf, vsize))

    def update_raw(self, key: bytes | None, value: bytes, flags: int = 0) -> None:
        try:
            sysbpf.map_update(self.fd, _from_bytes(key) if key else ffi.NULL, _from_bytes(value), flags)
        except SyscallError as e:
            raise self._update_error(e, flags) from None

    def _update_error(self, e: SyscallError, flags: int) -> BPFError:
        err = e.errno or 0
        if err == errno.EEXIST and flags == UpdateFlags.NOEXIST:
            return MapError(f"map {self.name}: key already exists (flags=NOEXIST)", err)
        if err == errno.ENOENT and flags == UpdateFlags.EXIST:
            return MapError(f"map {self.name}: key does not exist (flags=EXIST)", err)
        if err == errno.E2BIG:
            return MapError(f"map {self.name}: map is full ({self.max_entries} entries) "
                            f"or the key is out of range", err)
        return type(e)(f"update map {self.name}", err)

    def delete_raw(self, key: bytes | None) -> bool:
        try:
            return sysbpf.map_delete(self.fd, _from_bytes(key) if key else ffi.NULL)
        except SyscallError as e:
            raise type(e)(f"delete from map {self.name}", e.errno or 0) from None

    def lookup_and_delete_raw(self, key: bytes | None, flags: int = 0) -> bytes | None:
        vsize = self._value_buf_size()
        vbuf = _buf(vsize)
        try:
            ok = sysbpf.map_lookup(self.fd, _from_bytes(key) if key else ffi.NULL, vbuf, flags,
                                   delete=True)
        except SyscallError as e:
            raise type(e)(f"lookup and delete in map {self.name}", e.errno or 0) from None
        return bytes(ffi.buffer(vbuf, vsize)) if ok else None

    def raw_keys(self) -> Iterator[bytes]:
        """Raw keys via GET_NEXT_KEY, tolerant of deletions during the walk."""
        return (k for k, _ in self._walk(False))

    def _walk(self, values: bool) -> Iterator[tuple[bytes, bytes | None]]:
        """(raw key, raw value or None) along GET_NEXT_KEY, one reused attr for all calls.

        When the current key disappears the kernel restarts from the first key; keys
        already produced are skipped, so each key comes out once. Keys deleted before
        their value is read are skipped too.
        """
        ks, vs = self.key_size, self._value_buf_size()
        attr = sysbpf.map_elem_attr()
        attr.map_fd = self.fd
        bufs = (_buf(ks), _buf(ks))
        addrs = (_addr(bufs[0]), _addr(bufs[1]))
        vbuf = _buf(vs)
        vaddr = _addr(vbuf)
        call = sysbpf.bpf_errno
        cur, i = 0, 0
        seen: set[bytes] = set()
        skipped = 0
        limit = self.max_entries + 1
        while True:
            attr.key, attr.value, attr.flags = cur, addrs[i], 0
            ret = call(_NEXT_KEY, attr)
            if ret < 0:
                if ret == -errno.ENOENT:
                    return
                sysbpf.raise_errno(f"get next key of map {self.name}", -ret)
            raw = bytes(ffi.buffer(bufs[i], ks))
            if raw in seen:
                skipped += 1
                if skipped > limit:
                    raise MapError(f"map {self.name}: iteration does not progress (the map "
                                   f"changes faster than it can be walked)")
            else:
                skipped = 0
                seen.add(raw)
                if not values:
                    yield raw, None
                else:
                    attr.key, attr.value = addrs[i], vaddr
                    ret = call(_LOOKUP, attr)
                    if ret == 0:
                        yield raw, bytes(ffi.buffer(vbuf, vs))
                    elif ret != -errno.ENOENT:
                        sysbpf.raise_errno(f"lookup in map {self.name}", -ret)
            cur, i = addrs[i], i ^ 1

    def _lookup_each(self, keys: Iterable[bytes]) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) for each raw key present, one reused attr for all lookups."""
        ks, vs = self.key_size, self._value_buf_size()
        attr = sysbpf.map_elem_attr()
        attr.map_fd = self.fd
        kbuf, vbuf = _buf(ks), _buf(vs)
        attr.key, attr.value = _addr(kbuf), _addr(vbuf)
        kview = ffi.buffer(kbuf, ks)
        call = sysbpf.bpf_errno
        for kb in keys:
            kview[:] = kb
            ret = call(_LOOKUP, attr)
            if ret == 0:
                yield kb, bytes(ffi.buffer(vbuf, vs))
            elif ret != -errno.ENOENT:
                sysbpf.raise_errno(f"lookup in map {self.name}", -ret)


_NEXT_KEY = Cmd.MAP_GET_NEXT_KEY
_LOOKUP = Cmd.MAP_LOOKUP_ELEM


def _addr(cdata: Any) -> int:
    return int(ffi.cast("uintptr_t", cdata))


def map_from_fd(fd: FD) -> BaseMap:
    """Build the right map object for an fd from the kernel's map info (and BTF)."""
    info = sysbpf.obj_info(int(fd), "bpf_map_info")
    name = ffi.string(info.name).decode(errors="replace")
    btf = load_btf_by_id(info.btf_id) if info.btf_id else None
    try:
        mtype: MapType | int = MapType(info.type)
    except ValueError:
        mtype = int(info.type)
    spec = MapSpec(name=name, type=mtype, key_size=info.key_size,  # type: ignore[arg-type]
                   value_size=info.value_size, max_entries=info.max_entries,
                   flags=info.map_flags, map_extra=info.map_extra,
                   key_type_id=info.btf_key_type_id if btf else 0,
                   value_type_id=info.btf_value_type_id if btf else 0, btf=btf)
    return open_map(fd, spec, btf)


def load_btf_by_id(btf_id: int) -> BTF | None:
    """Fetch and parse a kernel-held BTF object by id; None if it cannot be parsed here."""
    try:
        from ..btf.parse import parse_btf
    except ImportError:
        log.debug("pybpf.btf.parse not available: maps opened by id have no BTF")
        return None
    blob = fetch_btf_blob(btf_id)
    try:
        return parse_btf(blob)
    except BPFError as e:
        log.warning("BTF id %d: cannot parse it (%s); values are decoded raw", btf_id, e)
        return None


def fetch_btf_blob(btf_id: int) -> bytes:
    """The raw BTF blob of kernel BTF object ``btf_id`` (two info calls: size, then data)."""
    with sysbpf.get_fd_by_id("btf", btf_id) as bfd:
        size = sysbpf.obj_info(int(bfd), "bpf_btf_info").btf_size
        info = sysbpf.obj_info(int(bfd), "bpf_btf_info", {"btf": ("btf_size", size, "uint8_t")})
        return bytes(ffi.buffer(info.buffers[0], min(size, info.btf_size)))


# ---------------------------------------------------------------- the dict-like map

class Map(BaseMap, MutableMapping):  # type: ignore[misc]
    """A map as a ``MutableMapping`` of decoded keys to decoded values.

    ``m[k]``, ``m[k] = v``, ``del m[k]``, ``k in m``, iteration, ``len()``, ``clear()``;
    ``put(k, v, flags)`` for NOEXIST/EXIST updates; ``items(batch=True)`` and the other
    ``*_batch`` methods use the kernel's batch commands, falling back to per-key calls
    where the kernel (or map type) has none.
    """

    percpu = False
    # a live kernel object: equal only to itself (compare contents with dict(m) == ...)
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, fd: FD | int, spec: MapSpec, btf: BTF | None = None) -> None:
        super().__init__(fd, spec, btf)
        self._kc: Codec = self.key_codec or raw_codec(0)
        self._vc: Codec = self.value_codec or raw_codec(0)

    # -- key/value conversion (subclasses override) --

    def encode_key(self, key: Any) -> bytes:
        return self._kc.encode(key)

    def decode_key(self, raw: bytes) -> Any:
        return self._kc.decode(raw)

    def encode_value(self, value: Any) -> bytes:
        return self._vc.encode(value)

    def decode_value(self, raw: bytes) -> Any:
        return self._vc.decode(raw)

    def _decode_keys(self, buf: Any, count: int) -> list[Any]:
        return self._kc.decode_many(buf, count, self.key_size)

    def _decode_values(self, buf: Any, count: int) -> list[Any]:
        return self._vc.decode_many(buf, count, self.value_size)

    # -- mapping protocol --

    def lookup(self, key: Any, default: Any = None, flags: int = 0) -> Any:
        """The value for ``key`` or ``default`` (``flags``: BPF_F_LOCK)."""
        raw = self.lookup_raw(self.encode_key(key), flags)
        return default if raw is None else self.decode_value(raw)

    get = lookup

    def __getitem__(self, key: Any) -> Any:
        raw = self.lookup_raw(self.encode_key(key))
        if raw is None:
            raise KeyError(key)
        return self.decode_value(raw)

    def put(self, key: Any, value: Any, flags: int = UpdateFlags.ANY) -> None:
        """Set ``key`` with update ``flags`` (ANY, NOEXIST, EXIST, F_LOCK)."""
        self.update_raw(self.encode_key(key), self.encode_value(value), flags)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.update_raw(self.encode_key(key), self.encode_value(value), UpdateFlags.ANY)

    def __delitem__(self, key: Any) -> None:
        if not self.delete_raw(self.encode_key(key)):
            raise KeyError(key)

    def __contains__(self, key: Any) -> bool:
        try:
            kb = self.encode_key(key)
        except MapError:
            return False
        return self.lookup_raw(kb) is not None

    def __iter__(self) -> Iterator[Any]:
        dec = self.decode_key
        for raw in self.raw_keys():
            yield dec(raw)

    def __len__(self) -> int:
        return sum(1 for _ in self.raw_keys())

    def __bool__(self) -> bool:
        return next(iter(self.raw_keys()), None) is not None

    def pop(self, key: Any, *default: Any) -> Any:
        """Remove ``key`` and return its value (LOOKUP_AND_DELETE where the kernel has it)."""
        kb = self.encode_key(key)
        try:
            raw = self.lookup_and_delete_raw(kb)
        except SyscallError as e:
            if e.errno not in _UNSUPPORTED:
                raise
            raw = self.lookup_raw(kb)
            if raw is not None:
                self.delete_raw(kb)
        if raw is None:
            if default:
                return default[0]
            raise KeyError(key)
        return self.decode_value(raw)

    def items(self, batch: bool = False) -> Any:  # type: ignore[override]
        """A view of (key, value) pairs; ``batch=True``: a list read with batch syscalls."""
        if batch:
            return self.items_batch()
        return _ItemsView(self)

    def values(self, batch: bool = False) -> Any:  # type: ignore[override]
        if batch:
            return [v for _, v in self.items_batch()]
        return _ValuesView(self)

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(raw key, raw value) pairs, per key; keys that vanish meanwhile are skipped."""
        return self._walk(True)  # type: ignore[return-value]

    def clear(self) -> None:
        """Delete every entry (batched where possible)."""
        keys = list(self.raw_keys())
        if keys:
            self._delete_raw_batch(keys, missing_ok=True)

    # -- batch operations --

    def _batch_chunks(self, delete: bool = False,
                      chunk: int | None = None) -> Iterator[tuple[Any, Any, int]]:
        """Yield (key buffer, value buffer, count) per LOOKUP(_AND_DELETE)_BATCH call.

        Raises ``_NoBatch`` before yielding anything if the kernel lacks the command.
        The buffers are reused: consume each chunk before asking for the next.
        """
        ks, vs = self.key_size, self._value_buf_size()
        if chunk is None:
            chunk = max(1, min(self.max_entries or 1, _BATCH_MAX, _BATCH_BYTES // (ks + vs)))
        cmd = Cmd.MAP_LOOKUP_AND_DELETE_BATCH if delete else Cmd.MAP_LOOKUP_BATCH
        tok = max(ks, 8)
        kbuf, vbuf = _buf(chunk * ks), _buf(chunk * vs)
        in_b, out_b = ffi.NULL, _buf(tok)
        started = False
        while True:
            try:
                n, more = sysbpf.map_batch(cmd, self.fd, kbuf, vbuf, chunk, in_batch=in_b,
                                           out_batch=out_b)
            except SyscallError as e:
                if e.errno == errno.ENOSPC and chunk < max(self.max_entries, 1) * 4:
                    chunk *= 4    # a hash bucket holds more entries than one batch
                    kbuf, vbuf = _buf(chunk * ks), _buf(chunk * vs)
                    continue
                if not started and e.errno in _UNSUPPORTED:
                    raise _NoBatch() from None
                raise type(e)(f"{cmd.name.lower()} on map {self.name}", e.errno or 0) from None
            started = True
            if n:
                yield kbuf, vbuf, n
            if not more:
                return
            in_b, out_b = out_b, (in_b if in_b is not ffi.NULL else _buf(tok))

    def items_batch(self, delete: bool = False) -> list[tuple[Any, Any]]:
        """Every (key, value) read with batch syscalls; per-key where unsupported."""
        out: list[tuple[Any, Any]] = []
        ks, vs = self.key_size, self._value_buf_size()
        try:
            with paused_gc():
                for kbuf, vbuf, n in self._batch_chunks(delete):
                    keys = self._decode_keys(ffi.buffer(kbuf, n * ks), n)
                    vals = self._decode_values(ffi.buffer(vbuf, n * vs), n)
                    out += zip(keys, vals, strict=True)
        except _NoBatch:
            log.debug("map %s: no batch lookup; reading per key", self.name)
            if not delete:
                return [(self.decode_key(k), self.decode_value(v)) for k, v in self.raw_items()]
            for kb in list(self.raw_keys()):
                raw = self._pop_raw(kb)
                if raw is not None:
                    out.append((self.decode_key(kb), self.decode_value(raw)))
        return out

    def _pop_raw(self, kb: bytes) -> bytes | None:
        try:
            return self.lookup_and_delete_raw(kb)
        except SyscallError as e:
            if e.errno not in _UNSUPPORTED:
                raise
        raw = self.lookup_raw(kb)
        if raw is not None and not self.delete_raw(kb):
            return None
        return raw

    def lookup_and_delete_batch(self) -> list[tuple[Any, Any]]:
        """Remove every entry, returning the (key, value) pairs removed."""
        return self.items_batch(delete=True)

    def dump_raw(self, chunk: int | None = None) -> tuple[bytes, bytes, int]:
        """All keys and values as two packed byte strings plus the count (fast path).

        Values are ``value_size`` apart (per-CPU maps: ``ncpus * round8(value_size)``).
        """
        ks, vs = self.key_size, self._value_buf_size()
        kparts: list[bytes] = []
        vparts: list[bytes] = []
        total = 0
        try:
            for kbuf, vbuf, n in self._batch_chunks(chunk=chunk):
                kparts.append(bytes(ffi.buffer(kbuf, n * ks)))
                vparts.append(bytes(ffi.buffer(vbuf, n * vs)))
                total += n
        except _NoBatch:
            for kb, vb in self.raw_items():
                kparts.append(kb)
                vparts.append(vb)
                total += 1
        return b"".join(kparts), b"".join(vparts), total

    def update_batch(self, items: Mapping[Any, Any] | Iterable[tuple[Any, Any]],
                     flags: int = UpdateFlags.ANY) -> int:
        """Set many entries with MAP_UPDATE_BATCH (per key where unsupported)."""
        pairs = list(items.items() if isinstance(items, Mapping) else items)
        keys = [self.encode_key(k) for k, _ in pairs]
        vals = [self.encode_value(v) for _, v in pairs]
        return self._update_raw_batch(keys, vals, flags)

    def _update_raw_batch(self, keys: list[bytes], vals: list[bytes], flags: int = 0) -> int:
        done = 0
        while done < len(keys):
            end = min(len(keys), done + _BATCH_MAX)
            kb, vb = b"".join(keys[done:end]), b"".join(vals[done:end])
            try:
                n, _ = sysbpf.map_batch(Cmd.MAP_UPDATE_BATCH, self.fd, _from_bytes(kb),
                                        _from_bytes(vb), end - done, elem_flags=flags)
            except SyscallError as e:
                if done == 0 and e.errno in _UNSUPPORTED:
                    break             # no batch update here: per key below
                raise self._update_error(e, flags) from None
            if n == 0:
                break
            done += n
        for i in range(done, len(keys)):
            self.update_raw(keys[i], vals[i], flags)
        return len(keys)

    def delete_batch(self, keys: Iterable[Any], missing_ok: bool = True) -> int:
        """Delete many keys with MAP_DELETE_BATCH; returns how many were deleted."""
        return self._delete_raw_batch([self.encode_key(k) for k in keys], missing_ok)

    def _delete_raw_batch(self, keys: list[bytes], missing_ok: bool = True) -> int:
        deleted, i = 0, 0
        batch_ok = True
        while i < len(keys) and batch_ok:
            end = min(len(keys), i + _BATCH_MAX)
            try:
                n, more = sysbpf.map_batch(Cmd.MAP_DELETE_BATCH, self.fd,
                                           _from_bytes(b"".join(keys[i:end])), ffi.NULL, end - i)
            except SyscallError as e:
                if e.errno in _UNSUPPORTED:
                    batch_ok = False
                    break
                raise type(e)(f"delete batch on map {self.name}", e.errno or 0) from None
            deleted += n
            i += n
            if not more and i < end:      # ENOENT at keys[i]
                if not missing_ok:
                    raise KeyError(self.decode_key(keys[i]))
                i += 1
        for kb in keys[i:]:
            if self.delete_raw(kb):
                deleted += 1
            elif not missing_ok:
                raise KeyError(self.decode_key(kb))
        return deleted


class _NoBatch(Exception):
    """The kernel has no batch command for this map (type)."""


class _ItemsView(ItemsView):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        m: Map = self._mapping  # type: ignore[assignment]
        dk, dv = m.decode_key, m.decode_value
        for kb, vb in m.raw_items():
            yield dk(kb), dv(vb)


class _ValuesView(ValuesView):  # type: ignore[type-arg]
    def __iter__(self) -> Iterator[Any]:
        m: Map = self._mapping  # type: ignore[assignment]
        dv = m.decode_value
        for _, vb in m.raw_items():
            yield dv(vb)

