"""Package attributes imported on first use (PEP 562), so that importing a package stays
cheap: ``__getattr__ = lazy_attributes(__name__, {"name": "submodule", ...})``."""

from __future__ import annotations

import sys
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def import_submodule(package: str, name: str) -> Any:
    """``package.name``, imported (``importlib.import_module`` without importing importlib,
    whose package costs start-up ~0.4 ms)."""
    full = f"{package}.{name}"
    __import__(full)
    return sys.modules[full]


def lazy_attributes(package: str, table: dict[str, str | None]) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``name`` comes from ``.table[name]`` (the submodule itself
    where the name is the submodule's own), and is then cached in the package."""

    def __getattr__(name: str) -> Any:
        try:
            mod = table[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        module = import_submodule(package, mod or name)
        value = module if mod is None or mod == name else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
