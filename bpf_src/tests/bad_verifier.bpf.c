// SPDX-License-Identifier: GPL-2.0
/* The verifier must reject this: a hash map value dereferenced without a NULL check
 * (constant-key array lookups are proven non-NULL by recent kernels, hash ones are not). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vals SEC(".maps");

SEC("xdp")
int unchecked(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&vals, &key);

	return *v > 3 ? XDP_DROP : XDP_PASS;   /* no NULL check: rejected */
}

char LICENSE[] SEC("license") = "GPL";
