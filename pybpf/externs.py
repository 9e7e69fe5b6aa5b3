"""Extern symbols: ``__kconfig`` values and ``__ksym`` kernel symbols / kfuncs."""

from __future__ import annotations

import functools
import os

from ._log import get_logger
from .btf.types import BTF, Kind
from .errors import LoadError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.externs")

BPF_FUNC_GET_ATTACH_COOKIE = 174

@functools.cache
def kernel_config() -> dict[str, str]:
    """CONFIG_* values of the running kernel (/proc/config.gz, else /boot/config-$release)."""
    text = ""
    try:
        import gzip  # only here: ~0.5 ms of start-up otherwise
        with gzip.open("/proc/config.gz", "rt") as f:
            text = f.read()
    except OSError:
        try:
            with open(f"/boot/config-{os.uname().release}") as f:
                text = f.read()
        except OSError:
            log.debug("no kernel config found; CONFIG_* externs default to zero/n")
    import re  # only for objects with externs
    out = {}
    for line in text.splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)", line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def kernel_version_code() -> int:
    """LINUX_VERSION_CODE of the running kernel (a.b.c -> a<<16 | b<<8 | min(c, 255))."""
    a, b, c = release_numbers(os.uname().release)
    return (a << 16) + (b << 8) + min(c, 255)


def release_numbers(release: str) -> tuple[int, int, int]:
    """(a, b, c) of a kernel release "a.b[.c]..." ("6.18.44-fc" -> 6, 18, 44; "6.1-rc2" ->
    6, 1, 0); (0, 0, 0) if it does not start so."""
    nums: list[int] = []
    rest = release
    while len(nums) < 3:
        n = len(rest) - len(rest.lstrip("0123456789"))
        if not n:
            break
        nums.append(int(rest[:n]))
        if rest[n:n + 1] != ".":
            break
        rest = rest[n + 1:]
    if len(nums) < 2:
        return 0, 0, 0
    return nums[0], nums[1], nums[2] if len(nums) == 3 else 0


def kconfig_value(name: str) -> str | int | None:
    """The raw value of a kconfig extern, None when the kernel does not define it."""
    if name == "LINUX_KERNEL_VERSION":
        return kernel_version_code()
    if name == "LINUX_HAS_BPF_COOKIE":
        from .features import helper
        from .sys.consts import ProgType
        return int(helper(ProgType.KPROBE, BPF_FUNC_GET_ATTACH_COOKIE))
    if name == "LINUX_HAS_SYSCALL_WRAPPER":
        return 1
    return kernel_config().get(name)


