"""Networking: XDP, TC (tcx links, or clsact + cls_bpf over rtnetlink), socket filters.

BPF links are used where the kernel has them (XDP links 5.9+, tcx 6.6+); older kernels
(or ``legacy=True``) get the rtnetlink interface, spoken here with the stdlib ``socket``
module. The netlink message builders are pure functions (tested on their bytes).
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import struct
import threading
from collections.abc import Iterator

from .._log import get_logger
from ..errors import AttachError, BPFError, NotSupportedError
from ..sys import bpf as sysbpf
from ..sys.consts import XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, XDP_FLAGS_UPDATE_IF_NOEXIST, AttachType
from .link import CallbackLink, FDLink, Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

log = get_logger("pybpf.attach")

SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27

# ---- rtnetlink constants (uapi linux/netlink.h, rtnetlink.h, if_link.h, pkt_sched.h) ----
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_ECHO = 0x1, 0x2, 0x4, 0x8
NLM_F_DUMP, NLM_F_EXCL, NLM_F_CREATE = 0x300, 0x200, 0x400
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_SETLINK = 19
RTM_NEWQDISC, RTM_DELQDISC = 36, 37
RTM_NEWTFILTER, RTM_DELTFILTER, RTM_GETTFILTER = 44, 45, 46
SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
NLMSGERR_ATTR_MSG = 1
NLA_F_NESTED = 0x8000
IFLA_XDP = 43
IFLA_XDP_FD, IFLA_XDP_FLAGS = 1, 3
TCA_KIND, TCA_OPTIONS = 1, 2
TCA_BPF_FD, TCA_BPF_NAME, TCA_BPF_FLAGS = 6, 7, 8
TCA_BPF_FLAG_ACT_DIRECT = 1
TC_H_CLSACT = 0xFFFFFFF1
CLSACT_HANDLE = 0xFFFF0000
TC_PARENT = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
ETH_P_ALL = 0x0003

_seq = itertools.count(1)
_tc_lock = threading.Lock()


def ifindex(iface: int | str) -> int:
    if isinstance(iface, int):
        if iface <= 0:
            raise AttachError(f"bad interface index {iface}")
        return iface
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        raise AttachError(f"no network interface {iface!r}", errno.ENODEV) from None


# ---- netlink message building (pure) ----

def _align4(n: int) -> int:
    return (n + 3) & ~3


def nlattr(atype: int, payload: bytes) -> bytes:
    """One netlink attribute (rtattr), padded to 4 bytes."""
    n = 4 + len(payload)
    return struct.pack("<HH", n, atype) + payload + bytes(_align4(n) - n)


def nlattr_str(atype: int, s: str) -> bytes:
    return nlattr(atype, s.encode() + b"\0")


def nlmsg(mtype: int, flags: int, seq: int, body: bytes) -> bytes:
    """A netlink message: nlmsghdr (len, type, flags, seq, pid=0) + body."""
    return struct.pack("<IHHII", 16 + len(body), mtype, flags, seq, 0) + body


def tcmsg(ifx: int, handle: int = 0, parent: int = 0, info: int = 0) -> bytes:
    return struct.pack("<BBHiIII", socket.AF_UNSPEC, 0, 0, ifx, handle, parent, info)


def ifinfomsg(ifx: int) -> bytes:
    return struct.pack("<BBHiII", socket.AF_UNSPEC, 0, 0, ifx, 0, 0)


def filter_info(priority: int, protocol: int = ETH_P_ALL) -> int:
    """tcmsg.tcm_info of a filter: priority in the upper 16 bits, protocol (big-endian) low."""
    return (priority << 16) | socket.htons(protocol)


def clsact_msg(ifx: int, seq: int, delete: bool = False) -> bytes:
    """Create (exclusively) or delete the clsact qdisc of an interface."""
    body = tcmsg(ifx, CLSACT_HANDLE, TC_H_CLSACT) + nlattr_str(TCA_KIND, "clsact")
    if delete:
        return nlmsg(RTM_DELQDISC, NLM_F_REQUEST | NLM_F_ACK, seq, body)
    return nlmsg(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq, body)


def cls_bpf_msg(ifx: int, direction: str, prog_fd: int, name: str, seq: int, *,
                priority: int = 0, handle: int = 0) -> bytes:
    """Add a direct-action cls_bpf filter running ``prog_fd`` (echoed back: handle, prio)."""
    opts = (nlattr(TCA_BPF_FD, struct.pack("<I", prog_fd)) + nlattr_str(TCA_BPF_NAME, name)
            + nlattr(TCA_BPF_FLAGS, struct.pack("<I", TCA_BPF_FLAG_ACT_DIRECT)))
    body = (tcmsg(ifx, handle, TC_PARENT[direction], filter_info(priority))
            + nlattr_str(TCA_KIND, "bpf") + nlattr(TCA_OPTIONS | NLA_F_NESTED, opts))
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO
    return nlmsg(RTM_NEWTFILTER, flags, seq, body)


def del_filter_msg(ifx: int, direction: str, handle: int, priority: int, seq: int) -> bytes:
    body = (tcmsg(ifx, handle, TC_PARENT[direction], filter_info(priority))
            + nlattr_str(TCA_KIND, "bpf"))
    return nlmsg(RTM_DELTFILTER, NLM_F_REQUEST | NLM_F_ACK, seq, body)


def dump_filters_msg(ifx: int, direction: str, seq: int) -> bytes:
    return nlmsg(RTM_GETTFILTER, NLM_F_REQUEST | NLM_F_DUMP, seq,
                 tcmsg(ifx, 0, TC_PARENT[direction], 0))


def xdp_msg(ifx: int, prog_fd: int, flags: int, seq: int) -> bytes:
    """Set (prog_fd) or clear (-1) the XDP program of an interface."""
    xdp = nlattr(IFLA_XDP_FD, struct.pack("<i", prog_fd))
    if flags:
        xdp += nlattr(IFLA_XDP_FLAGS, struct.pack("<I", flags))
    return nlmsg(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq,
                 ifinfomsg(ifx) + nlattr(IFLA_XDP | NLA_F_NESTED, xdp))


# ---- netlink message parsing (pure) ----

def parse_messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, seq, payload) of each netlink message in a datagram."""
    pos = 0
    while pos + 16 <= len(data):
        n, mtype, flags, seq, _pid = struct.unpack_from("<IHHII", data, pos)
        if n < 16 or pos + n > len(data):
            raise AttachError(f"netlink: malformed message at offset {pos} (len {n})")
        yield mtype, flags, seq, data[pos + 16:pos + n]
        pos += _align4(n)


