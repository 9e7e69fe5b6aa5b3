// SPDX-License-Identifier: GPL-2.0
/* CPU sampling of one process: counts per (user stack id, kernel stack id); and the
 * kernel stack of this process's getpid() system calls, from a tracepoint. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_DEPTH 127

struct stack_key {
	__s32 user_stack;
	__s32 kernel_stack;
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_DEPTH * sizeof(__u64));
	__uint(max_entries, 1024);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct stack_key);
	__type(value, __u64);
	__uint(max_entries, 1024);
} counts SEC(".maps");

const volatile __u32 targ_tgid = 0;
__u64 samples = 0;
__s32 getpid_stack = -1;

SEC("perf_event")
int on_sample(void *ctx)
{
	struct stack_key key;
	__u64 one = 1, *c;

	if ((bpf_get_current_pid_tgid() >> 32) != targ_tgid)
		return 0;
	__sync_fetch_and_add(&samples, 1);
	key.user_stack = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	key.kernel_stack = bpf_get_stackid(ctx, &stacks, 0);
	c = bpf_map_lookup_elem(&counts, &key);
	if (c)
		__sync_fetch_and_add(c, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return 0;
}

/* raw_tp, not the syscalls tracepoint: before 6.x a syscall tracepoint hands bpf_get_stackid
 * the task's user-mode registers, so the kernel stack comes back empty (-EFAULT) */
SEC("raw_tp/sys_enter")
int on_getpid(struct bpf_raw_tracepoint_args *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) != targ_tgid || ctx->args[1] != 39 /* getpid */)
		return 0;
	getpid_stack = bpf_get_stackid(ctx, &stacks, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
