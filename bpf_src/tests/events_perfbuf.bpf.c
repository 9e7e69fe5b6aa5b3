// SPDX-License-Identifier: GPL-2.0
/* Perf buffer producer driven by BPF_PROG_TEST_RUN (XDP): emit_n 104-byte samples
 * (120-byte records with padding: they cross the end of a one-page ring once a lap), each with a
 * sequence number and a fill pattern the reader checks. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "pybpf.h"

#define FILL 84

struct pb_sample {
	__u32 seq;
	__u32 cpu;
	__u64 value;
	__u8 fill[FILL];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} pb SEC(".maps");
PYBPF_EVENT(pb, struct pb_sample);

const volatile __u64 base_value = 7000;
__u32 emit_n = 1;
__u32 seq = 0;
__u64 failed = 0;

SEC("xdp")
int emit(struct xdp_md *ctx)
{
	struct pb_sample s = {};
	__u32 i, j;

	for (i = 0; i < 64 && i < emit_n; i++) {
		s.seq = seq;
		s.cpu = bpf_get_smp_processor_id();
		s.value = base_value + seq;
		for (j = 0; j < FILL; j++)
			s.fill[j] = (seq + j) & 0xff;
		if (bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &s, sizeof(s)))
			failed++;
		seq++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
