"""ObjectSpec -> Object: create maps, relocate, load BTF and programs.

Order (as libbpf): object BTF -> maps (pinned ones reused) -> global data written and
.rodata frozen -> per program: CO-RE, map/global/extern relocations, PROG_LOAD -> initial
prog-array and map-in-map slots. A failure at any step closes everything made so far.
"""

from __future__ import annotations

import errno
import os
import struct

from . import insn as I
from ._log import get_logger
from .btf.types import BTF, Kind
from .errors import BPFError, LoadError, VerifierError
from .externs import kernel_version_code
from .object import Object
from .program import Program
from .spec import PIN_BY_NAME, MapSpec, ObjectSpec, ProgramSpec
from .sys import bpf as sysbpf
from .sys.consts import (
    FD_VALUE_MAP_TYPES,
    PSEUDO_BTF_ID,
    PSEUDO_MAP_FD,
    PSEUDO_MAP_VALUE,
    MapFlags,
    MapType,
    ProgType,
)
from .sys.fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.loader")

LOG_SIZE_START = 1 << 16
LOG_SIZE_MAX = (1 << 30) - 1
DEFAULT_PIN_ROOT = "/sys/fs/bpf"


def load(path: str | os.PathLike[str], *, rodata: dict[str, Any] | None = None,
         **kwargs: Any) -> Object:
    """Parse and load a BPF object file: ``pybpf.load("prog.bpf.o", rodata={"targ_pid": 42})``."""
    spec = ObjectSpec.from_file(os.fspath(path))
    return load_object(spec, rodata=rodata, **kwargs)


def load_object(spec: ObjectSpec, *, rodata: dict[str, Any] | None = None,
                pin_root: str | None = None, kernel_btf: BTF | None = None,
                log_level: int = 0) -> Object:
    """Load ``spec`` into the kernel. ``log_level`` > 0 asks the verifier for a log always."""
    owned: list[Any] = []
    try:
        return _Loader(spec, owned, pin_root, kernel_btf, log_level).run(rodata or {})
    except BaseException:
        for item in reversed(owned):
            try:
                item.close()
            except OSError:
                pass
        raise


