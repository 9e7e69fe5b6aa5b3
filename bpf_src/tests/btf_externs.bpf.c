// SPDX-License-Identifier: GPL-2.0
/* __kconfig and __ksym externs, and the BTF kinds older kernels lack (FLOAT, ENUM64, signed
 * ENUM, DECL_TAG, TYPE_TAG) that pybpf's sanitizer rewrites for them. One raw_tp program run
 * through BPF_PROG_TEST_RUN (5.10+) copies what it sees into .bss. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern __u32 LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_HZ __kconfig __weak;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern enum libbpf_tristate CONFIG_PYBPF_NO_SUCH_OPTION __kconfig __weak;
extern char CONFIG_DEFAULT_HOSTNAME[8] __kconfig __weak;

extern const void schedule __ksym;               /* typeless: address from kallsyms */

enum pybpf_wide { PYBPF_WIDE = 0x100000000ULL };  /* ENUM64 */
enum pybpf_signed { PYBPF_NEG = -1, PYBPF_POS = 1 };  /* signed ENUM (kflag) */

__u32 kver;
int hz;
int bpf_syscall;
int no_such;
char hostname[8];
__u64 sched_addr;
__u64 wide = 0;
enum pybpf_wide wide_e = PYBPF_WIDE;
enum pybpf_signed neg = PYBPF_POS;
float ratio = 0.5f;                                /* FLOAT */
int __attribute__((btf_type_tag("pybpf_tag"))) *tagged_ptr;   /* TYPE_TAG */
__u32 runs __attribute__((btf_decl_tag("pybpf_decl")));        /* DECL_TAG */

SEC("raw_tp")
int read_externs(void *ctx)
{
	kver = LINUX_KERNEL_VERSION;
	hz = CONFIG_HZ;
	bpf_syscall = CONFIG_BPF_SYSCALL;
	no_such = CONFIG_PYBPF_NO_SUCH_OPTION;
	__builtin_memcpy(hostname, CONFIG_DEFAULT_HOSTNAME, sizeof(hostname));
	sched_addr = (__u64)&schedule;
	wide = wide_e;
	neg = PYBPF_NEG;
	runs++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
