/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* USDT probe arguments in BPF programs (SEC("usdt/...")).
 *
 *   SEC("usdt//usr/bin/app:myprov:request")
 *   int BPF_USDT(on_request, int id, const char *path) { ... }
 *
 * The user-space side (pybpf.attach.usdt) parses each probe site's argument spec
 * ("-4@%edi 8@-16(%rbp) ...") from the binary's .note.stapsdt, stores one record per
 * distinct spec in the __bpf_usdt_specs array and attaches a uprobe per site whose BPF
 * cookie is the record's index. The maps' names and the record layout follow libbpf's
 * convention (<bpf/usdt.bpf.h>), so an object built with either header works with either
 * loader; pybpf reads the record layout from the map's BTF when it fills it.
 *
 * This header needs no <linux/errno.h> (which drags in <asm/errno.h>, absent from plain
 * -target bpf include paths), unlike <bpf/usdt.bpf.h>.
 */
#ifndef __PYBPF_USDT_H
#define __PYBPF_USDT_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef BPF_USDT_MAX_SPEC_CNT
#define BPF_USDT_MAX_SPEC_CNT 256
#endif
#ifndef BPF_USDT_MAX_IP_CNT
#define BPF_USDT_MAX_IP_CNT (4 * BPF_USDT_MAX_SPEC_CNT)
#endif
#define BPF_USDT_MAX_ARG_CNT 12

#define PYBPF_USDT_ENOENT 2
#define PYBPF_USDT_ESRCH 3
#define PYBPF_USDT_EINVAL 22

/* Where one argument lives. */
enum __bpf_usdt_arg_type {
	BPF_USDT_ARG_CONST,     /* "4@$42": the value is val_off itself */
	BPF_USDT_ARG_REG,       /* "8@%rax": a register, read from pt_regs at reg_off */
	BPF_USDT_ARG_REG_DEREF, /* "-4@-8(%rbp)": user memory at register + val_off */
	BPF_USDT_ARG_SIB,       /* "8@16(%rax,%rcx,8)": base + (index << scale) + val_off */
};

struct __bpf_usdt_arg_spec {
	__u64 val_off;             /* constant, or displacement */
	__u32 arg_type: 8;         /* enum __bpf_usdt_arg_type */
	__u32 idx_reg_off: 12;     /* SIB: pt_regs offset of the index register */
	__u32 scale_bitshift: 4;   /* SIB: log2 of the scale */
	__u32 __reserved: 8;
	short reg_off;             /* pt_regs offset of the (base) register */
	bool arg_signed;           /* sign-extend after the shifts */
	char arg_bitshift;         /* 64 - 8 * size: keeps the argument's low bytes */
};

struct __bpf_usdt_spec {
	struct __bpf_usdt_arg_spec args[BPF_USDT_MAX_ARG_CNT];
	__u64 usdt_cookie;         /* the cookie given at attach (bpf_usdt_cookie()) */
	short arg_cnt;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BPF_USDT_MAX_SPEC_CNT);
	__type(key, int);
	__type(value, struct __bpf_usdt_spec);
} __bpf_usdt_specs SEC(".maps") __weak;

/* Only used where the kernel has no BPF cookies (before 5.15): probe address -> spec id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BPF_USDT_MAX_IP_CNT);
	__type(key, long);
	__type(value, __u32);
} __bpf_usdt_ip_to_spec_id SEC(".maps") __weak;

extern const _Bool LINUX_HAS_BPF_COOKIE __kconfig;

static __always_inline struct __bpf_usdt_spec *__pybpf_usdt_spec(struct pt_regs *ctx)
{
	int id;

	if (LINUX_HAS_BPF_COOKIE) {
		id = bpf_get_attach_cookie(ctx);
	} else {
		long ip = PT_REGS_IP(ctx);
		__u32 *p = bpf_map_lookup_elem(&__bpf_usdt_ip_to_spec_id, &ip);

		if (!p)
			return 0;
		id = *p;
	}
	return bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
}

/* Number of arguments of the probe that fired, or -ESRCH. */
static __always_inline int bpf_usdt_arg_cnt(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec = __pybpf_usdt_spec(ctx);

	return spec ? spec->arg_cnt : -PYBPF_USDT_ESRCH;
}

