"""Exception hierarchy: every failure pybpf raises is a :class:`BPFError`."""

from __future__ import annotations

import errno as _errno
import os

_HINTS: dict[int, str] = {
    _errno.EPERM: (
        "operation not permitted: run as root or grant CAP_BPF (+CAP_PERFMON for tracing, "
        "CAP_NET_ADMIN for networking); kernel lockdown or kernel.unprivileged_bpf_disabled "
        "may also forbid it"
    ),
    _errno.EACCES: "permission denied: the verifier or an LSM refused it",
    _errno.E2BIG: "argument too big: the kernel does not know some attribute (kernel too old?)",
    _errno.ENOSPC: "no space: a map is full, or the verifier log buffer was too small",
    _errno.EINVAL: "invalid argument: the kernel rejected an attribute",
    _errno.ENOENT: "no such entry",
    _errno.EBADF: "bad file descriptor",
    _errno.ENOMEM: "out of memory (locked memory limit?)",
    _errno.EOPNOTSUPP: "operation not supported by this kernel",
    _errno.ENOTSUPP if hasattr(_errno, "ENOTSUPP") else 524: "operation not supported by this kernel",
    _errno.EEXIST: "already exists",
    _errno.EBUSY: "busy: something is already attached there",
}


def errno_hint(err: int) -> str:
    """A short human explanation of a kernel errno in BPF context."""
    return _HINTS.get(err, os.strerror(err) if err else "")


class BPFError(OSError):
    """Base of every pybpf error. ``errno`` is set when the kernel gave one."""

    def __init__(self, message: str, err: int = 0) -> None:
        super().__init__(err, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SyscallError(BPFError):
    """A syscall failed; the message names the operation and carries a hint."""

    def __init__(self, op: str, err: int, detail: str = "") -> None:
        msg = f"{op}: {os.strerror(err)} (errno {err})"
        hint = errno_hint(err)
        if detail:
            msg += f": {detail}"
        elif hint and hint.lower() != os.strerror(err).lower():
            msg += f"; {hint}"
        super().__init__(msg, err)
        self.op = op


class BPFPermissionError(SyscallError):
    """EPERM/EACCES from the kernel: privileges, lockdown or LSM."""


class NotSupportedError(BPFError):
    """The running kernel lacks a feature pybpf needs for this request."""


class ELFError(BPFError):
    """Malformed or unsupported ELF object."""

    def __init__(self, message: str, *, path: str | None = None, section: str | None = None,
                 offset: int | None = None) -> None:
        where = []
        if path:
            where.append(str(path))
        if section:
            where.append(f"section {section}")
        if offset is not None:
            where.append(f"offset {offset:#x}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)
        self.path, self.section, self.offset = path, section, offset


class BTFError(BPFError):
    """Malformed BTF, or a type lookup that cannot be satisfied."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        super().__init__(f"{message} (at offset {offset:#x})" if offset is not None else message)
        self.offset = offset


class CORERelocationError(BTFError):
    """A CO-RE relocation that cannot be resolved (ambiguous or malformed)."""


class LoadError(BPFError):
    """Loading an object failed (maps, relocations, BTF) for a reason other than the verifier."""


class VerifierError(LoadError):
    """The verifier rejected a program. ``log`` is the whole verifier log; ``reason`` what
    pybpf knows of the cause (a failed CO-RE relocation or a missing __weak kfunc reached)."""

    def __init__(self, program: str, err: int, log: str, source_line: str | None = None,
                 reason: str | None = None) -> None:
        self.program = program
        self.log = log
        self.source_line = source_line
        self.reason = reason
        tail = "\n".join(log.rstrip().splitlines()[-20:])
        msg = f"load program {program}: verifier rejected it: {os.strerror(err)} (errno {err})"
        if reason:
            msg += f"\n  why: {reason}"
        if source_line:
            msg += f"\n  failing source line: {source_line}"
        if tail:
            msg += f"\n--- verifier log (last lines) ---\n{tail}"
        super().__init__(msg, err)


class AttachError(BPFError):
    """Attaching a program failed, or the attach target does not exist."""


class MapError(BPFError):
    """A map operation failed (bad key/value shape, full map, ...)."""
