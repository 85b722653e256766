/* judge what the server reads (docs/datapath.md, "What the datapath trusts").
 * a client byte is judged only if the receiving tcp will hand exactly that byte to
 * the application at that position. two layers:
 *  - the segment checks a receiving linux tcp applies before it queues data (ack flag,
 *    ack within what the server sent, ttl / ipv4 header), so the common insertion
 *    triggers never advance the stream;
 *  - whatever else makes the receiver discard a judged segment (bad tcp checksum,
 *    paws, memory pressure, a drop after this hook), the bytes at those positions
 *    can only reach the server again as a retransmission, and a retransmission of
 *    bytes the server has not acknowledged must carry the judged bytes (the ring).
 * urgent data is refused outright: the receiver takes the urgent byte out of the
 * stream (no SO_OOBINLINE), so every later byte would sit one position off. */
#ifndef L7_TCP_H
#define L7_TCP_H

#include "l7_maps.h"
#include "l7_parse.h"

#define l7_before(a, b) ((__s32)((a) - (b)) < 0)
#define l7_after(a, b) ((__s32)((a) - (b)) > 0)

static __always_inline __u32 l7_seq_max(__u32 a, __u32 b)
{
	return l7_after(a, b) ? a : b;
}

/* stage 3's offsets (struct l7_ofs): a client byte's position in the server's stream. the
 * latest cut's own bytes map to where it was (the server never reads them); positions before
 * it take the earlier cuts' total. with no cut every total is 0: the identity */
static __always_inline __u32 l7_cli_to_srv(const struct l7_ofs *o, __u32 c)
{
	__u32 prev = o->cut - (o->cut_hi - o->cut_lo);

	if (!l7_before(c, o->cut_hi))
		return c - o->cut;
	return l7_after(c, o->cut_lo) ? o->cut_lo - prev : c - prev;
}

/* a position in the client's view of the server's stream (an acknowledgement) -> the server's
 * own: inside the latest answer it is the answer's place (the server never sent those bytes) */
static __always_inline __u32 l7_view_to_srv(const struct l7_ofs *o, __u32 v)
{
	__u32 prev = o->ins - (o->ins_hi - o->ins_lo);

	if (!l7_before(v, o->ins_hi))
		return v - o->ins;
	return l7_after(v, o->ins_lo) ? o->ins_lo - prev : v - prev;
}

/* a server sequence number -> the client's view: the answers before it come first */
static __always_inline __u32 l7_srv_to_view(const struct l7_ofs *o, __u32 s)
{
	return !l7_before(s, o->ins_hi - o->ins) ? s + o->ins : s + (o->ins - (o->ins_hi - o->ins_lo));
}

/* the server's acknowledgement of client bytes -> the client's space: acknowledging the byte
 * after the latest cut's place acknowledges the cut too */
static __always_inline __u32 l7_srv_ack_to_cli(const struct l7_ofs *o, __u32 a)
{
	return !l7_before(a, o->cut_hi - o->cut) ? a + o->cut : a + (o->cut - (o->cut_hi - o->cut_lo));
}

/* a new tcp flow at the client's syn */
static __always_inline void l7_tcp_open(struct l7_flow *f, const struct l7_pkt *p)
{
	f->next_seq = p->seq + 1;
	f->base = f->next_seq;
	f->una = f->next_seq;
	f->ring_lo = f->next_seq;
	f->body_lo = f->next_seq;
	f->body_hi = f->next_seq;
	f->wr_hi = f->next_seq;
	f->syn_win = p->win;
	/* slots in turn: the oldest flow's slot is the one reused, and live flows sit close
	 * together (random slots spread them over the whole map: a tlb and cache miss per
	 * packet on real traffic). not atomic (clang 14 has no fetch-add for bpf v1): two cpus
	 * may hand out one slot; the owner tag gives it to the later flow, the other one's
	 * resends then cannot be checked and are dropped, as after any slot reuse */
	f->ring_id = l7_ring_next & (L7_RING_ENTRIES - 1);
	l7_ring_next = f->ring_id + 1;
	f->ring_tag = bpf_get_prandom_u32() | 1;	/* never 0, the value of a slot nobody took */
}

