// SPDX-License-Identifier: GPL-2.0
/* gethostlatency: how long host name lookups take, from libc's getaddrinfo(),
 * gethostbyname() and gethostbyname2() (a uprobe at entry takes the name and the time, a
 * uretprobe at return sends an event with the latency). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pybpf.h"

#define HOST_LEN 80

const volatile __u32 targ_tgid = 0;

struct event {
	__u64 delta;		/* ns */
	__u32 pid;
	char comm[16];
	char host[HOST_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* tid */
	__type(value, struct event);	/* delta holds the start time until the return */
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

PYBPF_EVENT(events, struct event);

static struct event zero_event;

SEC("uprobe")
int BPF_KPROBE(lookup_entry, const char *name)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id, tgid = id >> 32;
	struct event *e;

	if (targ_tgid && targ_tgid != tgid)
		return 0;
	if (bpf_map_update_elem(&starts, &tid, &zero_event, BPF_ANY))
		return 0;
	e = bpf_map_lookup_elem(&starts, &tid);
	if (!e)
		return 0;
	e->pid = tgid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->host, sizeof(e->host), name);
	e->delta = bpf_ktime_get_ns();
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(lookup_return)
{
	__u32 tid = bpf_get_current_pid_tgid();
	struct event *s, *e;

	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		__builtin_memcpy(e, s, sizeof(*e));
		e->delta = bpf_ktime_get_ns() - s->delta;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
