// SPDX-License-Identifier: GPL-2.0
/* funccount: count calls of kernel or user functions, or tracepoint hits. One program is
 * attached to every target with the target's index as its BPF cookie (5.15+); a kernel
 * without cookies loads one object per target, the index a constant. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile bool use_cookie = true;
const volatile __u32 func_idx = 0;	/* the index without cookies */
const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* one per target: set before load */
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

static __always_inline int count(void *ctx)
{
	__u32 idx;
	__u64 *n;

	if (targ_tgid && bpf_get_current_pid_tgid() >> 32 != targ_tgid)
		return 0;
	idx = use_cookie ? bpf_get_attach_cookie(ctx) : func_idx;
	n = bpf_map_lookup_elem(&counts, &idx);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("kprobe")
int count_probe(struct pt_regs *ctx)
{
	return count(ctx);
}

SEC("tracepoint")
int count_tracepoint(void *ctx)
{
	return count(ctx);
}

char LICENSE[] SEC("license") = "GPL";
