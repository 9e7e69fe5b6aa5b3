// SPDX-License-Identifier: GPL-2.0
/* biolatency: block I/O latency, from issue to the device (or, with targ_queued, from
 * insertion in the queue) to completion, as log2 histograms: one, or one per disk or per
 * operation and flags. BTF tracepoints block_rq_insert, block_rq_issue, block_rq_complete.
 * The tracepoints' argument changes are handled in pybpf_block.h (CO-RE, no versions). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pybpf_hist.h"
#include "pybpf_block.h"

const volatile bool targ_queued = false;
const volatile bool targ_per_disk = false;
const volatile bool targ_per_flag = false;
const volatile bool targ_ms = false;
const volatile __u32 targ_dev = 0;	/* 0: every disk */
const volatile bool targ_extension = false;	/* keep the total and count too (-e) */

__u64 ext_total;			/* in usecs or msecs, as the histograms */
__u64 ext_count;

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

/* Stamp a request: at insertion with targ_queued, else at issue. With targ_queued, a
 * request that skips the scheduler is never inserted: its issue stamps it then. */
static __always_inline int stamp(struct request *rq, bool insert)
{
	__u64 key = (__u64)rq, ts;

	if (insert && !targ_queued)
		return 0;
	if (targ_dev && pybpf_rq_dev(rq) != targ_dev)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &key, &ts, !insert && targ_queued ? BPF_NOEXIST : BPF_ANY);
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
int BPF_PROG(block_rq_complete, struct request *rq)
{
	__u64 key = (__u64)rq, *tsp;
	struct hist_key hkey = {};
	__s64 delta;

	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &key);
	if (delta < 0)
		return 0;
	if (targ_per_disk)
		hkey.dev = pybpf_rq_dev(rq);
	if (targ_per_flag)
		hkey.flags = BPF_CORE_READ(rq, cmd_flags);
	delta /= targ_ms ? 1000000 : 1000;
	pybpf_hist_add(&hists, &hkey, &zero_hist, delta);
	if (targ_extension) {
		__sync_fetch_and_add(&ext_total, delta);
		__sync_fetch_and_add(&ext_count, 1);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
