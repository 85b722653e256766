/* stage 3 (docs/datapath.md, "Stage 3: the keep-alive 403"): a denied HTTP/1 request's bytes are
 * cut out of the client->server stream, the 403 is spliced into the server->client stream, and
 * every later packet both ways is translated by the offsets (struct l7_ofs, l7_tcp.h) so that
 * the connection goes on. what the program cannot follow stays at stage 2 (l7_keep_ok). */
#ifndef L7_SPLICE_H
#define L7_SPLICE_H

#include <linux/pkt_cls.h>
#include "l7_parse.h"
#include "l7_maps.h"
#include "l7_tcp.h"
#include "l7_http1.h"
#include "l7_http2.h"
#include "l7_http1_resp.h"
#include "l7_reset.h"

/* the skb already is what goes to the server (an answer's acknowledgement, in the server's
 * space): it passes untranslated */
#define L7_SENT (-2)

/* skb->mark of the answer's clone: on its way to the client it passes this hook again as a
 * reply, which must not translate it (it is in the client's view already) */
#define L7_MARK_ANSWER 0x17b7f403U

/* the deploy asked for the highest stage (l7cfg answer auto, or a map never filled); not in a
 * piece of a frame replay --kernel split (the node sees the whole frame) */
static __always_inline int l7_keep_on(void)
{
	__u32 zero = 0;
	const struct l7_config *c = bpf_map_lookup_elem(&l7cfg, &zero);

	return !c || (c->answer == L7_ANSWER_AUTO && !c->split);
}

/* the tcp options being walked for sack blocks (l7_sack_cb) */
struct l7_opts {
	__u8 n[64];	/* 40 bytes of options; the rest lets a masked index stay inside */
	__u32 len;	/* option bytes */
	__u32 next;	/* where the next option starts */
	__u32 sack_end;	/* bytes before it belong to a sack option seen */
};

/* one option byte (bpf_loop: verified once, whatever the options' layout) */
static long l7_sack_cb(__u32 i, void *data)
{
	struct l7_opts *o = data;
	__u32 j = i, j1 = i + 1;
	__u8 kind, len;

	if (i >= o->len || i >= 39)
		return 1;
	asm volatile("%0 &= 63" : "+r"(j));
	asm volatile("%0 &= 63" : "+r"(j1));
	if (i == o->next) {
		kind = o->n[j];
		len = o->n[j1];
		if (kind == 0)
			return 1;	/* end of options */
		if (kind == 1) {
			o->next = i + 1;
		} else {
			if (len < 2)
				return 1;
			o->next = i + len;
			if (kind == 5)
				o->sack_end = o->next;
		}
	}
	if (i < o->sack_end)
		o->n[j] = 1;
	return 0;
}

/* the tcp seq and ack of the packet at l4_off become `seq` and `ack` (the checksum follows),
 * and sack blocks become nops: they name ranges of the other space, and the sender only loses
 * a hint. a function of its own: its option buffers stay off the main program's stack */
__attribute__((noinline)) int l7_ofs_write(struct __sk_buff *skb, __u32 l4_off, __u32 seq, __u32 ack)
{
	struct l7_opts o;
	__u8 old[40];
	__be32 w[2], nw[2];
	__u32 olen, csum_off;
	__u8 hl = 0;
	__s64 sum;

	if (!skb)
		return -1;
	csum_off = l4_off + 16;
	if (bpf_skb_load_bytes(skb, l4_off + 4, w, 8))
		return -1;
	nw[0] = bpf_htonl(seq);
	nw[1] = bpf_htonl(ack);
	if ((nw[0] != w[0] && bpf_l4_csum_replace(skb, csum_off, w[0], nw[0], 4)) ||
	    (nw[1] != w[1] && bpf_l4_csum_replace(skb, csum_off, w[1], nw[1], 4)) ||
	    bpf_skb_store_bytes(skb, l4_off + 4, nw, 8, 0))
		return -1;
	if (bpf_skb_load_bytes(skb, l4_off + 12, &hl, 1))
		return -1;
	olen = (hl >> 4) * 4;
	if (olen <= 20)
		return 0;
	olen -= 20;
	if (olen > 40)
		return -1;
	__builtin_memset(&o, 0, sizeof(o));
	olen -= 1;
	asm volatile("%0 &= 63" : "+r"(olen));
	olen += 1;
	if (olen > 40 || bpf_skb_load_bytes(skb, l4_off + 20, o.n, olen))
		return -1;
	/* what linux sends on nearly every segment, nop nop timestamps, has no sack block */
	if (olen == 12 && o.n[0] == 1 && o.n[1] == 1 && o.n[2] == 8)
		return 0;
	__builtin_memcpy(old, o.n, sizeof(old));
	o.len = olen;
	bpf_loop(40, l7_sack_cb, &o, 0);
	if (!o.sack_end)
		return 0;
	sum = bpf_csum_diff((__be32 *)old, sizeof(old), (__be32 *)o.n, sizeof(old), 0);
	if (bpf_skb_store_bytes(skb, l4_off + 20, o.n, olen, 0) || bpf_l4_csum_replace(skb, csum_off, 0, (__u32)sum, 0))
		return -1;
	return 0;
}

