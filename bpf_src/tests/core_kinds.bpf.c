// SPDX-License-Identifier: GPL-2.0
/* Every CO-RE relocation kind against the running kernel's types, one result per global.
 * A raw_tp program (test runs from 5.10 on) so that the current task is the test process:
 * field reads give this process's pid, comm and signal->is_child_subreaper bitfield.
 * The oracle test loads it with libbpf too: the kernel's translated code must be identical. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/* local views of kernel types: flavors (___suffix) match the kernel type of the base name */
struct task_struct___pybpf {
	int pid;
	int tgid;
	int pybpf_no_such_field;	/* absent from every kernel */
	char comm[16];
} __attribute__((preserve_access_index));

struct task_struct___match {		/* a subset of the kernel's members, same types (not
					 * comm: x86 kernels build with -funsigned-char since 6.2) */
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

struct task_struct___wrongtype {
	char pid;			/* the kernel's pid is a 4-byte pid_t: no type match */
} __attribute__((preserve_access_index));

struct pybpf_no_such_type {
	int x;
} __attribute__((preserve_access_index));

enum bpf_map_type___renum {		/* values renumbered locally: the kernel's count */
	BPF_MAP_TYPE_HASH___renum = 100,
	BPF_MAP_TYPE_RINGBUF___renum = 3,
};

enum bpf_map_type___pybpf {
	BPF_MAP_TYPE_PYBPF_NOPE = 1000,		/* no such enumerator in the kernel */
	BPF_MAP_TYPE_RINGBUF___p = 27,	/* enumerator flavors match by essential name too */
};

/* results, read back by tests/kernel/test_core_kinds.py */
__u64 tgid_off, pid_size, comm_size, prio_signed, flags_signed;
__u64 exists_pid, exists_missing, exists_comm_elem;
__u64 task_local_id, task_target_id, task_size, sigstruct_size;
__u64 exists_task, exists_missing_type, matches_task, matches_wrong;
__u64 ringbuf_val, renum_ringbuf_val, exists_ringbuf, exists_nope, exists_hash_renum;
__u64 tstamp_off, se_runtime_off;
__u64 subreaper, subreaper_lshift, subreaper_rshift, subreaper_size, subreaper_off;
__u64 read_tgid, missing_read;
char read_comm[16];

SEC("raw_tp")
int core_all(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct___pybpf *lt = (void *)task;
	struct signal_struct *sig;

	/* field byte offset / size / signedness / existence */
	tgid_off = bpf_core_field_offset(struct task_struct, tgid);
	pid_size = bpf_core_field_size(struct task_struct, pid);
	comm_size = bpf_core_field_size(lt->comm);
	prio_signed = __builtin_preserve_field_info(task->prio, BPF_FIELD_SIGNED);
	flags_signed = __builtin_preserve_field_info(task->flags, BPF_FIELD_SIGNED);
	exists_pid = bpf_core_field_exists(lt->pid);
	exists_missing = bpf_core_field_exists(lt->pybpf_no_such_field);
	exists_comm_elem = bpf_core_field_exists(lt->comm[3]);
	/* through anonymous unions and nested structs */
	tstamp_off = bpf_core_field_offset(struct sk_buff, tstamp);
	se_runtime_off = bpf_core_field_offset(struct task_struct, se.sum_exec_runtime);

	/* type ids, existence, size, matches */
	task_local_id = bpf_core_type_id_local(struct task_struct);
	task_target_id = bpf_core_type_id_kernel(struct task_struct);
	task_size = bpf_core_type_size(struct task_struct);
	sigstruct_size = bpf_core_type_size(struct signal_struct);
	exists_task = bpf_core_type_exists(struct task_struct);
	exists_missing_type = bpf_core_type_exists(struct pybpf_no_such_type);
	matches_task = bpf_core_type_matches(struct task_struct___match);
	matches_wrong = bpf_core_type_matches(struct task_struct___wrongtype);

	/* enumerators */
	ringbuf_val = bpf_core_enum_value(enum bpf_map_type___pybpf, BPF_MAP_TYPE_RINGBUF___p);
	renum_ringbuf_val = bpf_core_enum_value(enum bpf_map_type___renum,
						BPF_MAP_TYPE_RINGBUF___renum);
	exists_ringbuf = bpf_core_enum_value_exists(enum bpf_map_type___pybpf, BPF_MAP_TYPE_RINGBUF___p);
	exists_nope = bpf_core_enum_value_exists(enum bpf_map_type___pybpf, BPF_MAP_TYPE_PYBPF_NOPE);
	exists_hash_renum = bpf_core_enum_value_exists(enum bpf_map_type___renum,
						       BPF_MAP_TYPE_HASH___renum);

	/* bitfield: byte offset/size and the shifts BPF_CORE_READ_BITFIELD_PROBED uses */
	sig = BPF_CORE_READ(task, signal);
	subreaper = BPF_CORE_READ_BITFIELD_PROBED(sig, is_child_subreaper);
	subreaper_off = bpf_core_field_offset(struct signal_struct, is_child_subreaper);
	subreaper_size = bpf_core_field_size(struct signal_struct, is_child_subreaper);
	subreaper_lshift = __builtin_preserve_field_info(sig->is_child_subreaper, BPF_FIELD_LSHIFT_U64);
	subreaper_rshift = __builtin_preserve_field_info(sig->is_child_subreaper, BPF_FIELD_RSHIFT_U64);

	/* real reads through relocated offsets; the missing field's read is dead code (its
	 * relocation is poisoned, as libbpf does, and the verifier drops it) */
	read_tgid = BPF_CORE_READ(lt, tgid);
	BPF_CORE_READ_STR_INTO(&read_comm, lt, comm);
	if (bpf_core_field_exists(lt->pybpf_no_such_field))
		missing_read = BPF_CORE_READ(lt, pybpf_no_such_field);
	else
		missing_read = 7;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
