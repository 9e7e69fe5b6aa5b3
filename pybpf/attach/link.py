"""Links: an attached program. ``close()`` detaches; so do ``with``, GC, exit and signals.

Every live link is in a process-wide registry: :func:`close_all` (run at interpreter exit,
and by the handlers :func:`install_signal_handlers` installs) detaches whatever is left.
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import struct
import weakref
from _thread import allocate_lock
from collections.abc import Callable, Iterable

from .._log import get_logger
from .._record import NEW_DICT, FrozenDataRecord, _set
from ..closeable import Closeable
from ..errors import AttachError, BPFError, BPFPermissionError, NotSupportedError
from ..sys import bpf as sysbpf
from ..sys import perf
from ..sys.cdefs import ffi
from ..sys.consts import AttachType, LinkType
from ..sys.fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.attach")

_live: weakref.WeakSet[Link] = weakref.WeakSet()
_live_lock = allocate_lock()   # (_thread: the threading module costs start-up ~0.7 ms)

ENOTSUPP = 524          # the kernel's internal "not supported", leaks out of bpf()
_NO_LINK_ERRNOS = (errno.EINVAL, errno.EOPNOTSUPP, ENOTSUPP)

# enum bpf_perf_event_type (bpf_link_info.perf_event.type)
PERF_EVENT_KINDS = {1: "uprobe", 2: "uretprobe", 3: "kprobe", 4: "kretprobe",
                    5: "tracepoint", 6: "event"}


class LinkInfo(FrozenDataRecord):
    """What the kernel says about a BPF link (``bpf_link_info``)."""

    __slots__ = ("type", "id", "prog_id", "details")
    type: LinkType | int
    id: int
    prog_id: int
    details: dict[str, Any]

    def __init__(self, type: LinkType | int, id: int, prog_id: int,  # noqa: A002
                 details: dict[str, Any] = NEW_DICT) -> None:  # type: ignore[assignment]
        _set(self, "type", type)
        _set(self, "id", id)
        _set(self, "prog_id", prog_id)
        _set(self, "details", {} if details is NEW_DICT else details)


class Link(Closeable):
    """Base of every attachment. Subclasses implement ``_detach()``."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.closed = False
        self.pinned_path: str | None = None
        self._cleanups: list[Callable[[], None]] = []
        with _live_lock:
            _live.add(self)

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` after detaching (tracefs event removal, spec id release ...)."""
        self._cleanups.append(fn)

    def close(self) -> None:
        """Detach (idempotent). A pinned link stays attached until its pin is removed."""
        if self.closed:
            return
        self.closed = True
        with _live_lock:
            _live.discard(self)
        try:
            self._detach()
        finally:
            for fn in reversed(self._cleanups):
                try:
                    fn()
                except (OSError, BPFError) as e:
                    log.warning("%s: cleanup failed: %s", self.description, e)
            self._cleanups.clear()

    def _detach(self) -> None:  # pragma: no cover - overridden
        pass

    def _link_fd(self) -> FD | None:
        """The BPF link fd behind this attachment, if it is one."""
        return None

    @property
    def fd(self) -> int:
        lfd = self._link_fd()
        if lfd is None:
            raise AttachError(f"{self.description}: not a BPF link (no link fd)")
        return int(lfd)

    def pin(self, path: str) -> None:
        """Pin the BPF link in bpffs: it then outlives this process until ``unpin()``."""
        lfd = self._link_fd()
        if lfd is None:
            raise AttachError(f"{self.description}: this kind of attachment cannot be pinned "
                              f"(only BPF links can)")
        from .tracefs import pin_object
        pin_object(int(lfd), path, self.description)
        self.pinned_path = path

    def unpin(self) -> None:
        """Remove the pin made by ``pin()``."""
        if self.pinned_path is None:
            raise AttachError(f"{self.description}: not pinned")
        try:
            os.unlink(self.pinned_path)
        except OSError as e:
            raise AttachError(f"unpin {self.pinned_path}: {e.strerror}") from e
        self.pinned_path = None

    def info(self) -> LinkInfo:
        """The kernel's view of this BPF link (type, id, program id, target)."""
        lfd = self._link_fd()
        if lfd is None:
            raise AttachError(f"{self.description}: not a BPF link, the kernel has no link info")
        return link_info(int(lfd))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}{' closed' if self.closed else ''}>"


class FDLink(Link):
    """A kernel BPF link (LINK_CREATE / RAW_TRACEPOINT_OPEN): closing the fd detaches."""

    def __init__(self, fd: FD, description: str) -> None:
        super().__init__(description)
        self.link_fd = fd

    def _link_fd(self) -> FD | None:
        return self.link_fd

    def _detach(self) -> None:
        self.link_fd.close()


class PerfLink(Link):
    """A program on a perf event (tracepoint, kprobe, uprobe, sampling event).

    A BPF perf-event link (LINK_CREATE, carries the BPF cookie; kernel 5.15+) is preferred;
    kernels without it get PERF_EVENT_IOC_SET_BPF + PERF_EVENT_IOC_ENABLE. ``perf_fd`` is
    owned: it is closed on failure too.
    """

    def __init__(self, prog_fd: int, perf_fd: FD, description: str, cookie: int = 0,
                 *, use_link: bool = True) -> None:
        super().__init__(description)
        self.perf_fd = perf_fd
        self.bpf_link: FD | None = None
        try:
            self._attach(prog_fd, cookie, use_link)
        except BaseException:
            self.closed = True
            with _live_lock:
                _live.discard(self)
            perf_fd.close()
            raise

    def _attach(self, prog_fd: int, cookie: int, use_link: bool) -> None:
        if use_link:
            try:
                self.bpf_link = sysbpf.link_create(prog_fd, int(self.perf_fd), AttachType.PERF_EVENT,
                                                   cookie=cookie, op=f"attach {self.description}")
                return
            except BPFError as e:
                if e.errno == errno.EEXIST:
                    raise self._already_attached(e) from e
                if e.errno not in _NO_LINK_ERRNOS:
                    raise
                if cookie:
                    raise NotSupportedError(
                        f"{self.description}: BPF cookies need perf-event BPF links "
                        f"(kernel 5.15+); this kernel refused one: {e}", e.errno) from e
                log.debug("%s: no perf-event BPF link (%s); using ioctl attach", self.description, e)
        elif cookie:
            raise NotSupportedError(f"{self.description}: BPF cookies need a perf-event BPF link")
        try:
            perf.perf_set_bpf(int(self.perf_fd), prog_fd)
        except BPFError as e:
            if e.errno == errno.EEXIST:             # same program already on this event
                raise self._already_attached(e) from e
            raise
        perf.perf_enable(int(self.perf_fd))

    def _already_attached(self, e: BPFError) -> AttachError:
        return AttachError(f"{self.description}: this program is already attached to this "
                           f"event (the kernel allows it once per event)", e.errno)

    def _link_fd(self) -> FD | None:
        return self.bpf_link

    def _detach(self) -> None:
        if self.bpf_link is not None:
            self.bpf_link.close()
        self.perf_fd.close()


class MultiLink(Link):
    """Several links closed together (one per CPU for sampling, one per USDT site ...)."""

    def __init__(self, links: Iterable[Link], description: str) -> None:
        super().__init__(description)
        self.links = list(links)
        with _live_lock:            # the parts are closed through this object
            for link in self.links:
                _live.discard(link)

    def __len__(self) -> int:
        return len(self.links)

    def __iter__(self) -> Any:
        return iter(self.links)

    def _detach(self) -> None:
        errors = []
        for link in reversed(self.links):
            try:
                link.close()
            except (OSError, BPFError) as e:
                errors.append(e)
        if errors:
            raise errors[0]

    def pin(self, path: str) -> None:
        raise AttachError(f"{self.description}: a multi-link cannot be pinned as one; "
                          f"pin its .links one by one")


class CallbackLink(Link):
    """A link whose detach is a function (socket filters, netlink and legacy attach APIs)."""

    def __init__(self, detach: Callable[[], None], description: str) -> None:
        super().__init__(description)
        self._fn = detach

    def _detach(self) -> None:
        self._fn()


def perf_open(type_: int, config: int = 0, *, what: str, **kw: Any) -> FD:
    """perf_event_open() for an attachment; privilege errors say which privilege."""
    try:
        return perf.perf_event_open(type_, config, op=f"open {what}", **kw)
    except BPFError as e:
        if e.errno in (errno.EACCES, errno.EPERM):
            raise BPFPermissionError(
                f"open {what}", e.errno,
                f"perf events for tracing need CAP_PERFMON (or CAP_SYS_ADMIN / root); "
                f"kernel.perf_event_paranoid is {_paranoid()}") from e
        raise


def _paranoid() -> str:
    try:
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def close_multi_on_error(links: list[Link]) -> None:
    """Close what was attached so far when attaching a group failed half-way."""
    for link in reversed(links):
        try:
            link.close()
        except (OSError, BPFError) as e:
            log.warning("undo %s: %s", link, e)


# ---- link info ----

def _tail(raw: bytes, off: int, fmt: str) -> tuple[Any, ...]:
    return struct.unpack_from(fmt, raw, off)


def _decode_details(ltype: int, raw: bytes) -> dict[str, Any]:
    if ltype == LinkType.TRACING:
        at, obj_id, btf_id = _tail(raw, 0, "<III")
        return {"attach_type": at, "target_obj_id": obj_id, "target_btf_id": btf_id}
    if ltype == LinkType.CGROUP:
        cg_id, at = _tail(raw, 0, "<QI")
        return {"cgroup_id": cg_id, "attach_type": at}
    if ltype == LinkType.XDP:
        return {"ifindex": _tail(raw, 0, "<I")[0]}
    if ltype in (LinkType.TCX, LinkType.NETKIT):
        ifx, at = _tail(raw, 0, "<II")
        return {"ifindex": ifx, "attach_type": at}
    if ltype == LinkType.KPROBE_MULTI:
        _addrs, count, flags = _tail(raw, 0, "<QII")
        return {"count": count, "retprobe": bool(flags & 1)}
    if ltype == LinkType.PERF_EVENT:
        kind = PERF_EVENT_KINDS.get(_tail(raw, 0, "<I")[0], "unknown")
        cookie_off = 40 if kind in ("kprobe", "kretprobe") else 24
        out: dict[str, Any] = {"perf_event_type": kind, "cookie": _tail(raw, cookie_off, "<Q")[0]}
        if kind in ("uprobe", "uretprobe", "kprobe", "kretprobe"):
            out["offset"] = _tail(raw, 20, "<I")[0]
        if kind in ("kprobe", "kretprobe"):
            out["addr"] = _tail(raw, 24, "<Q")[0]
        return out
    return {}


def _name_field(ltype: int, raw: bytes) -> tuple[int, int] | None:
    """(offset of the name pointer, offset of its u32 length) in the info union."""
    if ltype == LinkType.RAW_TRACEPOINT:
        return 0, 8
    if ltype == LinkType.PERF_EVENT and _tail(raw, 0, "<I")[0] in PERF_EVENT_KINDS:
        if PERF_EVENT_KINDS[_tail(raw, 0, "<I")[0]] != "event":
            return 8, 16
    return None


def link_info(fd: int) -> LinkInfo:
    """Decode ``bpf_link_info`` of a BPF link fd (a second call fetches names)."""
    info = sysbpf.obj_info(fd, "bpf_link_info")
    raw = bytes(ffi.buffer(info.c.raw, 64))
    ltype = int(info.type)
    details = _decode_details(ltype, raw)
    where = _name_field(ltype, raw)
    if where is not None:
        name = _fetch_name(fd, *where)
        if name:
            details["name"] = name
    try:
        ltype = LinkType(ltype)
    except ValueError:
        pass
    return LinkInfo(ltype, int(info.id), int(info.prog_id), details)


def _fetch_name(fd: int, ptr_off: int, len_off: int) -> str:
    buf = ffi.new("char[]", 4096)
    info = ffi.new("struct bpf_link_info *")
    raw = ffi.cast("uint8_t *", info.raw)
    struct.pack_into("<Q", ffi.buffer(raw + ptr_off, 8), 0, int(ffi.cast("uintptr_t", buf)))
    struct.pack_into("<I", ffi.buffer(raw + len_off, 4), 0, 4096)
    attr = ffi.new("struct attr_info *")
    attr.bpf_fd, attr.info_len, attr.info = fd, ffi.sizeof(info[0]), int(ffi.cast("uintptr_t", info))
    from ..sys.consts import Cmd
    if sysbpf.bpf_errno(Cmd.OBJ_GET_INFO_BY_FD, attr) < 0:
        return ""
    return ffi.string(buf).decode(errors="replace")


# ---- the registry: exit and signals ----

def live_links() -> list[Link]:
    """Every link of this process that is still attached."""
    with _live_lock:
        return list(_live)


def close_all() -> None:
    """Detach every live link of this process (atexit, signal handlers)."""
    for link in live_links():
        try:
            link.close()
        except (OSError, BPFError) as e:
            log.warning("detaching %s: %s", link, e)


atexit.register(close_all)


def install_signal_handlers(signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM)) -> None:
    """Opt-in: on these signals detach every link, then do what would have happened anyway.

    A previously installed Python handler is called afterwards; otherwise SIGINT raises
    KeyboardInterrupt and other signals get their default action (re-raised with SIG_DFL).
    """
    for s in signals:
        previous = signal.getsignal(s)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            close_all()
            if callable(previous) and previous is not handler:
                previous(signum, frame)
                return
            if previous == signal.SIG_IGN:
                return
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
        signal.signal(s, handler)
