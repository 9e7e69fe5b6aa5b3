"""SEC() names -> program type, expected attach type, load flags and attach kind.

The table follows libbpf's naming convention (libbpf 1.x strict mode): an entry written
``"kprobe+"`` matches ``kprobe`` exactly or ``kprobe/<target>``; an entry without ``+``
matches only exactly. First match wins, so longer names come first.
"""

from __future__ import annotations

from .._record import Frozen, _set
from ..errors import ELFError
from ..sys.consts import AttachType as A
from ..sys.consts import ProgFlags
from ..sys.consts import ProgType as P

SLEEPABLE = int(ProgFlags.SLEEPABLE)
FRAGS = int(ProgFlags.XDP_HAS_FRAGS)


class SectionDef(Frozen):
    """One row: ``attach`` names how ``prog.attach()`` attaches it ("" = no auto-attach).

    ``btf_target``: the loader must resolve ``attach_btf_id`` in kernel BTF at load time
    ("func" for fentry/fexit/lsm, "tp" for tp_btf's ``btf_trace_<name>``).
    ``load_attach_type``: expected_attach_type must be passed to PROG_LOAD (else it is only
    used for attach).
    """

    __slots__ = ("name", "prog_type", "attach_type", "flags", "attach", "btf_target",
                 "load_attach_type")
    name: str
    prog_type: P
    attach_type: A | int
    flags: int
    attach: str
    btf_target: str
    load_attach_type: bool

    def __init__(self, name: str, prog_type: P, attach_type: A | int = 0, flags: int = 0,
                 attach: str = "", btf_target: str = "", load_attach_type: bool = False) -> None:
        _set(self, "name", name)
        _set(self, "prog_type", prog_type)
        _set(self, "attach_type", attach_type)
        _set(self, "flags", flags)
        _set(self, "attach", attach)
        _set(self, "btf_target", btf_target)
        _set(self, "load_attach_type", load_attach_type)