/* a server packet of a tcp flow: what it sent, what it acknowledged, how it closed */
static __always_inline void l7_tcp_reply(struct l7_flow *f, const struct l7_pkt *p)
{
	__u32 end = p->seq + p->payload_len + !!(p->flags & L7_TH_SYN) + !!(p->flags & L7_TH_FIN);

	if (p->flags & L7_TH_RST) {
		/* the server's socket is gone: the client's later bytes reach no one */
		f->tcp |= L7_TCP_CLOSED;
		return;
	}
	if (!(f->tcp & L7_TCP_SRV_SEEN)) {
		if ((p->flags & (L7_TH_SYN | L7_TH_ACK)) != (L7_TH_SYN | L7_TH_ACK))
			return;
		f->tcp |= L7_TCP_SRV_SEEN;
		if (end != p->seq + 1)
			f->tcp |= L7_TCP_SRV_SENT;
		f->srv_nxt = end;
		f->ack_hi = end;
	} else if (l7_after(end, f->srv_nxt)) {
		f->tcp |= L7_TCP_SRV_SENT;
		f->srv_nxt = end;
	}
	if (p->flags & L7_TH_ACK) {
		/* the server acknowledges only bytes it holds, and never more than were judged */
		if (l7_after(p->ack, f->una) && !l7_after(p->ack, f->next_seq))
			f->una = p->ack;
		if ((f->tcp & L7_TCP_CLI_FIN) && p->ack == f->next_seq + 1)
			f->tcp |= L7_TCP_FIN_ACKED;
	}
	if (p->flags & L7_TH_FIN)
		f->tcp |= L7_TCP_SRV_FIN;
	if ((f->tcp & (L7_TCP_FIN_ACKED | L7_TCP_SRV_FIN)) == (L7_TCP_FIN_ACKED | L7_TCP_SRV_FIN))
		f->tcp |= L7_TCP_CLOSED;
}

/* a client packet without payload (or a reset): closing, and the highest ack */
static __always_inline void l7_tcp_client_ctl(struct l7_flow *f, const struct l7_pkt *p)
{
	if (p->flags & L7_TH_RST) {
		/* linux accepts a reset exactly at rcv_nxt; only when the server acknowledged
		 * every judged byte is rcv_nxt known to be next_seq */
		if (p->seq == f->next_seq && f->una == f->next_seq)
			f->tcp |= L7_TCP_CLOSED;
		return;
	}
	if ((p->flags & L7_TH_ACK) && (f->tcp & L7_TCP_SRV_SEEN) && l7_after(p->ack, f->ack_hi) &&
	    !l7_after(p->ack, f->srv_nxt))
		f->ack_hi = p->ack;
	if ((p->flags & L7_TH_FIN) && p->seq + p->payload_len == f->next_seq)
		f->tcp |= L7_TCP_CLI_FIN;
}

/* 1 when the 20-byte ipv4 header at l3_off has a valid (or no) checksum. a function of
 * its own: its buffer stays off the main program's stack */
