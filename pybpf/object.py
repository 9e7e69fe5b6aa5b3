"""The live object: maps, programs and BTF held by one context manager."""

from __future__ import annotations

from collections.abc import Mapping

from ._log import get_logger
from .closeable import Closeable
from .program import Program
from .spec import ObjectSpec
from .sys.fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .attach.link import Link

log = get_logger("pybpf")


class Object(Closeable):
    """Maps and programs of a loaded object. ``close()`` (or ``with``) releases every fd."""

    def __init__(self, spec: ObjectSpec, maps: dict[str, Any], programs: dict[str, Program],
                 btf_fd: FD | None, globals_: dict[str, Any], owned: list[Any]) -> None:
        self.spec = spec
        self.maps: Mapping[str, Any] = maps
        self.programs: Mapping[str, Program] = programs
        self.btf_fd = btf_fd
        self._globals = globals_
        self._owned = owned            # everything to close, in creation order
        self._links: list[Link] = []
        self.core_results: list[Any] = []

    # typed global variables
    @property
    def rodata(self) -> Any:
        return self._global(".rodata")

    @property
    def data(self) -> Any:
        return self._global(".data")

    @property
    def bss(self) -> Any:
        return self._global(".bss")

    def globals(self, section: str) -> Any:
        """Variables of any global-data section (".data.loops", ".rodata.consts", ...)."""
        return self._global(section)

    def _global(self, section: str) -> Any:
        try:
            return self._globals[section]
        except KeyError:
            raise AttributeError(f"object has no {section} section (known: "
                                 f"{', '.join(sorted(self._globals)) or 'none'})") from None

    def attach_all(self) -> list[Link]:
        """Auto-attach every program whose SEC() name says how; returns the links."""
        from .attach import can_auto_attach
        links = []
        try:
            for p in self.programs.values():
                if p.spec.autoattach and can_auto_attach(p):
                    links.append(p.attach())
        except BaseException:
            for link in links:
                link.close()
            raise
        self._links.extend(links)
        return links

    def close(self) -> None:
        """Detach links made by attach_all, close programs, maps and BTF."""
        for link in reversed(self._links):
            link.close()
        self._links.clear()
        for m in self.maps.values():       # readers hold mmaps and perf fds of their own
            m.close()
        for item in reversed(self._owned):
            try:
                item.close()
            except OSError as e:  # pragma: no cover - closing an fd cannot fail usefully
                log.debug("close %r: %s", item, e)
        self._owned.clear()

    def __repr__(self) -> str:
        return (f"<pybpf.Object {self.spec.path}: programs={list(self.programs)} "
                f"maps={list(self.maps)}>")
