// SPDX-License-Identifier: GPL-2.0
/* Reaches a CO-RE relocation that fails on every kernel (a field no kernel has): the
 * relocation is poisoned, as libbpf does, and the load fails naming it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct___pybpf {
	int pybpf_no_such_field;
} __attribute__((preserve_access_index));

__u64 missing_read;

SEC("raw_tp")
int core_poisoned(void *ctx)
{
	struct task_struct___pybpf *lt = (void *)bpf_get_current_task();

	missing_read = BPF_CORE_READ(lt, pybpf_no_such_field);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
