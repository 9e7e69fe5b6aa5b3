// SPDX-License-Identifier: GPL-2.0
/* kfunc calls (__ksym functions resolved to kernel BTF ids): bpf_task_from_pid and
 * bpf_task_release (6.2+) from a tp_btf program, which the test triggers with getppid. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;

const volatile int targ_pid = 0;
int found_tgid = -1;
__u64 hits;

SEC("tp_btf/sys_enter")
int BPF_PROG(kfunc_enter, struct pt_regs *regs, long id)
{
	struct task_struct *t;

	if (id != 110 /* __NR_getppid */ || (bpf_get_current_pid_tgid() >> 32) != targ_pid)
		return 0;
	t = bpf_task_from_pid(targ_pid);
	if (!t)
		return 0;
	found_tgid = t->tgid;		/* a trusted BTF pointer: read directly */
	bpf_task_release(t);
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
