"""Specs: pure data describing an object before load (no kernel, no fds).

``MapSpec`` and ``ProgramSpec`` are plain mutable dataclasses on purpose: an ``ObjectSpec`` is
edited before load (``spec.maps["counts"].max_entries = 1 << 16``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .sys.consts import AttachType, MapType, ProgType

if TYPE_CHECKING:
    from .btf.ext import BTFExt
    from .btf.types import BTF

PIN_NONE = 0
PIN_BY_NAME = 1


@dataclass(slots=True)
class MapSpec:
    """A map as the object declares it."""

    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    numa_node: int = 0
    map_extra: int = 0
    pinning: int = PIN_NONE
    pin_path: str | None = None          # directory for PIN_BY_NAME, default /sys/fs/bpf
    key_type_id: int = 0                 # in the object's BTF (0: none)
    value_type_id: int = 0
    btf: BTF | None = None               # the BTF key/value ids refer to
    inner: MapSpec | None = None         # map-in-map template
    # initial contents: slot -> map name (map-in-map) or program name (prog array)
    init_slots: dict[int, str] = field(default_factory=dict)
    data: bytes | None = None            # global-data maps: initial bytes
    section: str = ".maps"               # ELF section that defined it
    skip: bool = False

    @property
    def is_global_data(self) -> bool:
        return self.data is not None


@dataclass(slots=True)
class RelocSpec:
    """A relocation inside a program's instructions (before load).

    ``kind``: "map" (ld_imm64 of a map fd), "map_value" (ld_imm64 into global data at
    ``addend``), "call" (bpf-to-bpf call to ``target``), "func" (ld_imm64 of a function
    address: callbacks), "kconfig"/"ksym" (externs).
    """

    insn: int               # instruction index inside the program
    kind: str
    target: str             # map name / function symbol / extern name
    addend: int = 0


@dataclass(slots=True)
class ProgramSpec:
    """One program (an entry point in an executable section) and the code it owns."""

    name: str
    section: str                          # full SEC() name, e.g. "tracepoint/syscalls/sys_enter_openat"
    insns: bytes                          # this function's instructions only
    type: ProgType
    expected_attach_type: AttachType | int = 0
    attach_to: str = ""                   # the SEC() suffix naming the attach target
    flags: int = 0                        # prog_flags (sleepable, xdp frags)
    license: str = "GPL"
    kern_version: int = 0
    relocs: list[RelocSpec] = field(default_factory=list)
    section_offset: int = 0               # byte offset of this function in its section
    # where each linked function came from: (first insn index, section, byte offset, n insns)
    origins: list[tuple[int, str, int, int]] = field(default_factory=list)
    is_subprog: bool = False              # static/global function called by programs
    skip: bool = False
    autoattach: bool = True


@dataclass(slots=True)
class ObjectSpec:
    """Everything an ELF object declares, ready to be edited and loaded."""

    path: str
    programs: dict[str, ProgramSpec]
    maps: dict[str, MapSpec]
    license: str
    kern_version: int
    btf: BTF | None
    btf_ext: BTFExt | None
    subprogs: dict[str, ProgramSpec] = field(default_factory=dict)
    section_code: dict[str, bytes] = field(default_factory=dict)   # executable sections
    externs: dict[str, str] = field(default_factory=dict)          # name -> "kconfig"/"ksym"
    rodata_overrides: dict[str, object] = field(default_factory=dict)
    # ELF symbol values of global variables: (section, name) -> byte offset (DATASEC fix-up)
    var_offsets: dict[tuple[str, str], int] = field(default_factory=dict)
    section_sizes: dict[str, int] = field(default_factory=dict)     # every ELF section

    @classmethod
    def from_file(cls, path: str) -> ObjectSpec:
        """Parse a BPF ELF object."""
        from .elf import load_spec
        return load_spec(path)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<bytes>") -> ObjectSpec:
        from .elf import load_spec_bytes
        return load_spec_bytes(data, name)

    def load(self, **kwargs: object) -> object:
        """Create the maps and load the programs: returns a live ``pybpf.Object``."""
        from .loader import load_object
        return load_object(self, **kwargs)  # type: ignore[arg-type]
