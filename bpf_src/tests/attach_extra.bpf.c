// SPDX-License-Identifier: GPL-2.0
/* More attach effects: BPF cookies, counting uprobes, ICMP-dropping XDP, a dropping socket
 * filter, cgroup ingress, per-CPU/pid sampling. Each counts only what its test caused. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#define ETH_P_IP 0x0800

const volatile int targ_pid = 0;       /* 0: any process */

__u64 tp_cookie, tp_cookie_hits;
__u64 up_hits, up_cookie, upret_value;
__u64 icmp_dropped, other_passed;
__u64 sock_dropped;
__u64 cg_in_pkts;
__u64 raw_hits;
__u64 samples_target, samples_other;
__u32 sample_cpu_seen[64];             /* [n]: a sample of the target ran on CPU n (no atomic
                                          * OR before 5.12, so one slot per CPU) */

/* bpf_get_attach_cookie exists from 5.15: where the kernel's enum bpf_func_id lacks it, CO-RE
 * turns the condition into 0 and the verifier never sees the call (libbpf's idiom) */
static __always_inline __u64 cookie_of(void *ctx)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_attach_cookie))
		return bpf_get_attach_cookie(ctx);
	return 0;
}

static __always_inline bool is_target(void)
{
	return !targ_pid || (bpf_get_current_pid_tgid() >> 32) == targ_pid;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int tp_cookie_prog(void *ctx)
{
	if (!is_target())
		return 0;
	tp_cookie = cookie_of(ctx);
	__sync_fetch_and_add(&tp_cookie_hits, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int raw_count(struct bpf_raw_tracepoint_args *ctx)
{
	if (is_target() && ctx->args[1] == 110 /* __NR_getppid */)
		__sync_fetch_and_add(&raw_hits, 1);
	return 0;
}

SEC("uprobe")
int up_count(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	up_cookie = cookie_of(ctx);
	__sync_fetch_and_add(&up_hits, 1);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(upret, long ret)
{
	if (is_target())
		upret_value = ret;
	return 0;
}

/* drop ICMP (ping), pass everything else */
SEC("xdp")
int xdp_drop_icmp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->protocol == IPPROTO_ICMP) {
		__sync_fetch_and_add(&icmp_dropped, 1);
		return XDP_DROP;
	}
	__sync_fetch_and_add(&other_passed, 1);
	return XDP_PASS;
}

/* a socket filter that drops every packet (returns 0 bytes to keep) */
SEC("socket")
int sock_drop(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&sock_dropped, 1);
	return 0;
}

SEC("cgroup_skb/ingress")
int cg_ingress(struct __sk_buff *skb)
{
	__sync_fetch_and_add(&cg_in_pkts, 1);
	return 1;
}

SEC("perf_event")
int sample_cpu(struct bpf_perf_event_data *ctx)
{
	if (targ_pid && (bpf_get_current_pid_tgid() >> 32) == targ_pid) {
		__sync_fetch_and_add(&samples_target, 1);
		sample_cpu_seen[bpf_get_smp_processor_id() & 63] = 1;
	} else {
		__sync_fetch_and_add(&samples_other, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
