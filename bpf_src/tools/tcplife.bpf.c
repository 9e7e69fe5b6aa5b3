// SPDX-License-Identifier: GPL-2.0
/* tcplife: TCP sessions as they close, with their duration and bytes, from the tracepoint
 * sock/inet_sock_set_state alone (no kprobes): the birth of a socket is its last state
 * before FIN_WAIT1, its owner is the task in whose context it entered SYN_SENT (connect)
 * or LAST_ACK (close of a passive one), and TCP_CLOSE sends the event with
 * tcp_sock.bytes_received/bytes_acked (CO-RE). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pybpf.h"
#include "pybpf_inet.h"

#define TCP_SYN_SENT 2
#define TCP_FIN_WAIT1 4
#define TCP_CLOSE 7
#define TCP_LAST_ACK 9

const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;	/* 0: both */

struct ident {
	__u32 pid;
	char comm[16];
};

struct event {
	__u64 ts_us;		/* at close, CLOCK_MONOTONIC */
	__u64 span_us;
	__u64 rx_b;
	__u64 tx_b;
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 dport;
	__u8 saddr[16];		/* 4 bytes used for IPv4 */
	__u8 daddr[16];
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* struct sock * */
	__type(value, __u64);		/* ns */
} births SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* struct sock * */
	__type(value, struct ident);
} idents SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");
PYBPF_EVENT(events, struct event);

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u64 sk = (__u64)BPF_CORE_READ(ctx, skaddr), *birth, now = bpf_ktime_get_ns();
	int newstate = BPF_CORE_READ(ctx, newstate);
	__u16 family = BPF_CORE_READ(ctx, family);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	struct ident *id;
	struct event *e;

	if (BPF_CORE_READ(ctx, protocol) != IPPROTO_TCP || (targ_family && family != targ_family))
		return 0;
	if (newstate < TCP_FIN_WAIT1)
		bpf_map_update_elem(&births, &sk, &now, BPF_ANY);
	if (newstate == TCP_SYN_SENT || newstate == TCP_LAST_ACK) {
		struct ident me = {.pid = tgid};

		bpf_get_current_comm(me.comm, sizeof(me.comm));
		bpf_map_update_elem(&idents, &sk, &me, BPF_ANY);
	}
	if (newstate != TCP_CLOSE)
		return 0;
	birth = bpf_map_lookup_elem(&births, &sk);
	if (!birth)			/* born before we looked: no lifespan */
		goto out;
	id = bpf_map_lookup_elem(&idents, &sk);
	if (targ_tgid && (id ? id->pid : tgid) != targ_tgid)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->ts_us = now / 1000;
	e->span_us = (now - *birth) / 1000;
	e->rx_b = BPF_CORE_READ(tp, bytes_received);
	e->tx_b = BPF_CORE_READ(tp, bytes_acked);
	if (id) {
		e->pid = id->pid;
		__builtin_memcpy(e->comm, id->comm, sizeof(e->comm));
	} else {
		e->pid = tgid;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	e->family = family;
	e->lport = BPF_CORE_READ(ctx, sport);
	e->dport = BPF_CORE_READ(ctx, dport);
	pybpf_state_addrs(ctx, family, e->saddr, e->daddr);
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&births, &sk);
	bpf_map_delete_elem(&idents, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
