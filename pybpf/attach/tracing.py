"""BTF-typed tracing programs: tp_btf, fentry, fexit, fmod_ret, lsm.

The target was fixed at load time (``attach_btf_id``), so attaching names nothing.
"""

from __future__ import annotations

import errno

from ..errors import AttachError, BPFError, NotSupportedError
from ..sys import bpf as sysbpf
from .link import FDLink, Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def attach_tracing(prog: Any, cookie: int = 0) -> Link:
    """LINK_CREATE with the program's attach type (RAW_TRACEPOINT_OPEN on kernels < 5.11)."""
    what = f"{prog.name} -> {prog.spec.section}"
    attach_type = int(prog.spec.expected_attach_type)
    if not getattr(prog, "attach_btf_id", 0):
        raise AttachError(f"{what}: the program was loaded without a BTF attach target "
                          f"(attach_btf_id); was it loaded from a tp_btf/fentry/fexit/lsm section?")
    try:
        fd = sysbpf.link_create(prog.fd, 0, attach_type, cookie=cookie, op=f"attach {what}")
    except BPFError as e:
        if e.errno == errno.EPERM:
            raise AttachError(f"attach {what}: {e}\n{explain_tracing_eperm()}", e.errno) from e
        if e.errno not in (errno.EINVAL, errno.EOPNOTSUPP, 524):
            raise
        if cookie:
            raise NotSupportedError(f"attach {what}: BPF cookies on tracing links need "
                                    f"kernel 5.19+ ({e})", e.errno) from e
        fd = sysbpf.raw_tracepoint_open(prog.fd, None)   # kernels before tracing BPF links
    return FDLink(fd, what)


def explain_tracing_eperm() -> str:
    """Why fentry/fexit/fmod_ret/lsm (BPF trampolines) get EPERM, most likely first."""
    causes = [
        "the kernel cannot build BPF trampolines here: it needs CONFIG_FUNCTION_TRACER with "
        "CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS (ftrace direct calls) and an architecture/JIT "
        "that supports trampolines; some VM and firecracker kernels lack them, and the "
        "error then shows up as EPERM at load or attach",
        "missing privileges: tracing programs need CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN / "
        "root)",
        "kernel lockdown in 'confidentiality' mode forbids reading kernel memory from BPF "
        "(lockdown=integrity does not block fentry)",
        "an LSM (SELinux, Landlock policies, BPF LSM) denies bpf() for this process",
    ]
    try:
        with open("/sys/kernel/security/lockdown") as f:
            mode = f.read().strip()
        causes.append(f"(this machine's lockdown setting: {mode})")
    except OSError:
        pass
    return "likely causes:\n" + "\n".join(f"  - {c}" for c in causes)
