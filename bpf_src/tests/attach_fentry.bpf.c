// SPDX-License-Identifier: GPL-2.0
/* fentry needs a BPF trampoline: loads on the matrix kernels, EPERM on the dev host. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

const volatile int targ_pid = 0;
__u64 fentry_hits;

SEC("fentry/do_unlinkat")
int BPF_PROG(on_unlinkat)
{
	if ((bpf_get_current_pid_tgid() >> 32) == targ_pid)
		__sync_fetch_and_add(&fentry_hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
