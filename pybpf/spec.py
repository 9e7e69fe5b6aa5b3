"""Specs: pure data describing an object before load (no kernel, no fds).

``MapSpec`` and ``ProgramSpec`` are plain mutable records on purpose: an ``ObjectSpec`` is
edited before load (``spec.maps["counts"].max_entries = 1 << 16``). They are dataclasses to
:mod:`dataclasses` (``replace``, ``fields``, ``asdict``), written out as slotted classes
because generating them (and importing :mod:`dataclasses`) cost ~40 M instructions at every
start-up.
"""

from __future__ import annotations

from ._record import NEW_DICT, NEW_LIST, DataRecord
from .sys.consts import AttachType, MapType, ProgType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .btf.ext import BTFExt
    from .btf.types import BTF

PIN_NONE = 0
PIN_BY_NAME = 1


class MapSpec(DataRecord):
    """A map as the object declares it.

    ``pin_path``: directory for PIN_BY_NAME (default /sys/fs/bpf); ``key_type_id`` /
    ``value_type_id``: in ``btf`` (0: none); ``inner``: the map-in-map template;
    ``init_slots``: initial contents, slot -> map name (map-in-map) or program name (prog
    array); ``data``: global-data maps' initial bytes; ``section``: the ELF section that
    defined it.
    """

    __slots__ = ("name", "type", "key_size", "value_size", "max_entries", "flags", "numa_node",
                 "map_extra", "pinning", "pin_path", "key_type_id", "value_type_id", "btf",
                 "inner", "init_slots", "data", "section", "skip")
    name: str
    type: MapType
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    numa_node: int
    map_extra: int
    pinning: int
    pin_path: str | None
    key_type_id: int
    value_type_id: int
    btf: BTF | None
    inner: MapSpec | None
    init_slots: dict[int, str]
    data: bytes | None
    section: str
    skip: bool

    def __init__(self, name: str, type: MapType, key_size: int, value_size: int,  # noqa: A002
                 max_entries: int, flags: int = 0, numa_node: int = 0, map_extra: int = 0,
                 pinning: int = PIN_NONE, pin_path: str | None = None, key_type_id: int = 0,
                 value_type_id: int = 0, btf: BTF | None = None, inner: MapSpec | None = None,
                 init_slots: dict[int, str] = NEW_DICT, data: bytes | None = None,  # type: ignore[assignment]
                 section: str = ".maps", skip: bool = False) -> None:
        self.name, self.type, self.key_size, self.value_size = name, type, key_size, value_size
        self.max_entries, self.flags, self.numa_node = max_entries, flags, numa_node
        self.map_extra, self.pinning, self.pin_path = map_extra, pinning, pin_path
        self.key_type_id, self.value_type_id, self.btf = key_type_id, value_type_id, btf
        self.inner = inner
        self.init_slots = {} if init_slots is NEW_DICT else init_slots
        self.data, self.section, self.skip = data, section, skip

    @property
    def is_global_data(self) -> bool:
        return self.data is not None


class RelocSpec(DataRecord):
    """A relocation inside a program's instructions (before load).

    ``insn``: the instruction index inside the program; ``kind``: "map" (ld_imm64 of a map
    fd), "map_value" (ld_imm64 into global data at ``addend``), "call" (bpf-to-bpf call to
    ``target``), "func" (ld_imm64 of a function address: callbacks), "kconfig"/"ksym"
    (externs); ``target``: map name / function symbol / extern name.
    """

    __slots__ = ("insn", "kind", "target", "addend")
    insn: int
    kind: str
    target: str
    addend: int

    def __init__(self, insn: int, kind: str, target: str, addend: int = 0) -> None:
        self.insn, self.kind, self.target, self.addend = insn, kind, target, addend


