"""BTF: the type model, parser, .BTF.ext, CO-RE relocator, kernel BTF and C dumper.

Names load on first use (PEP 562): an object file's BTF needs neither the kernel BTF code
nor the relocator."""

from __future__ import annotations

from .._lazy import lazy_attributes

__all__ = ["BTF", "Kind", "Type", "load_kernel", "load_module", "parse_btf"]

_LAZY = {"BTF": "types", "Kind": "types", "Type": "types", "load_kernel": "kernel",
         "load_module": "kernel", "parse_btf": "parse"}


__getattr__ = lazy_attributes(__name__, _LAZY)  # type: ignore[arg-type]


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
