// SPDX-License-Identifier: GPL-2.0
/* exec() of a child of one process, sent to a ring buffer and to a perf buffer: pid, parent
 * tgid (CO-RE through task->real_parent), comm and the file name from the tracepoint's
 * __data_loc field. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "pybpf.h"

struct exec_event {
	__u32 pid;
	__u32 ppid;
	char comm[16];
	char filename[128];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} execs SEC(".maps");
PYBPF_EVENT(execs, struct exec_event);

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} exec_samples SEC(".maps");
PYBPF_EVENT(exec_samples, struct exec_event);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} scratch SEC(".maps");

const volatile __u32 targ_ppid = 0;

SEC("tp/sched/sched_process_exec")
int on_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 zero = 0, ppid = BPF_CORE_READ(task, real_parent, tgid);
	unsigned int off = BPF_CORE_READ(ctx, __data_loc_filename) & 0xFFFF;
	struct exec_event *e, *r;

	if (ppid != targ_ppid)
		return 0;
	e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = ppid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (char *)ctx + off);
	bpf_perf_event_output(ctx, &exec_samples, BPF_F_CURRENT_CPU, e, sizeof(*e));
	r = bpf_ringbuf_reserve(&execs, sizeof(*r), 0);
	if (!r)
		return 0;
	__builtin_memcpy(r, e, sizeof(*r));
	bpf_ringbuf_submit(r, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
