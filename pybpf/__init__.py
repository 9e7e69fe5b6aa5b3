"""pybpf: pure-Python eBPF. Load CO-RE objects, attach programs, read typed maps.

    import pybpf
    with pybpf.load("prog.bpf.o", rodata={"targ_pid": 42}) as obj:
        link = obj.programs["handle_exec"].attach()
        for event in obj.maps["events"].poll(timeout=0.1):
            print(event.pid, event.comm)

Submodules are imported lazily so that ``import pybpf`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    AttachError,
    BPFError,
    BPFPermissionError,
    BTFError,
    CORERelocationError,
    ELFError,
    LoadError,
    MapError,
    NotSupportedError,
    SyscallError,
    VerifierError,
)

__version__ = "0.1.0"

_LAZY = {
    "load": ("loader", "load"),
    "ObjectSpec": ("spec", "ObjectSpec"),
    "ProgramSpec": ("spec", "ProgramSpec"),
    "MapSpec": ("spec", "MapSpec"),
    "Object": ("object", "Object"),
    "Program": ("program", "Program"),
    "Map": ("maps", "Map"),
    "RingBuffer": ("maps.ringbuf", "RingBuffer"),
    "PerfBuffer": ("maps.perfbuf", "PerfBuffer"),
    "Link": ("attach.link", "Link"),
    "btf": ("btf", None),
}

__all__ = [
    "AttachError", "BPFError", "BPFPermissionError", "BTFError", "CORERelocationError",
    "ELFError", "LoadError", "MapError", "NotSupportedError", "SyscallError", "VerifierError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    try:
        mod, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'pybpf' has no attribute {name!r}") from None
    module = importlib.import_module(f".{mod}", __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
