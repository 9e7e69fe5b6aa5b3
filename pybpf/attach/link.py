"""Links: an attached program. ``close()`` detaches; so do ``with``, GC, exit and signals."""

from __future__ import annotations

import atexit
import errno
import logging
import signal
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from ..closeable import Closeable
from ..errors import AttachError, BPFError
from ..sys import bpf as sysbpf
from ..sys import perf
from ..sys.consts import AttachType
from ..sys.fd import FD

log = logging.getLogger("pybpf.attach")

_live: weakref.WeakSet[Link] = weakref.WeakSet()


class Link(Closeable):
    """Base of every attachment. Subclasses implement ``_detach()``."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.closed = False
        self._cleanups: list[Callable[[], None]] = []
        _live.add(self)

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after detaching (tracefs event removal, ...)."""
        self._cleanups.append(fn)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        _live.discard(self)
        try:
            self._detach()
        finally:
            for fn in reversed(self._cleanups):
                try:
                    fn()
                except OSError as e:
                    log.warning("%s: cleanup failed: %s", self.description, e)

    def _detach(self) -> None:  # pragma: no cover - overridden
        pass

    def pin(self, path: str) -> None:
        raise AttachError(f"{self.description}: this kind of link cannot be pinned")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}{' closed' if self.closed else ''}>"


class FDLink(Link):
    """A kernel BPF link (LINK_CREATE / RAW_TRACEPOINT_OPEN): closing the fd detaches."""

    def __init__(self, fd: FD, description: str) -> None:
        super().__init__(description)
        self.fd = fd

    def _detach(self) -> None:
        self.fd.close()

    def pin(self, path: str) -> None:
        from .tracefs import ensure_bpffs
        ensure_bpffs()
        sysbpf.obj_pin(int(self.fd), path)

    def unpin(self, path: str) -> None:
        import os
        os.unlink(path)

    def info(self) -> Any:
        return sysbpf.obj_info(int(self.fd), "bpf_link_info")


class PerfLink(Link):
    """A program on a perf event (tracepoint, kprobe, uprobe, sampling event).

    A BPF perf-event link (LINK_CREATE, BPF cookies; kernel 5.15+) is preferred; older
    kernels get PERF_EVENT_IOC_SET_BPF + ENABLE.
    """

    def __init__(self, prog_fd: int, perf_fd: FD, description: str, cookie: int = 0) -> None:
        super().__init__(description)
        self.perf_fd = perf_fd
        self.bpf_link: FD | None = None
        try:
            self.bpf_link = sysbpf.link_create(prog_fd, int(perf_fd), AttachType.PERF_EVENT,
                                               cookie=cookie, op=f"attach {description}")
        except BPFError as e:
            if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP, 524) or cookie:
                perf_fd.close()
                raise
            log.debug("%s: no perf-event BPF link (%s); using ioctl attach", description, e)
            try:
                perf.perf_set_bpf(int(perf_fd), prog_fd)
                perf.perf_enable(int(perf_fd))
            except BPFError:
                perf_fd.close()
                raise

    def _detach(self) -> None:
        if self.bpf_link is not None:
            self.bpf_link.close()
        self.perf_fd.close()

    def pin(self, path: str) -> None:
        if self.bpf_link is None:
            raise AttachError(f"{self.description}: ioctl-attached perf events cannot be pinned")
        from .tracefs import ensure_bpffs
        ensure_bpffs()
        sysbpf.obj_pin(int(self.bpf_link), path)


class MultiLink(Link):
    """Several links closed together (one per CPU for sampling, one per USDT site ...)."""

    def __init__(self, links: Iterable[Link], description: str) -> None:
        super().__init__(description)
        self.links = list(links)

    def _detach(self) -> None:
        for link in reversed(self.links):
            link.close()


class CallbackLink(Link):
    """A link whose detach is a function (socket filters, legacy attach APIs)."""

    def __init__(self, detach: Callable[[], None], description: str) -> None:
        super().__init__(description)
        self._fn = detach

    def _detach(self) -> None:
        self._fn()


def close_all() -> None:
    """Detach every live link of this process (atexit, signal handlers)."""
    for link in list(_live):
        try:
            link.close()
        except OSError as e:
            log.warning("detaching %s: %s", link, e)


atexit.register(close_all)


def install_signal_handlers(signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM)) -> None:
    """Opt-in: on these signals detach every link, then behave as the default handler would."""
    def handler(signum: int, frame: Any) -> None:
        close_all()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)
    for s in signals:
        signal.signal(s, handler)
