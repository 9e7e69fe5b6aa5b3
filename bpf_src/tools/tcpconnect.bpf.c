// SPDX-License-Identifier: GPL-2.0
/* tcpconnect: active TCP connections (connect()), seen where a socket enters SYN_SENT
 * (tracepoint sock/inet_sock_set_state, in the connecting task's context: no kprobes).
 * The local port is not chosen yet at that point (inet_hash_connect comes after): with
 * targ_lport the event waits, keyed by socket, until the socket leaves SYN_SENT. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pybpf.h"
#include "pybpf_inet.h"

#define TCP_SYN_SENT 2
#define MAX_PORTS 8

struct event {
	__u64 ts_us;
	__u32 pid;
	__u32 uid;
	__u16 family;
	__u16 dport;
	__u16 lport;		/* with targ_lport only */
	__u8 saddr[16];		/* 4 bytes used for IPv4 */
	__u8 daddr[16];
	char task[16];
};

const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_uid = (__u32)-1;
const volatile __u16 targ_family = 0;	/* 0: both */
const volatile __u16 targ_ports[MAX_PORTS] = {};
const volatile int targ_nports = 0;
const volatile bool targ_lport = false;	/* wait for the local port: send on leaving SYN_SENT */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");
PYBPF_EVENT(events, struct event);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* struct sock * */
	__type(value, struct event);
} pending SEC(".maps");

static __always_inline bool wanted(__u16 family, __u16 dport, __u32 tgid, __u32 uid)
{
	int i, match = 0;

	if ((targ_family && family != targ_family) || (targ_tgid && tgid != targ_tgid) ||
	    (targ_uid != (__u32)-1 && uid != targ_uid))
		return false;
	if (!targ_nports)
		return true;
	for (i = 0; i < MAX_PORTS && i < targ_nports; i++)
		match |= targ_ports[i] == dport;
	return match;
}

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr);
	__u16 family = BPF_CORE_READ(ctx, family), dport = BPF_CORE_READ(ctx, dport);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, uid = (__u32)bpf_get_current_uid_gid();
	struct event e = {}, *p;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP)
		return 0;
	if (targ_lport && BPF_CORE_READ(ctx, oldstate) == TCP_SYN_SENT) {
		/* the local port was chosen after SYN_SENT was entered: it is known now */
		p = bpf_map_lookup_elem(&pending, &sk);
		if (p) {
			p->lport = BPF_CORE_READ(ctx, sport);
			bpf_ringbuf_output(&events, p, sizeof(*p), 0);
			bpf_map_delete_elem(&pending, &sk);
		}
		return 0;
	}
	if (BPF_CORE_READ(ctx, newstate) != TCP_SYN_SENT || !wanted(family, dport, tgid, uid))
		return 0;
	e.ts_us = bpf_ktime_get_ns() / 1000;
	e.pid = tgid;
	e.uid = uid;
	e.family = family;
	e.dport = dport;
	pybpf_state_addrs(ctx, family, e.saddr, e.daddr);
	bpf_get_current_comm(e.task, sizeof(e.task));
	if (targ_lport)
		bpf_map_update_elem(&pending, &sk, &e, BPF_ANY);
	else
		bpf_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
