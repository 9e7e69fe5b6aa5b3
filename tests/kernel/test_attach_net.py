"""XDP, TC (tcx and netlink cls_bpf), socket filters and cgroups with real packets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import pybpf
from pybpf import features
from tests.conftest import obj_path, require_feature

pytestmark = pytest.mark.kernel

HOST, PEER = "10.232.0.1", "10.232.0.2"


@pytest.fixture
def xobj():
    with pybpf.load(obj_path("attach_extra")) as o:
        yield o


@pytest.fixture
def bobj():
    with pybpf.load(obj_path("attach_basic"), rodata={"targ_pid": os.getpid()}) as o:
        yield o


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def veth():
    """pybpfN0 (host, 10.232.0.1) <-> pybpfN1 (in a fresh netns, 10.232.0.2); always removed."""
    if shutil.which("ip") is None:
        pytest.fail("iproute2 (ip) is required")
    ns = f"pybpf_n{os.getpid()}"
    subprocess.run(["ip", "link", "del", "pybpfN0"], capture_output=True)
    _run("ip", "netns", "add", ns)
    try:
        _run("ip", "link", "add", "pybpfN0", "type", "veth", "peer", "name", "pybpfN1",
             "netns", ns)
        _run("sysctl", "-qw", "net.ipv6.conf.pybpfN0.disable_ipv6=1")
        _run("ip", "addr", "add", f"{HOST}/24", "dev", "pybpfN0")
        _run("ip", "link", "set", "pybpfN0", "up")
        nse = ("ip", "netns", "exec", ns)
        _run(*nse, "sysctl", "-qw", "net.ipv6.conf.pybpfN1.disable_ipv6=1")
        _run(*nse, "ip", "addr", "add", f"{PEER}/24", "dev", "pybpfN1")
        _run(*nse, "ip", "link", "set", "pybpfN1", "up")
        _run(*nse, "ip", "link", "set", "lo", "up")
        mac = Path("/sys/class/net/pybpfN0/address").read_text().strip()
        _run(*nse, "ip", "neigh", "add", HOST, "lladdr", mac, "dev", "pybpfN1")
        yield ns
    finally:
        subprocess.run(["ip", "link", "del", "pybpfN0"], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


PING = """
import os, socket, struct, sys, time
def csum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.settimeout(0.3)
ident, got = os.getpid() & 0xffff, 0
for seq in range(int(sys.argv[2])):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"pybpf-ping"
    sock.sendto(body[:2] + struct.pack("!H", csum(body)) + body[4:], (sys.argv[1], 0))
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        try:
            pkt = sock.recv(2048)
        except TimeoutError:
            break
        t, _c, _s, i, q = struct.unpack_from("!BBHHH", pkt, (pkt[0] & 15) * 4)
        if t == 0 and i == ident and q == seq:
            got += 1
            break
