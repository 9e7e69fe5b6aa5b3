// SPDX-License-Identifier: GPL-2.0
/* biosnoop: one event per block I/O request completed: who submitted it, the disk, the
 * operation, sector and size, the time from issue to completion (and from queue insertion
 * to issue). BTF tracepoints: block_bio_queue sees the submitting task (its bio becomes
 * the request's first bio), block_rq_insert/issue/complete stamp and measure the request.
 * The tracepoints' argument changes are handled in pybpf_block.h (CO-RE, no versions). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pybpf.h"
#include "pybpf_block.h"

#define REQ_OP_MASK 0xff
#define REQ_OP_WRITE 1

const volatile bool targ_queued = false;
const volatile __u32 targ_dev = 0;	/* 0: every disk */

struct who {
	__u32 pid;
	char comm[16];
};

struct stage {
	__u64 insert_ts;
	__u64 issue_ts;
	__u64 sector;
	struct who who;
};

struct event {
	__u64 ts;		/* completion, ns (CLOCK_MONOTONIC) */
	__u64 delta;		/* issue -> completion, ns */
	__u64 qdelta;		/* insertion -> issue, ns (0 if never inserted) */
	__u64 sector;
	__u32 len;
	__u32 pid;
	__u32 dev;
	__u32 rwflag;		/* 1: write */
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);	/* bios merged into others never get a request */
	__uint(max_entries, 10240);
	__type(key, __u64);		/* struct bio * */
	__type(value, struct who);
} bio_who SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* struct request * */
	__type(value, struct stage);
} stages SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

PYBPF_EVENT(events, struct event);

static const struct stage zero_stage;

SEC("tp_btf/block_bio_queue")
int block_bio_queue(__u64 *ctx)
{
	struct who who = {.pid = bpf_get_current_pid_tgid() >> 32};
	__u64 key = (__u64)pybpf_bio_queue_arg(ctx);

	bpf_get_current_comm(who.comm, sizeof(who.comm));
	bpf_map_update_elem(&bio_who, &key, &who, BPF_ANY);
	return 0;
}

/* The request's stage, made on first sight with its submitter (from its first bio) */
static __always_inline struct stage *stage_of(struct request *rq)
{
	__u64 key = (__u64)rq, bio;
	struct stage *s;
	struct who *w;

	s = bpf_map_lookup_elem(&stages, &key);
	if (s)
		return s;
	if (targ_dev && pybpf_rq_dev(rq) != targ_dev)
		return 0;
	bpf_map_update_elem(&stages, &key, &zero_stage, BPF_NOEXIST);
	s = bpf_map_lookup_elem(&stages, &key);
	if (!s)
		return 0;
	bio = (__u64)BPF_CORE_READ(rq, bio);
	w = bpf_map_lookup_elem(&bio_who, &bio);
	if (w) {
		s->who = *w;
		bpf_map_delete_elem(&bio_who, &bio);
	} else {			/* no bio seen: whoever runs this */
		s->who.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(s->who.comm, sizeof(s->who.comm));
	}
	return s;
}

static __always_inline int stamp(struct request *rq, bool insert)
{
	struct stage *s;

	if (insert && !targ_queued)
		return 0;
	s = stage_of(rq);
	if (!s)
		return 0;
	if (insert) {
		s->insert_ts = bpf_ktime_get_ns();
	} else {
		s->issue_ts = bpf_ktime_get_ns();
		s->sector = BPF_CORE_READ(rq, __sector);
	}
	return 0;
}

SEC("tp_btf/block_rq_insert")
int block_rq_insert(__u64 *ctx)
{
	return stamp(pybpf_rq_insert_arg(ctx), true);
}

SEC("tp_btf/block_rq_issue")
int block_rq_issue(__u64 *ctx)
{
	return stamp(pybpf_rq_issue_arg(ctx), false);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 key = (__u64)rq, now = bpf_ktime_get_ns();
	struct stage *s;
	struct event *e;

	s = bpf_map_lookup_elem(&stages, &key);
	if (!s)
		return 0;
	if (!s->issue_ts) {		/* inserted, never issued (or issued before we looked) */
		bpf_map_delete_elem(&stages, &key);
		return 0;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->ts = now;
		e->delta = now - s->issue_ts;
		e->qdelta = s->insert_ts ? s->issue_ts - s->insert_ts : 0;
		e->sector = s->sector;
		e->len = nr_bytes;
		e->pid = s->who.pid;
		__builtin_memcpy(e->comm, s->who.comm, sizeof(e->comm));
		e->dev = pybpf_rq_dev(rq);
		e->rwflag = (BPF_CORE_READ(rq, cmd_flags) & REQ_OP_MASK) == REQ_OP_WRITE;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&stages, &key);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
