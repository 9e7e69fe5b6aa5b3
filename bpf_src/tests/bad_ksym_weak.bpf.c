// SPDX-License-Identifier: GPL-2.0
/* __weak __ksym externs no kernel has: a kfunc and a typed variable. Guarded uses load (the
 * symbols resolve to 0 and the verifier drops the dead branch); "called" reaches the kfunc
 * call and fails naming it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern int pybpf_no_such_kfunc(int x) __ksym __weak;
extern const int pybpf_no_such_var __ksym __weak;

int seen = -1, var_seen = -1;

SEC("raw_tp")
int guarded(void *ctx)
{
	seen = !!pybpf_no_such_kfunc ? pybpf_no_such_kfunc(1) : 0;
	var_seen = &pybpf_no_such_var ? 1 : 0;
	return 0;
}

SEC("raw_tp")
int called(void *ctx)
{
	seen = pybpf_no_such_kfunc(1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
