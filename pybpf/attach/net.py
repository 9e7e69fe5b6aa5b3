"""XDP (BPF link on an ifindex), TC (tcx links), socket filters."""

from __future__ import annotations

import socket
from typing import Any

from ..errors import AttachError
from ..sys import bpf as sysbpf
from ..sys.consts import XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE, AttachType
from .link import CallbackLink, FDLink, Link

SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27


def ifindex(iface: int | str) -> int:
    if isinstance(iface, int):
        return iface
    try:
        return socket.if_nametoindex(iface)
    except OSError:
        raise AttachError(f"no network interface {iface!r}") from None


def attach_xdp(prog: Any, iface: int | str, flags: int = 0, mode: str = "auto") -> Link:
    """XDP on ``iface`` via a BPF link; ``mode`` "skb" (generic) or "drv" (native)."""
    mode_flags = {"auto": 0, "skb": XDP_FLAGS_SKB_MODE, "drv": XDP_FLAGS_DRV_MODE}
    if mode not in mode_flags:
        raise AttachError(f"unknown XDP mode {mode!r} (auto, skb, drv)")
    idx = ifindex(iface)
    fd = sysbpf.link_create(prog.fd, idx, AttachType.XDP, flags=flags | mode_flags[mode],
                            op=f"attach XDP {prog.name} to {iface}")
    return FDLink(fd, f"{prog.name} -> xdp {iface}")


def attach_tc(prog: Any, iface: int | str, direction: str = "ingress") -> Link:
    """TC classifier via a tcx link (kernel 6.6+)."""
    types = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}
    if direction not in types:
        raise AttachError(f"unknown TC direction {direction!r} (ingress, egress)")
    fd = sysbpf.link_create(prog.fd, ifindex(iface), types[direction],
                            op=f"attach tcx {direction} {prog.name} to {iface}")
    return FDLink(fd, f"{prog.name} -> tcx {direction} {iface}")


def attach_socket(prog: Any, sock: socket.socket | int) -> Link:
    """A socket filter (SO_ATTACH_BPF); closing the link detaches it."""
    s = sock if isinstance(sock, socket.socket) else socket.socket(fileno=sock)
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, prog.fd)
    except OSError as e:
        raise AttachError(f"attach socket filter {prog.name}: {e.strerror}") from e

    def detach() -> None:
        if s.fileno() >= 0:
            s.setsockopt(socket.SOL_SOCKET, SO_DETACH_BPF, 0)
        if not isinstance(sock, socket.socket):
            s.detach()
    return CallbackLink(detach, f"{prog.name} -> socket {s.fileno()}")
