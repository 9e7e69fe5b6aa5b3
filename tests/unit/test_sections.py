"""SEC() name table: libbpf's convention, exact and prefixed matches."""

from __future__ import annotations

import pytest

from pybpf.attach.sections import lookup
from pybpf.errors import ELFError
from pybpf.sys.consts import AttachType, ProgFlags, ProgType


@pytest.mark.parametrize("sec,ptype,atype,target", [
    ("tracepoint/syscalls/sys_enter_openat", ProgType.TRACEPOINT, 0, "syscalls/sys_enter_openat"),
    ("tp/sched/sched_switch", ProgType.TRACEPOINT, 0, "sched/sched_switch"),
    ("kprobe/do_unlinkat", ProgType.KPROBE, 0, "do_unlinkat"),
    ("kretprobe/vfs_read", ProgType.KPROBE, 0, "vfs_read"),
    ("uprobe//bin/bash:readline", ProgType.KPROBE, 0, "/bin/bash:readline"),
    ("uprobe", ProgType.KPROBE, 0, ""),
    ("usdt/./app:prov:probe", ProgType.KPROBE, 0, "./app:prov:probe"),
    ("raw_tp/sched_switch", ProgType.RAW_TRACEPOINT, 0, "sched_switch"),
    ("raw_tracepoint.w/foo", ProgType.RAW_TRACEPOINT_WRITABLE, 0, "foo"),
    ("tp_btf/sched_wakeup", ProgType.TRACING, AttachType.TRACE_RAW_TP, "sched_wakeup"),
    ("fentry/do_unlinkat", ProgType.TRACING, AttachType.TRACE_FENTRY, "do_unlinkat"),
    ("fexit/do_unlinkat", ProgType.TRACING, AttachType.TRACE_FEXIT, "do_unlinkat"),
    ("fmod_ret/security_x", ProgType.TRACING, AttachType.MODIFY_RETURN, "security_x"),
    ("lsm/file_open", ProgType.LSM, AttachType.LSM_MAC, "file_open"),
    ("kprobe.multi/vfs_*", ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI, "vfs_*"),
    ("xdp", ProgType.XDP, AttachType.XDP, ""),
    ("xdp.frags", ProgType.XDP, AttachType.XDP, ""),
    ("tc", ProgType.SCHED_CLS, 0, ""),
    ("tcx/ingress", ProgType.SCHED_CLS, AttachType.TCX_INGRESS, ""),
    ("socket", ProgType.SOCKET_FILTER, 0, ""),
    ("cgroup_skb/egress", ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS, ""),
    ("cgroup/connect4", ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT, ""),
    ("perf_event", ProgType.PERF_EVENT, 0, ""),
    ("syscall", ProgType.SYSCALL, 0, ""),
])
def test_lookup(sec, ptype, atype, target):
    d, t = lookup(sec)
    assert (d.prog_type, int(d.attach_type), t) == (ptype, int(atype), target)


def test_flags():
    assert lookup("fentry.s/x")[0].flags == ProgFlags.SLEEPABLE
    assert lookup("xdp.frags")[0].flags == ProgFlags.XDP_HAS_FRAGS
    assert lookup("uprobe.s//bin/true:main")[0].flags == ProgFlags.SLEEPABLE


@pytest.mark.parametrize("bad", ["xdpfoo", "kprobefoo", "tracepointx/a/b", "", "socket/extra"])
def test_strict_matching(bad):
    with pytest.raises(ELFError, match="unknown program section"):
        lookup(bad)
