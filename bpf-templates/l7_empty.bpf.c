// SPDX-License-Identifier: GPL-2.0
/* baseline for bench/kernel.ts: a tc program that passes everything */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tc")
int l7_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}