def parse_attrs(data: bytes) -> dict[int, bytes]:
    out = {}
    pos = 0
    while pos + 4 <= len(data):
        n, atype = struct.unpack_from("<HH", data, pos)
        if n < 4:
            break
        out[atype & ~NLA_F_NESTED] = data[pos + 4:pos + n]
        pos += _align4(n)
    return out


def parse_error(payload: bytes, flags: int) -> tuple[int, str]:
    """(errno (0 = ack), extended-ack message) of an NLMSG_ERROR payload."""
    (err,) = struct.unpack_from("<i", payload, 0)
    msg = ""
    if flags & NLM_F_ACK_TLVS and len(payload) >= 20:
        inner_len = struct.unpack_from("<I", payload, 4)[0]
        start = 4 + (16 if flags & NLM_F_CAPPED else _align4(inner_len))
        text = parse_attrs(payload[start:]).get(NLMSGERR_ATTR_MSG, b"")
        msg = text.rstrip(b"\0").decode(errors="replace")
    return -err, msg


class Netlink:
    """A NETLINK_ROUTE socket: ``request()`` sends one message and collects the replies."""

    def __init__(self) -> None:
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        except OSError as e:
            raise AttachError(f"cannot open a rtnetlink socket: {e.strerror}", e.errno) from e
        for opt in (NETLINK_EXT_ACK, NETLINK_CAP_ACK):
            try:
                self.sock.setsockopt(SOL_NETLINK, opt, 1)
            except OSError:
                pass
        self.sock.bind((0, 0))

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, msg: bytes, op: str, ok: tuple[int, ...] = ()) -> list[tuple[int, bytes]]:
        """Send; return the (type, payload) replies. Errors raise AttachError unless in ``ok``."""
        seq = struct.unpack_from("<I", msg, 8)[0]
        self.sock.sendto(msg, (0, 0))
        replies: list[tuple[int, bytes]] = []
        while True:
            data = self.sock.recv(65536)
            for mtype, flags, mseq, payload in parse_messages(data):
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    return replies
                if mtype == NLMSG_ERROR:
                    err, text = parse_error(payload, flags)
                    if err == 0:
                        return replies
                    if err in ok:
                        replies.append((-err, b""))
                        return replies
                    detail = f": {text}" if text else ""
                    raise AttachError(f"{op}: {os.strerror(err)} (errno {err}){detail}", err)
                replies.append((mtype, payload))


