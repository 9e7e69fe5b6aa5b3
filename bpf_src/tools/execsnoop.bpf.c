// SPDX-License-Identifier: GPL-2.0
/* execsnoop: trace exec() calls. sys_enter_execve keeps the file name and the arguments
 * (from argv[1], up to max_args) per thread; sys_exit_execve adds the return value and the
 * new comm and sends the record to a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pybpf.h"

#define ARGSIZE 128
#define TOTAL_MAX_ARGS 60
#define FULL_MAX_ARGS_ARR (TOTAL_MAX_ARGS * ARGSIZE)
#define LAST_ARG (FULL_MAX_ARGS_ARR - ARGSIZE)
#define INVALID_UID ((__u32)-1)

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__s32 retval;
	__s32 args_count;	/* strings kept; one more than fit when argv went on */
	__u32 args_size;
	char comm[16];
	__u8 args[FULL_MAX_ARGS_ARR];	/* NUL-separated: the file name, then argv[1..] */
};

const volatile __u32 targ_uid = INVALID_UID;
const volatile __u32 targ_ppid = 0;
const volatile bool ignore_failed = true;
const volatile int max_args = 20;

static const struct event empty_event = {};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct event);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");
PYBPF_EVENT(events, struct event);

SEC("tracepoint/syscalls/sys_enter_execve")
int exec_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, uid = (__u32)bpf_get_current_uid_gid(), ppid;
	const char **argv = (const char **)BPF_CORE_READ(ctx, args[1]);
	const char *argp;
	struct event *e;
	int ret, i;

	if (targ_uid != INVALID_UID && targ_uid != uid)
		return 0;
	ppid = BPF_CORE_READ(task, real_parent, tgid);
	if (targ_ppid && targ_ppid != ppid)
		return 0;
	if (bpf_map_update_elem(&execs, &tid, &empty_event, BPF_NOEXIST))
		return 0;
	e = bpf_map_lookup_elem(&execs, &tid);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->ppid = ppid;
	e->uid = uid;
	ret = bpf_probe_read_user_str(e->args, ARGSIZE, (const char *)BPF_CORE_READ(ctx, args[0]));
	if (ret < 0)
		return 0;
	e->args_size = ret;
	e->args_count = 1;
	for (i = 1; i < TOTAL_MAX_ARGS && i < max_args; i++) {
		if (bpf_probe_read_user(&argp, sizeof(argp), &argv[i]) || !argp)
			return 0;
		if (e->args_size > LAST_ARG)
			return 0;
		ret = bpf_probe_read_user_str(&e->args[e->args_size], ARGSIZE, argp);
		if (ret < 0)
			return 0;
		e->args_count++;
		e->args_size += ret;
	}
	/* more arguments than kept: count one more, for the "..." */
	if (!bpf_probe_read_user(&argp, sizeof(argp), &argv[i]) && argp)
		e->args_count++;
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_execve")
int exec_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct event *e = bpf_map_lookup_elem(&execs, &tid);
	long ret;

	if (!e)
		return 0;
	ret = BPF_CORE_READ(ctx, ret);
	if (!(ignore_failed && ret < 0)) {
		e->retval = ret;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_output(&events, e, sizeof(*e), 0);
	}
	bpf_map_delete_elem(&execs, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
