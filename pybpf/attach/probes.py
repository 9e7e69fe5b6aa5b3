"""What kprobes and uprobes share: the perf PMU attrs and legacy tracefs event lines.

The text and attr builders are pure functions so that kprobe code paths, which this
development kernel cannot run, are tested on the exact text they produce.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from typing import Any

from ..errors import AttachError, BPFError
from ..sys.cdefs import ffi
from ..sys.consts import PerfType
from ..sys.perf import perf_event_open
from .link import Link, PerfLink
from .tracefs import event_id, tracefs_path

log = logging.getLogger("pybpf.attach")

GROUP = "pybpf"
_counter = itertools.count()
_EVENT_RE = re.compile(r"^[pr]\d*:(?:pybpf)/(pybpf_(\d+)_\d+)\s")


def pmu_type(kind: str) -> int | None:
    """perf PMU type of "kprobe"/"uprobe", None when the kernel has no such PMU."""
    try:
        with open(f"/sys/bus/event_source/devices/{kind}/type") as f:
            return int(f.read())
    except OSError:
        return None


def pmu_format_bit(kind: str, field: str) -> int | None:
    """Bit position of a PMU format field ("config:0" -> 0, "config:32-63" -> 32)."""
    try:
        with open(f"/sys/bus/event_source/devices/{kind}/format/{field}") as f:
            m = re.match(r"config:(\d+)", f.read().strip())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def pmu_config(retprobe: bool, ret_bit: int | None, ref_ctr_offset: int = 0,
               ref_bit: int | None = None) -> int:
    """The ``config`` word of a kprobe/uprobe PMU event."""
    cfg = (1 << ret_bit) if retprobe and ret_bit is not None else 0
    if ref_ctr_offset:
        if ref_bit is None:
            raise AttachError("this kernel's uprobe PMU has no ref_ctr_offset (semaphores)")
        cfg |= ref_ctr_offset << ref_bit
    return cfg


def event_name(pid: int | None = None) -> str:
    """A unique, pybpf-owned legacy event name: pybpf_<pid>_<n>."""
    return f"pybpf_{os.getpid() if pid is None else pid}_{next(_counter)}"


def kprobe_line(name: str, symbol: str, offset: int = 0, retprobe: bool = False,
                maxactive: int = 0) -> str:
    """A kprobe_events line: ``p:pybpf/NAME sym+off`` or ``r16:pybpf/NAME sym``."""
    kind = f"r{maxactive or ''}" if retprobe else "p"
    target = f"{symbol}+{offset}" if offset else symbol
    return f"{kind}:{GROUP}/{name} {target}"


def uprobe_line(name: str, path: str, offset: int, retprobe: bool = False,
                ref_ctr_offset: int = 0) -> str:
    """A uprobe_events line: ``p:pybpf/NAME /path:0x1234(0x40)``."""
    ref = f"({ref_ctr_offset:#x})" if ref_ctr_offset else ""
    return f"{'r' if retprobe else 'p'}:{GROUP}/{name} {path}:{offset:#x}{ref}"


def remove_line(name: str) -> str:
    return f"-:{GROUP}/{name}"


def _events_file(kind: str) -> str:
    return os.path.join(tracefs_path(), f"{kind}_events")


def write_event(kind: str, line: str) -> None:
    """Append one line to kprobe_events/uprobe_events (raw write: tracefs refuses seeks)."""
    path = _events_file(kind)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except FileNotFoundError:
        raise AttachError(f"kernel has no {kind}s ({path} missing: "
                          f"CONFIG_{kind.upper()}S / CONFIG_{kind.upper()}_EVENTS unset)") from None
    except OSError as e:
        raise AttachError(f"cannot open {path}: {e.strerror}") from e
    try:
        os.write(fd, (line + "\n").encode())
    except OSError as e:
        raise AttachError(f"{kind}_events rejected {line!r}: {e.strerror}") from e
    finally:
        os.close(fd)


def clean_stale(kind: str) -> int:
    """Remove pybpf legacy events left by processes that no longer exist."""
    try:
        with open(_events_file(kind)) as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    removed = 0
    for line in lines:
        m = _EVENT_RE.match(line)
        if m and not os.path.exists(f"/proc/{m.group(2)}"):
            try:
                write_event(kind, remove_line(m.group(1)))
                removed += 1
            except AttachError as e:
                log.debug("stale %s %s not removed: %s", kind, m.group(1), e)
    return removed


def attach_pmu(prog: Any, kind: str, retprobe: bool, config1: bytes | int, config2: int,
               pid: int, cookie: int, what: str, ref_ctr_offset: int = 0) -> Link | None:
    """Attach via the kprobe/uprobe PMU; None when the kernel has none."""
    ptype = pmu_type(kind)
    if ptype is None:
        return None
    cfg = pmu_config(retprobe, pmu_format_bit(kind, "retprobe"), ref_ctr_offset,
                     pmu_format_bit(kind, "ref_ctr_offset"))
    keep = ffi.new("char[]", config1) if isinstance(config1, bytes) else None
    c1 = int(ffi.cast("uintptr_t", keep)) if keep is not None else config1
    fd = perf_event_open(ptype, cfg, pid=pid, cpu=0 if pid == -1 else -1, config1=c1,
                         config2=config2, op=f"open {what}")
    return PerfLink(prog.fd, fd, f"{prog.name} -> {what}", cookie)


def attach_legacy(prog: Any, kind: str, line_for: Any, pid: int, cookie: int, what: str) -> Link:
    """Attach through kprobe_events/uprobe_events with a pybpf-owned event, removed on close."""
    clean_stale(kind)
    name = event_name()
    write_event(kind, line_for(name))
    try:
        fd = perf_event_open(PerfType.TRACEPOINT, event_id(GROUP, name), pid=pid,
                             cpu=0 if pid == -1 else -1, op=f"open {what}")
        link = PerfLink(prog.fd, fd, f"{prog.name} -> {what} (legacy {name})", cookie)
    except BPFError:
        write_event(kind, remove_line(name))
        raise
    link.on_close(lambda: write_event(kind, remove_line(name)))
    link.event_name = name  # type: ignore[attr-defined]
    return link