/* a client packet that passes on a flow with offsets: into the server's space */
static __always_inline int l7_ofs_client(struct __sk_buff *skb, const struct l7_flow *f, const struct l7_pkt *p)
{
	__u32 ack = p->flags & L7_TH_ACK ? l7_view_to_srv(&f->ofs, p->ack) : p->ack;

	if (l7_ofs_write(skb, p->l4_off, l7_cli_to_srv(&f->ofs, p->seq), ack))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

/* a server packet on a flow with offsets: into the client's view, p with it (the tcp state and
 * the response framer read the view) */
static __always_inline int l7_ofs_server(struct __sk_buff *skb, const struct l7_flow *f, struct l7_pkt *p)
{
	p->seq = l7_srv_to_view(&f->ofs, p->seq);
	if (p->flags & L7_TH_ACK)
		p->ack = l7_srv_ack_to_cli(&f->ofs, p->ack);
	return l7_ofs_write(skb, p->l4_off, p->seq, p->ack);
}

/* the stage-3 answer's length: http/1's 403 (429 over a rate limit), or http/2's HEADERS and a
 * WINDOW_UPDATE when DATA was cut */
static __always_inline __u32 l7_keep_len(const struct l7_flow *f)
{
	int lim = l7_ans_limited(f);

	if (!(f->rs.flags & RF_H2))
		return lim ? L7_HTTP429_KEEP_LEN : L7_HTTP403_KEEP_LEN;
	if (lim)
		return f->ofs.win ? L7_GRPC_LIMITED_KEEP_LEN : L7_GRPC_LIMITED_KEEP_HEADERS_LEN;
	return f->ofs.win ? L7_GRPC_KEEP_LEN : L7_GRPC_KEEP_HEADERS_LEN;
}

/* the stage-3 answer's bytes (http/2: the template with the stream and the increment written
 * into a copy in scratch), *len set */
static __always_inline const __u8 *l7_keep_bytes(const struct l7_flow *f, __u32 *len)
{
	__u32 zero = 0, s = f->ans_stream, w = f->ofs.win, at;
	struct l7_scratch *sc;
	int lim = l7_ans_limited(f);

	*len = l7_keep_len(f);
	if (!(f->rs.flags & RF_H2))
		return lim ? l7_http429_keep : l7_http403_keep;
	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc)
		return 0;
	if (lim) {
		__builtin_memcpy(sc->buf, l7_grpc_limited_keep, L7_GRPC_LIMITED_KEEP_PADDED);
		at = L7_GRPC_LIMITED_KEEP_WINDOW_AT;
	} else {
		__builtin_memcpy(sc->buf, l7_grpc_keep, L7_GRPC_KEEP_PADDED);
		at = L7_GRPC_KEEP_WINDOW_AT;
	}
	sc->buf[L7_GRPC_DENIED_STREAM_AT] = s >> 24;
	sc->buf[L7_GRPC_DENIED_STREAM_AT + 1] = s >> 16;
	sc->buf[L7_GRPC_DENIED_STREAM_AT + 2] = s >> 8;
	sc->buf[L7_GRPC_DENIED_STREAM_AT + 3] = s;
	l7_put_be32(sc->buf, at, w & 0x7fffffff);
	return sc->buf;
}

