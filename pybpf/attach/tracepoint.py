"""Tracepoints: the id from tracefs, a perf event of type TRACEPOINT, then a link."""

from __future__ import annotations

from ..errors import AttachError
from ..sys.consts import PerfType
from .link import Link, PerfLink, perf_open
from .tracefs import event_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def attach_tracepoint(prog: Any, category: str, name: str, cookie: int = 0) -> Link:
    """``tracepoint/<category>/<name>``: fires on every CPU for every process."""
    if not category or not name or "/" in category or "/" in name:
        raise AttachError(f"bad tracepoint {category!r}:{name!r}: expected a category and a "
                          f"name, e.g. ('syscalls', 'sys_enter_openat')")
    tp = event_id(category, name)
    what = f"tracepoint {category}:{name}"
    fd = perf_open(PerfType.TRACEPOINT, tp, pid=-1, cpu=0, what=what)
    return PerfLink(prog.fd, fd, f"{prog.name} -> {what}", cookie)
