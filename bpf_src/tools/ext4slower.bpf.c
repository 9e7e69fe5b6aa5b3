// SPDX-License-Identifier: GPL-2.0
/* ext4slower: ext4 reads, writes, opens and fsyncs slower than a threshold, one event each.
 * kprobes on ext4_file_read_iter/write_iter/open and ext4_sync_file take the file, the
 * offset and the time; one kretprobe on all four measures and sends the event. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pybpf.h"

#define FILE_NAME_LEN 32	/* bcc's DNAME_INLINE_LEN */

enum fs_op { FS_READ = 'R', FS_WRITE = 'W', FS_OPEN = 'O', FS_FSYNC = 'S' };

const volatile __u32 targ_tgid = 0;
const volatile __u64 min_ns = 0;

struct start {
	__u64 ts;
	__u64 offset;
	struct file *file;
	__u8 op;
};

struct event {
	__u64 end_us;		/* CLOCK_MONOTONIC */
	__u64 delta_us;
	__s64 bytes;		/* read/write: the return value; 0 for open and fsync */
	__u64 offset;
	__u32 pid;
	__u8 op;
	char comm[16];
	char file[FILE_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* tid */
	__type(value, struct start);
} starts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

PYBPF_EVENT(events, struct event);

static __always_inline int entry(struct file *file, __u64 offset, __u8 op)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = id;
	struct start s = {.offset = offset, .file = file, .op = op};

	if (targ_tgid && targ_tgid != id >> 32)
		return 0;
	s.ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &tid, &s, BPF_ANY);
	return 0;
}

SEC("kprobe/ext4_file_read_iter")
int BPF_KPROBE(read_entry, struct kiocb *iocb)
{
	return entry(BPF_CORE_READ(iocb, ki_filp), BPF_CORE_READ(iocb, ki_pos), FS_READ);
}

SEC("kprobe/ext4_file_write_iter")
int BPF_KPROBE(write_entry, struct kiocb *iocb)
{
	return entry(BPF_CORE_READ(iocb, ki_filp), BPF_CORE_READ(iocb, ki_pos), FS_WRITE);
}

SEC("kprobe/ext4_file_open")
int BPF_KPROBE(open_entry, struct inode *inode, struct file *file)
{
	return entry(file, 0, FS_OPEN);
}

SEC("kprobe/ext4_sync_file")
int BPF_KPROBE(fsync_entry, struct file *file)
{
	return entry(file, 0, FS_FSYNC);
}

SEC("kretprobe")
int BPF_KRETPROBE(op_return, long ret)
{
	__u32 tid = bpf_get_current_pid_tgid();
	struct start *s;
	struct event *e;
	__u64 now, delta;
	const unsigned char *name;
	struct file *file;

	s = bpf_map_lookup_elem(&starts, &tid);
	if (!s)
		return 0;
	now = bpf_ktime_get_ns();
	delta = now - s->ts;
	if (delta < min_ns)
		goto out;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		goto out;
	e->end_us = now / 1000;
	e->delta_us = delta / 1000;
	e->bytes = (s->op == FS_READ || s->op == FS_WRITE) && ret > 0 ? ret : 0;
	e->offset = s->offset;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->op = s->op;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	file = s->file;		/* a plain read: struct start is ours, not the kernel's */
	name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	bpf_probe_read_kernel_str(e->file, sizeof(e->file), name);
	bpf_ringbuf_submit(e, 0);
out:
	bpf_map_delete_elem(&starts, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
