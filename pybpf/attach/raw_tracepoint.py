"""Raw tracepoints (``raw_tp/<name>``): RAW_TRACEPOINT_OPEN gives a BPF link."""

from __future__ import annotations

import difflib
import errno

from ..errors import AttachError, BPFError
from ..sys import bpf as sysbpf
from .link import FDLink, Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def attach_raw_tracepoint(prog: Any, name: str) -> Link:
    """``raw_tp/<name>`` (a tracepoint name without its category, e.g. "sched_switch")."""
    if not name:
        raise AttachError(f"program {prog.name}: raw tracepoint needs a name (raw_tp/<name>)")
    try:
        fd = sysbpf.raw_tracepoint_open(prog.fd, name)
    except BPFError as e:
        if e.errno == errno.ENOENT:
            raise AttachError(f"unknown raw tracepoint {name!r}{_suggest(name)}", e.errno) from e
        raise
    return FDLink(fd, f"{prog.name} -> raw_tp {name}")


def _suggest(name: str) -> str:
    from .tracefs import event_names
    try:
        close = difflib.get_close_matches(name, event_names(), 5)
    except BPFError:
        return ""
    return f" (close: {', '.join(close)})" if close else ""
