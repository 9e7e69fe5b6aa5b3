// SPDX-License-Identifier: GPL-2.0
/* CO-RE against a module's type: struct veth_priv is defined in the veth module, so its
 * candidates come from /sys/kernel/btf/veth (searched because vmlinux has none). Where veth
 * is not loaded (or built in without module BTF) the type does not exist and the guarded
 * relocations are dead code. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct veth_priv___pybpf {
	unsigned int requested_headroom;
} __attribute__((preserve_access_index));

__u64 veth_exists, headroom_off, veth_size, veth_id;

SEC("raw_tp")
int core_module(void *ctx)
{
	int exists = bpf_core_type_exists(struct veth_priv___pybpf);

	veth_exists = exists;
	if (exists) {
		headroom_off = bpf_core_field_offset(struct veth_priv___pybpf, requested_headroom);
		veth_size = bpf_core_type_size(struct veth_priv___pybpf);
		veth_id = bpf_core_type_id_kernel(struct veth_priv___pybpf);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
