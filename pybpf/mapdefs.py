"""Map definitions in an object: BTF-defined (``.maps``), legacy (``maps``) and global data."""

from __future__ import annotations

import struct

from .btf.types import BTF, Kind
from .errors import ELFError
from .spec import PIN_BY_NAME, PIN_NONE, MapSpec
from .sys.consts import MapFlags, MapType

_INT_ATTRS = {"type", "key_size", "value_size", "max_entries", "map_flags", "numa_node",
              "pinning", "map_extra"}


def _uint_attr(btf: BTF, type_id: int, where: str) -> int:
    """``__uint(name, N)`` is ``int (*name)[N]``: the value is the array length."""
    ptr = btf.skip_modifiers(type_id)
    arr = btf.resolve(ptr.type_id) if ptr.kind == Kind.PTR else None
    if arr is None or arr.kind != Kind.ARRAY:
        raise ELFError(f"{where}: expected __uint(...) (pointer to array), got {btf.type_name(type_id)}",
                       section=".maps")
    return arr.nelems


def _pointee(btf: BTF, type_id: int, where: str) -> int:
    """``__type(name, T)`` is ``T *name``: the pointed-to type id."""
    ptr = btf.skip_modifiers(type_id)
    if ptr.kind != Kind.PTR:
        raise ELFError(f"{where}: expected __type(...) (a pointer), got {btf.type_name(type_id)}",
                       section=".maps")
    return ptr.type_id


def parse_btf_map(btf: BTF, name: str, def_type_id: int, *, inner: bool = False) -> MapSpec:
    """Build a MapSpec from the anonymous struct of one ``.maps`` variable."""
    st = btf.resolve(def_type_id)
    if st.kind != Kind.STRUCT:
        raise ELFError(f"map {name!r}: definition is {btf.type_name(def_type_id)}, not a struct",
                       section=".maps")
    attrs: dict[str, int] = {}
    key_type = value_type = 0
    inner_spec: MapSpec | None = None
    values_member = None
    for m in st.members:
        where = f"map {name!r} attribute {m.name!r}"
        if m.name in _INT_ATTRS:
            attrs[m.name] = _uint_attr(btf, m.type_id, where)
        elif m.name == "key":
            key_type = _pointee(btf, m.type_id, where)
        elif m.name == "value":
            value_type = _pointee(btf, m.type_id, where)
        elif m.name == "values":
            values_member = m
            arr = btf.resolve(m.type_id)
            if arr.kind != Kind.ARRAY:
                raise ELFError(f"{where}: expected __array(values, ...)", section=".maps")
            elem = btf.skip_modifiers(arr.elem_type_id)
            if elem.kind != Kind.PTR:
                raise ELFError(f"{where}: array elements must be pointers", section=".maps")
            target = btf.resolve(elem.type_id)
            if target.kind == Kind.STRUCT:
                inner_spec = parse_btf_map(btf, f"{name}.inner", elem.type_id, inner=True)
            # FUNC_PROTO: prog array initial values; nothing to parse
        else:
            raise ELFError(f"map {name!r}: unknown attribute {m.name!r}", section=".maps")
    if "type" not in attrs:
        raise ELFError(f"map {name!r}: missing __uint(type, ...)", section=".maps")
    try:
        mtype = MapType(attrs["type"])
    except ValueError:
        mtype = attrs["type"]  # type: ignore[assignment]
    key_size = btf.size_of(key_type) if key_type else attrs.get("key_size", 0)
    value_size = btf.size_of(value_type) if value_type else attrs.get("value_size", 0)
    if inner_spec is not None or (values_member is not None and mtype in (MapType.ARRAY_OF_MAPS,
                                                                        MapType.HASH_OF_MAPS,
                                                                        MapType.PROG_ARRAY)):
        value_size = value_size or 4
    if key_type and attrs.get("key_size", key_size) != key_size:
        raise ELFError(f"map {name!r}: key_size {attrs['key_size']} conflicts with key type size "
                       f"{key_size}", section=".maps")
    if mtype in (MapType.RINGBUF, MapType.USER_RINGBUF):
        # Ring buffers take no key/value; a declared value type names the event record.
        key_size, key_type = 0, 0
        value_size = 0
    if mtype == MapType.PERF_EVENT_ARRAY:
        key_size, value_size = key_size or 4, value_size or 4
    pinning = attrs.get("pinning", PIN_NONE)
    if pinning not in (PIN_NONE, PIN_BY_NAME):
        raise ELFError(f"map {name!r}: unsupported pinning {pinning}", section=".maps")
    return MapSpec(
        name=name, type=mtype, key_size=key_size, value_size=value_size,
        max_entries=attrs.get("max_entries", 0), flags=attrs.get("map_flags", 0),
        numa_node=attrs.get("numa_node", 0), map_extra=attrs.get("map_extra", 0),
        pinning=pinning, key_type_id=key_type, value_type_id=value_type, btf=btf,
        inner=inner_spec, section=".maps",
    )


def values_offset(btf: BTF, def_type_id: int) -> int | None:
    """Byte offset of the ``values`` member (initial slots) in a map definition struct."""
    st = btf.resolve(def_type_id)
    for m in st.members:
        if m.name == "values":
            return m.bit_offset // 8
    return None


_LEGACY = struct.Struct("<5I")


def parse_legacy_maps(data: bytes, symbols: list[tuple[str, int]]) -> list[MapSpec]:
    """``struct bpf_map_def`` entries of the legacy ``maps`` section, one per symbol."""
    if not symbols:
        return []
    size = len(data) // len(symbols)
    if size < _LEGACY.size:
        raise ELFError(f"legacy map definitions of {size} bytes are too small", section="maps")
    out = []
    for name, off in symbols:
        if off + _LEGACY.size > len(data):
            raise ELFError(f"map {name!r} definition out of bounds", section="maps", offset=off)
        mtype, ks, vs, n, flags = _LEGACY.unpack_from(data, off)
        out.append(MapSpec(name=name, type=MapType(mtype), key_size=ks, value_size=vs,
                           max_entries=n, flags=flags, section="maps"))
    return out


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.")


def internal_map_name(obj_name: str, section: str) -> str:
    """The kernel name of a global-data map, as libbpf forms it ("execsnoo.rodata")."""
    pfx = min(15 - len(section), len(obj_name))
    name = obj_name[:max(pfx, 0)] + section
    return "".join(c if c in _NAME_CHARS else "_" for c in name)[:15]


def global_data_map(obj_name: str, section: str, data: bytes, btf: BTF | None) -> MapSpec:
    """A single-entry array map holding a data section (.data, .rodata*, .bss, .kconfig)."""
    datasec = 0
    if btf is not None:
        found = btf.find_all(section, Kind.DATASEC)
        datasec = found[0].id if found else 0
    flags = int(MapFlags.MMAPABLE)
    if section.startswith(".rodata") or section == ".kconfig":
        flags |= MapFlags.RDONLY_PROG
    return MapSpec(name=internal_map_name(obj_name, section), type=MapType.ARRAY, key_size=4,
                   value_size=len(data), max_entries=1, flags=flags, value_type_id=datasec,
                   btf=btf, data=data, section=section)