# ---- XDP ----

XDP_MODES = {"auto": 0, "skb": XDP_FLAGS_SKB_MODE, "drv": XDP_FLAGS_DRV_MODE}


def attach_xdp(prog: Any, iface: int | str, flags: int = 0, mode: str = "auto",
               legacy: bool | None = None) -> Link:
    """XDP on ``iface``: a BPF link (5.9+), else netlink; ``mode`` "skb" or "drv" forces one."""
    if mode not in XDP_MODES:
        raise AttachError(f"unknown XDP mode {mode!r} (auto, skb, drv)")
    idx = ifindex(iface)
    all_flags = flags | XDP_MODES[mode]
    what = f"{prog.name} -> xdp {iface}" + (f" ({mode})" if mode != "auto" else "")
    if not legacy:
        try:
            fd = sysbpf.link_create(prog.fd, idx, AttachType.XDP, flags=all_flags,
                                    op=f"attach XDP {prog.name} to {iface}")
            return FDLink(fd, what)
        except BPFError as e:
            if e.errno in (errno.EBUSY, errno.EEXIST):
                raise AttachError(f"attach XDP {prog.name} to {iface}: an XDP program is already "
                                  f"attached there ({e})", e.errno) from e
            if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP) or legacy is False:
                raise
            log.debug("no XDP link (%s): using netlink", e)
    return _xdp_netlink(prog, idx, all_flags, what)


def _xdp_netlink(prog: Any, idx: int, flags: int, what: str) -> Link:
    with Netlink() as nl:
        nl.request(xdp_msg(idx, prog.fd, flags | XDP_FLAGS_UPDATE_IF_NOEXIST, next(_seq)),
                   f"attach XDP {what} (netlink)")

    def detach() -> None:
        with Netlink() as nl:
            nl.request(xdp_msg(idx, -1, flags & (XDP_FLAGS_SKB_MODE | XDP_FLAGS_DRV_MODE),
                               next(_seq)), f"detach XDP {what}", ok=(errno.ENODEV,))
    return CallbackLink(detach, what + " (netlink)")


# ---- TC ----

def attach_tc(prog: Any, iface: int | str, direction: str = "ingress", legacy: bool | None = None,
              priority: int = 0, handle: int = 0) -> Link:
    """TC classifier on ``iface``: a tcx link (6.6+), else clsact + cls_bpf direct-action.

    The clsact qdisc is created when missing and removed on close if pybpf created it and no
    other filter remains.
    """
    if direction not in TC_PARENT:
        raise AttachError(f"unknown TC direction {direction!r} (ingress, egress)")
    idx = ifindex(iface)
    what = f"{prog.name} -> tc {direction} {iface}"
    if not legacy:
        types = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}
        try:
            fd = sysbpf.link_create(prog.fd, idx, types[direction],
                                    op=f"attach tcx {direction} {prog.name} to {iface}")
            return FDLink(fd, f"{prog.name} -> tcx {direction} {iface}")
        except BPFError as e:
            if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                raise
            if legacy is False:
                from ..features import tcx
                if not tcx():
                    raise NotSupportedError(f"attach {what}: the kernel lacks tcx links (6.6+); "
                                            f"legacy=True (or None) uses clsact + cls_bpf") from e
                raise
            log.debug("no tcx link (%s): using clsact + cls_bpf", e)
    return _tc_netlink(prog, idx, direction, what, priority, handle)


