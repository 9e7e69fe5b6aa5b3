"""Live programs: a loaded program's fd, identity, test runs and attach verbs."""

from __future__ import annotations

from .closeable import Closeable
from .spec import ProgramSpec
from .sys import bpf as sysbpf
from .sys.consts import ProgType
from .sys.fd import FD

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .attach.link import Link


class Program(Closeable):
    """A program loaded in the kernel. ``close()`` releases its fd (links keep it alive)."""

    def __init__(self, fd: FD, spec: ProgramSpec, *, attach_btf_id: int = 0,
                 attach_btf_obj_fd: int = 0, verifier_log: str = "") -> None:
        self._fd = fd
        self.spec = spec
        self.name = spec.name
        self.type = ProgType(spec.type)
        self.section = spec.section
        self.attach_btf_id = attach_btf_id
        self.attach_btf_obj_fd = attach_btf_obj_fd
        self.verifier_log = verifier_log

    @property
    def fd(self) -> int:
        return int(self._fd)

    def info(self) -> Any:
        """The kernel's ``bpf_prog_info`` (type, id, tag, run counts ...)."""
        return sysbpf.obj_info(self.fd, "bpf_prog_info")

    @property
    def id(self) -> int:
        return self.info().id

    @property
    def tag(self) -> str:
        return bytes(self.info().tag).hex()

    def xlated(self) -> bytes:
        """The kernel's translated instructions (map fds shown as map ids)."""
        n = self.info().xlated_prog_len
        info = sysbpf.obj_info(self.fd, "bpf_prog_info",
                               {"xlated_prog_insns": ("xlated_prog_len", n, "uint8_t")})
        from .sys.cdefs import ffi
        return bytes(ffi.buffer(info.buffers[0], info.xlated_prog_len))

    def map_ids(self) -> list[int]:
        n = self.info().nr_map_ids
        info = sysbpf.obj_info(self.fd, "bpf_prog_info", {"map_ids": ("nr_map_ids", n, "uint32_t")})
        return list(info.buffers[0][0:info.nr_map_ids])

    def test_run(self, data: bytes = b"", *, repeat: int = 1, ctx: bytes = b"",
                 data_size_out: int | None = None, ctx_size_out: int = 0,
                 flags: int = 0, cpu: int = 0) -> tuple[int, bytes, int]:
        """BPF_PROG_TEST_RUN: (return value, output data, duration in ns)."""
        if data_size_out is None:
            data_size_out = len(data) + 256 if data else 0
        # repeat 0 means once; SYSCALL programs refuse any other value
        retval, out, _ctx, duration = sysbpf.prog_test_run(
            self.fd, data, data_size_out=data_size_out, ctx=ctx, ctx_size_out=ctx_size_out,
            repeat=0 if repeat == 1 else repeat, flags=flags, cpu=cpu)
        return retval, out, duration

    def pin(self, path: str) -> None:
        """Pin the program at ``path`` on a bpffs (/sys/fs/bpf/..., mounted if needed)."""
        from .attach.tracefs import pin_object
        pin_object(self.fd, path, f"program {self.name}")

    # ---- attach verbs (implemented in pybpf.attach) ----

    def attach(self, **kwargs: Any) -> Link:
        """Attach as the SEC() name says (libbpf conventions)."""
        from .attach import auto_attach
        return auto_attach(self, **kwargs)

    def attach_kprobe(self, symbol: str, retprobe: bool = False, **kw: Any) -> Link:
        from .attach import attach_kprobe
        return attach_kprobe(self, symbol, retprobe=retprobe, **kw)

    def attach_kprobe_multi(self, pattern: Any, retprobe: bool = False, **kw: Any) -> Link:
        from .attach import attach_kprobe_multi
        return attach_kprobe_multi(self, pattern, retprobe=retprobe, **kw)

    def attach_uprobe(self, path: str, symbol: str | None = None, retprobe: bool = False,
                      pid: int = -1, **kw: Any) -> Link:
        from .attach import attach_uprobe
        return attach_uprobe(self, path, symbol, retprobe=retprobe, pid=pid, **kw)

    def attach_usdt(self, path: str, provider: str, name: str, pid: int = -1, **kw: Any) -> Link:
        from .attach import attach_usdt
        return attach_usdt(self, path, provider, name, pid=pid, **kw)

    def attach_tracepoint(self, category: str, name: str, **kw: Any) -> Link:
        from .attach import attach_tracepoint
        return attach_tracepoint(self, category, name, **kw)

    def attach_raw_tracepoint(self, name: str) -> Link:
        from .attach import attach_raw_tracepoint
        return attach_raw_tracepoint(self, name)

    def attach_tracing(self, **kw: Any) -> Link:
        from .attach import attach_tracing
        return attach_tracing(self, **kw)

    def attach_perf_event(self, **kw: Any) -> Link:
        from .attach import attach_perf_event
        return attach_perf_event(self, **kw)

    def attach_xdp(self, iface: int | str, **kw: Any) -> Link:
        from .attach import attach_xdp
        return attach_xdp(self, iface, **kw)

    def attach_tc(self, iface: int | str, direction: str = "ingress", **kw: Any) -> Link:
        from .attach import attach_tc
        return attach_tc(self, iface, direction=direction, **kw)

    def attach_socket(self, sock: Any) -> Link:
        from .attach import attach_socket
        return attach_socket(self, sock)

    def attach_cgroup(self, cgroup: Any, attach_type: int | None = None, **kw: Any) -> Link:
        from .attach import attach_cgroup
        return attach_cgroup(self, cgroup, attach_type=attach_type, **kw)

    def close(self) -> None:
        self._fd.close()

    def __repr__(self) -> str:
        state = "closed" if self._fd.closed else f"fd={self._fd._fd}"
        return f"<Program {self.name} {self.type.name} sec={self.section!r} {state}>"