/* the client's timestamps option in the layout linux sends (nop, nop, kind 8 length 10) right
 * after the tcp header: as the answer carries it back (tsval: the server's value the client
 * echoed, tsecr: the client's). 1 when there, in ts[3] */
static __always_inline int l7_answer_ts(struct __sk_buff *skb, const struct l7_pkt *p, __u32 *ts)
{
	__u8 hl = 0;
	__u32 w[3];

	if (bpf_skb_load_bytes(skb, p->l4_off + 12, &hl, 1) || (hl >> 4) < 8 || bpf_skb_load_bytes(skb, p->l4_off + 20, w, 12) ||
	    w[0] != bpf_htonl(0x0101080a))
		return 0;
	ts[0] = w[0];
	ts[1] = w[2];
	ts[2] = w[1];
	return 1;
}

/* the latest answer to the client (a marked clone, at ins_lo, acknowledging the cut), then the
 * packet becomes the client's acknowledgement to the server, in the server's space (its
 * payload, if any, is not sent: the client sends it again). the answer carries timestamps when
 * the client's packet did (a client may drop a segment without them once they were agreed,
 * RFC 7323 3.2). a frame of its own */
__attribute__((noinline)) int l7_answer_keep(struct __sk_buff *skb, const struct l7_pkt *p, const struct l7_flow *f,
						    __u8 dir)
{
	__u32 ifindex, l4_off, mark, len = 0, ts[3] = {};
	const __u8 *data;
	int has_ts;

	if (!skb || !p || !f)
		return TC_ACT_SHOT;
	data = l7_keep_bytes(f, &len);
	if (!data || len > L7_ANSWER_MAX_PADDED)
		return TC_ACT_SHOT;
	has_ts = l7_answer_ts(skb, p, ts);
	ifindex = skb->ifindex;
	l4_off = l7_reshape(skb, p, len + (has_ts ? 12 : 0));
	if (!l4_off)
		return TC_ACT_SHOT;
	if (l7_write_seg(skb, p, l4_off, 1, f->ofs.ins_lo, f->ofs.cut_hi, data, len, L7_TH_PSH | L7_TH_ACK, f->ofs.srv_win,
			 has_ts ? ts : 0))
		return TC_ACT_SHOT;
	mark = skb->mark;
	skb->mark = L7_MARK_ANSWER;
	bpf_clone_redirect(skb, ifindex, L7_TO_CLIENT(dir));
	skb->mark = mark;
	if (bpf_skb_change_tail(skb, l4_off + sizeof(struct tcphdr), 0))
		return TC_ACT_SHOT;
	if (l7_write_seg(skb, p, l4_off, 0, l7_cli_to_srv(&f->ofs, f->ofs.cut_hi), l7_view_to_srv(&f->ofs, p->ack), 0, 0,
			 L7_TH_ACK, p->win, 0))
		return TC_ACT_SHOT;
	return L7_SENT;
}

/* the answer takes its place in the server's stream at the end of the responses (rs.end, in the
 * client's view): the framer and the tcp state move past it */
static __always_inline void l7_ofs_insert(struct l7_flow *f)
{
	struct l7_ofs *o = &f->ofs;
	__u32 len = l7_keep_len(f);

	o->ins_lo = f->rs.end;
	o->ins_hi = f->rs.end + len;
	o->ins += len;
	o->on &= ~OFS_DUE;
	f->rs.seq = o->ins_hi;
	f->rs.end = o->ins_hi;
	if (!l7_before(o->ins_hi, f->srv_nxt))
		f->srv_nxt = o->ins_hi;
}

/* stage 3 for a request denied by the policy (its head complete, judged) in a packet that ends
 * with it: keep-alive, no body or a content-length body inside the packet, the whole request
 * among the packet's new bytes (the server holds none of it), no fin. `end` is the packet's
 * end, sc->seq where the head ended. answered now (`how`), the server has acknowledged every
 * client byte before the request: the answer acknowledges them all to the client, which would
 * never send a lost one again (answered later, the same holds when the answer goes:
 * l7_keep_due_ok). with offsets already, the client has acknowledged the latest answer and the
 * server the latest cut: positions before them are never sent again */
