/* l7 deny: reset both ends (docs/datapath.md, "reset recipe").
 * the denied client segment becomes the server's rst to the client (a clone
 * is injected with bpf_clone_redirect), then the client's rst to the server
 * (the skb itself goes on). needs bpf_skb_change_tail (4.9) and
 * bpf_clone_redirect (4.2). */
#ifndef L7_RESET_H
#define L7_RESET_H

#include <linux/pkt_cls.h>
#include "l7_parse.h"
#include "l7_maps.h"
#include "answers.generated.h"
#include "l7_http1_resp.h"
#include "l7_tcp.h"

static __always_inline __u16 l7_csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s;
}

struct l7_v6_pseudo {
	__u8 saddr[16];
	__u8 daddr[16];
	__be32 len;
	__be32 nh;
};

struct l7_v4_pseudo {
	__be32 saddr;
	__be32 daddr;
	__be16 proto;
	__be16 len;
};

/* writes mac/ip/tcp headers (and the payload) of a segment from (src, sport) to (dst, dport),
 * swapped when `swap`, with tcp flags `fl` (L7_TH_*) and window `win`: a 20-byte tcp header,
 * with `ts` 12 bytes of options after it (nop, nop, timestamps), with `data` an answer (dlen
 * bytes, zero padded to a multiple of 4: answers.generated.h; the skb has room for it all) */
static __always_inline int l7_write_seg(struct __sk_buff *skb, const struct l7_pkt *p, __u32 l4_off, int swap, __u32 seq,
					__u32 ack, const __u8 *data, __u32 dlen, __u8 fl, __u16 win, const __u32 *ts)
{
	int answer = data != 0;
	__u32 olen = ts ? 12 : 0;
	__u8 macs[12], tmp[6];
	struct tcphdr th;
	__s64 sum;

	if (bpf_skb_load_bytes(skb, 0, macs, 12))
		return -1;
	__builtin_memcpy(tmp, macs, 6);
	__builtin_memcpy(macs, macs + 6, 6);
	__builtin_memcpy(macs + 6, tmp, 6);
	if (bpf_skb_store_bytes(skb, 0, macs, 12, 0))
		return -1;

	__builtin_memset(&th, 0, sizeof(th));
	th.source = swap ? p->dport : p->sport;
	th.dest = swap ? p->sport : p->dport;
	th.seq = bpf_htonl(seq);
	th.ack_seq = bpf_htonl(ack);
	th.doff = 5 + olen / 4;
	th.ack = 1;
	th.psh = !!(fl & L7_TH_PSH);
	th.fin = !!(fl & L7_TH_FIN);
	th.rst = !!(fl & L7_TH_RST);
	th.window = bpf_htons(win);

	if (p->family == 4) {
		struct iphdr ip;
		struct l7_v4_pseudo ph;

		if (bpf_skb_load_bytes(skb, p->l3_off, &ip, sizeof(ip)))
			return -1;
		__builtin_memcpy(&ph.saddr, (swap ? p->daddr : p->saddr) + 12, 4);
		__builtin_memcpy(&ph.daddr, (swap ? p->saddr : p->daddr) + 12, 4);
		ip.saddr = ph.saddr;
		ip.daddr = ph.daddr;
		ip.ihl = 5;	/* options were cut (l7_reset) */
		ip.tot_len = bpf_htons(sizeof(ip) + sizeof(th) + olen + dlen);
		ip.ttl = 64;
		ip.id = 0;
		ip.frag_off = bpf_htons(0x4000);
		ip.check = 0;
		ip.check = l7_csum_fold(bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0));
		if (bpf_skb_store_bytes(skb, p->l3_off, &ip, sizeof(ip), 0))
			return -1;
		ph.proto = bpf_htons(IPPROTO_TCP);
		ph.len = bpf_htons(sizeof(th) + olen + dlen);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else {
		struct ipv6hdr ip6;
		struct l7_v6_pseudo ph;

		if (bpf_skb_load_bytes(skb, p->l3_off, &ip6, sizeof(ip6)))
			return -1;
		__builtin_memcpy(ph.saddr, swap ? p->daddr : p->saddr, 16);
		__builtin_memcpy(ph.daddr, swap ? p->saddr : p->daddr, 16);
		__builtin_memcpy(&ip6.saddr, ph.saddr, 16);
		__builtin_memcpy(&ip6.daddr, ph.daddr, 16);
		ip6.payload_len = bpf_htons(sizeof(th) + olen + dlen);
		ip6.nexthdr = IPPROTO_TCP;	/* extension headers were cut (l7_reset) */
		ip6.hop_limit = 64;
		if (bpf_skb_store_bytes(skb, p->l3_off, &ip6, sizeof(ip6), 0))
			return -1;
		ph.len = bpf_htonl(sizeof(th) + olen + dlen);
		ph.nh = bpf_htonl(IPPROTO_TCP);
		sum = bpf_csum_diff(0, 0, (__be32 *)&ph, sizeof(ph), 0);
	}
	sum = bpf_csum_diff(0, 0, (__be32 *)&th, sizeof(th), (__u32)sum);
	if (ts) {
		sum = bpf_csum_diff(0, 0, (__be32 *)ts, 12, (__u32)sum);
		if (bpf_skb_store_bytes(skb, l4_off + sizeof(th), ts, 12, 0))
			return -1;
	}
	if (answer) {
		/* the padding is zeros: it adds nothing to the sum */
		sum = bpf_csum_diff(0, 0, (__be32 *)data, (dlen + 3) & ~3U, (__u32)sum);
		if (bpf_skb_store_bytes(skb, l4_off + sizeof(th) + olen, data, dlen, 0))
			return -1;
	}
	th.check = l7_csum_fold(sum);
	return bpf_skb_store_bytes(skb, l4_off, &th, sizeof(th), 0);
}

