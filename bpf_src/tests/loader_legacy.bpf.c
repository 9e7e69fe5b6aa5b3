// SPDX-License-Identifier: GPL-2.0
/* A legacy `maps` section (struct bpf_map_def), as older objects still carry. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct bpf_map_def_legacy {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def_legacy legacy_counts SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

SEC("socket")
int legacy_prog(struct __sk_buff *skb)
{
	__u32 key = 1;
	__u64 *v = bpf_map_lookup_elem(&legacy_counts, &key);

	if (v)
		*v += 5;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
