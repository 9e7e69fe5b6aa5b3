"""Tracepoints (tracefs id + perf event), raw tracepoints, BTF tracing programs."""

from __future__ import annotations

import errno
from typing import Any

from ..errors import AttachError, BPFError
from ..sys import bpf as sysbpf
from ..sys.consts import PerfType
from ..sys.perf import perf_event_open
from .link import FDLink, Link, PerfLink
from .tracefs import event_id


def attach_tracepoint(prog: Any, category: str, name: str, cookie: int = 0) -> Link:
    """``tracepoint/<category>/<name>`` on every CPU."""
    tp = event_id(category, name)
    what = f"tracepoint {category}:{name}"
    fd = perf_event_open(PerfType.TRACEPOINT, tp, pid=-1, cpu=0, op=f"open {what}")
    return PerfLink(prog.fd, fd, f"{prog.name} -> {what}", cookie)


def attach_raw_tracepoint(prog: Any, name: str) -> Link:
    """``raw_tp/<name>``: RAW_TRACEPOINT_OPEN."""
    try:
        fd = sysbpf.raw_tracepoint_open(prog.fd, name)
    except BPFError as e:
        if e.errno == errno.ENOENT:
            raise AttachError(f"unknown raw tracepoint {name!r}") from e
        raise
    return FDLink(fd, f"{prog.name} -> raw_tp {name}")


def attach_tracing(prog: Any, cookie: int = 0) -> Link:
    """tp_btf/fentry/fexit/fmod_ret/lsm: the target was fixed at load (attach_btf_id)."""
    what = f"{prog.name} -> {prog.spec.section}"
    try:
        fd = sysbpf.link_create(prog.fd, 0, int(prog.spec.expected_attach_type), cookie=cookie,
                                op=f"attach {what}")
    except BPFError as e:
        if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP) or cookie:
            raise
        fd = sysbpf.raw_tracepoint_open(prog.fd, None)   # kernels before BPF links for tracing
    return FDLink(fd, what)
