// SPDX-License-Identifier: GPL-2.0
/* No license section: pybpf must refuse it with a clear error. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int nolicense(struct xdp_md *ctx)
{
	return XDP_PASS;
}
