"""What kprobes and uprobes share: perf PMU attrs and legacy tracefs event lines.

The attr and text builders are pure functions so that code paths this development kernel
cannot run (kprobes) are tested on the exact attrs and text they produce.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from .._log import get_logger
from ..errors import AttachError
from ..sys.cdefs import ffi
from ..sys.consts import PerfType
from ..sys.fd import FD
from .link import Link, PerfLink, perf_open
from .tracefs import event_id, tracefs_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.attach")

GROUP = "pybpf"
PMU_DIR = "/sys/bus/event_source/devices"
_counter = itertools.count()
EVENT_RE = re.compile(r"^[pr]\d*:" + GROUP + r"/(" + GROUP + r"_(\d+)_\d+)\s")


# ---- perf PMU (kernel 4.17+) ----

def pmu_type(kind: str, root: str = PMU_DIR) -> int | None:
    """perf PMU type of "kprobe"/"uprobe", None when the kernel has no such PMU."""
    try:
        with open(f"{root}/{kind}/type") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def parse_format_bit(text: str) -> int | None:
    """Bit position of a PMU format field: "config:0" -> 0, "config:32-63" -> 32."""
    m = re.fullmatch(r"config:(\d+)(?:-\d+)?", text.strip())
    return int(m.group(1)) if m else None


def pmu_format_bit(kind: str, fieldname: str, root: str = PMU_DIR) -> int | None:
    try:
        with open(f"{root}/{kind}/format/{fieldname}") as f:
            return parse_format_bit(f.read())
    except OSError:
        return None


@dataclass(frozen=True)
class ProbeAttr:
    """The perf_event_attr fields of a kprobe/uprobe PMU event and the open() arguments.

    ``config1`` is the function name (kprobe) or binary path (uprobe) the kernel reads through
    a pointer, or an int (0 for a kprobe at an address).
    """

    type: int
    config: int
    config1: bytes | int
    config2: int
    pid: int = -1
    cpu: int = 0


def kprobe_pmu_attr(pmu: int, ret_bit: int | None, symbol: str | None, offset: int = 0,
                    addr: int = 0, retprobe: bool = False) -> ProbeAttr:
    """kprobe PMU attr: by name (config1 -> "sym", config2 = offset) or address (config2)."""
    if retprobe and ret_bit is None:
        raise AttachError("this kernel's kprobe PMU has no retprobe format bit")
    config = (1 << ret_bit) if retprobe and ret_bit is not None else 0
    if symbol:
        return ProbeAttr(pmu, config, symbol.encode(), offset)
    return ProbeAttr(pmu, config, 0, addr + offset)


def uprobe_pmu_attr(pmu: int, ret_bit: int | None, ref_bit: int | None, path: str,
                    offset: int, retprobe: bool = False, ref_ctr_offset: int = 0,
                    pid: int = -1) -> ProbeAttr:
    """uprobe PMU attr: config1 -> path, config2 = file offset, semaphore in config bits."""
    if retprobe and ret_bit is None:
        raise AttachError("this kernel's uprobe PMU has no retprobe format bit")
    config = (1 << ret_bit) if retprobe and ret_bit is not None else 0
    if ref_ctr_offset:
        if ref_bit is None:
            raise AttachError("this kernel's uprobe PMU has no ref_ctr_offset (USDT semaphores "
                              "need kernel 4.20+)")
        if ref_ctr_offset >> (64 - ref_bit):
            raise AttachError(f"ref_ctr_offset {ref_ctr_offset:#x} does not fit the PMU field")
        config |= ref_ctr_offset << ref_bit
    return ProbeAttr(pmu, config, os.fsencode(path), offset, pid, 0 if pid == -1 else -1)


def open_pmu_event(attr: ProbeAttr, what: str) -> FD:
    keep = ffi.new("char[]", attr.config1) if isinstance(attr.config1, bytes) else None
    c1 = int(ffi.cast("uintptr_t", keep)) if keep is not None else attr.config1
    return perf_open(attr.type, attr.config, pid=attr.pid, cpu=attr.cpu, config1=c1,
                     config2=attr.config2, what=what)


# ---- legacy kprobe_events / uprobe_events ----

def event_name(pid: int | None = None) -> str:
    """A unique, pybpf-owned legacy event name: pybpf_<pid>_<n>."""
    return f"{GROUP}_{os.getpid() if pid is None else pid}_{next(_counter)}"


def kprobe_line(name: str, symbol: str | None, offset: int = 0, retprobe: bool = False,
                maxactive: int = 0, addr: int = 0) -> str:
    """A kprobe_events line: ``p:pybpf/N sym+off``, ``r16:pybpf/N sym``, ``p:pybpf/N 0xaddr``."""
    if maxactive and not retprobe:
        raise AttachError("maxactive applies to kretprobes only")
    kind = f"r{maxactive or ''}" if retprobe else "p"
    if symbol:
        target = f"{symbol}+{offset}" if offset else symbol
    else:
        target = f"{addr + offset:#x}"
    return f"{kind}:{GROUP}/{name} {target}"


def uprobe_line(name: str, path: str, offset: int, retprobe: bool = False,
                ref_ctr_offset: int = 0) -> str:
    """A uprobe_events line: ``p:pybpf/N /path:0x1234`` (``(0x40)`` = semaphore offset)."""
    if any(c.isspace() for c in path):
        raise AttachError(f"uprobe_events cannot name a path with whitespace: {path!r}")
    ref = f"({ref_ctr_offset:#x})" if ref_ctr_offset else ""
    return f"{'r' if retprobe else 'p'}:{GROUP}/{name} {path}:{offset:#x}{ref}"


def remove_line(name: str) -> str:
    return f"-:{GROUP}/{name}"


def events_file(kind: str) -> str:
    return os.path.join(tracefs_path(), f"{kind}_events")


def has_events_file(kind: str) -> bool:
    return os.path.exists(events_file(kind))


def write_event(kind: str, line: str) -> None:
    """Append one line to kprobe_events/uprobe_events (raw write: tracefs refuses seeks)."""
    path = events_file(kind)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError:
        cfg = "CONFIG_KPROBE_EVENTS" if kind == "kprobe" else "CONFIG_UPROBE_EVENTS"
        raise AttachError(f"kernel has no {kind}_events ({path} missing: {cfg} unset)") from None
    except OSError as e:
        raise AttachError(f"cannot open {path}: {e.strerror} (needs root)", e.errno) from e
    try:
        os.write(fd, (line + "\n").encode())
    except OSError as e:
        why = {errno.ENOENT: "no such function or file", errno.EINVAL: "invalid probe",
               errno.EBUSY: "event is in use", errno.EEXIST: "event exists"}.get(e.errno, "")
        raise AttachError(f"{kind}_events rejected {line!r}: {e.strerror}"
                          f"{f' ({why})' if why else ''}", e.errno) from e
    finally:
        os.close(fd)


def pybpf_events(kind: str) -> list[tuple[str, int]]:
    """(event name, owner pid) of every pybpf legacy event in kprobe_events/uprobe_events."""
    try:
        with open(events_file(kind)) as f:
            text = f.read()
    except OSError:
        return []
    return parse_pybpf_events(text)


def parse_pybpf_events(text: str) -> list[tuple[str, int]]:
    out = []
    for line in text.splitlines():
        m = EVENT_RE.match(line)
        if m:
            out.append((m.group(1), int(m.group(2))))
    return out


def clean_stale(kind: str) -> int:
    """Remove pybpf legacy events left by processes that no longer exist."""
    removed = 0
    for name, pid in pybpf_events(kind):
        if os.path.exists(f"/proc/{pid}"):
            continue
        try:
            write_event(kind, remove_line(name))
            removed += 1
            log.info("removed stale %s event %s of dead process %d", kind, name, pid)
        except AttachError as e:
            log.debug("stale %s %s not removed: %s", kind, name, e)
    return removed


# ---- the attach chain ----

def attach_pmu(prog: Any, attr: ProbeAttr, cookie: int, what: str) -> Link:
    fd = open_pmu_event(attr, what)
    return PerfLink(prog.fd, fd, f"{prog.name} -> {what}", cookie)


def attach_legacy(prog: Any, kind: str, line_for: Callable[[str], str], pid: int, cookie: int,
                  what: str) -> Link:
    """Attach through kprobe_events/uprobe_events with a pybpf-owned event, removed on close."""
    clean_stale(kind)
    name = event_name()
    write_event(kind, line_for(name))
    try:
        fd = perf_open(PerfType.TRACEPOINT, event_id(GROUP, name), pid=pid,
                       cpu=0 if pid == -1 else -1, what=what)
        link = PerfLink(prog.fd, fd, f"{prog.name} -> {what} (legacy {name})", cookie)
    except BaseException:
        try:
            write_event(kind, remove_line(name))
        except AttachError as e:
            log.warning("could not remove %s event %s: %s", kind, name, e)
        raise
    link.on_close(lambda: write_event(kind, remove_line(name)))
    link.event_name = name  # type: ignore[attr-defined]
    return link


