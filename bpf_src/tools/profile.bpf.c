// SPDX-License-Identifier: GPL-2.0
/* profile: sample stacks at a timed interval (perf events, one per CPU), counting each
 * (process, user stack, kernel stack) seen. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_DEPTH 127

struct key_t {
	__u32 pid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char name[16];
};

const volatile bool kernel_stacks_only = false;
const volatile bool user_stacks_only = false;
const volatile bool include_idle = false;
const volatile __u32 targ_tgid = 0;
const volatile __u32 targ_tid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct key_t);
	__type(value, __u64);
	__uint(max_entries, 40960);
} counts SEC(".maps");

SEC("perf_event")
int do_perf_event(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), one = 1, *c;
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct key_t key = {};

	if (!include_idle && tid == 0)
		return 0;
	if ((targ_tgid && targ_tgid != tgid) || (targ_tid && targ_tid != tid))
		return 0;
	key.pid = tgid;
	bpf_get_current_comm(key.name, sizeof(key.name));
	key.user_stack_id = kernel_stacks_only ? -1 : bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	key.kernel_stack_id = user_stacks_only ? -1 : bpf_get_stackid(ctx, &stacks, 0);
	c = bpf_map_lookup_elem(&counts, &key);
	if (c)
		__sync_fetch_and_add(c, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
