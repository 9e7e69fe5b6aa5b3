// SPDX-License-Identifier: GPL-2.0
/* funclatency: time a kernel or user function from entry to return, as a log2 histogram.
 * The entry/return pair is attached at run time: kprobe/kretprobe or uprobe/uretprobe on one
 * function each (SEC "kprobe"/"kretprobe"), or kprobe.multi on a kernel glob. The pair not
 * used is not loaded. With per_function, one histogram per function index: the BPF cookie
 * of the return probe (5.15+), or func_idx in objects loaded one per function. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pybpf_hist.h"

const volatile __u32 targ_tgid = 0;
const volatile __u64 unit_div = 1;	/* 1: nsecs, 1000: usecs, 1000000: msecs */
const volatile bool per_function = false;
const volatile bool use_cookie = true;
const volatile __u32 func_idx = 0;	/* the index without cookies */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);		/* pid_tgid */
	__type(value, __u64);		/* entry time, ns */
} starts SEC(".maps");

struct fhist {
	__u32 slots[PYBPF_LOG2_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);		/* function index */
	__type(value, struct fhist);
} fhists SEC(".maps");

static const struct fhist zero_fhist;

__u64 hist[PYBPF_LOG2_SLOTS];		/* in units of unit_div */
__u64 total_ns;
__u64 calls;

static __always_inline int record_entry(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ts;

	if (targ_tgid && (id >> 32) != targ_tgid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&starts, &id, &ts, BPF_ANY);
	return 0;
}

static __always_inline int record_return(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 *tsp, delta;
	__u32 slot;

	tsp = bpf_map_lookup_elem(&starts, &id);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&starts, &id);
	__sync_fetch_and_add(&total_ns, delta);
	__sync_fetch_and_add(&calls, 1);
	if (per_function) {
		__u32 idx = use_cookie ? bpf_get_attach_cookie(ctx) : func_idx;

		pybpf_hist_add(&fhists, &idx, &zero_fhist, delta / unit_div);
		return 0;
	}
	slot = pybpf_log2_slot(delta / unit_div);
	if (slot < PYBPF_LOG2_SLOTS)
		__sync_fetch_and_add(&hist[slot], 1);
	return 0;
}

SEC("kprobe")
int func_entry(struct pt_regs *ctx)
{
	return record_entry();
}

SEC("kretprobe")
int func_exit(struct pt_regs *ctx)
{
	return record_return(ctx);
}

SEC("kprobe.multi")
int func_entry_multi(struct pt_regs *ctx)
{
	return record_entry();
}

SEC("kretprobe.multi")
int func_exit_multi(struct pt_regs *ctx)
{
	return record_return(ctx);
}

char LICENSE[] SEC("license") = "GPL";