_clsact_users: dict[int, int] = {}   # ifindex -> our live filters where pybpf made clsact


def _tc_netlink(prog: Any, idx: int, direction: str, what: str, priority: int,
                handle: int) -> Link:
    with _tc_lock, Netlink() as nl:
        r = nl.request(clsact_msg(idx, next(_seq)), f"create clsact qdisc for {what}",
                       ok=(errno.EEXIST,))
        if not r:                                   # created now: pybpf owns it
            _clsact_users[idx] = 0
        owned = idx in _clsact_users
        try:
            replies = nl.request(cls_bpf_msg(idx, direction, prog.fd, prog.name[:255], next(_seq),
                                             priority=priority, handle=handle),
                                 f"attach {what} (cls_bpf)")
        except BaseException:
            if owned and not _clsact_users[idx]:
                del _clsact_users[idx]
                _remove_clsact_if_empty(nl, idx)
            raise
        if owned:
            _clsact_users[idx] += 1
    got = [p for t, p in replies if t == RTM_NEWTFILTER]
    if got:
        _f, _p1, _p2, _ifx, handle, _parent, info = struct.unpack_from("<BBHiIII", got[0], 0)
        priority = info >> 16
    if not handle or not priority:
        raise AttachError(f"attach {what}: the kernel did not echo the filter's handle/priority")

    def detach() -> None:
        with _tc_lock, Netlink() as nl:
            nl.request(del_filter_msg(idx, direction, handle, priority, next(_seq)),
                       f"detach {what}", ok=(errno.ENOENT, errno.ENODEV, errno.EINVAL))
            if owned and idx in _clsact_users:
                _clsact_users[idx] -= 1
                if _clsact_users[idx] <= 0:
                    del _clsact_users[idx]
                    _remove_clsact_if_empty(nl, idx)
    link = CallbackLink(detach, f"{what} (cls_bpf handle {handle:#x} prio {priority})")
    link.tc_handle, link.tc_priority = handle, priority  # type: ignore[attr-defined]
    return link


def _remove_clsact_if_empty(nl: Netlink, idx: int) -> None:
    for d in TC_PARENT:
        found = nl.request(dump_filters_msg(idx, d, next(_seq)), "list tc filters",
                           ok=(errno.ENODEV, errno.EINVAL))
        if any(t == RTM_NEWTFILTER for t, _p in found):
            return
    nl.request(clsact_msg(idx, next(_seq), delete=True), "delete clsact qdisc",
               ok=(errno.ENOENT, errno.ENODEV, errno.EINVAL))


# ---- sockets ----

def attach_socket(prog: Any, sock: socket.socket | int) -> Link:
    """A socket filter (SO_ATTACH_BPF); closing the link detaches it (SO_DETACH_BPF).

    The link does not keep the socket open: once the socket is closed there is nothing left
    to detach. (With a raw fd, closing the link after closing the fd is the caller's error.)
    """
    fd = sock.fileno() if isinstance(sock, socket.socket) else int(sock)
    try:
        _setsockopt(fd, SO_ATTACH_BPF, prog.fd)
    except OSError as e:
        raise AttachError(f"attach socket filter {prog.name} to fd {fd}: {e.strerror}",
                          e.errno) from e

    def detach() -> None:
        cur = sock.fileno() if isinstance(sock, socket.socket) else fd
        if cur < 0:
            return                       # socket closed: the filter went with it
        try:
            _setsockopt(cur, SO_DETACH_BPF, 0)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EBADF, errno.ENOTSOCK):
                raise
    return CallbackLink(detach, f"{prog.name} -> socket fd {fd}")


def _setsockopt(fd: int, opt: int, value: int) -> None:
    s = socket.socket(fileno=fd)
    try:
        s.setsockopt(socket.SOL_SOCKET, opt, value)
    finally:
        s.detach()
