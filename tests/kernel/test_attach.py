"""Every attach kind on the real kernel, each asserting the effect this test caused."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pybpf
from pybpf.attach.kprobe import kprobes_available
from pybpf.attach.tracefs import tracefs_path
from tests.conftest import ROOT, obj_path

pytestmark = pytest.mark.kernel

ADDER_C = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((noinline)) int pybpf_add(int a, int b) { return a + b; }
int main(int argc, char **argv)
{
	volatile int r = pybpf_add(atoi(argv[1]), atoi(argv[2]));
	printf("%d\n", r);
	return 0;
}
"""


@pytest.fixture
def obj():
    with pybpf.load(obj_path("attach_basic"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


@pytest.fixture(scope="module")
def adder(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("adder")
    (d / "adder.c").write_text(ADDER_C)
    subprocess.run(["gcc", "-O1", "-o", str(d / "adder"), str(d / "adder.c")], check=True)
    return str(d / "adder")


def test_tracepoint_and_core_parent(obj, no_fd_leak):
    with obj.programs["tp_getppid"].attach():
        for _ in range(5):
            os.getppid()
    os.getppid()                                   # detached: not counted
    assert obj.bss.tp_hits == 5
    assert obj.bss.parent_tgid == os.getppid()     # task->real_parent->tgid through CO-RE
    assert obj.bss.comm == Path("/proc/self/comm").read_text().strip()


def test_raw_tracepoint(obj, no_fd_leak):
    with obj.programs["raw_sys_enter"].attach():
        for _ in range(7):
            os.getppid()
    assert obj.bss.raw_hits == 7


def test_tp_btf(obj, no_fd_leak):
    with obj.programs["btf_sys_enter"].attach():
        for _ in range(3):
            os.getppid()
    assert obj.bss.btf_hits == 3


def test_uprobe_and_uretprobe(obj, adder, no_fd_leak):
    up = obj.programs["on_add"].attach_uprobe(adder, "pybpf_add")
    ret = obj.programs["on_add_ret"].attach_uprobe(adder, "pybpf_add", retprobe=True)
    with up, ret:
        out = subprocess.run([adder, "20", "22"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "42"
    assert (obj.bss.uprobe_a, obj.bss.uprobe_b, obj.bss.uretprobe_ret) == (20, 22, 42)


def test_uprobe_legacy_events_removed(obj, adder):
    link = obj.programs["on_add"].attach_uprobe(adder, "pybpf_add", legacy=True)
    name = link.event_name
    assert name in Path(tracefs_path(), "uprobe_events").read_text()
    subprocess.run([adder, "1", "2"], check=True, capture_output=True)
    assert (obj.bss.uprobe_a, obj.bss.uprobe_b) == (1, 2)
    link.close()
    assert name not in Path(tracefs_path(), "uprobe_events").read_text()


def test_uprobe_libc_short_name(obj):
    from pybpf.attach.uprobe import resolve_binary, symbol_offset
    libc = resolve_binary("c")
    assert "libc.so" in libc and symbol_offset(libc, "malloc") > 0
    with obj.programs["on_add"].attach_uprobe("c", "getpid"):
        pass


def test_perf_event_sampling(obj, no_fd_leak):
    with obj.programs["on_sample"].attach_perf_event(frequency=1000):
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            pass
    hits = obj.bss.sample_hits
    assert hits > 20, hits                         # ~500 expected at 1 kHz of busy CPU


def test_socket_filter_counts_packets(obj, no_fd_leak):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with obj.programs["sock_count"].attach_socket(rx):
            for i in range(5):
                tx.sendto(b"x%d" % i, rx.getsockname())
            rx.settimeout(2)
            got = [rx.recv(16) for _ in range(5)]
        assert got == [b"x%d" % i for i in range(5)]
        assert obj.bss.sock_pkts == 5
    finally:
        rx.close()
        tx.close()


@pytest.fixture
def veth():
    """A veth pair: host side 10.231.0.1 (pybpfA), netns side 10.231.0.2 (pybpfB)."""
    if shutil.which("ip") is None:
        pytest.fail("iproute2 (ip) is required")
    ns = f"pybpf_t{os.getpid()}"

    def ip(*args: str, netns: bool = False) -> None:
        cmd = (["ip", "netns", "exec", ns] if netns else []) + list(args)
        subprocess.run(cmd, check=True, capture_output=True)
    subprocess.run(["ip", "link", "del", "pybpfA"], capture_output=True)
    ip("ip", "netns", "add", ns)
    try:
        ip("ip", "link", "add", "pybpfA", "type", "veth", "peer", "name", "pybpfB", "netns", ns)
        ip("sysctl", "-qw", "net.ipv6.conf.pybpfA.disable_ipv6=1")
        ip("ip", "addr", "add", "10.231.0.1/24", "dev", "pybpfA")
        ip("ip", "link", "set", "pybpfA", "up")
        ip("sysctl", "-qw", "net.ipv6.conf.pybpfB.disable_ipv6=1", netns=True)
        ip("ip", "addr", "add", "10.231.0.2/24", "dev", "pybpfB", netns=True)
        ip("ip", "link", "set", "pybpfB", "up", netns=True)
        mac = Path("/sys/class/net/pybpfA/address").read_text().strip()
        ip("ip", "neigh", "add", "10.231.0.1", "lladdr", mac, "dev", "pybpfB", netns=True)
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", "pybpfA"], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def _send_from_ns(ns: str, port: int, n: int) -> None:
    code = ("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"for i in range({n}): s.sendto(b'p', ('10.231.0.1', {port}))")
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], check=True)


def _receiver() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.231.0.1", 0))
    s.settimeout(0.5)
    return s


def _drain(s: socket.socket) -> int:
    n = 0
    try:
        while True:
            s.recv(16)
            n += 1
    except TimeoutError:
        return n


def test_xdp_drops_packets(obj, veth, no_fd_leak):
    rx = _receiver()
    try:
        with obj.programs["xdp_drop_all"].attach_xdp("pybpfA"):
            _send_from_ns(veth, rx.getsockname()[1], 6)
            assert _drain(rx) == 0                  # all dropped before the stack
        assert obj.bss.xdp_pkts >= 6
        _send_from_ns(veth, rx.getsockname()[1], 2)  # detached: delivered again
        assert _drain(rx) == 2
    finally:
        rx.close()


def test_tcx_ingress_counts(obj, veth, no_fd_leak):
    rx = _receiver()
    try:
        with obj.programs["tc_count"].attach_tc("pybpfA", "ingress"):
            _send_from_ns(veth, rx.getsockname()[1], 4)
            assert _drain(rx) == 4
        assert obj.bss.tc_pkts >= 4
    finally:
        rx.close()


def test_cgroup_skb_egress(obj, no_fd_leak):
    from pybpf.attach.cgroup import cgroup2_root
    cg = Path(cgroup2_root(), f"pybpf_test_{os.getpid()}")
    cg.mkdir()
    try:
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rx.bind(("127.0.0.1", 0))
        with rx, obj.programs["cg_egress"].attach_cgroup(str(cg)):
            code = (f"import socket; open('{cg}/cgroup.procs','w').write('0')\n"
                    "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                    f"for i in range(5): s.sendto(b'c', ('127.0.0.1', {rx.getsockname()[1]}))")
            subprocess.run([sys.executable, "-c", code], check=True)
        assert obj.bss.cg_pkts >= 5
    finally:
        cg.rmdir()


def test_kprobe_error_on_kernel_without_kprobes():
    if kprobes_available():
        pytest.skip("kernel has kprobes: tests/kernel/test_attach_kprobe.py covers them")
    with pybpf.load(obj_path("attach_kprobe")) as o:
        with pytest.raises(pybpf.AttachError, match=r"kernel has no kprobes \(CONFIG_KPROBES unset"):
            o.programs["on_entry"].attach()


def test_fentry_eperm_is_explained(tmp_path):
    try:
        o = pybpf.load(obj_path("attach_fentry"), rodata={"targ_pid": os.getpid()})
    except pybpf.BPFPermissionError as e:             # the dev host refuses trampolines
        assert "trampoline" in str(e) and "fentry" in str(e) and e.errno == 1
        return
    f = tmp_path / "data"                             # a kernel where fentry/fexit work
    f.write_bytes(b"0123456789")
    with o, o.programs["on_read"].attach(), o.programs["on_read_exit"].attach():
        fd = os.open(f, os.O_RDONLY)
        try:
            assert os.read(fd, 7) == b"0123456"
            assert (o.bss.fentry_count, o.bss.fexit_ret) == (7, 7)
            assert os.read(fd, 7) == b"789"           # 3 left: fexit sees the return value
            assert (o.bss.fentry_count, o.bss.fexit_ret) == (7, 3)
        finally:
            os.close(fd)
        assert o.bss.fentry_hits >= 2


def test_clear_errors(obj, adder):
    with pytest.raises(pybpf.AttachError, match="unknown tracepoint syscalls:sys_enter_nosuch"):
        obj.programs["tp_getppid"].attach_tracepoint("syscalls", "sys_enter_nosuch")
    with pytest.raises(pybpf.AttachError, match="symbol 'pybpf_ad' not found.*pybpf_add"):
        obj.programs["on_add"].attach_uprobe(adder, "pybpf_ad")
    with pytest.raises(pybpf.AttachError, match="library 'nosuchlib' not found"):
        obj.programs["on_add"].attach_uprobe("nosuchlib", "f")
    with pytest.raises(pybpf.AttachError, match="needs a target"):
        obj.programs["xdp_drop_all"].attach()


def test_missing_privileges_error():
    code = ("import pybpf,sys\ntry:\n pybpf.load(sys.argv[1])\nexcept pybpf.BPFError as e:\n"
            " print(type(e).__name__, e)")
    r = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all",
                        sys.executable, "-c", code, obj_path("loader_tailcall")],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "BPFPermissionError" in r.stdout and "CAP_BPF" in r.stdout, r.stdout + r.stderr


# Attach/detach soaks, SIGKILL and SIGINT hygiene: tests/kernel/test_attach_hygiene.py


def test_attach_all_attaches_what_sec_names_fully(obj, no_fd_leak):
    links = obj.attach_all()
    assert sorted(link.description.split(" -> ")[0] for link in links) == [
        "btf_sys_enter", "raw_sys_enter", "tp_getppid"]     # uprobe/xdp/socket... need targets
    os.getppid()
    obj.close()                                             # detaches attach_all's links
    assert all(link.closed for link in links)
