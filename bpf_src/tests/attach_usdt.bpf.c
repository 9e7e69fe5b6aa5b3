// SPDX-License-Identifier: GPL-2.0
/* USDT: every argument kind read through pybpf_usdt.h, keyed by the attach cookie. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#define BPF_USDT_MAX_SPEC_CNT 8               /* small: the tests fill it */
#include "pybpf_usdt.h"

const volatile int targ_pid = 0;      /* 0: any process */

struct usdt_rec {
	long args[BPF_USDT_MAX_ARG_CNT];
	int cnt;
	unsigned int hits;
	long cookie;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, long);                 /* bpf_usdt_cookie() */
	__type(value, struct usdt_rec);
} usdt_recs SEC(".maps");

/* modules python3.11 looked for (python:import__find__load__start), by name */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, char[64]);
	__type(value, long);               /* times seen */
} py_imports SEC(".maps");

long typed_a, typed_b, typed_hits;
long thrown_value, throw_hits;

static __always_inline bool is_target(void)
{
	return !targ_pid || (bpf_get_current_pid_tgid() >> 32) == targ_pid;
}

SEC("usdt")
int on_usdt(struct pt_regs *ctx)
{
	struct usdt_rec zero = {}, *r;
	long cookie, v;
	int i;

	if (!is_target())
		return 0;
	cookie = bpf_usdt_cookie(ctx);
	r = bpf_map_lookup_elem(&usdt_recs, &cookie);
	if (!r) {
		bpf_map_update_elem(&usdt_recs, &cookie, &zero, BPF_NOEXIST);
		r = bpf_map_lookup_elem(&usdt_recs, &cookie);
		if (!r)
			return 0;
	}
	r->cnt = bpf_usdt_arg_cnt(ctx);
	r->cookie = cookie;
	for (i = 0; i < BPF_USDT_MAX_ARG_CNT; i++) {
		if (bpf_usdt_arg(ctx, i, &v))
			break;
		r->args[i] = v;
	}
	__sync_fetch_and_add(&r->hits, 1);
	return 0;
}

/* BPF_USDT: typed arguments, as with libbpf's usdt.bpf.h */
SEC("usdt")
int BPF_USDT(on_typed, int a, long b)
{
	if (!is_target())
		return 0;
	typed_a = a;
	typed_b = b;
	__sync_fetch_and_add(&typed_hits, 1);
	return 0;
}

/* libstdc++'s libstdcxx:throw (a shared library probe): the thrown object and its type */
SEC("usdt")
int BPF_USDT(on_throw, void *obj, void *tinfo)
{
	int v = 0;

	if (!is_target())
		return 0;
	bpf_probe_read_user(&v, sizeof(v), obj);
	thrown_value = v;
	__sync_fetch_and_add(&throw_hits, 1);
	return 0;
}

/* Debian's python3.11 (a semaphore-gated probe), auto-attached from the section name */
SEC("usdt//usr/bin/python3.11:python:import__find__load__start")
int BPF_USDT(on_py_import, const char *module)
{
	char name[64] = {};
	long one = 1, *n;

	bpf_probe_read_user_str(name, sizeof(name), module);
	n = bpf_map_lookup_elem(&py_imports, name);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&py_imports, name, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
