// SPDX-License-Identifier: GPL-2.0
/* openat() by one process, to a ring buffer: pid, comm and the file name, read from the
 * tracepoint context without CO-RE (args[1] of syscalls/sys_enter_openat at byte 24). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf.h"

struct open_event {
	__u32 pid;
	__u32 tid;
	char comm[16];
	char fname[128];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} opens SEC(".maps");
PYBPF_EVENT(opens, struct open_event);

const volatile __u32 targ_tgid = 0;

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct open_event *e;
	const char *fname;

	if ((id >> 32) != targ_tgid)
		return 0;
	e = bpf_ringbuf_reserve(&opens, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	fname = (const char *)*(__u64 *)((char *)ctx + 24);
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), fname);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
