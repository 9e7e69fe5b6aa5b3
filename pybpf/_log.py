"""Loggers that import :mod:`logging` only when something is logged (it costs ~5 ms of
start-up, and a tool that runs cleanly logs nothing).

Until some code imports :mod:`logging`, no handler or level can have been configured, so
the root logger's default (WARNING) applies: DEBUG and INFO records would be dropped, and
they are dropped here without the import. WARNING and above always reach :mod:`logging`.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40     # logging's level numbers


class Logger:
    """Stands for ``logging.getLogger(name)`` (same name, same records)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _real(self) -> Any:
        import logging
        return logging.getLogger(self.name)

    @staticmethod
    def _up(kw: dict[str, Any]) -> dict[str, Any]:
        """Records name the caller's line, not this module's."""
        kw["stacklevel"] = kw.get("stacklevel", 1) + 1
        return kw

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        if level < WARNING and "logging" not in sys.modules:
            return False
        return self._real().isEnabledFor(level)

    def log(self, level: int, msg: object, *args: object, **kw: Any) -> None:
        if level < WARNING and "logging" not in sys.modules:
            return
        self._real().log(level, msg, *args, **self._up(kw))

    def debug(self, msg: object, *args: object, **kw: Any) -> None:
        if "logging" in sys.modules:
            self._real().debug(msg, *args, **self._up(kw))

    def info(self, msg: object, *args: object, **kw: Any) -> None:
        if "logging" in sys.modules:
            self._real().info(msg, *args, **self._up(kw))

    def warning(self, msg: object, *args: object, **kw: Any) -> None:
        self._real().warning(msg, *args, **self._up(kw))

    def error(self, msg: object, *args: object, **kw: Any) -> None:
        self._real().error(msg, *args, **self._up(kw))

    def exception(self, msg: object, *args: object, **kw: Any) -> None:
        self._real().exception(msg, *args, **self._up(kw))


def get_logger(name: str) -> Logger:
    """The lazy stand-in for ``logging.getLogger(name)``."""
    return Logger(name)
