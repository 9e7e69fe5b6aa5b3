// SPDX-License-Identifier: GPL-2.0
/* runqlat: how long woken (or preempted) tasks wait on a run queue before they run, as
 * log2 histograms (one, or one per process/thread). BTF tracepoints: sched_wakeup and
 * sched_wakeup_new stamp a task, sched_switch stamps a preempted prev and measures next. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "pybpf_hist.h"

#define TASK_RUNNING 0
#define ALL_KEY 0xFFFFFFFF

const volatile bool targ_per_process = false;
const volatile bool targ_per_thread = false;
const volatile bool targ_ms = false;
const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* tid */
	__type(value, __u64);		/* enqueued at, ns */
} start SEC(".maps");

struct hist {
	__u32 slots[PYBPF_LOG2_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);		/* pid, tid, or ALL_KEY */
	__type(value, struct hist);
} hists SEC(".maps");

static const struct hist zero_hist;

/* task_struct.state became __state (an unsigned int) in 5.14 */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___old *)t, state);
}

static __always_inline int enqueue(__u32 tgid, __u32 tid)
{
	__u64 ts;

	if (!tid || (targ_tgid && targ_tgid != tgid))
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	return enqueue(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid));
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new, struct task_struct *p)
{
	return enqueue(BPF_CORE_READ(p, tgid), BPF_CORE_READ(p, pid));
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 tid = BPF_CORE_READ(next, pid), key;
	__u64 *tsp;
	__s64 delta;

	if (task_state(prev) == TASK_RUNNING)
		enqueue(BPF_CORE_READ(prev, tgid), BPF_CORE_READ(prev, pid));
	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &tid);
	if (delta < 0)
		return 0;
	key = targ_per_process ? BPF_CORE_READ(next, tgid) : targ_per_thread ? tid : ALL_KEY;
	pybpf_hist_add(&hists, &key, &zero_hist, delta / (targ_ms ? 1000000 : 1000));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