print(got)
"""


def ping_from_ns(ns: str, n: int) -> int:
    """ICMP echo requests to HOST from the netns (raw socket); returns the replies counted."""
    r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", PING, HOST, str(n)],
                       capture_output=True, text=True, check=True)
    return int(r.stdout)


def udp_from_ns(ns: str, port: int, n: int) -> None:
    code = ("import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            f"for i in range({n}): s.sendto(b'p%d' % i, ('{HOST}', {port}))")
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], check=True)


def receiver() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((HOST, 0))
    s.settimeout(0.5)
    return s


def drain(s: socket.socket) -> int:
    n = 0
    try:
        while True:
            s.recv(64)
            n += 1
    except TimeoutError:
        return n


def tc_state(dev: str) -> str:
    return _run("tc", "qdisc", "show", "dev", dev) + _run("tc", "filter", "show", "dev", dev,
                                                         "ingress")


@pytest.mark.parametrize("legacy", [False, True], ids=["link", "netlink"])
def test_xdp_drops_ping_and_passes_udp(xobj, veth, legacy, no_fd_leak):
    assert ping_from_ns(veth, 3) == 3                       # before: answered
    rx = receiver()
    try:
        with xobj.programs["xdp_drop_icmp"].attach_xdp("pybpfN0", mode="skb", legacy=legacy):
            assert "xdp" in _run("ip", "link", "show", "pybpfN0")
            assert ping_from_ns(veth, 4) == 0                # every echo request dropped
            udp_from_ns(veth, rx.getsockname()[1], 3)
            assert drain(rx) == 3
        assert xobj.bss.icmp_dropped == 4
        assert xobj.bss.other_passed >= 3
        assert "xdp" not in _run("ip", "link", "show", "pybpfN0")
        assert ping_from_ns(veth, 2) == 2                   # detached: answered again
    finally:
        rx.close()


def test_xdp_second_program_is_refused_clearly(xobj, bobj, veth):
    with xobj.programs["xdp_drop_icmp"].attach_xdp("pybpfN0"):
        with pytest.raises(pybpf.AttachError, match="already attached"):
            bobj.programs["xdp_drop_all"].attach_xdp("pybpfN0")


@pytest.mark.parametrize("legacy", [False, True], ids=["tcx", "netlink"])
@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_tc_counts_packets(bobj, veth, legacy, direction, no_fd_leak):
    if not legacy:
        require_feature(features.tcx(), "tcx links (BPF_TCX_INGRESS, 6.6)")
    rx = receiver()
    try:
        with bobj.programs["tc_count"].attach_tc("pybpfN0", direction, legacy=legacy) as link:
            if legacy:
                assert "clsact" in tc_state("pybpfN0")
                assert f"handle {link.tc_handle:#x} tc_count direct-action" in _run(
                    "tc", "filter", "show", "dev", "pybpfN0", direction)
            if direction == "ingress":
                udp_from_ns(veth, rx.getsockname()[1], 5)
                assert drain(rx) == 5
            else:
                assert ping_from_ns(veth, 5) == 5             # 5 echo replies leave pybpfN0
        assert bobj.bss.tc_pkts >= 5
        assert "clsact" not in tc_state("pybpfN0")           # the qdisc pybpf made is gone
    finally:
        rx.close()


def test_tc_netlink_keeps_a_clsact_it_did_not_create(bobj, veth):
    _run("tc", "qdisc", "add", "dev", "pybpfN0", "clsact")
    bobj.programs["tc_count"].attach_tc("pybpfN0", legacy=True).close()
    state = tc_state("pybpfN0")
    assert "clsact" in state and "tc_count" not in state


def test_socket_filter_drops_and_detaches(xobj, no_fd_leak):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.3)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with xobj.programs["sock_drop"].attach_socket(rx):
            for i in range(4):
                tx.sendto(b"d%d" % i, rx.getsockname())
            with pytest.raises(TimeoutError):
                rx.recv(16)                                  # all dropped by the filter
        assert xobj.bss.sock_dropped == 4
        tx.sendto(b"after", rx.getsockname())
        assert rx.recv(16) == b"after"                        # detached
    finally:
        rx.close()
        tx.close()


def test_socket_filter_by_fd_and_closed_socket(xobj):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    link = xobj.programs["sock_drop"].attach_socket(rx.fileno())
    rx.close()
    link.close()                                             # nothing left to detach: no error
    with open("/dev/null") as f, pytest.raises(pybpf.AttachError, match="fd .*: "):
        xobj.programs["sock_drop"].attach_socket(f.fileno())


@pytest.fixture
def cgroup():
    from pybpf.attach.cgroup import cgroup2_root
    cg = Path(cgroup2_root(), f"pybpf_net_{os.getpid()}")
    cg.mkdir()
    try:
        yield cg
    finally:
        cg.rmdir()


@pytest.mark.parametrize("legacy", [False, True], ids=["link", "prog_attach"])
def test_cgroup_skb_ingress_counts_packets_of_a_process_in_it(xobj, cgroup, legacy):
    code = (f"import socket; open('{cgroup}/cgroup.procs','w').write('0')\n"
            "r=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(('127.0.0.1', 0))\n"
            "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "for i in range(7): s.sendto(b'c', r.getsockname())\n"
            "print(len([r.recv(8) for _ in range(7)]))")
    with xobj.programs["cg_ingress"].attach_cgroup(str(cgroup), legacy=legacy):
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                             text=True).stdout
    assert out.strip() == "7"
    assert xobj.bss.cg_in_pkts == 7                         # the 7 datagrams received in it
    subprocess.run([sys.executable, "-c", code.replace(f"open('{cgroup}/cgroup.procs','w')"
                                                       ".write('0')", "pass")], check=True,
                   capture_output=True)
    assert xobj.bss.cg_in_pkts == 7                         # detached


def test_net_errors(bobj):
    with pytest.raises(pybpf.AttachError, match="no network interface 'nosuchdev0'"):
        bobj.programs["xdp_drop_all"].attach_xdp("nosuchdev0")
    with pytest.raises(pybpf.AttachError, match="unknown TC direction"):
        bobj.programs["tc_count"].attach_tc("lo", "sideways")
    with pytest.raises(pybpf.AttachError, match="cannot open cgroup /nonexistent"):
        bobj.programs["cg_egress"].attach_cgroup("/nonexistent")
