// SPDX-License-Identifier: GPL-2.0
/* A typed __ksym: runqueues is a per-CPU VAR in kernel BTF, so the program gets a typed
 * pointer (bpf_this_cpu_ptr) and reads struct rq directly. The kernel finds the variable's
 * address in kallsyms, which lists data symbols only with CONFIG_KALLSYMS_ALL. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern const struct rq runqueues __ksym;

int rq_cpu = -1, this_cpu = -2;

SEC("raw_tp")
int read_rq(void *ctx)
{
	rq_cpu = ((struct rq *)bpf_this_cpu_ptr(&runqueues))->cpu;
	this_cpu = bpf_get_smp_processor_id();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
