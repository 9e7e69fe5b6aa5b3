// SPDX-License-Identifier: GPL-2.0
/* killsnoop: kill() calls with their signal, target and result, from the syscall
 * tracepoints sys_enter_kill (arguments kept per thread) and sys_exit_kill (the event). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pybpf.h"

const volatile __u32 targ_tgid = 0;
const volatile int targ_sig = 0;	/* 0: every signal */
const volatile bool failed_only = false;

struct event {
	__u32 pid;
	__s32 tpid;
	__s32 sig;
	__s32 ret;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* tid */
	__type(value, struct event);
} calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");
PYBPF_EVENT(events, struct event);

SEC("tracepoint/syscalls/sys_enter_kill")
int enter_kill(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	struct event e = {.pid = id >> 32};

	if (targ_tgid && e.pid != targ_tgid)
		return 0;
	e.tpid = BPF_CORE_READ(ctx, args[0]);
	e.sig = BPF_CORE_READ(ctx, args[1]);
	if (targ_sig && e.sig != targ_sig)
		return 0;
	bpf_get_current_comm(e.comm, sizeof(e.comm));
	bpf_map_update_elem(&calls, &tid, &e, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_kill")
int exit_kill(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&calls, &tid);
	int ret = BPF_CORE_READ(ctx, ret);

	if (!e)
		return 0;
	if (!failed_only || ret < 0) {
		e->ret = ret;
		bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	}
	bpf_map_delete_elem(&calls, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
