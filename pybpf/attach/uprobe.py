"""uprobes/uretprobes: library and symbol resolution, PMU then uprobe_events."""

from __future__ import annotations

import difflib
import functools
import os
import subprocess
from typing import Any

from elftools.common.exceptions import ELFError as _PyELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from ..errors import AttachError
from .link import Link
from .probes import attach_legacy, attach_pmu, uprobe_line


@functools.cache
def _ldconfig() -> dict[str, str]:
    """soname -> path for this machine's architecture, from ``ldconfig -p``."""
    out: dict[str, str] = {}
    for exe in ("/sbin/ldconfig", "/usr/sbin/ldconfig", "ldconfig"):
        try:
            text = subprocess.run([exe, "-p"], capture_output=True, text=True, check=True).stdout
            break
        except (OSError, subprocess.CalledProcessError):
            continue
    else:
        return out
    for line in text.splitlines()[1:]:
        name, _, path = line.strip().partition(" => ")
        soname, _, flags = name.partition(" (")
        if path and ("x86-64" in flags or "64bit" in flags or "," not in flags):
            out.setdefault(soname, path)
    return out


def resolve_binary(target: str) -> str:
    """A path, or a library short name: "c"/"libc" -> libc.so.6, "ssl" -> libssl.so.N."""
    if "/" in target:
        if not os.path.exists(target):
            raise AttachError(f"uprobe target {target!r} does not exist")
        return os.path.realpath(target)
    libs = _ldconfig()
    base = target if target.startswith("lib") else f"lib{target}"
    for soname, path in sorted(libs.items()):
        if soname == base or soname.startswith(base + ".so"):
            return path
    raise AttachError(f"library {target!r} not found by ldconfig"
                      f"{_near(base, [s.split('.so')[0] for s in libs])}")


def _near(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(names)), 5, 0.6)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


@functools.cache
def _symbols(path: str, _key: tuple[int, int, int]) -> tuple[dict[str, int], list[tuple[int, int, int]]]:
    """Function symbols (name -> vaddr) and PT_LOAD (vaddr, memsz, offset) of an ELF file."""
    syms: dict[str, int] = {}
    loads = []
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD":
                    loads.append((seg["p_vaddr"], seg["p_memsz"], seg["p_offset"]))
            for sec in elf.iter_sections():
                if not isinstance(sec, SymbolTableSection):
                    continue
                for s in sec.iter_symbols():
                    if s["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and s["st_value"]:
                        syms.setdefault(s.name.split("@")[0], s["st_value"])
    except (OSError, _PyELFError) as e:
        raise AttachError(f"cannot read symbols of {path}: {e}") from e
    return syms, loads


def symbol_offset(path: str, symbol: str) -> int:
    """File offset of ``symbol`` (a function) in the ELF at ``path``."""
    st = os.stat(path)
    syms, loads = _symbols(path, (st.st_dev, st.st_ino, st.st_mtime_ns))
    vaddr = syms.get(symbol.split("@")[0])
    if vaddr is None:
        raise AttachError(f"symbol {symbol!r} not found in {path}{_near(symbol, list(syms))}")
    for start, size, off in loads:
        if start <= vaddr < start + size:
            return vaddr - start + off
    raise AttachError(f"symbol {symbol!r} in {path} is not in a loadable segment")


def attach_uprobe(prog: Any, path: str, symbol: str | None = None, retprobe: bool = False,
                  pid: int = -1, offset: int = 0, ref_ctr_offset: int = 0, cookie: int = 0,
                  legacy: bool | None = None) -> Link:
    """uprobe on ``path`` (or a library short name) at ``symbol+offset`` or a raw file offset."""
    binary = resolve_binary(path)
    off = (symbol_offset(binary, symbol) if symbol else 0) + offset
    what = f"{'uretprobe' if retprobe else 'uprobe'} {binary}:{symbol or ''}{f'+{offset:#x}' if offset else ''}"
    if not legacy:
        link = attach_pmu(prog, "uprobe", retprobe, binary.encode(), off, pid, cookie, what,
                          ref_ctr_offset)
        if link is not None:
            return link
    return attach_legacy(prog, "uprobe",
                         lambda n: uprobe_line(n, binary, off, retprobe, ref_ctr_offset),
                         pid, cookie, what)
