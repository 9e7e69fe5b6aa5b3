"""Map classes per kernel map type, registered with ``register_map_class`` on import.

* ``HashMap`` (HASH, LRU_HASH): the plain ``Map``.
* ``ArrayMap`` (ARRAY): keys are the indices ``0..max_entries-1``, every one always
  present. Elements cannot be deleted: ``del m[i]`` raises MapError (use ``m.zero(i)``);
  ``clear()`` zeroes every element; ``len()`` is ``max_entries``.
* ``PerCPUHashMap`` / ``PerCPUArrayMap`` (PERCPU_HASH, LRU_PERCPU_HASH, PERCPU_ARRAY):
  a value is a ``list`` with one entry per *possible* CPU; writing takes such a list, or
  any other value, which is written to every CPU.
* ``LPMTrieMap`` (LPM_TRIE): keys are :class:`LPMKey` ``(prefixlen, data)``; writing also
  takes ``(prefixlen, bytes | ip address | int)``, ``ipaddress`` networks/addresses or
  their strings. A lookup is a longest-prefix match (``m["10.1.2.3"]``).
* ``QueueMap`` / ``StackMap`` (QUEUE, STACK): ``push``, ``pop``, ``peek``, ``drain``.
* ``BloomFilterMap`` (BLOOM_FILTER): ``push(value)``, ``value in m``.
* ``ProgArrayMap`` (PROG_ARRAY), ``ArrayOfMapsMap`` / ``HashOfMapsMap`` (map-in-map),
  ``FdArrayMap`` (CGROUP_ARRAY ...): written with a program/map object or fd, read back
  as the kernel object's *id*; ``get_map(k)`` opens an inner map.
"""

from __future__ import annotations

import errno
import struct
from collections import namedtuple
from collections.abc import Iterator

from ..errors import MapError, SyscallError
from ..sys.consts import MapType, UpdateFlags
from ..sys.fd import FD
from .base import (
    _UNSUPPORTED,
    BaseMap,
    Map,
    _round8,
    possible_cpu_count,
    register_map_class,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ipaddress
    from typing import Any

__all__ = [
    "ArrayMap", "ArrayOfMapsMap", "BloomFilterMap", "FdArrayMap", "HashMap", "HashOfMapsMap",
    "LPMKey", "LPMTrieMap", "PerCPUArrayMap", "PerCPUHashMap", "ProgArrayMap", "QueueMap",
    "StackMap",
]

_MISSING: Any = object()
_U32 = struct.Struct("<I")


class HashMap(Map):
    """HASH / LRU_HASH: a plain dict-like map."""


# ---------------------------------------------------------------- arrays

class ArrayMap(Map):
    """ARRAY: fixed indices; elements are zeroed, never deleted."""

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.max_entries))

    def raw_keys(self) -> Iterator[bytes]:
        pack = _U32.pack
        return (pack(i) for i in range(self.max_entries))

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        return self._lookup_each(self.raw_keys())

    def __len__(self) -> int:
        return self.max_entries

    def __bool__(self) -> bool:
        return self.max_entries > 0

    def __contains__(self, key: Any) -> bool:
        return isinstance(key, int) and 0 <= key < self.max_entries

    def __delitem__(self, key: Any) -> None:
        raise MapError(f"map {self.name}: array elements cannot be deleted; "
                       f"use m.zero({key!r}) or assign a value")

    def pop(self, key: Any, *default: Any) -> Any:
        raise MapError(f"map {self.name}: array elements cannot be deleted")

    def popitem(self) -> tuple[Any, Any]:
        raise MapError(f"map {self.name}: array elements cannot be deleted")

    def zero_value(self) -> bytes:
        return bytes(self._value_buf_size())

    def zero(self, index: int) -> None:
        """Set element ``index`` to all-zero bytes."""
        self.update_raw(self.encode_key(index), self.zero_value())

    def clear(self) -> None:
        """Zero every element."""
        zero = self.zero_value()
        keys = list(self.raw_keys())
        self._update_raw_batch(keys, [zero] * len(keys))

    def delete_batch(self, keys: Any, missing_ok: bool = True) -> int:
        raise MapError(f"map {self.name}: array elements cannot be deleted")

    def lookup_and_delete_batch(self) -> list[tuple[Any, Any]]:
        raise MapError(f"map {self.name}: array elements cannot be deleted")