/* Argument number n (from 0) into *res; 0 or a negative error (then *res is 0). */
static __always_inline int bpf_usdt_arg(struct pt_regs *ctx, __u64 n, long *res)
{
	struct __bpf_usdt_spec *spec;
	struct __bpf_usdt_arg_spec *a;
	unsigned long val, idx;
	int err;

	*res = 0;
	spec = __pybpf_usdt_spec(ctx);
	if (!spec)
		return -PYBPF_USDT_ESRCH;
	if (n >= BPF_USDT_MAX_ARG_CNT || n >= spec->arg_cnt)
		return -PYBPF_USDT_ENOENT;
	a = &spec->args[n];
	switch (a->arg_type) {
	case BPF_USDT_ARG_CONST:
		val = a->val_off;
		break;
	case BPF_USDT_ARG_REG:
		err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + a->reg_off);
		if (err)
			return err;
		break;
	case BPF_USDT_ARG_REG_DEREF:
	case BPF_USDT_ARG_SIB:
		err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + a->reg_off);
		if (err)
			return err;
		if (a->arg_type == BPF_USDT_ARG_SIB) {
			err = bpf_probe_read_kernel(&idx, sizeof(idx), (void *)ctx + a->idx_reg_off);
			if (err)
				return err;
			val += idx << a->scale_bitshift;
		}
		err = bpf_probe_read_user(&val, sizeof(val), (void *)val + a->val_off);
		if (err)
			return err;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		val >>= a->arg_bitshift;
#endif
		break;
	default:
		return -PYBPF_USDT_EINVAL;
	}
	val <<= a->arg_bitshift;
	if (a->arg_signed)
		val = ((long)val) >> a->arg_bitshift;
	else
		val = val >> a->arg_bitshift;
	*res = val;
	return 0;
}

/* The cookie given to attach_usdt(..., cookie=) (the BPF cookie itself is the spec id). */
static __always_inline long bpf_usdt_cookie(struct pt_regs *ctx)
{
	struct __bpf_usdt_spec *spec = __pybpf_usdt_spec(ctx);

	return spec ? spec->usdt_cookie : 0;
}

#define ___pybpf_usdt_a0() ctx
#define ___pybpf_usdt_a1(x) ___pybpf_usdt_a0(), ___pybpf_usdt_get(ctx, 0)
#define ___pybpf_usdt_a2(x, a...) ___pybpf_usdt_a1(a), ___pybpf_usdt_get(ctx, 1)
#define ___pybpf_usdt_a3(x, a...) ___pybpf_usdt_a2(a), ___pybpf_usdt_get(ctx, 2)
#define ___pybpf_usdt_a4(x, a...) ___pybpf_usdt_a3(a), ___pybpf_usdt_get(ctx, 3)
#define ___pybpf_usdt_a5(x, a...) ___pybpf_usdt_a4(a), ___pybpf_usdt_get(ctx, 4)
#define ___pybpf_usdt_a6(x, a...) ___pybpf_usdt_a5(a), ___pybpf_usdt_get(ctx, 5)
#define ___pybpf_usdt_a7(x, a...) ___pybpf_usdt_a6(a), ___pybpf_usdt_get(ctx, 6)
#define ___pybpf_usdt_a8(x, a...) ___pybpf_usdt_a7(a), ___pybpf_usdt_get(ctx, 7)
#define ___pybpf_usdt_a9(x, a...) ___pybpf_usdt_a8(a), ___pybpf_usdt_get(ctx, 8)
#define ___pybpf_usdt_a10(x, a...) ___pybpf_usdt_a9(a), ___pybpf_usdt_get(ctx, 9)
#define ___pybpf_usdt_a11(x, a...) ___pybpf_usdt_a10(a), ___pybpf_usdt_get(ctx, 10)
#define ___pybpf_usdt_a12(x, a...) ___pybpf_usdt_a11(a), ___pybpf_usdt_get(ctx, 11)
#define ___pybpf_usdt_args(a...) ___bpf_apply(___pybpf_usdt_a, ___bpf_narg(a))(a)
#define ___pybpf_usdt_get(ctx, n) ({ long _v; bpf_usdt_arg(ctx, n, &_v); (void *)_v; })

/* Like BPF_KPROBE for USDT: the handler gets the probe's arguments, typed; ctx stays. */
#define BPF_USDT(name, args...)						\
name(struct pt_regs *ctx);						\
static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args); \
typeof(name(0)) name(struct pt_regs *ctx)				\
{									\
	_Pragma("GCC diagnostic push")					\
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")		\
	return ____##name(___pybpf_usdt_args(args));			\
	_Pragma("GCC diagnostic pop")					\
}									\
static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##args)

#endif /* __PYBPF_USDT_H */
