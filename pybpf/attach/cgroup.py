"""cgroup programs: a BPF link on a cgroup v2 directory."""

from __future__ import annotations

import os
from typing import Any

from ..errors import AttachError
from ..sys import bpf as sysbpf
from .link import FDLink, Link

CGROUP_ROOT = "/sys/fs/cgroup"


def attach_cgroup(prog: Any, cgroup: str | int, attach_type: int | None = None) -> Link:
    """Attach to a cgroup (path or open fd); the attach type defaults to the SEC() one."""
    at = int(prog.spec.expected_attach_type) if attach_type is None else attach_type
    fd = cgroup
    if isinstance(cgroup, str):
        try:
            fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise AttachError(f"cannot open cgroup {cgroup}: {e.strerror}") from e
    try:
        link = sysbpf.link_create(prog.fd, int(fd), at, op=f"attach {prog.name} to cgroup {cgroup}")
    finally:
        if isinstance(cgroup, str):
            os.close(int(fd))
    return FDLink(link, f"{prog.name} -> cgroup {cgroup}")