# ---------------------------------------------------------------- per-CPU

class _PerCPU(Map):
    """Values are lists with one element per possible CPU."""

    percpu = True

    def __init__(self, fd: Any, spec: Any, btf: Any = None) -> None:
        super().__init__(fd, spec, btf)
        self.ncpus = possible_cpu_count()
        self._stride = _round8(self.value_size)

    def _value_buf_size(self) -> int:
        return self.ncpus * self._stride

    def decode_value(self, raw: bytes) -> list[Any]:
        return self._vc.decode_many(raw, self.ncpus, self._stride)

    def encode_value(self, value: Any) -> bytes:
        pad = bytes(self._stride - self.value_size)
        if isinstance(value, list):
            if len(value) != self.ncpus:
                raise MapError(f"map {self.name}: per-CPU value list has {len(value)} entries, "
                               f"the machine has {self.ncpus} possible CPUs (give one value "
                               f"to write it to every CPU)")
            return b"".join(self._vc.encode(v) + pad for v in value)
        return (self._vc.encode(value) + pad) * self.ncpus

    def _decode_values(self, buf: Any, count: int) -> list[Any]:
        nc = self.ncpus
        flat = self._vc.decode_many(buf, count * nc, self._stride)
        return [flat[i:i + nc] for i in range(0, count * nc, nc)]

    def sum(self, key: Any, default: Any = None) -> Any:
        """The per-CPU values of ``key`` added up (numbers only)."""
        vals = self.lookup(key)
        return default if vals is None else sum(vals)


class PerCPUHashMap(_PerCPU):
    """PERCPU_HASH / LRU_PERCPU_HASH."""


class PerCPUArrayMap(_PerCPU, ArrayMap):
    """PERCPU_ARRAY."""


# ---------------------------------------------------------------- LPM trie

class LPMKey(namedtuple("LPMKey", "prefixlen data")):
    """An LPM trie key: ``prefixlen`` bits of ``data`` (bytes, network byte order)."""

    __slots__ = ()

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """The key as an ``ipaddress`` network (data of 4 or 16 bytes)."""
        import ipaddress  # (here and below: only LPM keys need it, start-up does not)
        if len(self.data) not in (4, 16):
            raise MapError(f"LPM key data of {len(self.data)} bytes is not an IP address")
        return ipaddress.ip_network((self.data, self.prefixlen), strict=False)

    def __repr__(self) -> str:
        if len(self.data) in (4, 16):
            import ipaddress
            addr = ipaddress.ip_address(self.data)
            return f"LPMKey({addr}/{self.prefixlen})"
        return f"LPMKey(prefixlen={self.prefixlen}, data={self.data!r})"


