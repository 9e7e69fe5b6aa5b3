// SPDX-License-Identifier: GPL-2.0
/* Prog arrays with initial programs (tail calls) and map-in-map with initial inner maps. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps"), inner_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner_map);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a, [1] = &inner_b },
};

int tail_target(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, int (void *));
} jumps SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

SEC("xdp")
int tail_target(struct xdp_md *ctx)
{
	return 42;
}

SEC("xdp")
int tail_entry(struct xdp_md *ctx)
{
	__u32 k = 0, slot = 1;
	__u64 *v;
	void *inner = bpf_map_lookup_elem(&outer, &slot);

	if (inner) {
		v = bpf_map_lookup_elem(inner, &k);
		if (v)
			*v += 7;
	}
	bpf_tail_call(ctx, &jumps, 1);
	return 1;   /* reached only if the tail call fails */
}

char LICENSE[] SEC("license") = "GPL";
