// SPDX-License-Identifier: GPL-2.0
/* bashreadline: the lines bash's readline() returns (a uretprobe, attached at run time to
 * bash or to the readline library bash uses). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pybpf.h"

#define MAX_LINE_SIZE 80

struct event {
	__u32 pid;
	char str[MAX_LINE_SIZE];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");
PYBPF_EVENT(events, struct event);

SEC("uretprobe")
int BPF_KRETPROBE(readline_return, const void *ret)	/* (libbpf 1.1 has no BPF_URETPROBE: the same) */
{
	char comm[16];
	struct event *e;

	if (!ret)
		return 0;
	bpf_get_current_comm(comm, sizeof(comm));
	/* "bash" only: other users of a shared libreadline are not bash */
	if (comm[0] != 'b' || comm[1] != 'a' || comm[2] != 's' || comm[3] != 'h' || comm[4] != 0)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_probe_read_user_str(e->str, sizeof(e->str), ret);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