/* the flag of bpf_clone_redirect that sends a copy to the client (dir: the hook's policy
 * direction, at the client's packet). at tc egress (ingress policy) the client is behind
 * the node: the copy enters the host veth as if the pod sent it. at tc ingress (egress
 * policy) the client is the pod: the copy leaves through the host veth towards it
 * (entering the veth's ingress with the pod's mac as destination, the node would drop it
 * as "other host") */
#define L7_TO_CLIENT(dir) ((dir) == L7_DIR_EGRESS ? 0 : BPF_F_INGRESS)

/* the skb becomes a bare ip + tcp header (20 bytes, no options) with room for dlen payload
 * bytes: ipv4 options and ipv6 extension headers go (the room between the base ip header and
 * tcp is removed). returns the tcp header's offset, or 0 when the skb could not be cut */
static __always_inline __u32 l7_reshape(struct __sk_buff *skb, const struct l7_pkt *p, __u32 dlen)
{
	__u32 l4_off = p->l3_off + (p->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr));

	if (bpf_skb_change_tail(skb, p->l4_off + sizeof(struct tcphdr) + dlen, 0))
		return 0;
	if (p->l4_off != l4_off && bpf_skb_adjust_room(skb, -(__s32)(p->l4_off - l4_off), BPF_ADJ_ROOM_NET, 0))
		return 0;
	return l4_off;
}

/* rst_seq: the first client byte the server has not received; srv_seq: the server's
 * next sequence number (a reset the client accepts must carry exactly its rcv_nxt,
 * RFC 5961, whatever the server has in flight). dir: the policy direction of the hook. */
