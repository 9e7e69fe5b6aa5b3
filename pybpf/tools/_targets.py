"""What a bcc-style function pattern stands for (funclatency, funccount): kernel functions,
``lib:function`` in a binary, or ``t:category:event`` tracepoints, with globs or (``-r``)
regular expressions."""

from __future__ import annotations

import fnmatch
import os

import pybpf

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def matcher(pattern: str, regexp: bool) -> Callable[[str], bool] | None:
    """None for a plain name; else a test of names (a glob, or a regex with ``-r``)."""
    if regexp:
        import re
        rx = re.compile(pattern)
        return lambda n: rx.search(n) is not None
    if any(c in pattern for c in "*?["):
        return lambda n: fnmatch.fnmatchcase(n, pattern)
    return None


def functions(pattern: str, regexp: bool) -> tuple[str | None, list[str]]:
    """(binary, or None for the kernel; function names) of ``func`` or ``lib:func``."""
    parts = pattern.split(":")
    if len(parts) > 2 or not parts[-1]:
        raise pybpf.AttachError(f"unrecognized pattern format '{pattern}'")
    func, match = parts[-1], matcher(parts[-1], regexp)
    if len(parts) == 2:
        from ..attach.uprobe import elf_symbols, resolve_binary
        binary = resolve_binary(parts[0])
        if match is None:
            return binary, [func]
        names = sorted(n for n in elf_symbols(binary).funcs if match(n))
        where = binary
    else:
        if match is None:
            return None, [func]
        from ..attach.kprobe import traceable_functions
        binary, names, where = None, sorted(n for n in traceable_functions() if match(n)), "the kernel"
    if not names:
        raise pybpf.AttachError(f"no function in {where} matches '{func}'")
    return binary, names


def tracepoints(category: str, event: str, regexp: bool) -> list[tuple[str, str]]:
    """(category, event) pairs of ``category:event`` (each may be a glob or regex)."""
    from ..attach.tracefs import tracefs_path
    base = os.path.join(tracefs_path(), "events")
    cmatch, ematch = matcher(category, regexp), matcher(event, regexp)
    if cmatch is None and ematch is None:
        return [(category, event)]             # attach says what is wrong, if anything
    out = []
    for cat in sorted(os.listdir(base)):
        if (cmatch(cat) if cmatch else cat == category) and os.path.isdir(f"{base}/{cat}"):
            out += [(cat, ev) for ev in sorted(os.listdir(f"{base}/{cat}"))
                    if (ematch(ev) if ematch else ev == event)
                    and os.path.isdir(f"{base}/{cat}/{ev}")]
    if not out:
        raise pybpf.AttachError(f"no tracepoint matches '{category}:{event}'")
    return out
