// SPDX-License-Identifier: GPL-2.0
/* kprobe/kretprobe on getppid: runs where the kernel has kprobes (the qemu matrix). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int targ_pid = 0;
__u64 kprobe_hits, kretprobe_hits;
long kret_value;

SEC("kprobe/__x64_sys_getppid")
int on_entry(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == targ_pid)
		__sync_fetch_and_add(&kprobe_hits, 1);
	return 0;
}

SEC("kretprobe/__x64_sys_getppid")
int on_return(struct pt_regs *ctx)
{
	if ((bpf_get_current_pid_tgid() >> 32) == targ_pid) {
		__sync_fetch_and_add(&kretprobe_hits, 1);
		kret_value = PT_REGS_RC(ctx);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
