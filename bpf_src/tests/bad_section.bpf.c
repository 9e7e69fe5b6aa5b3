// SPDX-License-Identifier: GPL-2.0
/* A section name libbpf does not know. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("no_such_kind/foo")
int oddsec(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
