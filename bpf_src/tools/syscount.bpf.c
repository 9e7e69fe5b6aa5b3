// SPDX-License-Identifier: GPL-2.0
/* syscount: system calls counted (and timed) per syscall or per process, from the
 * tracepoints raw_syscalls/sys_enter and sys_exit. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

const volatile __u32 targ_tgid = 0;
const volatile bool count_by_process = false;
const volatile bool measure_latency = false;
const volatile bool filter_failed = false;
const volatile int filter_errno = 0;	/* 0: any */

struct data {
	__u64 count;
	__u64 total_ns;
	char comm[16];		/* with count_by_process */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* tid */
	__type(value, __u64);		/* entry, ns */
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* syscall number, or pid with count_by_process */
	__type(value, struct data);
} data SEC(".maps");

static const struct data zero;

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), ts;
	__u32 tid = id;

	if (!measure_latency || (targ_tgid && id >> 32 != targ_tgid))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(), delta = 0, *tsp;
	__u32 tid = id, tgid = id >> 32, key;
	long nr = BPF_CORE_READ(ctx, id), ret = BPF_CORE_READ(ctx, ret);
	struct data *d;

	if (targ_tgid && tgid != targ_tgid)
		return 0;
	if (measure_latency) {
		tsp = bpf_map_lookup_elem(&starts, &tid);
		if (!tsp)
			return 0;
		delta = bpf_ktime_get_ns() - *tsp;
		bpf_map_delete_elem(&starts, &tid);
	}
	if (nr < 0 || (filter_failed && ret >= 0) || (filter_errno && ret != -filter_errno))
		return 0;
	key = count_by_process ? tgid : nr;
	d = bpf_map_lookup_elem(&data, &key);
	if (!d) {
		bpf_map_update_elem(&data, &key, &zero, BPF_NOEXIST);
		d = bpf_map_lookup_elem(&data, &key);
		if (!d)
			return 0;
		if (count_by_process)
			bpf_get_current_comm(d->comm, sizeof(d->comm));
	}
	__sync_fetch_and_add(&d->count, 1);
	if (measure_latency)
		__sync_fetch_and_add(&d->total_ns, delta);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