class _Loader:
    def __init__(self, spec: ObjectSpec, owned: list[Any], pin_root: str | None,
                 kernel_btf: BTF | None, log_level: int) -> None:
        self.spec, self.owned = spec, owned
        self.pin_root = pin_root or DEFAULT_PIN_ROOT
        self._kernel_btf = kernel_btf
        self.log_level = log_level
        self.btf_fd: FD | None = None
        self.btf_blob: bytes | None = None
        self.map_fds: dict[str, FD] = {}
        self.maps: dict[str, Any] = {}
        self.programs: dict[str, Program] = {}
        self.globals: dict[str, Any] = {}
        self.core_results: list[Any] = []
        self._poisoned_kfuncs: set[tuple[str, str]] = set()   # (program, __weak kfunc)

    # ---- steps ----

    def run(self, rodata: dict[str, Any]) -> Object:
        self._apply_rodata(rodata)
        self._load_btf()
        for name, ms in self.spec.maps.items():
            if not ms.skip:
                self._create_map(name, ms)
        for ps in self.spec.programs.values():
            if not ps.skip:
                self._load_program(ps)
        self._fill_initial_slots()
        self._open_maps()
        from .attach import preload  # the programs' attach code, before any privilege drop
        preload(ps.section for ps in self.spec.programs.values() if not ps.skip)
        obj = Object(self.spec, self.maps, self.programs, self.btf_fd, self.globals, self.owned)
        obj.core_results = self.core_results
        return obj

    @property
    def kernel_btf(self) -> BTF:
        if self._kernel_btf is None:
            from .btf.kernel import load_kernel
            self._kernel_btf = load_kernel()
        return self._kernel_btf

    def _apply_rodata(self, values: dict[str, Any]) -> None:
        merged = {**self.spec.rodata_overrides, **values}
        if not merged:
            return
        from .maps.globals import GlobalVars
        by_section: dict[str, dict[str, Any]] = {}
        for name, value in merged.items():
            sec = self._section_of_var(name)
            by_section.setdefault(sec, {})[name] = value
        for sec, vals in by_section.items():
            ms = self.spec.maps[sec]
            buf = bytearray(ms.data or b"")
            gv = GlobalVars(buf, ms.btf, ms.value_type_id, writable=True,
                            offsets=self.spec.var_offsets)
            for name, value in vals.items():
                setattr(gv, name, value)
            ms.data = bytes(buf)

    def _section_of_var(self, name: str) -> str:
        btf = self.spec.btf
        candidates = [s for s, m in self.spec.maps.items() if m.is_global_data and s.startswith(".rodata")]
        if btf is not None:
            for sec in candidates:
                ms = self.spec.maps[sec]
                if not ms.value_type_id:
                    continue
                for vi in btf[ms.value_type_id].secinfos:
                    if btf[vi.type_id].name == name:
                        return sec
        raise LoadError(f"rodata: no read-only global variable {name!r} in {self.spec.path} "
                        f"(declare it `const volatile` in the BPF program)")

    def _load_btf(self) -> None:
        btf = self.spec.btf
        if btf is None:
            return
        from .btf.encode import prepare_for_kernel
        sizes, offsets = self._section_sizes(), self._symbol_offsets()
        blob = prepare_for_kernel(btf, sizes, offsets)
        fd, err, text = sysbpf.btf_load(blob)
        if fd is None and err == errno.EINVAL:
            # an older kernel: rewrite the kinds it lacks (probed, never version-checked)
            from .features import btf_features
            sanitized = prepare_for_kernel(btf, sizes, offsets, btf_features())
            if sanitized != blob:
                blob = sanitized
                fd, err, text = sysbpf.btf_load(blob)
        if fd is None:
            fd, err, text = sysbpf.btf_load(blob, log_level=1, log_size=1 << 20)
        if fd is None:
            if err in (errno.EPERM, errno.EACCES):
                from .errors import BPFPermissionError
                raise BPFPermissionError(f"load BTF of {self.spec.path}", err)
            # like libbpf: carry on without BTF (no func/line info, no BTF map types)
            last = text.strip().splitlines()[-1] if text.strip() else ""
            log.warning("kernel refused the object's BTF (%s); loading without it. %s",
                        os.strerror(err), last)
            return
        self.owned.append(fd)
        self.btf_fd, self.btf_blob = fd, blob

    def _section_sizes(self) -> dict[str, int]:
        sizes = dict(self.spec.section_sizes)
        sizes.update({s: len(m.data or b"") for s, m in self.spec.maps.items() if m.is_global_data})
        return sizes

    def _symbol_offsets(self) -> dict[tuple[str, str], int]:
        return self.spec.var_offsets

    # ---- maps ----

    def _create_map(self, name: str, ms: MapSpec) -> FD:
        if ms.pinning == PIN_BY_NAME:
            pinned = self._open_pinned(name, ms)
            if pinned is not None:
                return pinned
        fd = self._map_create(name, ms)
        if ms.is_global_data:
            self._init_global_data(name, ms, fd)
        if ms.pinning == PIN_BY_NAME:
            from .attach.tracefs import BPFFS_DIR, ensure_bpffs, pin_object
            path = self._pin_path(ms)
            if path.startswith(BPFFS_DIR + "/"):
                ensure_bpffs()                       # before makedirs: a fresh /sys/fs/bpf
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pin_object(int(fd), path, f"map {name}")
        return fd

    def _pin_path(self, ms: MapSpec) -> str:
        return os.path.join(ms.pin_path or self.pin_root, ms.name)

    def _open_pinned(self, name: str, ms: MapSpec) -> FD | None:
        path = self._pin_path(ms)
        if not os.path.exists(path):
            return None
        fd = sysbpf.obj_get(path)
        self.owned.append(fd)
        info = sysbpf.obj_info(int(fd), "bpf_map_info")
        want = (int(ms.type), ms.key_size, ms.value_size, ms.max_entries)
        have = (info.type, info.key_size, info.value_size, info.max_entries)
        if want != have:
            raise LoadError(f"map {name}: pinned map at {path} is incompatible "
                            f"(type/key/value/max_entries {have}, object wants {want})")
        self.map_fds[name] = fd
        return fd

    def _map_create(self, name: str, ms: MapSpec) -> FD:
        inner_fd = None
        if ms.inner is not None:
            inner_fd = self._map_create_raw(f"{name}.inner", ms.inner, None)
            self.owned.append(inner_fd)
        try:
            fd = self._map_create_raw(name, ms, inner_fd)
        finally:
            if inner_fd is not None:
                inner_fd.close()
                self.owned.remove(inner_fd)
        self.owned.append(fd)
        self.map_fds[name] = fd
        return fd

    def _map_create_raw(self, name: str, ms: MapSpec, inner_fd: FD | None) -> FD:
        max_entries = ms.max_entries
        if ms.type == MapType.PERF_EVENT_ARRAY and not max_entries:
            max_entries = _possible_cpus()
        if ms.type == MapType.RINGBUF:
            page = os.sysconf("SC_PAGE_SIZE")
            max_entries = max(page, 1 << (max(max_entries, 1) - 1).bit_length())
        kw: dict[str, Any] = dict(flags=ms.flags, name=ms.name, numa_node=ms.numa_node,
                                  map_extra=ms.map_extra,
                                  inner_map_fd=int(inner_fd) if inner_fd is not None else 0)
        use_btf = (self.btf_fd is not None and ms.btf is self.spec.btf and ms.type not in
                   FD_VALUE_MAP_TYPES | {MapType.RINGBUF, MapType.USER_RINGBUF, MapType.STACK_TRACE})
        if use_btf and (ms.value_type_id or ms.key_type_id):
            kw.update(btf_fd=int(self.btf_fd), btf_key_type_id=ms.key_type_id,  # type: ignore[arg-type]
                      btf_value_type_id=ms.value_type_id)
        try:
            return sysbpf.map_create(int(ms.type), ms.key_size, ms.value_size, max_entries, **kw)
        except BPFError as e:
            if "btf_fd" in kw and e.errno in (errno.EINVAL, errno.ENOTSUP, 524):
                log.debug("map %s: retrying without BTF (%s)", name, e)
                for k in ("btf_fd", "btf_key_type_id", "btf_value_type_id"):
                    kw.pop(k)
                from .features import mmapable_arrays  # (only on this fallback)
                if ms.is_global_data and not mmapable_arrays():
                    kw["flags"] &= ~int(MapFlags.MMAPABLE)
                return sysbpf.map_create(int(ms.type), ms.key_size, ms.value_size, max_entries, **kw)
            raise _wrap(f"create map {name} ({ms.type.name if isinstance(ms.type, MapType) else ms.type})", e) from e

    def _init_global_data(self, name: str, ms: MapSpec, fd: FD) -> None:
        from .sys.cdefs import ffi
        key = ffi.new("uint32_t *", 0)
        data = ms.data or b""
        if data and (any(data) or not name.startswith(".bss")):
            sysbpf.map_update(int(fd), key, ffi.from_buffer(data))
        if name.startswith(".rodata") or name == ".kconfig":
            sysbpf.map_freeze(int(fd))

    # ---- programs ----

    def _load_program(self, ps: ProgramSpec) -> None:
        insns = bytearray(ps.insns)
        self._apply_core(ps, insns)
        self._apply_relocs(ps, insns)
        attach_btf_id, attach_obj_fd = self._attach_btf_target(ps)
        func_info, line_info = self._func_line_info(ps)
        kw: dict[str, Any] = dict(
            name=ps.name, expected_attach_type=int(ps.expected_attach_type),
            kern_version=ps.kern_version or kernel_version_code(), flags=ps.flags,
            attach_btf_id=attach_btf_id, attach_btf_obj_fd=attach_obj_fd)
        if self.btf_fd is not None:
            kw.update(btf_fd=int(self.btf_fd), func_info=func_info, func_info_rec_size=8,
                      line_info=line_info, line_info_rec_size=16)
        fd, err, text = sysbpf.prog_load(int(ps.type), bytes(insns), ps.license,
                                         log_level=self.log_level,
                                         log_size=LOG_SIZE_START if self.log_level else 0, **kw)
        if fd is None:
            text = self._verifier_log(ps, insns, kw) if err not in (errno.EPERM,) else text
            self._raise_load_error(ps, err, text, insns)
        assert fd is not None
        self.owned.append(fd)
        self.programs[ps.name] = Program(fd, ps, attach_btf_id=attach_btf_id,
                                         attach_btf_obj_fd=attach_obj_fd, verifier_log=text)

    def _verifier_log(self, ps: ProgramSpec, insns: bytearray, kw: dict[str, Any]) -> str:
        size = LOG_SIZE_START
        while True:
            fd, err, text = sysbpf.prog_load(int(ps.type), bytes(insns), ps.license,
                                             log_level=1, log_size=size, **kw)
            if fd is not None:   # loads with a log but not without: report as a load anyway
                fd.close()
                return text
            if err != errno.ENOSPC or size >= LOG_SIZE_MAX:
                return text
            size = min(size * 4, LOG_SIZE_MAX)

    def _raise_load_error(self, ps: ProgramSpec, err: int, text: str, insns: bytearray) -> None:
        weak = sorted(n for prog, n in self._poisoned_kfuncs if prog == ps.name)
        if f"unknown#{I.POISON_KFUNC}" in text and weak:
            why = (f"program {ps.name} reached a call to __weak kfunc {', '.join(weak)}, "
                   f"which this kernel lacks (guard it with bpf_ksym_exists())")
            raise VerifierError(ps.name, err, text, reason=why) from LoadError(why)
        if f"unknown#{I.POISON_HELPER}" in text:
            failed = [r for r in self.core_results
                      if getattr(r, "poison", False) and getattr(r, "program", ps.name) == ps.name]
            detail = "; ".join(r.describe() if hasattr(r, "describe") else str(r) for r in failed)
            why = f"program {ps.name} reached a CO-RE relocation that failed on this kernel: {detail}"
            raise VerifierError(ps.name, err, text, reason=why) from LoadError(why)
        if err == errno.EPERM and ps.type in (ProgType.TRACING, ProgType.LSM, ProgType.EXT):
            from .errors import BPFPermissionError
            raise BPFPermissionError(
                f"load program {ps.name} ({ps.section})", err,
                "the kernel refused a BPF trampoline program: fentry/fexit/fmod_ret/lsm need "
                "CONFIG_FUNCTION_TRACER + CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS and a "
                "trampoline-capable kernel (some VMs and lockdown modes forbid them), and "
                "CAP_BPF + CAP_PERFMON (root)")
        if err == errno.EPERM:
            from .errors import BPFPermissionError
            raise BPFPermissionError(f"load program {ps.name}", err)
        if not text:
            raise LoadError(f"load program {ps.name} ({ps.section}): {os.strerror(err)} "
                            f"(errno {err}) and the verifier gave no log", err)
        raise VerifierError(ps.name, err, text, source_line=_failing_source_line(text))

    def _apply_core(self, ps: ProgramSpec, insns: bytearray) -> None:
        ext = self.spec.btf_ext
        relos_by_sec = getattr(ext, "core_relos", None) if ext is not None else None
        if not relos_by_sec:
            return
        relos = []
        for base, sec, off, n in ps.origins:
            for r in relos_by_sec.get(sec, ()):
                if off <= r.insn_off < off + n * 8:
                    relos.append(r._replace(insn_off=(base * 8) + (r.insn_off - off)))
        if not relos:
            return
        relocator = self._relocator()
        results = relocator.relocate_section(insns, relos, ps.section)
        for r in results:
            try:
                object.__setattr__(r, "program", ps.name)
            except (AttributeError, TypeError):
                pass
        self.core_results.extend(results)

    def _relocator(self) -> Any:
        if not hasattr(self, "_core"):
            from .btf.cache import relocator  # results cached per (object, kernel) BTF
            from .btf.kernel import load_modules
            self._core = relocator(self.spec.btf, self._kernel_btf, lambda: self.kernel_btf,
                                   load_modules)
        return self._core

    def _apply_relocs(self, ps: ProgramSpec, insns: bytearray) -> None:
        for r in ps.relocs:
            if r.kind == "map":
                I.set_src(insns, r.insn, PSEUDO_MAP_FD)
                I.set_imm(insns, r.insn, int(self._map_fd(ps, r.target)))
            elif r.kind == "map_value":
                I.set_src(insns, r.insn, PSEUDO_MAP_VALUE)
                I.set_imm(insns, r.insn, int(self._map_fd(ps, r.target)))
                I.set_imm(insns, r.insn + 1, r.addend)
            elif r.kind == "kconfig":
                self._reloc_kconfig(ps, insns, r)
            elif r.kind == "ksym":
                self._reloc_ksym(ps, insns, r)

    def _map_fd(self, ps: ProgramSpec, name: str) -> FD:
        fd = self.map_fds.get(name)
        if fd is None:
            raise LoadError(f"program {ps.name} uses map {name!r}, which is skipped or missing")
        return fd

    def _reloc_kconfig(self, ps: ProgramSpec, insns: bytearray, r: Any) -> None:
        from .externs import kconfig_map
        fd, offset = kconfig_map(self, r.target)
        I.set_src(insns, r.insn, PSEUDO_MAP_VALUE)
        I.set_imm(insns, r.insn, int(fd))
        I.set_imm(insns, r.insn + 1, offset + r.addend)

    def _reloc_ksym(self, ps: ProgramSpec, insns: bytearray, r: Any) -> None:
        from .externs import resolve_ksym
        ins = I.decode(insns, r.insn)
        kind, value, btf_obj_fd = resolve_ksym(self, r.target, is_call=ins.code == I.CALL,
                                               weak=r.target in self.spec.weak_externs)
        if ins.code == I.CALL:
            if kind == "missing":          # a __weak kfunc: fails only if reached
                I.encode_into(insns, r.insn, I.Insn(I.CALL, 0, 0, 0, I.POISON_KFUNC))
                self._poisoned_kfuncs.add((ps.name, r.target))
            else:
                I.encode_into(insns, r.insn, I.Insn(ins.code, 0, 2, btf_obj_fd, value))
        elif kind == "btf":
            I.set_src(insns, r.insn, PSEUDO_BTF_ID)
            I.set_imm(insns, r.insn, value)
            I.set_imm(insns, r.insn + 1, btf_obj_fd)
        else:                              # an address; 0 for a missing __weak symbol
            I.set_src(insns, r.insn, 0)
            I.set_ld_imm64(insns, r.insn, value)

    def _attach_btf_target(self, ps: ProgramSpec) -> tuple[int, int]:
        from .attach.sections import lookup
        sdef, target = lookup(ps.section)
        if not sdef.btf_target:
            return 0, 0
        if not target:
            raise LoadError(f"program {ps.name}: section {ps.section!r} names no attach target")
        name, kind = {
            "func": (target, Kind.FUNC),
            "tp": (f"btf_trace_{target}", Kind.TYPEDEF),
            "lsm": (f"bpf_lsm_{target}", Kind.FUNC),
            "iter": (f"bpf_iter_{target}", Kind.FUNC),
        }[sdef.btf_target]
        found = self.kernel_btf.find_all(name, kind)
        if not found:
            from .errors import AttachError
            raise AttachError(f"program {ps.name}: attach target {target!r} ({kind.name.lower()} "
                              f"{name}) not found in kernel BTF")
        return found[0].id, 0

    def _func_line_info(self, ps: ProgramSpec) -> tuple[bytes, bytes]:
        ext = self.spec.btf_ext
        if ext is None or self.btf_fd is None:
            return b"", b""
        fi, li = bytearray(), bytearray()
        for base, sec, off, n in ps.origins:
            for rec in getattr(ext, "func_info", {}).get(sec, ()):
                if off <= rec.insn_off < off + n * 8:
                    fi += struct.pack("<II", base + (rec.insn_off - off) // 8, rec.type_id)
            for rec in getattr(ext, "line_info", {}).get(sec, ()):
                if off <= rec.insn_off < off + n * 8:
                    li += struct.pack("<IIII", base + (rec.insn_off - off) // 8,
                                      rec.file_name_off, rec.line_off, rec.line_col)
        return bytes(fi), bytes(li)

    # ---- after load ----

    def _fill_initial_slots(self) -> None:
        from .sys.cdefs import ffi
        for name, ms in self.spec.maps.items():
            if ms.skip or not ms.init_slots:
                continue
            for slot, target in ms.init_slots.items():
                if ms.type == MapType.PROG_ARRAY:
                    prog = self.programs.get(target)
                    if prog is None:
                        raise LoadError(f"map {name}: initial slot {slot} names program "
                                        f"{target!r}, which is not loaded")
                    val = prog.fd
                else:
                    if target not in self.map_fds:
                        raise LoadError(f"map {name}: initial slot {slot} names map {target!r}, "
                                        f"which is not created")
                    val = int(self.map_fds[target])
                sysbpf.map_update(int(self.map_fds[name]), ffi.new("uint32_t *", slot),
                                  ffi.new("uint32_t *", val))

    def _open_maps(self) -> None:
        from .maps import open_map
        for name, fd in self.map_fds.items():
            ms = self.spec.maps[name]
            m = open_map(fd, ms, ms.btf)
            self.maps[name] = m
            if ms.is_global_data:
                self.globals[name] = _globals_view(m, ms, self.spec.var_offsets)


def _globals_view(m: Any, ms: MapSpec, offsets: dict[tuple[str, str], int]) -> Any:
    from .maps.globals import GlobalVars
    if not ms.value_type_id or ms.btf is None:
        return None
    writable = not ms.section.startswith(".rodata") and ms.section != ".kconfig"
    buf = m.mmap(writable=writable) if hasattr(m, "mmap") else None
    if buf is None:
        return None
    return GlobalVars(buf, ms.btf, ms.value_type_id, writable=writable, offsets=offsets)


def _wrap(op: str, e: BPFError) -> BPFError:
    """Re-raise a syscall error with the operation named ("create map counts (HASH)")."""
    from .errors import SyscallError
    if isinstance(e, SyscallError):
        return type(e)(op, e.errno or 0)
    return e


_SRC_LINE = r"^; (.*?)(?: @ (\S+:\d+))?$"   # compiled when a load fails (re caches it)


def _failing_source_line(text: str) -> str | None:
    """The last source line the verifier printed before rejecting (needs line_info)."""
    import re  # only when a load failed: start-up need not import it
    last = None
    src_line = re.compile(_SRC_LINE)
    for line in text.splitlines():
        m = src_line.match(line)
        if m:
            last = f"{m.group(1).strip()}" + (f"  ({m.group(2)})" if m.group(2) else "")
    return last


def _possible_cpus() -> int:
    from .sys.cpus import possible_cpus
    return len(possible_cpus())
