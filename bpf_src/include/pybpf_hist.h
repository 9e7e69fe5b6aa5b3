/* SPDX-License-Identifier: GPL-2.0 */
/* Histogram buckets as bcc numbers them, shared by the tools' BPF programs. */
#ifndef __PYBPF_HIST_H
#define __PYBPF_HIST_H

/* Buckets of a log2 histogram: 0 unused, 1..64 (pybpf.hist.log2_hist reads them). */
#define PYBPF_LOG2_SLOTS 65

/* The bucket of a value: its bit length, 0 counted with 1 (bcc's bpf_log2l(v) + 1;
 * pybpf.hist.log2_slot in Python). No loops and no clz: the verifier takes it anywhere. */
static __always_inline __u32 pybpf_log2_slot(__u64 v)
{
	__u32 n = 0;

	if (v >> 32) { n += 32; v >>= 32; }
	if (v >> 16) { n += 16; v >>= 16; }
	if (v >> 8) { n += 8; v >>= 8; }
	if (v >> 4) { n += 4; v >>= 4; }
	if (v >> 2) { n += 2; v >>= 2; }
	if (v >> 1) { n += 1; }
	return n + 1;
}

/* Count ``value`` in its log2 bucket of the histogram at ``key`` in hash map ``hists``
 * (values: __u32 slots[PYBPF_LOG2_SLOTS]), made from ``zero`` on first use. */
static __always_inline void pybpf_hist_add(void *hists, const void *key, const void *zero,
					   __u64 value)
{
	__u32 *slots, slot;

	slots = bpf_map_lookup_elem(hists, key);
	if (!slots) {
		bpf_map_update_elem(hists, key, zero, BPF_NOEXIST);
		slots = bpf_map_lookup_elem(hists, key);
		if (!slots)
			return;
	}
	slot = pybpf_log2_slot(value);
	if (slot < PYBPF_LOG2_SLOTS)
		__sync_fetch_and_add(&slots[slot], 1);
}

#endif
