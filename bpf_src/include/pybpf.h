/* SPDX-License-Identifier: GPL-2.0 */
/* pybpf conventions for BPF C sources. */
#ifndef __PYBPF_H
#define __PYBPF_H

/* Name the record type of a ring buffer / perf buffer map so pybpf decodes its events:
 *
 *   struct { __uint(type, BPF_MAP_TYPE_RINGBUF); ... } events SEC(".maps");
 *   PYBPF_EVENT(events, struct event);
 *
 * It declares a typed pointer in the ".pybpf.events" section: that puts the record type in
 * the object's BTF (types only used by local variables are not there otherwise). libbpf and
 * the kernel ignore the section; pybpf reads it, never loads it. */
#define PYBPF_EVENT(map, T) \
	T *__pybpf_event_##map __attribute__((section(".pybpf.events"), used)) = (void *)0

/* The same as a BTF decl tag on the map, for types that are in BTF anyway. */
#define __pybpf_event(T) __attribute__((btf_decl_tag("pybpf:event:" #T)))

#endif
