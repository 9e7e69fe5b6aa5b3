"""Shared fixtures and the kernel-test policy.

Kernel tests (marker ``kernel``) need root and a BPF kernel. They may skip only where a
kernel capability is truly missing, via ``require_feature`` (the reason names it). Under
``PYBPF_REQUIRE_KERNEL=1`` (CI) a kernel test that cannot run for any other reason (not
root, no BTF) fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OBJ_DIR = ROOT / "pybpf" / "bpf" / "tests"
REQUIRE = os.environ.get("PYBPF_REQUIRE_KERNEL") == "1"


def obj_path(name: str) -> str:
    """Path of a compiled test object (bpf_src/tests/<name>.bpf.c)."""
    p = OBJ_DIR / f"{name}.bpf.o"
    if not p.exists():
        pytest.fail(f"test object {p} is missing: run `make objects`")
    return str(p)


def _kernel_problem() -> str | None:
    if os.geteuid() != 0:
        return "kernel tests need root"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "kernel has no BTF (/sys/kernel/btf/vmlinux)"
    return None


def require_feature(present: bool, what: str) -> None:
    """Skip (also under PYBPF_REQUIRE_KERNEL) when the kernel truly lacks ``what``."""
    if not present:
        pytest.skip(f"kernel lacks {what}")


def perf_link_info() -> bool:
    """Whether bpf_link_info describes perf-event links (6.6+: a perf_event union member)."""
    from pybpf.btf import load_kernel
    from pybpf.btf.types import Kind
    btf = load_kernel()
    info = btf.find("bpf_link_info", Kind.STRUCT)
    return any(u.name == "perf_event" for m in info.members
               for u in btf.resolve(m.type_id).members or ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = _kernel_problem()
    if problem is None:
        return
    kernel_items = [i for i in items if "kernel" in i.keywords]
    if REQUIRE and kernel_items:
        pytest.exit(f"PYBPF_REQUIRE_KERNEL=1 but {problem}: {len(kernel_items)} kernel tests "
                    f"cannot run", returncode=1)
    for item in kernel_items:
        item.add_marker(pytest.mark.skip(reason=problem))


def wait_child(p: subprocess.Popen, timeout: float) -> int:
    """The child's exit status; on a hang, fail showing its state, signal masks, kernel stack
    and (where py-spy is installed) its Python stack."""
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with open(f"/proc/{p.pid}/status") as f:
            sig = [ln.strip() for ln in f if ln.startswith(("State", "Sig", "Shd"))]
        try:
            with open(f"/proc/{p.pid}/stack") as f:
                stack = f.read()
        except OSError:
            stack = "?"
        spy = shutil.which("py-spy")
        py = subprocess.run([spy, "dump", "--pid", str(p.pid)], capture_output=True, text=True,
                            timeout=30).stdout if spy else ""
        p.kill()
        p.wait()
        pytest.fail(f"child {p.pid} still running after {timeout} s: {sig}; kernel stack: "
                    f"{stack}; Python: {py}")


def open_fds() -> set[int]:
    return {int(x) for x in os.listdir("/proc/self/fd")}


@pytest.fixture
def no_fd_leak():
    """Fail the test if it leaves file descriptors open."""
    import gc
    before = open_fds()
    yield
    gc.collect()
    leaked = open_fds() - before
    details = {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked if os.path.exists(f"/proc/self/fd/{fd}")}
    assert not details, f"file descriptors leaked: {details}"


# a gcc-built busy loop for the stack samplers: pybpf_busy_spin <- pybpf_busy_outer <- main;
# with an argument it waits instead (a process with the binary mapped, not eating a CPU:
# under the matrix's single-threaded TCG a spinning guest process starves the test)
BUSY_C = r"""
#include <stdio.h>
#include <unistd.h>
volatile unsigned long spins;
volatile int stop;

__attribute__((noinline)) void pybpf_busy_spin(void)
{
	while (!stop)
		spins++;
}

__attribute__((noinline)) void pybpf_busy_outer(void)
{
	pybpf_busy_spin();
}

int main(int argc, char **argv)
{
	puts(argc > 1 ? "waiting" : "spinning");
	fflush(stdout);
	if (argc > 1)
		pause();
	else
		pybpf_busy_outer();
	return 0;
}
"""


@pytest.fixture(scope="session")
def busy_bin(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed to build the sampled program")
    d = tmp_path_factory.mktemp("busy")
    (d / "busy.c").write_text(BUSY_C)
    exe = d / "busy"
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-o", str(exe),
                    str(d / "busy.c")], check=True)
    return str(exe)


@pytest.fixture
def busy_proc(busy_bin):
    p = subprocess.Popen([busy_bin], stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"spinning\n"
    yield p
    p.kill()
    p.wait()


@pytest.fixture
def idle_proc(busy_bin):
    """The busy binary, waiting in pause() (its symbols mapped, no CPU used)."""
    p = subprocess.Popen([busy_bin, "wait"], stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"waiting\n"
    yield p
    p.kill()
    p.wait()
