"""pybpf: pure-Python eBPF. Load CO-RE objects, attach programs, read typed maps.

    import pybpf
    with pybpf.load("prog.bpf.o", rodata={"targ_pid": 42}) as obj:
        link = obj.programs["handle_exec"].attach()
        for event in obj.maps["events"].poll(timeout=0.1):
            print(event.pid, event.comm)

Submodules are imported lazily so that ``import pybpf`` stays fast.
"""

from __future__ import annotations

from ._lazy import lazy_attributes
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

_LAZY: dict[str, str | None] = {
    "load": "loader", "ObjectSpec": "spec", "ProgramSpec": "spec", "MapSpec": "spec",
    "Object": "object", "Program": "program", "Map": "maps", "RingBuffer": "maps.ringbuf",
    "PerfBuffer": "maps.perfbuf", "Link": "attach.link", "btf": None,
}

__all__ = [
    "AttachError", "BPFError", "BPFPermissionError", "BTFError", "CORERelocationError",
    "ELFError", "LoadError", "MapError", "NotSupportedError", "SyscallError", "VerifierError",
    *_LAZY,
]


__getattr__ = lazy_attributes(__name__, _LAZY)


def __dir__() -> list[str]:
    return sorted(__all__)
