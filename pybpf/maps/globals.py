"""Typed global variables: attribute access to the VARs of a DATASEC over a buffer.

``obj.rodata.targ_pid`` reads (and, where writable, writes) one variable of a global-data
section, decoded/encoded with the codec of its BTF type. The buffer is the mmap of the
section's map after load, or a ``bytearray`` of the section before load.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..btf.types import Kind
from ..errors import MapError
from .codec import Codec, codec_for, type_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..btf.types import BTF

__all__ = ["GlobalVars"]


class GlobalVars:
    """The variables of one DATASEC, as attributes (and items: ``g["name"]``).

    ``offsets`` overrides the DATASEC's own offsets: object files carry zeros there until
    a loader fixes them up from the ELF symbols. Either name -> byte offset, or an
    ``ObjectSpec.var_offsets`` mapping ((section, name) -> byte offset).
    """

    __slots__ = ("_buf", "_section", "_vars", "_writable", "_ambiguous")

    def __init__(self, buffer: Any, btf: BTF, datasec_type_id: int, writable: bool,
                 offsets: Mapping[Any, int] | None = None) -> None:
        sec = btf[datasec_type_id]
        if sec.kind != Kind.DATASEC:
            raise MapError(f"type [{datasec_type_id}] is a {sec.kind.name}, not a DATASEC")
        if offsets is not None:
            offsets = {(k[1] if isinstance(k, tuple) else k): v for k, v in offsets.items()
                       if not isinstance(k, tuple) or k[0] == sec.name}
        variables: dict[str, tuple[int, Codec]] = {}
        for vi in sec.secinfos:
            var = btf[vi.type_id]
            if var.kind != Kind.VAR or not var.name:
                continue
            off = offsets[var.name] if offsets and var.name in offsets else vi.offset
            size = vi.size or type_size(btf, var.type_id)
            variables[var.name] = (off, codec_for(btf, var.type_id, size))
        # object-file BTF has every offset at 0: then variables overlap, and without
        # ``offsets`` where each one lives is unknowable
        spans = sorted((o, o + c.size) for o, c in variables.values() if c.size)
        ambiguous = any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False))
        osa = object.__setattr__
        osa(self, "_buf", buffer)
        osa(self, "_section", sec.name)
        osa(self, "_vars", variables)
        osa(self, "_writable", writable)
        osa(self, "_ambiguous", ambiguous)

    # -- access --

    def _lookup(self, name: str) -> tuple[int, Codec]:
        try:
            entry = self._vars[name]
        except KeyError:
            raise AttributeError(
                f"{self._section} has no variable {name!r} (known: "
                f"{', '.join(sorted(self._vars)) or 'none'})") from None
        if self._ambiguous:
            raise MapError(f"{self._section}: the offsets of its variables are unknown (all 0 "
                           f"in the object's BTF); construct GlobalVars with offsets=")
        return entry

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        off, codec = self._lookup(name)
        try:
            return codec.decode(self._buf, off)
        except ValueError as e:          # a closed mmap
            raise MapError(f"{self._section}.{name}: the map is closed ({e})") from None

    def __setattr__(self, name: str, value: Any) -> None:
        off, codec = self._lookup(name)
        if not self._writable:
            sec = self._section.lstrip(".")
            if self._section.startswith(".rodata"):
                raise MapError(f"{sec} is frozen after load; set it with "
                               f"pybpf.load(..., rodata={{...}}) or spec.rodata")
            raise MapError(f"{self._section}.{name} is read-only")
        data = bytearray(codec.size)
        codec._encode(data, 0, value, f"{self._section.lstrip('.')}.{name}")
        try:
            self._buf[off:off + codec.size] = data
        except (ValueError, TypeError) as e:
            raise MapError(f"{self._section}.{name}: cannot write ({e})") from None

    def __delattr__(self, name: str) -> None:
        raise MapError(f"{self._section}: variables cannot be deleted")

    def __getitem__(self, name: str) -> Any:
        try:
            return self.__getattr__(name)
        except AttributeError as e:
            raise KeyError(name) from e

    def __setitem__(self, name: str, value: Any) -> None:
        if name not in self._vars:
            raise KeyError(name)
        self.__setattr__(name, value)

    def __contains__(self, name: object) -> bool:
        return name in self._vars

    def __iter__(self) -> Iterator[str]:
        return iter(self._vars)

    def __len__(self) -> int:
        return len(self._vars)

    def __dir__(self) -> list[str]:
        return sorted(self._vars)

    @property
    def writable(self) -> bool:
        return self._writable

    @property
    def section(self) -> str:
        return self._section

    def offset_of(self, name: str) -> int:
        return self._lookup(name)[0]

    def _asdict(self) -> dict[str, Any]:
        out = {}
        for name in self._vars:
            v = getattr(self, name)
            out[name] = v._asdict() if hasattr(v, "_asdict") else v
        return out

    def __repr__(self) -> str:
        try:
            inner = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._vars)
        except MapError as e:
            inner = f"<{e}>"
        return f"{self._section}({inner})"
