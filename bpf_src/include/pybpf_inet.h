/* SPDX-License-Identifier: GPL-2.0 */
/* Socket addresses for the TCP tools' events (tcpconnect, tcplife). */
#ifndef __PYBPF_INET_H
#define __PYBPF_INET_H

#include <bpf/bpf_core_read.h>

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6

/* The source and destination of sock/inet_sock_set_state into 16-byte arrays (4 bytes
 * used for IPv4, the rest zero) */
static __always_inline void pybpf_state_addrs(struct trace_event_raw_inet_sock_set_state *ctx,
					      __u16 family, __u8 saddr[16], __u8 daddr[16])
{
	if (family == AF_INET6) {
		BPF_CORE_READ_INTO((__u8 (*)[16])saddr, ctx, saddr_v6);
		BPF_CORE_READ_INTO((__u8 (*)[16])daddr, ctx, daddr_v6);
	} else {
		__builtin_memset(saddr, 0, 16);
		__builtin_memset(daddr, 0, 16);
		BPF_CORE_READ_INTO((__u8 (*)[4])saddr, ctx, saddr);
		BPF_CORE_READ_INTO((__u8 (*)[4])daddr, ctx, daddr);
	}
}

#endif
