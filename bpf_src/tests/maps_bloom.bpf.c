// SPDX-License-Identifier: GPL-2.0
/* Bloom filter map (5.16+) written and tested from BPF: apart from maps_types so that one
 * loads on older kernels. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct args {
	__u32 key;
	__u32 addr;
	__u64 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 128);
	__uint(map_extra, 3);
	__type(value, __u32);
} bloom SEC(".maps");

/* Bloom filter: add args.key when args.value == 1, else test it; result in arr[1].
 * The key goes to the helpers from a map value (arr[0]), not from the stack: 7.2's verifier
 * takes bpf_map_peek_elem's value as write-only (right for queues and stacks, not for a bloom
 * filter, which reads it), drops the store of a stack copy as dead and then refuses the read
 * ("slot poisoned by dead code elimination"); packet pointers are refused too. */
SEC("xdp")
int bloom_probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct args *a = data;
	__u32 zero = 0, slot = 1;
	__u64 *k, r;

	if ((void *)(a + 1) > end)
		return XDP_ABORTED;
	k = bpf_map_lookup_elem(&arr, &zero);
	if (!k)
		return XDP_ABORTED;
	*k = a->key;
	if (a->value == 1)
		r = bpf_map_push_elem(&bloom, k, BPF_ANY) == 0;
	else
		r = bpf_map_peek_elem(&bloom, k) == 0;
	bpf_map_update_elem(&arr, &slot, &r, BPF_ANY);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
