"""Socket addresses of the TCP tools' events (tcpconnect, tcplife): ``family`` and 16-byte
``saddr``/``daddr`` fields, 4 of them used for IPv4."""

from __future__ import annotations

import socket


def port_set(text: str) -> set[int]:
    """``-P 80,81``-style option text as a set of ports."""
    ports = {int(p) for p in text.split(",") if p}
    if not ports or not all(0 < p < 65536 for p in ports):
        raise ValueError("ports in 1..65535, comma-separated")
    return ports


def addresses(e: object) -> tuple[int, str, str]:
    """(IP version, source, destination) of an event, as text."""
    if e.family == socket.AF_INET6:  # type: ignore[attr-defined]
        return (6, socket.inet_ntop(socket.AF_INET6, e.saddr),  # type: ignore[attr-defined]
                socket.inet_ntop(socket.AF_INET6, e.daddr))  # type: ignore[attr-defined]
    return (4, socket.inet_ntop(socket.AF_INET, e.saddr[:4]),  # type: ignore[attr-defined]
            socket.inet_ntop(socket.AF_INET, e.daddr[:4]))  # type: ignore[attr-defined]
