// SPDX-License-Identifier: GPL-2.0
/* tcpaccept: passive TCP connections, seen where accept()/accept4() return in the
 * accepting task (syscall tracepoints: no kprobes). The new socket is found from the
 * returned fd through the task's file table (task->files->fdt->fd[fd]->private_data, a
 * struct socket, ->sk), all CO-RE reads. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "pybpf.h"
#include "pybpf_inet.h"

const volatile __u32 targ_tgid = 0;
const volatile __u16 targ_family = 0;	/* 0: both */

struct event {
	__u64 ts_us;
	__u32 pid;
	__u16 family;
	__u16 lport;
	__u16 rport;
	__u8 saddr[16];		/* local; 4 bytes used for IPv4 */
	__u8 daddr[16];		/* remote */
	char task[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");
PYBPF_EVENT(events, struct event);

static __always_inline int accepted(long fd)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	struct fdtable *fdt;
	struct file *file, **fds;
	struct socket *sock;
	struct sock *sk;
	struct event *e;
	__u16 family;

	if (fd < 0 || (targ_tgid && tgid != targ_tgid))
		return 0;
	task = (struct task_struct *)bpf_get_current_task();
	fdt = BPF_CORE_READ(task, files, fdt);
	if (fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) || !file)
		return 0;
	sock = BPF_CORE_READ(file, private_data);
	sk = BPF_CORE_READ(sock, sk);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((family != AF_INET && family != AF_INET6) || (targ_family && family != targ_family))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->ts_us = bpf_ktime_get_ns() / 1000;
	e->pid = tgid;
	e->family = family;
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)&e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)&e->daddr, sk, __sk_common.skc_daddr);
	}
	bpf_get_current_comm(e->task, sizeof(e->task));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(BPF_CORE_READ(ctx, ret));
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(BPF_CORE_READ(ctx, ret));
}

char LICENSE[] SEC("license") = "GPL";
