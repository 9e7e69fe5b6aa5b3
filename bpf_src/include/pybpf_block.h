/* SPDX-License-Identifier: GPL-2.0 */
/* Block request tracepoints across kernels, for the block tools (biolatency, biosnoop):
 * told apart by CO-RE, never by version numbers. */
#ifndef __PYBPF_BLOCK_H
#define __PYBPF_BLOCK_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define PYBPF_MINORBITS 20	/* the kernel's dev_t: major << 20 | minor */

/* 5.11 dropped the request queue from these tracepoints' arguments: the one-argument
 * forms, which a CO-RE type match finds (or not) in the running kernel */
typedef void (*btf_trace_block_rq_insert___rq)(void *, struct request *);
typedef void (*btf_trace_block_rq_issue___rq)(void *, struct request *);
typedef void (*btf_trace_block_bio_queue___bio)(void *, struct bio *);

/* Tracepoint argument 0 or 1, as two loads at constant offsets (a computed offset into
 * ctx, which clang makes of a plain ternary, is refused by the verifier). */
static __always_inline __u64 pybpf_ctx_arg(__u64 *ctx, bool first)
{
	__u64 v;

	if (first) {
		v = ctx[0];
		barrier_var(v);
	} else {
		v = ctx[1];
		barrier_var(v);
	}
	return v;
}

#define pybpf_rq_insert_arg(ctx) \
	((struct request *)pybpf_ctx_arg(ctx, bpf_core_type_matches(btf_trace_block_rq_insert___rq)))
#define pybpf_rq_issue_arg(ctx) \
	((struct request *)pybpf_ctx_arg(ctx, bpf_core_type_matches(btf_trace_block_rq_issue___rq)))
#define pybpf_bio_queue_arg(ctx) \
	((struct bio *)pybpf_ctx_arg(ctx, bpf_core_type_matches(btf_trace_block_bio_queue___bio)))

/* 5.16 dropped request.rq_disk; the disk is request.q->disk since */
struct request___rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

/* The dev_t of the disk a request is for, 0 if none */
static __always_inline __u32 pybpf_rq_dev(struct request *rq)
{
	struct request___rq_disk *old = (void *)rq;
	struct gendisk *disk;

	if (bpf_core_field_exists(old->rq_disk))
		disk = BPF_CORE_READ(old, rq_disk);
	else
		disk = BPF_CORE_READ(rq, q, disk);
	if (!disk)
		return 0;
	return (BPF_CORE_READ(disk, major) << PYBPF_MINORBITS) | BPF_CORE_READ(disk, first_minor);
}

#endif