_T = SectionDef
SECTIONS: tuple[SectionDef, ...] = (
    _T("socket", P.SOCKET_FILTER, attach="socket"),
    _T("sk_reuseport/migrate", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT_OR_MIGRATE, load_attach_type=True),
    _T("sk_reuseport", P.SK_REUSEPORT, A.SK_REUSEPORT_SELECT, load_attach_type=True),
    _T("kprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, attach="kprobe_multi", load_attach_type=True),
    _T("kretprobe.multi+", P.KPROBE, A.TRACE_KPROBE_MULTI, attach="kretprobe_multi", load_attach_type=True),
    _T("kprobe.session+", P.KPROBE, A.TRACE_KPROBE_SESSION, attach="kprobe_session", load_attach_type=True),
    _T("uprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SLEEPABLE, "uprobe_multi", load_attach_type=True),
    _T("uretprobe.multi.s+", P.KPROBE, A.TRACE_UPROBE_MULTI, SLEEPABLE, "uretprobe_multi", load_attach_type=True),
    _T("uprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, attach="uprobe_multi", load_attach_type=True),
    _T("uretprobe.multi+", P.KPROBE, A.TRACE_UPROBE_MULTI, attach="uretprobe_multi", load_attach_type=True),
    _T("kprobe+", P.KPROBE, attach="kprobe"),
    _T("kretprobe+", P.KPROBE, attach="kretprobe"),
    _T("uprobe.s+", P.KPROBE, flags=SLEEPABLE, attach="uprobe"),
    _T("uretprobe.s+", P.KPROBE, flags=SLEEPABLE, attach="uretprobe"),
    _T("uprobe+", P.KPROBE, attach="uprobe"),
    _T("uretprobe+", P.KPROBE, attach="uretprobe"),
    _T("ksyscall+", P.KPROBE, attach="ksyscall"),
    _T("kretsyscall+", P.KPROBE, attach="kretsyscall"),
    _T("usdt.s+", P.KPROBE, flags=SLEEPABLE, attach="usdt"),
    _T("usdt+", P.KPROBE, attach="usdt"),
    _T("tc/ingress", P.SCHED_CLS, A.TCX_INGRESS, attach="tcx"),
    _T("tc/egress", P.SCHED_CLS, A.TCX_EGRESS, attach="tcx"),
    _T("tcx/ingress", P.SCHED_CLS, A.TCX_INGRESS, attach="tcx"),
    _T("tcx/egress", P.SCHED_CLS, A.TCX_EGRESS, attach="tcx"),
    _T("tc", P.SCHED_CLS),
    _T("classifier", P.SCHED_CLS),
    _T("action", P.SCHED_ACT),
    _T("netkit/primary", P.SCHED_CLS, A.NETKIT_PRIMARY),
    _T("netkit/peer", P.SCHED_CLS, A.NETKIT_PEER),
    _T("tracepoint+", P.TRACEPOINT, attach="tracepoint"),
    _T("tp+", P.TRACEPOINT, attach="tracepoint"),
    _T("raw_tracepoint.w+", P.RAW_TRACEPOINT_WRITABLE, attach="raw_tracepoint"),
    _T("raw_tp.w+", P.RAW_TRACEPOINT_WRITABLE, attach="raw_tracepoint"),
    _T("raw_tracepoint+", P.RAW_TRACEPOINT, attach="raw_tracepoint"),
    _T("raw_tp+", P.RAW_TRACEPOINT, attach="raw_tracepoint"),
    _T("tp_btf+", P.TRACING, A.TRACE_RAW_TP, attach="tracing", btf_target="tp", load_attach_type=True),
    _T("fentry.s+", P.TRACING, A.TRACE_FENTRY, SLEEPABLE, "tracing", "func", True),
    _T("fmod_ret.s+", P.TRACING, A.MODIFY_RETURN, SLEEPABLE, "tracing", "func", True),
    _T("fexit.s+", P.TRACING, A.TRACE_FEXIT, SLEEPABLE, "tracing", "func", True),
    _T("fentry+", P.TRACING, A.TRACE_FENTRY, attach="tracing", btf_target="func", load_attach_type=True),
    _T("fmod_ret+", P.TRACING, A.MODIFY_RETURN, attach="tracing", btf_target="func", load_attach_type=True),
    _T("fexit+", P.TRACING, A.TRACE_FEXIT, attach="tracing", btf_target="func", load_attach_type=True),
    _T("freplace+", P.EXT, attach="freplace"),
    _T("lsm.s+", P.LSM, A.LSM_MAC, SLEEPABLE, "tracing", "lsm", True),
    _T("lsm_cgroup+", P.LSM, A.LSM_CGROUP, btf_target="lsm", load_attach_type=True),
    _T("lsm+", P.LSM, A.LSM_MAC, attach="tracing", btf_target="lsm", load_attach_type=True),
    _T("iter.s+", P.TRACING, A.TRACE_ITER, SLEEPABLE, "iter", "iter", True),
    _T("iter+", P.TRACING, A.TRACE_ITER, attach="iter", btf_target="iter", load_attach_type=True),
    _T("syscall", P.SYSCALL, flags=SLEEPABLE),
    _T("xdp.frags/devmap", P.XDP, A.XDP_DEVMAP, FRAGS, load_attach_type=True),
    _T("xdp/devmap", P.XDP, A.XDP_DEVMAP, load_attach_type=True),
    _T("xdp.frags/cpumap", P.XDP, A.XDP_CPUMAP, FRAGS, load_attach_type=True),
    _T("xdp/cpumap", P.XDP, A.XDP_CPUMAP, load_attach_type=True),
    _T("xdp.frags", P.XDP, A.XDP, FRAGS, load_attach_type=True),
    _T("xdp", P.XDP, A.XDP, load_attach_type=True),
    _T("perf_event", P.PERF_EVENT),
    _T("lwt_in", P.LWT_IN),
    _T("lwt_out", P.LWT_OUT),
    _T("lwt_xmit", P.LWT_XMIT),
    _T("lwt_seg6local", P.LWT_SEG6LOCAL),
    _T("sockops", P.SOCK_OPS, A.CGROUP_SOCK_OPS, attach="cgroup", load_attach_type=True),
    _T("sk_skb/stream_parser", P.SK_SKB, A.SK_SKB_STREAM_PARSER, load_attach_type=True),
    _T("sk_skb/stream_verdict", P.SK_SKB, A.SK_SKB_STREAM_VERDICT, load_attach_type=True),
    _T("sk_skb/verdict", P.SK_SKB, A.SK_SKB_VERDICT, load_attach_type=True),
    _T("sk_skb", P.SK_SKB),
    _T("sk_msg", P.SK_MSG, A.SK_MSG_VERDICT, load_attach_type=True),
    _T("lirc_mode2", P.LIRC_MODE2, A.LIRC_MODE2, load_attach_type=True),
    _T("flow_dissector", P.FLOW_DISSECTOR, A.FLOW_DISSECTOR, load_attach_type=True),
    _T("cgroup_skb/ingress", P.CGROUP_SKB, A.CGROUP_INET_INGRESS, attach="cgroup", load_attach_type=True),
    _T("cgroup_skb/egress", P.CGROUP_SKB, A.CGROUP_INET_EGRESS, attach="cgroup", load_attach_type=True),
    _T("cgroup/skb", P.CGROUP_SKB),
    _T("cgroup/sock_create", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, attach="cgroup", load_attach_type=True),
    _T("cgroup/sock_release", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE, attach="cgroup", load_attach_type=True),
    _T("cgroup/sock", P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE, attach="cgroup", load_attach_type=True),
    _T("cgroup/post_bind4", P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND, attach="cgroup", load_attach_type=True),
    _T("cgroup/post_bind6", P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND, attach="cgroup", load_attach_type=True),
    _T("cgroup/bind4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND, attach="cgroup", load_attach_type=True),
    _T("cgroup/bind6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND, attach="cgroup", load_attach_type=True),
    _T("cgroup/connect4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT, attach="cgroup", load_attach_type=True),
    _T("cgroup/connect6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT, attach="cgroup", load_attach_type=True),
    _T("cgroup/connect_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT, attach="cgroup", load_attach_type=True),
    _T("cgroup/sendmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG, attach="cgroup", load_attach_type=True),
    _T("cgroup/sendmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG, attach="cgroup", load_attach_type=True),
    _T("cgroup/sendmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG, attach="cgroup", load_attach_type=True),
    _T("cgroup/recvmsg4", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG, attach="cgroup", load_attach_type=True),
    _T("cgroup/recvmsg6", P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG, attach="cgroup", load_attach_type=True),
    _T("cgroup/recvmsg_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG, attach="cgroup", load_attach_type=True),
    _T("cgroup/getpeername4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME, attach="cgroup", load_attach_type=True),
    _T("cgroup/getpeername6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME, attach="cgroup", load_attach_type=True),
    _T("cgroup/getpeername_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME, attach="cgroup", load_attach_type=True),
    _T("cgroup/getsockname4", P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME, attach="cgroup", load_attach_type=True),
    _T("cgroup/getsockname6", P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME, attach="cgroup", load_attach_type=True),
    _T("cgroup/getsockname_unix", P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME, attach="cgroup", load_attach_type=True),
    _T("cgroup/sysctl", P.CGROUP_SYSCTL, A.CGROUP_SYSCTL, attach="cgroup", load_attach_type=True),
    _T("cgroup/getsockopt", P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT, attach="cgroup", load_attach_type=True),
    _T("cgroup/setsockopt", P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT, attach="cgroup", load_attach_type=True),
    _T("cgroup/dev", P.CGROUP_DEVICE, A.CGROUP_DEVICE, attach="cgroup", load_attach_type=True),
    _T("struct_ops.s+", P.STRUCT_OPS, flags=SLEEPABLE),
    _T("struct_ops+", P.STRUCT_OPS),
    _T("sk_lookup", P.SK_LOOKUP, A.SK_LOOKUP, load_attach_type=True),
    _T("netfilter", P.NETFILTER, A.NETFILTER, load_attach_type=True),
)


def lookup(section: str) -> tuple[SectionDef, str]:
    """(row, attach target suffix) for a SEC() name; ELFError naming it if unknown."""
    for d in SECTIONS:
        if d.name.endswith("+"):
            base = d.name[:-1]
            if section == base:
                return d, ""
            if section.startswith(base + "/"):
                return d, section[len(base) + 1:]
        elif section == d.name:
            return d, ""
    raise ELFError(f"unknown program section {section!r}: not a libbpf SEC() name "
                   f"(e.g. tracepoint/<cat>/<name>, kprobe/<func>, xdp, tc, socket)")


def known(section: str) -> bool:
    try:
        lookup(section)
    except ELFError:
        return False
    return True
