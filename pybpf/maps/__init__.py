"""Typed maps: dict-like map classes per map type, the BTF codec, global variables.

``open_map(fd, spec, btf)`` wraps a map fd in the class registered for its type; ring
buffer, perf buffer and stack-trace readers register theirs with ``register_map_class``.
"""

from __future__ import annotations

from .base import (
    BaseMap,
    Map,
    fetch_btf_blob,
    map_class_for,
    map_from_fd,
    open_map,
    possible_cpu_count,
    register_map_class,
)
from .codec import Codec, EnumValue, Record, codec_for, raw_codec, text_value
from .globals import GlobalVars
from .types import (
    ArrayMap,
    ArrayOfMapsMap,
    BloomFilterMap,
    FdArrayMap,
    HashMap,
    HashOfMapsMap,
    LPMKey,
    LPMTrieMap,
    PerCPUArrayMap,
    PerCPUHashMap,
    ProgArrayMap,
    QueueMap,
    StackMap,
    fd_of,
)

__all__ = [
    "ArrayMap", "ArrayOfMapsMap", "BaseMap", "BloomFilterMap", "Codec", "EnumValue",
    "FdArrayMap", "GlobalVars", "HashMap", "HashOfMapsMap", "LPMKey", "LPMTrieMap", "Map",
    "PerCPUArrayMap", "PerCPUHashMap", "ProgArrayMap", "QueueMap", "Record", "StackMap",
    "codec_for", "fd_of", "fetch_btf_blob", "map_class_for", "map_from_fd", "open_map",
    "possible_cpu_count", "raw_codec", "register_map_class", "text_value",
]
