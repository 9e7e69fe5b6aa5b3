"""cgroup programs: a BPF link on a cgroup v2 directory."""

from __future__ import annotations

import os
from typing import Any

from ..errors import AttachError, BPFError
from ..sys import bpf as sysbpf
from .link import FDLink, Link

CGROUP_ROOT = "/sys/fs/cgroup"


def cgroup2_root() -> str:
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid
    systems); as root, mounts it at /sys/fs/cgroup/unified when it is nowhere."""
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    return parts[1]
    except OSError:
        pass
    from .tracefs import mount
    target = os.path.join(CGROUP_ROOT, "unified")
    try:
        os.makedirs(target, exist_ok=True)
        mount("cgroup2", target, "cgroup2")
    except (OSError, BPFError) as e:
        raise AttachError(f"cgroup v2 is not mounted and mounting it at {target} failed: {e}") from e
    return target


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
