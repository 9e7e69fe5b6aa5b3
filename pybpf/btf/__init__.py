"""BTF: the type model, parser, .BTF.ext, CO-RE relocator, kernel BTF and C dumper.

Names load on first use (PEP 562): an object file's BTF needs neither the kernel BTF code
nor the relocator."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BTF", "Kind", "Type", "load_kernel", "load_module", "parse_btf"]

_LAZY = {"BTF": "types", "Kind": "types", "Type": "types", "load_kernel": "kernel",
         "load_module": "kernel", "parse_btf": "parse"}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