/* what both protocols ask of a cut starting at `lo` */
static __always_inline int l7_keep_common(const struct l7_flow *f, const struct l7_pkt *p, __u32 lo, int how)
{
	if ((p->flags & L7_TH_FIN) || !l7_keep_on())
		return 0;
	if (how == L7_DENY_ANSWER && l7_before(f->una, lo))
		return 0;
	return !(f->ofs.on & OFS_ON) ||
	       (!l7_before(l7_seq_max(f->ack_hi, p->ack), f->ofs.ins_hi) && !l7_before(f->una, f->ofs.cut_hi));
}

static __always_inline int l7_keep_ok(const struct l7_flow *f, const struct l7_scratch *sc, const struct l7_pkt *p,
				      __u32 start, __u32 end, int how)
{
	__u32 fl = f->h1.flags;
	__u64 body = (fl & HF_CL) ? f->h1.clen : 0;

	if (sc->reason != L7_REASON_L7_NO_RULE && sc->reason != L7_REASON_RATE_LIMITED)
		return 0;
	if ((fl & (HF_TE | HF_UPGRADE)) || ((fl & HF_V10) ? !(fl & HF_CONN_KA) : (fl & HF_CONN_CLOSE) != 0))
		return 0;
	if (l7_before(f->h1.req_seq, start) || body != (__u64)(end - sc->seq))
		return 0;
	return l7_keep_common(f, p, f->h1.req_seq, how);
}

/* a due stage-3 answer may go: the server acknowledged every client byte before the cut (it
 * answered the requests before it; bytes it lacks the answer would acknowledge for it) */
static __always_inline int l7_keep_due_ok(const struct l7_flow *f)
{
	return !l7_before(f->una, f->ofs.cut_lo);
}

/* http/2: the frames after a denied stream's block up to the packet's end [off, end) (skb
 * offsets) are DATA of that stream only, the last with END_STREAM at the end: their octets
 * (the connection window they took), or -1. global: verified once */
__attribute__((noinline)) __s64 l7_h2_tail(struct __sk_buff *skb, __u32 off, __u32 end, __u32 stream)
{
	__u8 h[9];
	__s64 n = 0;
	__u32 len;

	if (!skb)
		return -1;
	for (int k = 0; k < 16; k++) {
		if (off + 9 > end || bpf_skb_load_bytes(skb, off, h, 9))
			return -1;
		len = ((__u32)h[0] << 16) | ((__u32)h[1] << 8) | h[2];
		if (h[3] != FRAME_DATA || (l7_h2_get32(&h[5]) & 0x7fffffff) != stream)
			return -1;
		off += 9 + len;
		n += len;
		if (off > end)
			return -1;
		if (h[4] & 1)	/* END_STREAM */
			return off == end ? n : -1;
	}
	return -1;
}

/* http/2 stage 3 for a stream denied for its own fields: its block decoded whole, leaving the
 * dynamic table as it was (the server, never seeing it, keeps its table in step), starting at
 * the packet's first new byte, the rest of the packet that stream's DATA up to END_STREAM (or
 * END_STREAM on HEADERS and nothing after); otherwise as http/1. returns the DATA octets cut,
 * or -1 */
static __always_inline __s64 l7_keep_ok_h2(const struct l7_flow *f, const struct l7_scratch *sc, const struct l7_pkt *p,
					    const struct l7_h2 *x, __u32 start, int how, struct __sk_buff *skb)
{
	__s64 n;

	if (!x || !sc->deny_stream || !x->bseq_ok || x->bseq != start || x->tgen != x->btgen || !l7_keep_common(f, p, x->bseq, how))
		return -1;
	if (x->bes)
		return sc->off == sc->end ? 0 : -1;
	n = l7_h2_tail(skb, sc->off, sc->end, x->fstream);
	return n > 0x7fffffff ? -1 : n;
}

/* the denied request [lo, end) is cut: later client bytes move down by its length */
static __always_inline void l7_ofs_cut(struct l7_flow *f, __u32 lo, __u32 end)
{
	struct l7_ofs *o = &f->ofs;

	o->cut_lo = lo;
	o->cut_hi = end;
	o->cut += end - lo;
	o->on |= OFS_ON;
	/* the server acknowledged everything before the cut: the cut too (it never needs it) */
	if (!l7_before(f->una, o->cut_lo))
		f->una = end;
	f->next_seq = end;
}

#endif
