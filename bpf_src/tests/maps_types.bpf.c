// SPDX-License-Identifier: GPL-2.0
/* Map test object: every common map type written by BPF and read from Python, and the
 * reverse (Python writes, BPF reads and answers). Programs run with BPF_PROG_TEST_RUN:
 * SEC("raw_tp") ones take `struct args` as ctx (raw_tp test runs exist from 5.10 on, unlike
 * SEC("syscall")); LPM is probed from SEC("xdp") with the args as packet data. Bloom filters
 * (5.16) live in maps_bloom.bpf.c, so that this object loads on older kernels. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

enum task_state { ST_IDLE = 0, ST_RUNNING = 1, ST_DEAD = 9 };

struct point {
	int x;
	int y;
};

struct event {
	__u32 pid;
	__u32 ppid;
	char comm[16];
	enum task_state st;
	__u16 fa : 3, fb : 13;
	__s16 delta;
	__u64 ts;
	union {
		__u32 word;
		__u8 bytes[4];
	} u;
	struct point pts[2];
};

struct args {
	__u32 key;
	__u32 addr;            /* network byte order */
	__u64 value;
};

struct pair {
	__u64 a;
	__u32 b;
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct event);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct event);
} in_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pcpu SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct pair);
} phash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} fifo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 8);
	__type(value, __u64);
} lifo SEC(".maps");

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [0] = &inner_a },
};

const volatile __u32 factor = 1;
__u64 runs = 0;
char greeting[16] = "hello";

/* BPF writes: one event, the array, this CPU's slot, queue/stack entries. */
SEC("raw_tp")
int fill(struct args *ctx)
{
	struct event ev = {};
	__u32 k = 1, i, cpu = bpf_get_smp_processor_id();
	__u64 v;
	struct pair p = {};

	ev.pid = 4242;
	ev.ppid = 1;
	__builtin_memcpy(ev.comm, "bpf-writer", 11);
	ev.st = ST_DEAD;
	ev.fa = 5;
	ev.fb = 4000;
	ev.delta = -7;
	ev.ts = 0x1122334455667788ULL;
	ev.u.word = 0xdeadbeef;
	ev.pts[0].x = -1;
	ev.pts[1].y = 99;
	bpf_map_update_elem(&events, &k, &ev, BPF_ANY);

	for (i = 0; i < 8; i++) {               /* copies: the counter itself stays in a register */
		__u32 key = i;

		v = (__u64)i * 10 + factor;
		bpf_map_update_elem(&arr, &key, &v, BPF_ANY);
	}
	k = 0;
	v = cpu + 100;
	bpf_map_update_elem(&pcpu, &k, &v, BPF_ANY);
	k = 7;
	p.a = cpu + 1000;
	p.b = cpu;
	bpf_map_update_elem(&phash, &k, &p, BPF_ANY);
	for (i = 1; i <= 3; i++) {             /* 6.1 loses a 32-bit counter spilled to the stack */
		__u32 val = i;

		bpf_map_push_elem(&fifo, &val, BPF_ANY);
	}
	v = 10;
	bpf_map_push_elem(&lifo, &v, BPF_ANY);
	v = 20;
	bpf_map_push_elem(&lifo, &v, BPF_ANY);
	runs++;
	return 0;
}

/* Python wrote in_events[key]: copy it to events[key + 100] and return a checksum. */
SEC("raw_tp")
int read_event(struct args *ctx)
{
	struct event *e;
	__u32 k = ctx->key, out = ctx->key + 100;

	e = bpf_map_lookup_elem(&in_events, &k);
	if (!e)
		return -1;
	bpf_map_update_elem(&events, &out, e, BPF_ANY);
	return e->pid + e->comm[0] + e->st + e->fa + e->fb + e->delta + (__u32)e->ts +
	       e->u.bytes[0] + e->pts[1].y;
}

/* This CPU's slot of phash[key].a (written from Python). */
SEC("raw_tp")
int read_percpu(struct args *ctx)
{
	__u32 k = ctx->key;
	struct pair *p = bpf_map_lookup_elem(&phash, &k);

	return p ? (int)p->a : -1;
}

/* Pop what Python pushed. */
SEC("raw_tp")
int pop_fifo(struct args *ctx)
{
	__u32 v;

	return bpf_map_pop_elem(&fifo, &v) ? -1 : (int)v;
}

/* The value of inner map outer[key][0]. */
SEC("raw_tp")
int read_inner(struct args *ctx)
{
	__u32 k = ctx->key, zero = 0;
	__u64 *v;
	void *m = bpf_map_lookup_elem(&outer, &k);

	if (!m)
		return -1;
	v = bpf_map_lookup_elem(m, &zero);
	return v ? (int)*v : -2;
}

/* Globals: factor (rodata) * runs (bss) + greeting[0] (data, set from Python). */
SEC("raw_tp")
int read_globals(struct args *ctx)
{
	return factor * 1000 + runs * 10 + greeting[0];
}

/* LPM longest-prefix lookup of args.addr (from packet data); -1 if no prefix matches. */
SEC("xdp")
int lpm_probe(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct args *a = data;
	struct lpm_key key = { .prefixlen = 32 };
	__u32 *v, slot = 0;
	__u64 r;

	if ((void *)(a + 1) > end)
		return XDP_ABORTED;
	__builtin_memcpy(key.addr, &a->addr, 4);
	v = bpf_map_lookup_elem(&routes, &key);
	r = v ? *v : 0xffffffff;
	bpf_map_update_elem(&arr, &slot, &r, BPF_ANY);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
