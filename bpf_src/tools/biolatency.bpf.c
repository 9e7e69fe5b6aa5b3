// SPDX-License-Identifier: GPL-2.0
/* biolatency: block I/O latency, from issue to the device (or, with targ_queued, from
 * insertion in the queue) to completion, as log2 histograms: one, or one per disk or per
 * operation and flags. BTF tracepoints block_rq_insert, block_rq_issue, block_rq_complete.
 *
 * Two kernel changes, both told apart by CO-RE, not by version numbers:
 * - 5.11 dropped the request queue from the arguments of block_rq_insert/issue (a type
 *   match on the tracepoint's typedef says which form this kernel has);
 * - 5.16 dropped request.rq_disk; the disk is request.q->disk since (field existence). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pybpf_hist.h"

#define MINORBITS 20		/* the kernel's dev_t: major << 20 | minor */

const volatile bool targ_queued = false;
const volatile bool targ_per_disk = false;
const volatile bool targ_per_flag = false;
const volatile bool targ_ms = false;
const volatile __u32 targ_dev = 0;	/* 0: every disk */

struct hist_key {
	__u32 dev;		/* 0 unless per disk */
	__u32 flags;		/* request.cmd_flags, 0 unless per flag */
};

struct hist {
	__u32 slots[PYBPF_LOG2_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* struct request * */
	__type(value, __u64);		/* inserted or issued at, ns */
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, struct hist);
} hists SEC(".maps");

static const struct hist zero_hist;

/* The one-argument forms (5.11 on); before, (struct request_queue *, struct request *). */
typedef void (*btf_trace_block_rq_insert___rq)(void *, struct request *);
typedef void (*btf_trace_block_rq_issue___rq)(void *, struct request *);

struct request___rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 rq_dev(struct request *rq)
{
	struct request___rq_disk *old = (void *)rq;
	struct gendisk *disk;

	if (bpf_core_field_exists(old->rq_disk))
		disk = BPF_CORE_READ(old, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return (BPF_CORE_READ(disk, major) << MINORBITS) | BPF_CORE_READ(disk, first_minor);
}

/* Stamp a request: at insertion with targ_queued, else at issue. With targ_queued, a
 * request that skips the scheduler is never inserted: its issue stamps it then. */
static __always_inline int stamp(struct request *rq, bool insert)
{
	__u64 key = (__u64)rq, ts;

	if (insert && !targ_queued)
		return 0;
	if (targ_dev && rq_dev(rq) != targ_dev)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, !insert && targ_queued ? BPF_NOEXIST : BPF_ANY);
	return 0;
}

SEC("tp_btf/block_rq_insert")
int block_rq_insert(__u64 *ctx)
{
	if (bpf_core_type_matches(btf_trace_block_rq_insert___rq))
		return stamp((struct request *)ctx[0], true);
	return stamp((struct request *)ctx[1], true);
}

SEC("tp_btf/block_rq_issue")
int block_rq_issue(__u64 *ctx)
{
	if (bpf_core_type_matches(btf_trace_block_rq_issue___rq))
		return stamp((struct request *)ctx[0], false);
	return stamp((struct request *)ctx[1], false);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete, struct request *rq)
{
	__u64 key = (__u64)rq, *tsp;
	struct hist_key hkey = {};
	struct hist *h;
	__s64 delta;
	__u32 slot;

	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &key);
	if (delta < 0)
		return 0;
	if (targ_per_disk)
		hkey.dev = rq_dev(rq);
	if (targ_per_flag)
		hkey.flags = BPF_CORE_READ(rq, cmd_flags);
	h = bpf_map_lookup_elem(&hists, &hkey);
	if (!h) {
		bpf_map_update_elem(&hists, &hkey, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &hkey);
		if (!h)
			return 0;
	}
	slot = pybpf_log2_slot(delta / (targ_ms ? 1000000 : 1000));
	if (slot < PYBPF_LOG2_SLOTS)
		__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
