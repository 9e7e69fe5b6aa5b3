"""cgroup programs: a BPF link on a cgroup v2 directory."""

from __future__ import annotations

import errno
import os

from ..errors import AttachError, BPFError
from ..sys import bpf as sysbpf
from ..sys.consts import AttachType
from .link import CallbackLink, FDLink, Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

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


BPF_F_ALLOW_MULTI = 2


def attach_cgroup(prog: Any, cgroup: str | int, attach_type: int | None = None,
                  legacy: bool | None = None) -> Link:
    """Attach to a cgroup v2 directory (path or open fd); the type defaults to the SEC() one.

    A BPF link (kernel 5.7+) is used; older kernels (or ``legacy=True``) get PROG_ATTACH
    with BPF_F_ALLOW_MULTI, detached with PROG_DETACH on close.
    """
    if attach_type is None:
        from .sections import lookup
        if lookup(prog.spec.section)[0].attach != "cgroup":
            raise AttachError(f"program {prog.name} (SEC {prog.spec.section!r}) names no cgroup "
                              f"attach type: pass attach_type=")
        at = int(prog.spec.expected_attach_type)   # CGROUP_INET_INGRESS is 0
    else:
        at = int(attach_type)
    if isinstance(cgroup, str):
        try:
            fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise AttachError(f"cannot open cgroup {cgroup}: {e.strerror}", e.errno) from e
    else:
        fd = os.dup(int(cgroup))
    what = f"{prog.name} -> cgroup {cgroup} ({_type_name(at)})"
    try:
        if not legacy:
            try:
                return FDLink(sysbpf.link_create(prog.fd, fd, at, op=f"attach {what}"), what)
            except BPFError as e:
                if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP) or legacy is False:
                    raise
        return _attach_legacy(prog, fd, at, what)
    finally:
        os.close(fd)


def _attach_legacy(prog: Any, fd: int, at: int, what: str) -> Link:
    sysbpf.prog_attach(prog.fd, fd, at, BPF_F_ALLOW_MULTI)
    keep = os.dup(fd)
    prog_fd = os.dup(prog.fd)     # PROG_DETACH names the program: keep it alive

    def detach() -> None:
        try:
            sysbpf.prog_detach(prog_fd, keep, at)
        finally:
            os.close(keep)
            os.close(prog_fd)
    return CallbackLink(detach, what + " (prog_attach)")


def _type_name(at: int) -> str:
    try:
        return AttachType(at).name
    except ValueError:
        return str(at)