class ProgramSpec(DataRecord):
    """One program (an entry point in an executable section) and the code it owns.

    ``section``: the full SEC() name, e.g. "tracepoint/syscalls/sys_enter_openat";
    ``insns``: this function's instructions only; ``attach_to``: the SEC() suffix naming the
    attach target; ``flags``: prog_flags (sleepable, xdp frags); ``section_offset``: byte
    offset of this function in its section; ``origins``: where each linked function came
    from, (first insn index, section, byte offset, n insns); ``is_subprog``: a static/global
    function called by programs.
    """

    __slots__ = ("name", "section", "insns", "type", "expected_attach_type", "attach_to",
                 "flags", "license", "kern_version", "relocs", "section_offset", "origins",
                 "is_subprog", "skip", "autoattach")
    name: str
    section: str
    insns: bytes
    type: ProgType
    expected_attach_type: AttachType | int
    attach_to: str
    flags: int
    license: str
    kern_version: int
    relocs: list[RelocSpec]
    section_offset: int
    origins: list[tuple[int, str, int, int]]
    is_subprog: bool
    skip: bool
    autoattach: bool

    def __init__(self, name: str, section: str, insns: bytes, type: ProgType,  # noqa: A002
                 expected_attach_type: AttachType | int = 0, attach_to: str = "",
                 flags: int = 0, license: str = "GPL", kern_version: int = 0,  # noqa: A002
                 relocs: list[RelocSpec] = NEW_LIST, section_offset: int = 0,  # type: ignore[assignment]
                 origins: list[tuple[int, str, int, int]] = NEW_LIST,  # type: ignore[assignment]
                 is_subprog: bool = False, skip: bool = False, autoattach: bool = True) -> None:
        self.name, self.section, self.insns, self.type = name, section, insns, type
        self.expected_attach_type, self.attach_to = expected_attach_type, attach_to
        self.flags, self.license, self.kern_version = flags, license, kern_version
        self.relocs = [] if relocs is NEW_LIST else relocs
        self.section_offset = section_offset
        self.origins = [] if origins is NEW_LIST else origins
        self.is_subprog, self.skip, self.autoattach = is_subprog, skip, autoattach


class ObjectSpec(DataRecord):
    """Everything an ELF object declares, ready to be edited and loaded.

    ``section_code``: the executable sections; ``externs``: name -> "kconfig"/"ksym";
    ``weak_externs``: those declared ``__weak`` (may be missing from the kernel);
    ``var_offsets``: ELF symbol values of global variables, (section, name) -> byte offset
    (the DATASEC fix-up); ``section_sizes``: every ELF section.
    """

    __slots__ = ("path", "programs", "maps", "license", "kern_version", "btf", "btf_ext",
                 "subprogs", "section_code", "externs", "rodata_overrides", "var_offsets",
                 "section_sizes", "weak_externs")
    path: str
    programs: dict[str, ProgramSpec]
    maps: dict[str, MapSpec]
    license: str
    kern_version: int
    btf: BTF | None
    btf_ext: BTFExt | None
    subprogs: dict[str, ProgramSpec]
    section_code: dict[str, bytes]
    externs: dict[str, str]
    rodata_overrides: dict[str, object]
    var_offsets: dict[tuple[str, str], int]
    section_sizes: dict[str, int]
    weak_externs: frozenset[str]

    def __init__(self, path: str, programs: dict[str, ProgramSpec], maps: dict[str, MapSpec],
                 license: str, kern_version: int, btf: BTF | None,  # noqa: A002
                 btf_ext: BTFExt | None,
                 subprogs: dict[str, ProgramSpec] = NEW_DICT,  # type: ignore[assignment]
                 section_code: dict[str, bytes] = NEW_DICT,  # type: ignore[assignment]
                 externs: dict[str, str] = NEW_DICT,  # type: ignore[assignment]
                 rodata_overrides: dict[str, object] = NEW_DICT,  # type: ignore[assignment]
                 var_offsets: dict[tuple[str, str], int] = NEW_DICT,  # type: ignore[assignment]
                 section_sizes: dict[str, int] = NEW_DICT,  # type: ignore[assignment]
                 weak_externs: frozenset[str] = frozenset()) -> None:
        self.path, self.programs, self.maps, self.license = path, programs, maps, license
        self.kern_version, self.btf, self.btf_ext = kern_version, btf, btf_ext
        self.subprogs = {} if subprogs is NEW_DICT else subprogs
        self.section_code = {} if section_code is NEW_DICT else section_code
        self.externs = {} if externs is NEW_DICT else externs
        self.rodata_overrides = {} if rodata_overrides is NEW_DICT else rodata_overrides
        self.var_offsets = {} if var_offsets is NEW_DICT else var_offsets
        self.section_sizes = {} if section_sizes is NEW_DICT else section_sizes
        self.weak_externs = weak_externs

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
