// SPDX-License-Identifier: GPL-2.0
/* fentry/fexit need BPF trampolines: they load on the matrix kernels and fail with EPERM on
 * the dev host. vfs_read: a target whose signature has not changed from 5.10 to 7.2. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int targ_pid = 0;
__u64 fentry_hits;
__u64 fentry_count;            /* the count argument of the target's last read */
__s64 fexit_ret;               /* what that read returned */

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == targ_pid;
}

SEC("fentry/vfs_read")
int BPF_PROG(on_read, struct file *file, char *buf, size_t count, loff_t *pos)
{
	if (is_target()) {
		__sync_fetch_and_add(&fentry_hits, 1);
		fentry_count = count;
	}
	return 0;
}

SEC("fexit/vfs_read")
int BPF_PROG(on_read_exit, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	if (is_target())
		fexit_ret = ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