class LPMTrieMap(Map):
    """LPM_TRIE: keys ``LPMKey(prefixlen, data)``; lookups match the longest prefix."""

    def __init__(self, fd: Any, spec: Any, btf: Any = None) -> None:
        super().__init__(fd, spec, btf)
        if self.key_size < 5:
            raise MapError(f"map {self.name}: LPM trie keys need 4 bytes of prefix length "
                           f"and data (key size {self.key_size})")
        self.data_size = self.key_size - 4

    def decode_key(self, raw: bytes) -> LPMKey:
        return LPMKey(_U32.unpack_from(raw)[0], bytes(raw[4:self.key_size]))

    def _decode_keys(self, buf: Any, count: int) -> list[Any]:
        ks = self.key_size
        mv = memoryview(buf)
        return [self.decode_key(mv[i:i + ks]) for i in range(0, count * ks, ks)]

    def encode_key(self, key: Any) -> bytes:
        ds = self.data_size
        if isinstance(key, (bytes, bytearray, memoryview)) and len(key) == self.key_size:
            return bytes(key)
        import ipaddress
        if isinstance(key, str):
            key = _parse_ip(key, self.name)
        if isinstance(key, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            plen, data = key.prefixlen, key.network_address.packed
        elif isinstance(key, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            plen, data = len(key.packed) * 8, key.packed
        elif isinstance(key, tuple) and len(key) == 2 and not hasattr(key, "_asdict") \
                or isinstance(key, LPMKey):
            plen, data = key[0], self._data(key[1])
        elif isinstance(key, list) and len(key) == 2:
            plen, data = key[0], self._data(key[1])
        else:
            return self._kc.encode(key)       # a dict/record for the BTF key struct
        if not isinstance(plen, int) or not 0 <= plen <= ds * 8:
            raise MapError(f"map {self.name}: prefix length {plen!r} not in 0..{ds * 8}")
        if len(data) > ds:
            raise MapError(f"map {self.name}: LPM key data of {len(data)} bytes does not fit "
                           f"{ds} bytes")
        return _U32.pack(plen) + data + bytes(ds - len(data))

    def _data(self, d: Any) -> bytes:
        if isinstance(d, (bytes, bytearray, memoryview)):
            return bytes(d)
        import ipaddress
        if isinstance(d, str):
            d = _parse_ip(d, self.name)
        if isinstance(d, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            return d.packed
        if isinstance(d, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return d.network_address.packed
        if isinstance(d, int) and not isinstance(d, bool):
            try:
                return d.to_bytes(self.data_size, "big")
            except OverflowError:
                raise MapError(f"map {self.name}: {d} does not fit {self.data_size} bytes") from None
        raise MapError(f"map {self.name}: LPM key data must be bytes, an IP address or an int, "
                       f"not {type(d).__name__}")

    def longest_match(self, addr: Any, default: Any = None) -> Any:
        """The value of the longest prefix containing ``addr`` (address, bytes or int)."""
        data = self._data(addr)
        return self.lookup(LPMKey(self.data_size * 8, data), default)


def _parse_ip(s: str, name: str) -> Any:
    import ipaddress
    try:
        return ipaddress.ip_network(s, strict=False) if "/" in s else ipaddress.ip_address(s)
    except ValueError as e:
        raise MapError(f"map {name}: {e}") from None


# ---------------------------------------------------------------- queue / stack / bloom

class _KeylessMap(BaseMap):
    """A map of values without keys (queue, stack, bloom filter)."""

    def __init__(self, fd: Any, spec: Any, btf: Any = None) -> None:
        super().__init__(fd, spec, btf)
        if self.value_codec is None:
            raise MapError(f"map {self.name}: no value size")
        self._vc = self.value_codec


class QueueMap(_KeylessMap):
    """QUEUE (FIFO); ``StackMap`` is the LIFO twin. No keys: push/pop/peek values."""

    def push(self, value: Any, flags: int = UpdateFlags.ANY) -> None:
        """Append ``value``; with ``flags=UpdateFlags.EXIST`` a full map drops its oldest."""
        self.update_raw(None, self._vc.encode(value), flags)

    def pop(self, default: Any = _MISSING) -> Any:
        """Remove and return the next value (MapError, errno ENOENT, when empty)."""
        return self._value(self.lookup_and_delete_raw(None), default)

    def peek(self, default: Any = _MISSING) -> Any:
        """The next value, left in place."""
        return self._value(self.lookup_raw(None), default)

    def _value(self, raw: bytes | None, default: Any) -> Any:
        if raw is not None:
            return self._vc.decode(raw)
        if default is not _MISSING:
            return default
        raise MapError(f"map {self.name}: empty", errno.ENOENT)

    def drain(self) -> list[Any]:
        """Pop every value."""
        out = []
        while (raw := self.lookup_and_delete_raw(None)) is not None:
            out.append(self._vc.decode(raw))
        return out

    def clear(self) -> None:
        while self.lookup_and_delete_raw(None) is not None:
            pass

    def __bool__(self) -> bool:
        return self.lookup_raw(None) is not None


class StackMap(QueueMap):
    """STACK (LIFO)."""


class BloomFilterMap(_KeylessMap):
    """BLOOM_FILTER: ``push(value)``; ``value in m`` (false positives possible)."""

    def push(self, value: Any) -> None:
        self.update_raw(None, self._vc.encode(value), UpdateFlags.ANY)

    add = push

    def __contains__(self, value: Any) -> bool:
        from ..sys import bpf as sysbpf
        from .base import _from_bytes
        try:
            raw = self._vc.encode(value)
        except MapError:
            return False
        return sysbpf.map_lookup(self.fd, None, _from_bytes(raw))


# ---------------------------------------------------------------- fd-valued maps

def fd_of(obj: Any) -> int:
    """The fd of a map/program object, an ``FD`` or an int."""
    if isinstance(obj, bool):
        raise MapError(f"expected a map, program or fd, got {obj!r}")
    if isinstance(obj, int):
        return obj
    if isinstance(obj, FD):
        return int(obj)
    fd = getattr(obj, "fd", None)
    if fd is not None:
        return int(fd)
    raise MapError(f"expected a map, program or fd, got {type(obj).__name__}")


class _FdValues(Map):
    """Values written as fds (objects or ints), read back as kernel object ids."""

    def encode_value(self, value: Any) -> bytes:
        return _U32.pack(fd_of(value) & 0xFFFFFFFF)

    def decode_value(self, raw: bytes) -> int:
        return _U32.unpack_from(raw)[0]

    def _decode_values(self, buf: Any, count: int) -> list[Any]:
        mv = memoryview(buf)
        return [_U32.unpack_from(mv, i * self.value_size)[0] for i in range(count)]

    def get_map(self, key: Any) -> BaseMap:
        """Open the inner map stored at ``key`` (a new fd; close it when done)."""
        return BaseMap.from_id(self[key])


class FdArrayMap(_FdValues):
    """Fd arrays (PROG_ARRAY, ARRAY_OF_MAPS, CGROUP_ARRAY ...): only filled slots exist."""

    def raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        return self._lookup_each(_U32.pack(i) for i in range(self.max_entries))

    def raw_keys(self) -> Iterator[bytes]:
        for i in range(self.max_entries):
            kb = _U32.pack(i)
            try:
                present = self.lookup_raw(kb) is not None
            except SyscallError as e:
                if e.errno not in _UNSUPPORTED:
                    raise
                present = True           # kernel cannot read this type back: list all
            if present:
                yield kb

    def clear(self) -> None:
        for kb in list(self.raw_keys()):
            self.delete_raw(kb)


class ProgArrayMap(FdArrayMap):
    """PROG_ARRAY (tail calls): ``m[i] = program``; ``m[i]`` -> program id."""


class ArrayOfMapsMap(FdArrayMap):
    """ARRAY_OF_MAPS: ``m[i] = inner_map``; ``m[i]`` -> inner map id."""


class HashOfMapsMap(_FdValues):
    """HASH_OF_MAPS: ``m[k] = inner_map``; ``m[k]`` -> inner map id."""


for _t, _c in ((MapType.HASH, HashMap), (MapType.LRU_HASH, HashMap),
               (MapType.ARRAY, ArrayMap), (MapType.PERCPU_HASH, PerCPUHashMap),
               (MapType.LRU_PERCPU_HASH, PerCPUHashMap), (MapType.PERCPU_ARRAY, PerCPUArrayMap),
               (MapType.LPM_TRIE, LPMTrieMap), (MapType.QUEUE, QueueMap),
               (MapType.STACK, StackMap), (MapType.BLOOM_FILTER, BloomFilterMap),
               (MapType.PROG_ARRAY, ProgArrayMap), (MapType.ARRAY_OF_MAPS, ArrayOfMapsMap),
               (MapType.HASH_OF_MAPS, HashOfMapsMap), (MapType.CGROUP_ARRAY, FdArrayMap)):
    register_map_class(_t, _c)
del _t, _c
