// SPDX-License-Identifier: GPL-2.0
/* One program per attach kind, each counting what the test that triggers it caused. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

const volatile int targ_pid = 0;      /* the test process (tgid) */

__u64 tp_hits, raw_hits, btf_hits, sample_hits;
__u64 xdp_pkts, tc_pkts, sock_pkts, cg_pkts;
int uprobe_a, uprobe_b, uretprobe_ret;
int parent_tgid;                      /* CO-RE: task->real_parent->tgid */
char comm[16];

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == targ_pid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_getppid(void *ctx)
{
	struct task_struct *task;

	if (!is_target())
		return 0;
	__sync_fetch_and_add(&tp_hits, 1);
	task = (struct task_struct *)bpf_get_current_task();
	parent_tgid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&comm, task, comm);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_target() && ctx->args[1] == 110 /* __NR_getppid */)
		__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_sys_enter, struct pt_regs *regs, long id)
{
	if (is_target() && id == 110)
		__sync_fetch_and_add(&btf_hits, 1);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(on_add, int a, int b)
{
	uprobe_a = a;
	uprobe_b = b;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_add_ret, int ret)
{
	uretprobe_ret = ret;
	return 0;
}

SEC("perf_event")
int on_sample(void *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&sample_hits, 1);
	return 0;
}

SEC("xdp")
int xdp_drop_all(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&xdp_pkts, 1);
	return XDP_DROP;
}

SEC("tc")
int tc_count(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&tc_pkts, 1);
	return 0;  /* TCX_PASS */
}

SEC("socket")
int sock_count(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&sock_pkts, 1);
	return skb->len;  /* keep the whole packet */
}

SEC("cgroup_skb/egress")
int cg_egress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&cg_pkts, 1);
	return 1;  /* allow */
}

char LICENSE[] SEC("license") = "GPL";
