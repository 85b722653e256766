/* ethernet / 802.1q / ipv4 / ipv6 / tcp / udp header parsing.
 * headers are copied with bpf_skb_load_bytes, which also works on
 * non-linear (gro) skbs where direct packet access would not. */
#ifndef L7_PARSE_H
#define L7_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>

#define L7_TH_FIN 0x01
#define L7_TH_SYN 0x02
#define L7_TH_RST 0x04
#define L7_TH_PSH 0x08
#define L7_TH_ACK 0x10
#define L7_TH_URG 0x20

struct l7_pkt {
	__u32 l3_off;
	__u32 l4_off;
	__u32 payload_off;
	__u32 payload_len;
	__u32 seq;	/* host order */
	__u32 ack;
	__u16 sport;	/* network order */
	__u16 dport;
	__u8 family;	/* 4 / 6 */
	__u8 proto;
	__u8 flags;	/* tcp flags */
	__u8 odd;	/* fragments, v6 extension headers not walked: no l4 header we trust */
	__u8 saddr[16];	/* v4 as ::ffff:a.b.c.d */
	__u8 daddr[16];
	__u8 ttl;	/* ipv4 ttl / ipv6 hop limit */
	__u8 pad0;
	__u16 win;	/* tcp window field, host order (unscaled) */
};

struct l7_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

static __always_inline void l7_v4_mapped(__u8 *dst, __be32 a)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &a, 4);
}

/* walks hop-by-hop, routing and destination-options headers (at most 3, as a
 * well-formed packet has them once each); returns their length and leaves the
 * next header in *nh. anything else (fragment, esp, a 4th header) stays in *nh
 * and makes the packet odd. */
static __always_inline __u32 l7_v6_ext(struct __sk_buff *skb, __u32 off, __u8 *nh)
{
	__u32 len = 0;

#pragma unroll
	for (int i = 0; i < 3; i++) {
		__u8 h[2];

		if (*nh != 0 && *nh != 43 && *nh != 60)
			break;
		if (bpf_skb_load_bytes(skb, off + len, h, 2)) {
			*nh = 255;
			break;
		}
		*nh = h[0];
		len += (h[1] + 1) * 8;
	}
	return len;
}

/* returns 0 when the packet is ip (v4/v6) and its l4 header was read */
static __always_inline int l7_parse(struct __sk_buff *skb, struct l7_pkt *p)
{
	struct ethhdr eth;
	__u32 off = sizeof(eth);
	__u32 l3_len, l3_total;
	__be16 proto;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return -1;
	proto = eth.h_proto;
	/* at most two vlan tags (802.1ad outer + 802.1q inner) */
#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct l7_vlan_hdr vh;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off, &vh, sizeof(vh)))
			return -1;
		proto = vh.proto;
		off += sizeof(vh);
	}
	p->l3_off = off;
	p->odd = 0;
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
			return -1;
		if (ip.version != 4 || ip.ihl < 5)
			return -1;
		/* options are skipped by the ihl: a receiver that drops a packet for its
		 * options discards bytes we judged, which the retransmission check covers */
		l3_len = ip.ihl * 4;
		l3_total = bpf_ntohs(ip.tot_len);
		/* big tcp: a gso packet over 64 KB has tot_len 0; its length is the skb's */
		if (l3_total == 0)
			l3_total = skb->len - off;
		p->ttl = ip.ttl;
		/* fragments carry no l4 header we could trust */
		if (ip.frag_off & bpf_htons(0x3fff))
			p->odd = 1;
		p->family = 4;
		p->proto = ip.protocol;
		l7_v4_mapped(p->saddr, ip.saddr);
		l7_v4_mapped(p->daddr, ip.daddr);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
			return -1;
		if (ip6.version != 6)
			return -1;
		l3_len = sizeof(ip6);
		/* big tcp: payload_len 0 on a gso packet (a hop-by-hop jumbo option, skipped below, may follow) */
		l3_total = ip6.payload_len ? sizeof(ip6) + bpf_ntohs(ip6.payload_len) : skb->len - off;
		p->family = 6;
		p->proto = ip6.nexthdr;
		p->ttl = ip6.hop_limit;
		l3_len += l7_v6_ext(skb, off + sizeof(ip6), &p->proto);
		if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP)
			p->odd = 1;
		__builtin_memcpy(p->saddr, &ip6.saddr, 16);
		__builtin_memcpy(p->daddr, &ip6.daddr, 16);
	} else {
		return -1;
	}
	p->l4_off = off + l3_len;
	p->sport = 0;
	p->dport = 0;
	p->flags = 0;
	p->seq = 0;
	p->ack = 0;
	p->payload_off = p->l4_off;
	p->payload_len = 0;
	p->win = 0;
	if (p->odd)
		return 0;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr th;
		__u32 hl;

		if (bpf_skb_load_bytes(skb, p->l4_off, &th, sizeof(th)))
			return -1;
		hl = th.doff * 4;
		if (hl < sizeof(th))
			return -1;
		p->sport = th.source;
		p->dport = th.dest;
		p->seq = bpf_ntohl(th.seq);
		p->ack = bpf_ntohl(th.ack_seq);
		p->flags = ((__u8 *)&th)[13];
		p->win = bpf_ntohs(th.window);
		p->payload_off = p->l4_off + hl;
		/* the ip length, not skb->len: short frames carry ethernet padding.
		 * a gro/gso skb has the merged length here. */
		if (l3_total > l3_len + hl)
			p->payload_len = l3_total - l3_len - hl;
		if (p->payload_off + p->payload_len > skb->len)
			p->payload_len = skb->len > p->payload_off ? skb->len - p->payload_off : 0;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr uh;

		if (bpf_skb_load_bytes(skb, p->l4_off, &uh, sizeof(uh)))
			return -1;
		p->sport = uh.source;
		p->dport = uh.dest;
	}
	return 0;
}

#endif
