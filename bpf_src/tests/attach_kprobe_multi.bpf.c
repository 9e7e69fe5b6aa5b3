// SPDX-License-Identifier: GPL-2.0
/* kprobe.multi, ksyscall and kprobe cookies: run where the kernel has kprobes (the matrix). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int targ_pid = 0;
__u64 multi_hits, multi_cookie_sum, ksys_hits, cookie_seen;

static __always_inline bool is_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == targ_pid;
}

SEC("kprobe.multi/*sys_getppid")
int on_multi(struct pt_regs *ctx)
{
	if (is_target()) {
		__sync_fetch_and_add(&multi_hits, 1);
		__sync_fetch_and_add(&multi_cookie_sum, bpf_get_attach_cookie(ctx));
	}
	return 0;
}

SEC("ksyscall/getppid")
int on_ksys(struct pt_regs *ctx)
{
	if (is_target())
		__sync_fetch_and_add(&ksys_hits, 1);
	return 0;
}

SEC("kprobe")
int on_cookie(struct pt_regs *ctx)
{
	if (is_target())
		cookie_seen = bpf_get_attach_cookie(ctx);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