def _encode_kconfig(btf: BTF, type_id: int, raw: str | int | None, name: str) -> bytes:
    t = btf.resolve(type_id)
    size = btf.size_of(type_id)
    if raw is None:
        return bytes(size)
    if t.kind == Kind.ARRAY:               # char[N]: string values
        s = raw.strip('"').encode() if isinstance(raw, str) else str(raw).encode()
        if len(s) >= size:
            raise LoadError(f"kconfig {name}: value {raw!r} does not fit char[{size}]")
        return s.ljust(size, b"\0")
    if isinstance(raw, str):
        if t.kind == Kind.ENUM or raw in ("y", "m", "n"):
            val = {"n": 0, "y": 1, "m": 2}.get(raw)
            if val is None:
                raise LoadError(f"kconfig {name}: {raw!r} is not a tristate value")
        else:
            try:
                val = int(raw.strip('"'), 0)
            except ValueError as e:
                raise LoadError(f"kconfig {name}: {raw!r} is not an integer") from e
    else:
        val = raw
    if t.kind == Kind.INT and t.int_bits == 8 and size == 1 and val > 1 and t.int_encoding & 4:
        val = 1  # bool
    return (val & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def kconfig_map(loader: Any, name: str) -> tuple[Any, int]:
    """(fd of the .kconfig map, offset of ``name`` in it), building the map on first use."""
    state = getattr(loader, "_kconfig", None)
    if state is None:
        state = loader._kconfig = _build_kconfig(loader)
    fd, offsets = state
    if name not in offsets:
        raise LoadError(f"extern {name!r} is not a __kconfig variable")
    return fd, offsets[name][0]


def kconfig_layout(btf: BTF) -> dict[str, tuple[int, int]]:
    """{name: (offset, type id)} of the ``__kconfig`` externs in the .kconfig map.

    libbpf's order, so the relocated instructions are the same as its: larger alignment
    first, then smaller size, then name.
    """
    secs = btf.find_all(".kconfig", Kind.DATASEC)
    items = []
    for vi in secs[0].secinfos if secs else ():
        var = btf[vi.type_id]
        items.append((-min(btf.align_of(var.type_id), 8), btf.size_of(var.type_id), var.name,
                      var.type_id))
    out: dict[str, tuple[int, int]] = {}
    off = 0
    for neg_align, size, name, type_id in sorted(items):
        off += -off % -neg_align
        out[name] = (off, type_id)
        off += size
    return out


def _build_kconfig(loader: Any) -> tuple[Any, dict[str, tuple[int, int]]]:
    from .sys import bpf as sysbpf
    from .sys.cdefs import ffi
    from .sys.consts import MapFlags, MapType
    btf: BTF = loader.spec.btf
    offsets = kconfig_layout(btf)
    data = bytearray()
    for name, (off, type_id) in offsets.items():
        data += bytes(off - len(data))
        data += _encode_kconfig(btf, type_id, kconfig_value(name), name)
    data += bytes(-len(data) % 8 or (8 if not data else 0))
    obj_name = os.path.basename(loader.spec.path).split(".", 1)[0]
    fd = sysbpf.map_create(MapType.ARRAY, 4, len(data), 1,
                           flags=int(MapFlags.RDONLY_PROG | MapFlags.MMAPABLE),
                           name=(obj_name[:7] + ".kconfig")[:15])
    loader.owned.append(fd)
    sysbpf.map_update(int(fd), ffi.new("uint32_t *", 0), ffi.from_buffer(bytes(data)))
    sysbpf.map_freeze(int(fd))
    return fd, offsets


@functools.cache
def kallsyms() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/kallsyms") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3:
                    out.setdefault(parts[2], int(parts[0], 16))
    except OSError:
        pass
    return out


def resolve_ksym(loader: Any, name: str, is_call: bool,
                 weak: bool = False) -> tuple[str, int, int]:
    """("btf", btf id, btf obj fd) for typed ksyms/kfuncs, ("addr", address, 0) for typeless;
    a ``weak`` symbol the kernel lacks gives ("missing", 0, 0), as libbpf does."""
    btf: BTF = loader.spec.btf
    local = None
    for ds in btf.find_all(".ksyms", Kind.DATASEC):
        for vi in ds.secinfos:
            if btf[vi.type_id].name == name:
                local = btf[vi.type_id]
    kern = loader.kernel_btf
    if is_call or (local is not None and local.kind == Kind.FUNC):
        found = kern.find_all(name, Kind.FUNC)
        if found:
            return "btf", found[0].id, 0
        if weak:
            return "missing", 0, 0
        raise LoadError(f"kfunc {name!r} not found in kernel BTF")
    if local is not None and local.kind == Kind.VAR and btf.resolve(local.type_id).kind != Kind.UNKN:
        found = kern.find_all(name, Kind.VAR)
        if found:
            return "btf", found[0].id, 0
        if weak:
            return "missing", 0, 0
        raise LoadError(f"typed ksym {name!r} not found in kernel BTF (its BTF has no such "
                        f"variable; older kernels' BTF has no per-CPU or global variables)")
    addr = kallsyms().get(name)
    if addr is None:
        if weak:
            return "missing", 0, 0
        raise LoadError(f"ksym {name!r} not found in kernel BTF or /proc/kallsyms")
    if addr == 0:
        raise LoadError(f"ksym {name!r}: /proc/kallsyms shows zero addresses "
                        f"(kernel.kptr_restrict); run as root")
    return "addr", addr, 0

