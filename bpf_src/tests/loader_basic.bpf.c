// SPDX-License-Identifier: GPL-2.0
/* Core loader test object: global data in every kind of section, maps, static and global
 * subprograms, a bpf_loop callback, and programs run through BPF_PROG_TEST_RUN (XDP and
 * raw_tp, which exist from 5.10 on). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

struct point {
	int x;
	int y;
};

const volatile __u32 multiplier = 3;             /* .rodata, set before load */
const volatile struct point origin = { 1, 2 };   /* .rodata struct */
__u64 runs = 0;                                  /* .bss */
__u64 total = 100;                               /* .data */
__u32 loop_sum SEC(".data.loops") = 0;           /* custom data section */
char last_msg[16] = {};                          /* .bss char array */

static __noinline __u64 scale(__u64 v)
{
	return v * multiplier;
}

__noinline int global_add(int a, int b)
{
	return a + b;
}

static long add_idx(__u32 idx, void *ctx)
{
	loop_sum += idx;
	return 0;
}

SEC("xdp")
int xdp_prog(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 one = 1, *val;
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	runs++;
	total += scale(2);
	val = bpf_map_lookup_elem(&counts, &key);
	if (val)
		__sync_fetch_and_add(val, 1);
	else
		bpf_map_update_elem(&counts, &key, &one, BPF_ANY);
	__builtin_memcpy(last_msg, "hello xdp", 10);
	if (data + 1 > end)
		return XDP_ABORTED;
	/* first packet byte decides the verdict: 1 -> drop, else pass */
	return *(__u8 *)data == 1 ? XDP_DROP : XDP_PASS;
}

/* bpf_loop (5.17+) in its own program: tests skip it where the kernel lacks the helper */
SEC("xdp")
int loop_prog(struct xdp_md *ctx)
{
	bpf_loop(5, add_idx, NULL, 0);                  /* 0+1+2+3+4 = 10 */
	return XDP_PASS;
}

/* raw_tp programs run through BPF_PROG_TEST_RUN from 5.10 on (SEC("syscall") needs 5.14) */
SEC("raw_tp")
int sys_prog(void *ctx)
{
	__u32 key = 1;
	__u64 v = global_add(origin.x, origin.y) + scale(10);   /* 3 + 30 */

	bpf_map_update_elem(&results, &key, &v, BPF_ANY);
	return (int)v;
}

char LICENSE[] SEC("license") = "GPL";
