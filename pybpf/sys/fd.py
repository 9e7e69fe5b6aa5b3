"""An owned kernel file descriptor: closed exactly once, by ``close()`` or at collection."""

from __future__ import annotations

import os


class FD:
    """Owns an fd. ``int(fd)`` gives the number; closing twice is harmless."""

    __slots__ = ("_fd", "kind", "__weakref__")

    def __init__(self, fd: int, kind: str = "") -> None:
        self._fd = fd
        self.kind = kind

    def __int__(self) -> int:
        if self._fd < 0:
            raise ValueError(f"{self.kind or 'file'} descriptor already closed")
        return self._fd

    __index__ = __int__

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def detach(self) -> int:
        """Give up ownership and return the raw fd."""
        fd, self._fd = self._fd, -1
        return fd

    def dup(self) -> FD:
        return FD(os.dup(int(self)), self.kind)

    def __del__(self) -> None:
        try:
            self.close()
        except OSError:
            pass

    def __enter__(self) -> FD:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FD({self._fd}, {self.kind!r})"