static __attribute__((noinline)) int l7_reset(struct __sk_buff *skb, const struct l7_pkt *p, __u32 rst_seq, __u32 srv_seq, __u8 dir)
{
	__u32 ifindex, l4_off;

	/* a frame of its own: its header buffers stay off the main program's stack */
	if (!skb || !p)
		return TC_ACT_SHOT;
	ifindex = skb->ifindex;
	l4_off = l7_reshape(skb, p, 0);
	if (!l4_off)
		return TC_ACT_SHOT;
	/* server -> client: seq = the server's next, ack = past this segment */
	if (l7_write_seg(skb, p, l4_off, 1, srv_seq, p->seq + p->payload_len, 0, 0, L7_TH_RST | L7_TH_ACK, 0, 0))
		return TC_ACT_SHOT;
	bpf_clone_redirect(skb, ifindex, L7_TO_CLIENT(dir));
	/* client -> server, back in the original orientation (macs swap back) */
	if (l7_write_seg(skb, p, l4_off, 0, rst_seq, p->ack, 0, 0, L7_TH_RST | L7_TH_ACK, 0, 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/* the denied request's answer says it was over a rate limit (429, RESOURCE_EXHAUSTED) */
static __always_inline int l7_ans_limited(const struct l7_flow *f)
{
	return f->ans_reason == L7_REASON_RATE_LIMITED;
}

/* a big-endian u32 into buf at `at`: a few bytes past it stay inside scratch's buffer */
static __always_inline void l7_put_be32(__u8 *buf, __u32 at, __u32 v)
{
	if (at > L7_CHUNK)
		return;
	buf[at] = v >> 24;
	buf[at + 1] = v >> 16;
	buf[at + 2] = v >> 8;
	buf[at + 3] = v;
}

/* the stage-2 answer's length (the reply path knows the answer by it) */
static __always_inline __u32 l7_answer_len(const struct l7_flow *f)
{
	if (f->rs.flags & RF_H2)
		return l7_ans_limited(f) ? L7_GRPC_LIMITED_LEN : L7_GRPC_DENIED_LEN;
	return l7_ans_limited(f) ? L7_HTTP429_LEN : L7_HTTP403_LEN;
}

/* the answer's bytes: http/1's 403 (429), or http/2's (the denied stream and GOAWAY's last
 * stream id written into a copy in scratch); their length in *len */
static __always_inline const __u8 *l7_answer_bytes(const struct l7_flow *f, __u32 *len)
{
	__u32 zero = 0, last = f->ans_stream > 2 ? f->ans_stream - 2 : 0, s = f->ans_stream;
	struct l7_scratch *sc;

	*len = l7_answer_len(f);
	if (!(f->rs.flags & RF_H2))
		return l7_ans_limited(f) ? l7_http429 : l7_http403;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	if (l7_ans_limited(f))
		__builtin_memcpy(sc->buf, l7_grpc_limited, L7_GRPC_LIMITED_PADDED);
	else
		__builtin_memcpy(sc->buf, l7_grpc_denied, L7_GRPC_DENIED_PADDED);
	/* every stream below the denied one may have reached the server, none above it did */
	sc->buf[L7_GRPC_DENIED_STREAM_AT] = s >> 24;
	sc->buf[L7_GRPC_DENIED_STREAM_AT + 1] = s >> 16;
	sc->buf[L7_GRPC_DENIED_STREAM_AT + 2] = s >> 8;
	sc->buf[L7_GRPC_DENIED_STREAM_AT + 3] = s;
	l7_put_be32(sc->buf, *len - 8, last);
	return sc->buf;
}

/* an answered denial: the client segment becomes the server's answer and fin to the client
 * (a clone, after the last complete response or http/2 frame, acknowledging f->ans_ack), then
 * the client's rst to the server at f->ans_rst. a frame of its own: the main program stays
 * small */
static __attribute__((noinline)) int l7_answer(struct __sk_buff *skb, const struct l7_pkt *p, const struct l7_flow *f,
					       __u8 dir)
{
	__u32 ifindex, l4_off, len = 0;
	const __u8 *data;

	if (!skb || !p || !f)
		return TC_ACT_SHOT;
	data = l7_answer_bytes(f, &len);
	if (!data)
		return TC_ACT_SHOT;
	ifindex = skb->ifindex;
	l4_off = l7_reshape(skb, p, len);
	if (!l4_off)
		return TC_ACT_SHOT;
	if (l7_write_seg(skb, p, l4_off, 1, f->rs.end, f->ans_ack, data, len, L7_TH_PSH | L7_TH_FIN | L7_TH_ACK, 65535, 0))
		return TC_ACT_SHOT;
	bpf_clone_redirect(skb, ifindex, L7_TO_CLIENT(dir));
	if (bpf_skb_change_tail(skb, l4_off + sizeof(struct tcphdr), 0))
		return TC_ACT_SHOT;
	/* in the server's space: stage 3 may have cut client bytes before */
	if (l7_write_seg(skb, p, l4_off, 0, l7_cli_to_srv(&f->ofs, f->ans_rst), p->ack, 0, 0, L7_TH_RST | L7_TH_ACK, 0, 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

static __always_inline int l7_trim_fits(const struct l7_pkt *p, __u32 keep)
{
	return keep > 0 && keep <= L7_TRIM_KEEP && keep < p->payload_len && p->payload_len - keep <= L7_TRIM_CUT;
}

/* the packet keeps its first `keep` payload bytes (what came before a denied request): the ip
 * length and the tcp checksum follow, incrementally (bpf_l4_csum_replace leaves a checksum the
 * hardware completes, CHECKSUM_PARTIAL, as it should). returns 0 when done, else the packet is
 * unchanged */
__attribute__((noinline)) int l7_trim(struct __sk_buff *skb, const struct l7_pkt *p, __u32 keep)
{
	__u32 zero = 0, csum_off, cut, at, n, tcplen_old, tcplen_new;
	struct l7_scratch *sc;
	__s64 sum = 0;
	__u8 odd[4] = {};

	if (!skb || !p || keep == 0 || keep > L7_TRIM_KEEP || keep >= p->payload_len)
		return -1;
	cut = p->payload_len - keep;
	if (cut > L7_TRIM_CUT)
		return -1;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return -1;
	csum_off = p->l4_off + 16;
	at = p->payload_off + keep;
	/* the removed bytes' sum: the first one is a word's low byte when keep is odd */
	if (keep & 1) {
		if (bpf_skb_load_bytes(skb, at, &odd[1], 1))
			return -1;
		sum = bpf_csum_diff((__be32 *)odd, 4, 0, 0, 0);
		at++;
		cut--;
	}
	for (int i = 0; i < L7_TRIM_CUT / 256; i++) {
		if (!cut)
			break;
		n = cut < 256 ? cut : 256;
		__builtin_memset(sc->buf, 0, 256);
		n -= 1;
		asm volatile("%0 &= 255" : "+r"(n));
		n += 1;
		if (bpf_skb_load_bytes(skb, at, sc->buf, n))
			return -1;
		sum = bpf_csum_diff((__be32 *)sc->buf, (n + 3) & ~3U, 0, 0, (__u32)sum);
		at += n;
		cut -= n;
	}
	tcplen_old = p->payload_off - p->l4_off + p->payload_len;
	tcplen_new = p->payload_off - p->l4_off + keep;
	if (bpf_skb_change_tail(skb, p->payload_off + keep, 0))
		return -1;
	if (bpf_l4_csum_replace(skb, csum_off, 0, (__u32)sum, 0))
		return -1;
	if (p->family == 4) {
		__be16 o = bpf_htons(p->l4_off - p->l3_off + (tcplen_old & 0xffff)), w = bpf_htons(p->payload_off - p->l3_off + keep);

		if (bpf_l4_csum_replace(skb, csum_off, bpf_htons(tcplen_old), bpf_htons(tcplen_new), BPF_F_PSEUDO_HDR | 2) ||
		    bpf_l3_csum_replace(skb, p->l3_off + 10, o, w, 2) || bpf_skb_store_bytes(skb, p->l3_off + 2, &w, 2, 0))
			return -1;
	} else {
		__be16 w = bpf_htons(p->payload_off - p->l3_off - 40 + keep);

		if (bpf_l4_csum_replace(skb, csum_off, bpf_htonl(tcplen_old), bpf_htonl(tcplen_new), BPF_F_PSEUDO_HDR | 4) ||
		    bpf_skb_store_bytes(skb, p->l3_off + 4, &w, 2, 0))
			return -1;
	}
	return 0;
}

#endif
