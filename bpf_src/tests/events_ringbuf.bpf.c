// SPDX-License-Identifier: GPL-2.0
/* Ring buffer producer driven by BPF_PROG_TEST_RUN: emit_n records with known values,
 * one discarded record per run, and a count of reservations the full ring refused.
 * emit_ctx takes the value and count from its context (a struct the caller passes);
 * emit_mixed writes records of the lengths the caller chooses; emit_xdp runs under
 * test_run(repeat=N) for the benchmark. raw_tp rather than syscall programs: their test
 * runs exist from 5.10 on, with the tracing helpers. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf.h"

struct event {
	__u32 seq;
	__u32 pid;
	__u64 value;
	char tag[8];
};

struct emit_args {
	__u64 value;
	__u32 count;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");
PYBPF_EVENT(rb, struct event);

const volatile __u64 base_value = 1000;
__u32 emit_n = 1;
__u32 seq = 0;
__u64 dropped = 0;

static __always_inline void emit_one(__u64 value, __u32 pid)
{
	struct event *e;

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e) {
		dropped++;
		return;
	}
	e->seq = seq;
	e->pid = pid;
	e->value = value;
	__builtin_memcpy(e->tag, "pybpf", 6);
	seq++;
	bpf_ringbuf_submit(e, 0);
}

SEC("raw_tp")
int emit(void *ctx)
{
	struct event *e;
	__u32 i, pid = bpf_get_current_pid_tgid() >> 32;

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (e)
		bpf_ringbuf_discard(e, 0);           /* skipped by the reader */
	for (i = 0; i < 256 && i < emit_n; i++)
		emit_one(base_value + seq, pid);
	return 0;
}

SEC("raw_tp")
int emit_ctx(struct emit_args *ctx)
{
	__u32 i, n = ctx->count, pid = bpf_get_current_pid_tgid() >> 32;
	__u64 v = ctx->value;

	for (i = 0; i < 256 && i < n; i++)
		emit_one(v + i, pid);
	return 0;
}

/* emit_mixed: record i carries lens[i] bytes (payload[0] = i, payload[1] = its length,
 * the rest zero); a zero length reserves a record and discards it. */
__u8 lens[64] = {};      /* zero: in .bss */
__u8 payload[64] = {};

SEC("raw_tp")
int emit_mixed(void *ctx)
{
	__u32 i, n;
	void *r;

	for (i = 0; i < 64 && i < emit_n; i++) {
		n = lens[i] & 63;
		if (!n) {
			r = bpf_ringbuf_reserve(&rb, 16, 0);
			if (r)
				bpf_ringbuf_discard(r, 0);
			continue;
		}
		payload[0] = i;
		payload[1] = n;
		if (bpf_ringbuf_output(&rb, payload, n, 0))
			dropped++;
	}
	return 0;
}

SEC("xdp")
int emit_xdp(struct xdp_md *ctx)
{
	__u32 i;

	for (i = 0; i < 256 && i < emit_n; i++)
		emit_one(seq, 0);                    /* XDP has no task context */
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