__attribute__((noinline)) int l7_ip4_header_ok(struct __sk_buff *skb, __u32 l3_off)
{
	__u32 w[5];
	__s64 sum;

	if (!skb || bpf_skb_load_bytes(skb, l3_off, w, sizeof(w)))
		return 0;
	/* a zero checksum is one not computed (synthetic captures): judged like a valid one
	 * (a receiver that drops it is covered by the retransmission check) */
	if (((__u16 *)w)[5] == 0)
		return 1;
	sum = bpf_csum_diff(0, 0, w, sizeof(w), 0);
	if (sum < 0)
		return 0;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* L7_REASON_NONE when the receiving tcp would queue this client segment's payload
 * (linux tcp_validate_incoming and tcp_ack, RFC 5961 section 5.2); else why not */
static __always_inline __u16 l7_tcp_accepts(struct __sk_buff *skb, const struct l7_flow *f, const struct l7_pkt *p, __u8 dir)
{
	/* fast open: the opening syn's own data, at base. a syn|ack from the client is no
	 * such thing: an established receiver discards it (RFC 5961 section 4) */
	if (p->flags & L7_TH_SYN)
		return p->flags & L7_TH_ACK ? L7_REASON_INSERTION : L7_REASON_NONE;
	if (!(p->flags & L7_TH_ACK) || !(f->tcp & L7_TCP_SRV_SEEN))
		return L7_REASON_INSERTION;
	/* ack of unsent data, or older than the window the client ever offered */
	if (l7_after(p->ack, f->srv_nxt) || l7_before(p->ack, f->ack_hi - f->syn_win))
		return L7_REASON_INSERTION;
	/* at tc ingress (egress policy) the node forwards the packet after this hook: not with
	 * ttl <= 1 or a wrong ipv4 header checksum (with options: the ring check covers a
	 * receiver that drops it). at tc egress (ingress policy) it was forwarded already
	 * (ip_rcv checked the header) and the pod takes it whatever its ttl. */
	if (dir != L7_DIR_EGRESS)
		return L7_REASON_NONE;
	if (p->ttl <= 1 || (p->family == 4 && p->l4_off == p->l3_off + 20 && !l7_ip4_header_ok(skb, p->l3_off)))
		return L7_REASON_BAD_IP_HEADER;
	return L7_REASON_NONE;
}

/* the ring: copies of the last L7_RING_BYTES client bytes, at seq % L7_RING_BYTES */
static __always_inline __u32 l7_ring_chunk(__u32 seq, __u32 n, __u32 *idx)
{
	__u32 i = seq & (L7_RING_BYTES - 1), m = n;

	if (m > L7_CHUNK)
		m = L7_CHUNK;
	if (m > L7_RING_BYTES - i)
		m = L7_RING_BYTES - i;
	/* both in range for the verifier: i < L7_RING_BYTES, m in [1, L7_CHUNK] */
	asm volatile("%0 &= %1" : "+r"(i) : "i"(L7_RING_BYTES - 1));
	m -= 1;
	asm volatile("%0 &= %1" : "+r"(m) : "i"(L7_CHUNK - 1));
	*idx = i;
	return m + 1;
}

/* copies the client bytes [seq, seq + n) at skb offset off into the ring (the last
 * L7_RING_BYTES of them) */
__attribute__((noinline)) int l7_ring_write(struct __sk_buff *skb, struct l7_ring *r, __u32 off, __u32 seq, __u32 n)
{
	if (!skb || !r)
		return -1;
	if (n > L7_RING_BYTES) {
		off += n - L7_RING_BYTES;
		seq += n - L7_RING_BYTES;
		n = L7_RING_BYTES;
	}
	for (int k = 0; k < L7_RING_BYTES / L7_CHUNK + 1; k++) {
		__u32 idx, m;

		if (n == 0)
			break;
		m = l7_ring_chunk(seq, n, &idx);
		if (bpf_skb_load_bytes(skb, off, r->b + idx, m))
			return -1;
		off += m;
		seq += m;
		n = n > m ? n - m : 0;
	}
	return 0;
}

/* 1 when sc->buf[0, m) equals r->b[idx, idx + m), m in [1, L7_CHUNK]. a function of
 * its own: the verifier sees one scalar come back, not one state per word at which
 * the comparison could end. */
__attribute__((noinline)) int l7_words_same(struct l7_scratch *sc, const struct l7_ring *r, __u32 idx, __u32 m)
{
	if (!sc || !r)
		return 0;
	asm volatile("%0 &= %1" : "+r"(idx) : "i"(L7_RING_BYTES - 1));
	for (__u32 w = 0; w < L7_CHUNK; w += 8) {
		__u64 x;

		if (w >= m)
			break;
		x = *(__u64 *)(sc->buf + w) ^ *(__u64 *)(r->b + idx + w);
		if (m - w < 8)
			x &= ((__u64)1 << ((m - w) * 8)) - 1;	/* little endian: the first bytes */
		if (x)
			return 0;
	}
	return 1;
}

/* 1 when the segment's bytes [seq, seq + n) (skb offset sc->cmp_off, n <= L7_RING_BYTES)
 * are the ring's copies */
__attribute__((noinline)) int l7_ring_same(struct __sk_buff *skb, struct l7_scratch *sc, const struct l7_ring *r,
					   __u32 seq, __u32 n)
{
	__u32 off;

	if (!skb || !sc || !r)
		return 0;
	off = sc->cmp_off;
	for (int k = 0; k < L7_RING_BYTES / L7_CHUNK + 1; k++) {
		__u32 idx, m;

		if (n == 0)
			break;
		m = l7_ring_chunk(seq, n, &idx);
		if (bpf_skb_load_bytes(skb, off, sc->buf, m) || !l7_words_same(sc, r, idx, m))
			return 0;
		off += m;
		seq += m;
		n = n > m ? n - m : 0;
	}
	return 1;
}

/* 1 when the bytes [a, b) of a client segment (a at skb offset off; all three in sc->cmp_*)
 * are the judged bytes wherever the server may still take them: content-length body
 * bytes are not compared (their content frames nothing), other bytes against the ring;
 * bytes no longer in the ring cannot be checked and fail. a frame of its own: its
 * locals stay off the main program's stack. */
static __attribute__((noinline)) int l7_resent_same(struct __sk_buff *skb, struct l7_scratch *sc, const struct l7_flow *f,
						    const struct l7_ring *r)
{
	__u32 a = sc->cmp_a, b = sc->cmp_b, off = sc->cmp_off;
	/* body bytes are not copied: a head's copy survives until copies wrap around onto it */
	__u32 lo = l7_seq_max(f->ring_lo, f->wr_hi - L7_RING_BYTES);
	__u32 x = a, y = b;

	/* at most two pieces outside [body_lo, body_hi): before it and after it */
	for (int piece = 0; piece < 2; piece++) {
		if (piece == 0) {
			if (l7_after(y, f->body_lo) && l7_after(f->body_hi, f->body_lo))
				y = l7_after(x, f->body_lo) ? x : f->body_lo;
		} else {
			if (!l7_after(f->body_hi, f->body_lo))
				break;
			x = l7_seq_max(a, f->body_hi);
			y = b;
		}
		if (!l7_after(y, x))
			continue;
		if (!r || l7_before(x, lo))
			return 0;
		sc->cmp_off = off + (x - a);
		if (!l7_ring_same(skb, sc, r, x, y - x))
			return 0;
	}
	return 1;
}

#endif
