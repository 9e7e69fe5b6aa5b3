/* SPDX-License-Identifier: GPL-2.0 */
/* pybpf conventions for BPF C sources. */
#ifndef __PYBPF_H
#define __PYBPF_H

/* Name the record type of a ring buffer / perf buffer map so pybpf decodes its events:
 *   struct { __uint(type, BPF_MAP_TYPE_RINGBUF); ... } events SEC(".maps") __pybpf_event(struct event);
 * A BTF decl tag: libbpf and the kernel ignore it. */
#define __pybpf_event(T) __attribute__((btf_decl_tag("pybpf:event:" #T)))

#endif
