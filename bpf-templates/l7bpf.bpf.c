// SPDX-License-Identifier: GPL-2.0
/* l7bpf tc program: l3/l4 policy at connection start, strict http/1 request
 * policy on the client's byte stream. attach l7_from_pod to tc ingress and
 * l7_to_pod to tc egress of an endpoint's host-side veth. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifdef L7_POLICY_HEADER
#include L7_POLICY_HEADER
#else
#include "policy_default.h"
#endif
#include "l7_limits.h"
#include "l7_maps.h"
#include "l7_parse.h"
#include "l7_policy.h"
#include "l7_http1_scan.h"
#include "l7_tcp.h"
#include "l7_reset.h"
#include "l7_http1_resp.h"
#include "l7_splice.h"

_Static_assert(L7_NUM_SELECTORS <= L7_MAX_SELECTORS, "too many selectors");
_Static_assert(L7_NUM_HTTP_RULES <= L7_MAX_HTTP_RULES, "too many http rules");
_Static_assert(L7_NUM_HDR_REQS <= L7_MAX_HEADER_REQS, "too many header requirements");
_Static_assert(L7_INGRESS_NUM_ENTRIES <= L7_MAX_PORT_ENTRIES, "too many ingress entries");
_Static_assert(L7_EGRESS_NUM_ENTRIES <= L7_MAX_PORT_ENTRIES, "too many egress entries");

char LICENSE[] SEC("license") = "GPL";

/* l7_new_flow: the packet opened an l7 flow and carries data (tcp fast open): judge it */
#define L7_GO_ON (-1)

/* a denial's event verdict: audit mode lets the packet pass, reported */
static __always_inline __u8 l7_deny_verdict(__u8 audit)
{
	return audit ? L7_VERDICT_AUDIT : L7_VERDICT_DROPPED;
}

/* egress: the local endpoint sends the packet; ingress: it receives it */
static __always_inline void l7_key(struct l7_flow_key *k, const struct l7_pkt *p, __u8 dir)
{
	int out = dir == L7_DIR_EGRESS;

	__builtin_memcpy(k->laddr, out ? p->saddr : p->daddr, 16);
	__builtin_memcpy(k->raddr, out ? p->daddr : p->saddr, 16);
	k->lport = out ? p->sport : p->dport;
	k->rport = out ? p->dport : p->sport;
	k->family = p->family;
	k->proto = p->proto;
}

/* per-cpu scratch, looked up only by the paths that use it (not by replies, pure acks
 * and body segments) */
static __always_inline struct l7_scratch *l7_scratch_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&scratch, &zero);
}

/* connection decision for a packet entering the policy direction `dir` */
static __always_inline void l7_ask(struct l7_conn_q *q, const struct l7_pkt *p, __u8 dir)
{
	/* egress: the local endpoint is the sender; ingress: the receiver */
	__builtin_memcpy(q->local, dir == L7_DIR_EGRESS ? p->saddr : p->daddr, 16);
	__builtin_memcpy(q->peer, dir == L7_DIR_EGRESS ? p->daddr : p->saddr, 16);
	q->port = p->odd ? 0 : bpf_ntohs(p->dport);
	q->proto = p->odd ? 0 : p->proto;
	q->dir = dir;
	l7_decide_conn(q);
}

/* events are built only when one is sent: a pure ack pays nothing for them */
static __always_inline int l7_drop(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir,
				   const struct l7_flow *f, __u16 reason)
{
	l7_ev_send(skb, p, dir, f->local_id, f->peer_id, f->rule, L7_EV_DROP, L7_VERDICT_DROPPED, reason);
	return TC_ACT_SHOT;
}

static __always_inline void l7_ev_conn(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir,
				       const struct l7_conn_q *q, __u8 verdict, __u16 reason)
{
	l7_ev_send(skb, p, dir, q->local_id, q->peer_id, q->rule, L7_EV_CONN, verdict, reason);
}

/* l7 flows first: they are the ones whose packets cost the most */
static __always_inline struct l7_flow *l7_flow_find(const struct l7_flow_key *k)
{
	struct l7_flow *f = bpf_map_lookup_elem(&l7flows, k);

	return f ? f : bpf_map_lookup_elem(&flows, k);
}

static __always_inline void l7_flow_forget(const struct l7_flow_key *k)
{
	bpf_map_delete_elem(&l7flows, k);
	bpf_map_delete_elem(&flows, k);
}

/* a dropped syn ends what the tuple was before (port reuse, or the other end opening it):
 * its later packets are judged alone, not by the old entry, as the simulator has it */
static __always_inline int l7_syn_denied(const struct l7_pkt *p, const struct l7_flow_key *key, int syn)
{
	if (syn && !p->odd)
		l7_flow_forget(key);
	return TC_ACT_SHOT;
}

/* denials are answered (the deploy's l7cfg; a map never filled means the highest stage) */
static __always_inline int l7_answers_on(void)
{
	__u32 zero = 0;
	const struct l7_config *c = bpf_map_lookup_elem(&l7cfg, &zero);

	return !c || c->answer != L7_ANSWER_RESET;
}

/* a packet may be trimmed: not when it is a piece of a frame replay --kernel split to fit
 * test_run (the node sees the whole frame, which a trim does not fit) */
static __always_inline int l7_trims_on(void)
{
	__u32 zero = 0;
	const struct l7_config *c = bpf_map_lookup_elem(&l7cfg, &zero);

	return !c || !c->split;
}

/* first packet of a flow (tcp syn, first udp datagram, or mid-stream) */
static __attribute__((noinline)) int l7_new_flow(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir,
						   const struct l7_flow_key *key)
{
	struct l7_scratch *sc = l7_scratch_get();
	struct l7_conn_q *qp;
	struct l7_flow *f;
	int syn = p->proto == IPPROTO_TCP && (p->flags & (L7_TH_SYN | L7_TH_ACK)) == L7_TH_SYN;

	if (!sc)
		return TC_ACT_SHOT;
	qp = &sc->q;	/* in scratch: the stack is too small */
	__builtin_memset(qp, 0, sizeof(*qp));
	l7_ask(qp, p, dir);
	if (qp->kind == L7_FLOW_DENY) {
		l7_ev_conn(skb, p, dir, qp, l7_deny_verdict(qp->audit), qp->reason);
		if (!qp->audit)
			return l7_syn_denied(p, key, syn);
		/* audit: it passes as if allowed (without l7 rules) */
		qp->kind = L7_FLOW_ALLOW;
	} else if (qp->kind == L7_FLOW_L7 && (p->odd || p->proto != IPPROTO_TCP || !syn)) {
		/* no l4 header, or l7 rules without the stream from its start: fail closed (audit:
		 * it passes, judged alone) */
		l7_ev_conn(skb, p, dir, qp, l7_deny_verdict(qp->audit), p->odd ? L7_REASON_UNSUPPORTED : L7_REASON_NO_FLOW_STATE);
		return qp->audit ? TC_ACT_OK : l7_syn_denied(p, key, syn);
	} else {
		l7_ev_conn(skb, p, dir, qp, L7_VERDICT_FORWARDED, L7_REASON_NONE);
	}
	/* only a syn opens tcp state: a mid-stream packet (or a syn-ack nobody asked
	 * for) is judged alone, so it cannot make the peer's packets look like replies */
	if (p->odd || (p->proto == IPPROTO_TCP && !syn))
		return TC_ACT_OK;
	f = &sc->nf;	/* built in scratch: the stack is too small */
	__builtin_memset(f, 0, sizeof(*f));
	f->kind = qp->kind;
	f->family = p->family;
	f->dir = dir;
	f->local_id = qp->local_id;
	f->peer_id = qp->peer_id;
	f->rule = qp->rule;
	f->policy = L7_POLICY_ID;
	f->ifindex = skb->ifindex;
	f->audit = qp->audit;
	if (syn)
		l7_tcp_open(f, p);
	if (qp->kind == L7_FLOW_L7 && l7_answers_on())
		f->rs.flags = RF_ON;
#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++)
		f->l7rules[w] = qp->rules[w];
	l7_h1_next(&f->h1);
	/* in its kind's map, and out of the other (a re-decided tuple) */
	if (qp->kind == L7_FLOW_L7) {
		bpf_map_update_elem(&l7flows, key, f, BPF_ANY);
		bpf_map_delete_elem(&flows, key);
	} else {
		bpf_map_update_elem(&flows, key, f, BPF_ANY);
		bpf_map_delete_elem(&l7flows, key);
	}
	return qp->kind == L7_FLOW_L7 && p->payload_len ? L7_GO_ON : TC_ACT_OK;
}

/* the ring of an l7 flow, taken (back) when another flow took its slot: bytes before
 * `from` are not in it */
static __always_inline struct l7_ring *l7_ring_get(struct l7_flow *f, __u32 from)
{
	struct l7_ring *r = bpf_map_lookup_elem(&rings, &f->ring_id);

	if (r && r->owner != f->ring_tag) {
		r->owner = f->ring_tag;
		f->ring_lo = l7_seq_max(f->ring_lo, from);
	}
	return r;
}

/* content-length body bytes after this packet pass without a ring copy: remember
 * where (the bytes of an older body range are no longer in the ring) */
static __always_inline void l7_body_range(struct l7_flow *f)
{
	__u64 n = f->h1.clen;

	if (f->h1.st != H_BODY || n == 0)
		return;
	if (f->body_hi != f->body_lo)
		f->ring_lo = l7_seq_max(f->ring_lo, f->body_hi);
	f->body_lo = f->next_seq;
	f->body_hi = f->next_seq + (n > (1u << 30) ? (1u << 30) : (__u32)n);
}

/* stage 3 for the request denied in this packet, [h1.req_seq, end): cut, and answered now (the
 * server owes nothing: the packet becomes the answer) or once the responses before it are
 * complete (the packet is dropped, or trimmed to the allowed bytes before the request) */
static __always_inline int l7_keep(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir, int how,
				   __u32 dseq, __u32 end, __u32 lo, __u32 stream)
{
	__u32 keep_len = lo - dseq;

	f->ans_rst = lo;
	f->ans_ack = end;
	f->ans_stream = stream;
	l7_ofs_cut(f, lo, end);
	/* http/1: the next request starts after the cut (http/2: the walk is at a frame boundary) */
	if (f->h1.st < H_H2_NEW)
		l7_h1_next(&f->h1);
	if (how == L7_DENY_ANSWER) {
		l7_ofs_insert(f);
		return l7_answer_keep(skb, p, f, dir);
	}
	f->ofs.on |= OFS_DUE;
	f->kind = L7_FLOW_ANSWER_DUE;
	if (how != L7_DENY_TRIM)
		return TC_ACT_SHOT;
	if (!l7_trim(skb, p, keep_len))
		return TC_ACT_OK;
	/* the packet could not be cut: it is reset as it stands */
	f->kind = L7_FLOW_RESET;
	return l7_reset(skb, p, l7_cli_to_srv(&f->ofs, dseq), f->srv_nxt, dir);
}

/* audit: what fails closed (a strict rule, a parser limit, lost parser state) passes,
 * reported; the parser cannot go on past it, so the connection is no longer judged. (the
 * rules' denials do not stop the scan in audit: l7_slow_byte, l7_h2_after) */
static __always_inline int l7_audit_stop(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc, struct l7_h2 *x)
{
	sc->deny_verdict = L7_VERDICT_AUDIT;
	if (f->h1.st >= H_H2_NEW)
		l7_emit_h2(skb, f, sc, x);
	else
		l7_emit_req(skb, f, sc, sc->payload_off + (f->h1.req_seq - sc->pkt_seq));
	f->kind = L7_FLOW_ALLOW;
	return TC_ACT_OK;
}

/* client bytes of an l7 flow: what the receiver accepts, the stream rule, the framer */
static __always_inline int l7_stream(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir,
				     const struct l7_flow_key *key)
{
	struct l7_scan_ctx c = { .skb = skb, .f = f, .key = key };
	struct l7_scratch *sc;
	struct l7_ring *r;
	__u32 dseq = p->seq + !!(p->flags & L7_TH_SYN);	/* a syn's data follows its isn */
	__u32 end = dseq + p->payload_len, start, fresh;
	__u16 why = l7_tcp_accepts(skb, f, p, dir);
	__s64 win = -1;
	int how;

	if (why)
		return l7_drop(skb, p, dir, f, why);
	if (l7_before(dseq, f->base))
		return l7_drop(skb, p, dir, f, L7_REASON_OUT_OF_WINDOW);
	if (l7_after(dseq, f->next_seq))
		return l7_drop(skb, p, dir, f, L7_REASON_STREAM_HOLE);
	start = f->next_seq;
	/* bytes judged before: the server may not hold them yet, so they must be the same */
	if (l7_after(l7_before(end, start) ? end : start, l7_seq_max(dseq, f->una))) {
		__u32 a = l7_seq_max(dseq, f->una), b = l7_before(end, start) ? end : start;

		sc = l7_scratch_get();
		if (!sc)
			return TC_ACT_SHOT;
		r = l7_ring_of(f);
		sc->cmp_off = p->payload_off + (a - dseq);
		sc->cmp_a = a;
		sc->cmp_b = b;
		if (!l7_resent_same(skb, sc, f, r))
			return l7_drop(skb, p, dir, f, L7_REASON_RETRANSMISSION_DIFFERS);
	}
	if (!l7_after(end, start)) {
		l7_tcp_client_ctl(f, p);
		return TC_ACT_OK;	/* a retransmission of judged bytes */
	}
	fresh = end - start;
	/* content-length body bytes only: pass them without scanning or copying (their
	 * range is in body_lo/hi) */
	if (f->h1.st == H_BODY && fresh <= f->h1.clen) {
		f->next_seq = end;
		f->h1.clen -= fresh;
		if (f->h1.clen == 0)
			l7_h1_done(&f->h1);
		l7_tcp_client_ctl(f, p);
		return TC_ACT_OK;
	}
	sc = l7_scratch_get();
	if (!sc)
		return TC_ACT_SHOT;
	r = l7_ring_get(f, start);
	if (!r || l7_ring_write(skb, r, p->payload_off + (start - dseq), start, fresh))
		f->ring_lo = end;	/* nothing of this packet can be compared later */
	f->wr_hi = end;
	c.sc = sc;
	sc->pkt = *p;
	sc->dir = dir;
	/* the packet as far as this scan goes: its new bytes (a request that starts in the
	 * judged part before them takes its event line from the ring) */
	sc->payload_off = p->payload_off + (start - dseq);
	sc->pkt_seq = start;
	sc->ev_seq = dseq;
	sc->off = p->payload_off + (start - dseq);
	sc->end = p->payload_off + p->payload_len;
	sc->seq = start;
	sc->stop = 0;
	sc->reason = L7_REASON_NONE;
	sc->http_rule = -1;
	sc->deny_stream = 0;
	sc->deny_verdict = L7_VERDICT_FORWARDED;
#ifdef L7_TEST_CLOCK
	sc->now = skb->tstamp;
#endif
	bpf_loop(L7_MAX_PAYLOAD, l7_scan_cb, &c, 0);
	if (!sc->stop) {
		f->next_seq = sc->seq;
		l7_body_range(f);
		l7_tcp_client_ctl(f, p);
		return TC_ACT_OK;
	}
	if (f->audit)
		return l7_audit_stop(skb, f, sc, c.x);
	/* denied: none of the packet's new bytes (nor its flags) reach the server, which still
	 * expects `start` (an answer that waits for the responses relies on it) */
	if (p->flags & L7_TH_SYN)
		how = L7_DENY_RESET;
	else if (f->h1.st >= H_H2_NEW)
		how = l7_deny_how_h2(f, sc->deny_stream && c.x);
	else
		how = l7_deny_how(f, start);
	/* the packet keeps the bytes before the denied request (from its own first byte: a
	 * resent part the server may lack goes with them); a fin would move: no trim then */
	if (how == L7_DENY_TRIM && (!l7_trim_fits(p, f->h1.req_seq - dseq) || (p->flags & L7_TH_FIN) || !l7_trims_on()))
		how = L7_DENY_RESET;
	/* stage 3: the request is cut and the connection goes on (l7_splice.h); http/2: the DATA
	 * octets cut with the call */
	if (how != L7_DENY_RESET)
		win = f->h1.st >= H_H2_NEW ? l7_keep_ok_h2(f, sc, p, c.x, start, how, skb) : (l7_keep_ok(f, sc, p, start, end, how) ? 0 : -1);
	sc->deny_verdict = how == L7_DENY_ANSWER ? L7_VERDICT_ANSWERED : how == L7_DENY_RESET ? L7_VERDICT_RESET : L7_VERDICT_DROPPED;
	if (f->h1.st >= H_H2_NEW)
		l7_emit_h2(skb, f, sc, c.x);
	else
		l7_emit_req(skb, f, sc, sc->payload_off + (f->h1.req_seq - sc->pkt_seq));
	if (p->flags & L7_TH_SYN) {
		/* fast-open data denied: no connection yet to reset. the client sends its
		 * syn again without data and the request on the connection, judged again */
		bpf_map_delete_elem(&l7flows, key);
		return TC_ACT_SHOT;
	}
	if (win >= 0) {
		f->ans_reason = sc->reason;
		f->ofs.win = (__u32)win;
		if (f->h1.st < H_H2_NEW || !c.x)
			return l7_keep(skb, f, p, dir, how, dseq, end, f->h1.req_seq, 0);
		c.x->cutstream = c.x->fstream;
		return l7_keep(skb, f, p, dir, how, dseq, end, c.x->bseq, c.x->fstream);
	}
	if (how == L7_DENY_TRIM && !l7_trim(skb, p, f->h1.req_seq - dseq)) {
		/* the server reads up to the denied request, not into it */
		f->ans_rst = f->h1.req_seq;
		f->ans_ack = end;
		f->ans_reason = sc->reason;
		f->ans_stream = 0;
		f->next_seq = f->h1.req_seq;
		f->kind = L7_FLOW_ANSWER_DUE;
		return TC_ACT_OK;
	}
	if (how == L7_DENY_TRIM) {
		/* the packet could not be cut: it is reset as it stands */
		how = L7_DENY_RESET;
	} else if (how != L7_DENY_RESET) {
		/* the server never reads the denied request's bytes from `start` on */
		f->ans_rst = start;
		f->ans_ack = end;
		f->ans_reason = sc->reason;
		f->ans_stream = c.x ? c.x->fstream : 0;
		f->kind = how == L7_DENY_ANSWER ? L7_FLOW_ANSWERED : L7_FLOW_ANSWER_DUE;
		return how == L7_DENY_ANSWER ? l7_answer(skb, p, f, dir) : TC_ACT_SHOT;
	}
	f->kind = L7_FLOW_RESET;
	return l7_reset(skb, p, l7_cli_to_srv(&f->ofs, start), f->tcp & L7_TCP_SRV_SEEN ? f->srv_nxt : p->ack, dir);
}

/* a client packet while the answer to a denied request waits for the responses before it:
 * the one that acknowledges their end carries the answer. nothing of the client's reaches
 * the server but control segments (acknowledgements let the responses go on) */
static __always_inline int l7_answer_due(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir)
{
	int due;

	if (f->tcp & L7_TCP_CLOSED) {
		/* the server's side is gone: nothing is owed */
		if (p->payload_len && !(p->flags & L7_TH_RST))
			return l7_drop(skb, p, dir, f, L7_REASON_FLOW_DENIED);
		return TC_ACT_OK;
	}
	/* the packet acknowledges the end of the responses owed: the answer goes with it */
	due = l7_resp_idle(f) && (p->flags & L7_TH_ACK) && !l7_before(p->ack, f->rs.end) && !(p->flags & L7_TH_RST);
	/* the answer can no longer go after the responses (or, stage 3, it would acknowledge client
	 * bytes the server never acknowledged): a reset instead */
	if (f->rs.st == R_LOST || (f->tcp & L7_TCP_SRV_FIN) || (due && (f->ofs.on & OFS_DUE) && !l7_keep_due_ok(f))) {
		f->kind = L7_FLOW_RESET;
		l7_ev_send(skb, p, dir, f->local_id, f->peer_id, f->rule, L7_EV_ANSWER, L7_VERDICT_RESET, f->ans_reason);
		return l7_reset(skb, p, l7_cli_to_srv(&f->ofs, f->ans_rst), f->srv_nxt, dir);
	}
	if (due) {
		l7_ev_send(skb, p, dir, f->local_id, f->peer_id, f->rule, L7_EV_ANSWER, L7_VERDICT_ANSWERED, f->ans_reason);
		if (f->ofs.on & OFS_DUE) {
			/* stage 3: the connection goes on */
			f->kind = L7_FLOW_L7;
			l7_ofs_insert(f);
			return l7_answer_keep(skb, p, f, dir);
		}
		f->kind = L7_FLOW_ANSWERED;
		return l7_answer(skb, p, f, dir);
	}
	if (p->payload_len && !(p->flags & L7_TH_RST))
		return l7_drop(skb, p, dir, f, L7_REASON_FLOW_DENIED);
	l7_tcp_client_ctl(f, p);
	return TC_ACT_OK;
}

/* urgent data on an inspected stream: the receiver takes the urgent byte out of the
 * stream (no SO_OOBINLINE) and every later byte moves; the connection is reset */
static __always_inline int l7_urgent(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir)
{
	f->kind = L7_FLOW_RESET;
	l7_ev_send(skb, p, dir, f->local_id, f->peer_id, f->rule, L7_EV_DROP, L7_VERDICT_RESET, L7_REASON_URGENT_DATA);
	return l7_reset(skb, p, l7_cli_to_srv(&f->ofs, f->next_seq), f->tcp & L7_TCP_SRV_SEEN ? f->srv_nxt : p->ack, dir);
}

/* a client segment with bytes of the latest cut (the denied request sent again): its answer
 * again. with earlier bytes joined to them the server may lack those, but must not read the cut
 * ones: a reset */
static __always_inline int l7_cut_resent(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir)
{
	/* a segment the receiver would discard gets nothing: the answer's acknowledgement to the
	 * server carries this one's */
	__u16 why = l7_tcp_accepts(skb, f, p, dir);

	if (why)
		return l7_drop(skb, p, dir, f, why);
	if (!l7_before(p->seq, f->ofs.cut_lo))
		return l7_answer_keep(skb, p, f, dir);
	f->kind = L7_FLOW_RESET;
	l7_ev_send(skb, p, dir, f->local_id, f->peer_id, f->rule, L7_EV_DROP, L7_VERDICT_RESET, L7_REASON_RETRANSMISSION_DIFFERS);
	return l7_reset(skb, p, l7_cli_to_srv(&f->ofs, p->seq), f->srv_nxt, dir);
}

/* client packets of an l7 flow */
static __always_inline int l7_client(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir,
				     const struct l7_flow_key *key)
{
	if (p->proto != IPPROTO_TCP)
		return l7_drop(skb, p, dir, f, L7_REASON_UNSUPPORTED);
	if (f->tcp & L7_TCP_CLOSED) {
		/* over: client bytes reach no one (whatever flags they carry) */
		if (p->payload_len && !(p->flags & L7_TH_RST))
			return l7_drop(skb, p, dir, f, L7_REASON_FLOW_CLOSED);
		return TC_ACT_OK;
	}
	if (p->flags & L7_TH_URG)
		return l7_urgent(skb, f, p, dir);
	if (p->payload_len == 0 || (p->flags & L7_TH_RST)) {
		/* a reset's payload never reaches the application: not judged, not counted */
		l7_tcp_client_ctl(f, p);
		return TC_ACT_OK;
	}
	if (f->tcp & L7_TCP_CLI_FIN)
		return l7_drop(skb, p, dir, f, L7_REASON_FLOW_CLOSED);
	if ((f->ofs.on & OFS_ON) && l7_after(p->seq + p->payload_len, f->ofs.cut_lo) && l7_before(p->seq, f->ofs.cut_hi))
		return l7_cut_resent(skb, f, p, dir);
	return l7_stream(skb, f, p, dir, key);
}

/* "HTTP/1.1" and " 101 " as little-endian words */
#define L7_HTTP11_LE 0x312e312f50545448ULL
#define L7_SP101SP_LE 0x2031303120ULL

/* the server's answer to an allowed websocket handshake (h1.st == H_UPGRADE): a server packet
 * with payload, before l7_tcp_reply moves srv_nxt past it. the handshake was the connection's
 * first request, so only bytes at the server's first sequence number (srv_nxt while the server
 * has sent nothing) are its answer: "HTTP/1.1 101 " there makes the connection opaque (ALLOW:
 * its bytes pass both ways). anything else (another status, a first segment under 13 bytes, a
 * segment elsewhere: after a hole, a retransmission, a syn or rst) is a refusal: the next
 * request is framed as usual. a frame of its own: its buffer stays off the main program's stack */
static __attribute__((noinline)) void l7_upgrade_answer(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p)
{
	__u64 w[2] = {};

	/* and it acknowledges the whole handshake: a 101 forged from off the path must know
	 * both ends' sequence numbers */
	if ((f->tcp & (L7_TCP_SRV_SEEN | L7_TCP_SRV_SENT)) == L7_TCP_SRV_SEEN && p->seq == f->srv_nxt &&
	    !(p->flags & (L7_TH_SYN | L7_TH_RST)) && (p->flags & L7_TH_ACK) && p->ack == f->next_seq &&
	    p->payload_len >= 13 &&
	    !bpf_skb_load_bytes(skb, p->payload_off, w, 13) && w[0] == L7_HTTP11_LE &&
	    (w[1] & 0xffffffffffULL) == L7_SP101SP_LE) {
		/* h2c: HTTP/2 from the client's next byte, its preface first (l7_http2_scan.h) */
		if (f->h1.flags & HF_H2C)
			f->h1.st = H_H2_UPG;
		else
			f->kind = L7_FLOW_ALLOW;
		return;
	}
	l7_h1_done(&f->h1);
}

/* source validation: a packet entering from an endpoint's interface carries one of
 * the endpoint's addresses (the deploy fills `ifaces`; an interface without an
 * entry, as in test runs, is not checked) */
static __always_inline int l7_source_ok(struct __sk_buff *skb, const struct l7_pkt *p)
{
	__u32 ifindex = skb->ifindex;
	struct l7_iface *e = bpf_map_lookup_elem(&ifaces, &ifindex);

	if (!e)
		return 1;
#pragma unroll
	for (int i = 0; i < L7_IFACE_ADDRS; i++) {
		const __u32 *a = (const __u32 *)e->addr[i], *b = (const __u32 *)p->saddr;

		if (i >= e->n)
			break;
		if (a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3])
			return 1;
	}
	return 0;
}

/* a flow decided by another policy object (deploy swapped objects, the flows map
 * was reused): its rule bits and dfa states are numbered by that object. re-decide
 * as at the syn; an l7 flow keeps its stream only where no dfa state is live (between
 * requests, or in a body). returns -1 to go on with the packet, else the action. */
static __attribute__((noinline)) int l7_repolicy(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir,
				       struct l7_flow *f)
{
	struct l7_scratch *sc = l7_scratch_get();
	/* an http/2 connection is never idle: its table holds the other object's dfa states */
	int idle = (f->h1.st == H_METHOD && f->h1.hdr_len == 0) || (f->h1.st >= H_BODY && f->h1.st < H_H2_NEW);
	struct l7_conn_q *qp;

	if (f->kind >= L7_FLOW_RESET) {
		/* the connection is over (or its answer is due) whatever the policy says */
		f->policy = L7_POLICY_ID;
		return -1;
	}
	if (!sc)
		return TC_ACT_SHOT;
	qp = &sc->q;	/* in scratch: the stack is too small */
	__builtin_memset(qp, 0, sizeof(*qp));
	l7_ask(qp, p, dir);
	if (qp->kind == L7_FLOW_L7 && !(f->kind == L7_FLOW_L7 && idle)) {
		/* the framer cannot join a stream mid-way: fail closed */
		qp->kind = L7_FLOW_DENY;
		qp->reason = L7_REASON_NO_FLOW_STATE;
	}
	if (qp->kind == L7_FLOW_DENY) {
		l7_ev_conn(skb, p, dir, qp, l7_deny_verdict(qp->audit), qp->reason);
		/* audit: it passes, no longer judged */
		if (qp->audit)
			qp->kind = L7_FLOW_ALLOW;
	} else {
		l7_ev_conn(skb, p, dir, qp, L7_VERDICT_FORWARDED, L7_REASON_NONE);
	}
	f->kind = qp->kind;
	f->local_id = qp->local_id;
	f->peer_id = qp->peer_id;
	f->rule = qp->rule;
	f->policy = L7_POLICY_ID;
	f->audit = qp->audit;
#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++)
		f->l7rules[w] = qp->rules[w];
	return qp->kind == L7_FLOW_DENY ? TC_ACT_SHOT : -1;
}

/* a syn on a tuple with a flow: a new connection only once the old one is over. on a
 * live l7 flow a syn moves nothing (the receiver answers it with a challenge ack,
 * RFC 5961): it is dropped, but for the client's own syn sent again. */
static __always_inline int l7_syn_on_flow(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir)
{
	/* a connection whose answer is due is live: the server holds it */
	if ((f->kind != L7_FLOW_L7 && f->kind != L7_FLOW_ANSWER_DUE) || (f->tcp & L7_TCP_CLOSED))
		return L7_GO_ON;	/* decided anew */
	if (dir == f->dir && p->seq + 1 == f->base && !p->payload_len)
		return TC_ACT_OK;
	return l7_drop(skb, p, dir, f, L7_REASON_SYN_ON_FLOW);
}

/* a reply: passes, never judged. a reset connection is over for both ends (as the simulator
 * has it), but a reply-direction rst passes: it is the one we injected towards the client,
 * re-entering through this veth. so does an answered connection's answer. */
static __always_inline int l7_reply(struct __sk_buff *skb, struct l7_flow *f, struct l7_pkt *p, __u8 dir)
{
	int seen;

	/* a stage-3 answer on its way to the client: in the client's view already */
	if (skb->mark == L7_MARK_ANSWER) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	if ((f->ofs.on & OFS_ON) && p->proto == IPPROTO_TCP &&
	    (f->kind == L7_FLOW_L7 || f->kind == L7_FLOW_ANSWER_DUE || f->kind == L7_FLOW_ALLOW) && l7_ofs_server(skb, f, p))
		return TC_ACT_SHOT;
	if (f->kind == L7_FLOW_RESET && !(p->flags & L7_TH_RST))
		return l7_drop(skb, p, dir, f, L7_REASON_FLOW_DENIED);
	if (f->kind == L7_FLOW_ANSWERED) {
		if ((p->flags & L7_TH_RST) || (p->seq == f->rs.end && (p->flags & L7_TH_FIN) &&
		    p->payload_len == l7_answer_len(f)))
			return TC_ACT_OK;
		return l7_drop(skb, p, dir, f, L7_REASON_FLOW_DENIED);
	}
	if ((f->kind != L7_FLOW_L7 && f->kind != L7_FLOW_ANSWER_DUE) || p->proto != IPPROTO_TCP)
		return TC_ACT_OK;
	/* before l7_tcp_reply: it moves srv_nxt past this packet */
	if (f->h1.st == H_UPGRADE && p->payload_len && f->kind == L7_FLOW_L7)
		l7_upgrade_answer(skb, f, p);
	seen = f->tcp & L7_TCP_SRV_SEEN;
	f->ofs.srv_win = p->win;
	l7_tcp_reply(f, p);
	if (!seen && (f->tcp & L7_TCP_SRV_SEEN)) {
		/* the server's first byte follows its isn */
		f->rs.seq = p->seq + 1;
		f->rs.end = f->rs.seq;
	} else if (seen && p->payload_len && (f->rs.flags & RF_ON)) {
		l7_resp_walk(skb, f, p);
	}
	return TC_ACT_OK;
}

static __always_inline int l7_handle(struct __sk_buff *skb, __u32 dir)
{
	struct l7_flow_key k;
	struct l7_flow *f;
	struct l7_pkt p;
	int act;

	if (!skb)
		return TC_ACT_OK;
	if (l7_parse(skb, &p))
		return TC_ACT_OK;	/* not ip: not ours to judge */
	l7_key(&k, &p, dir);
	/* no flow state for these: judged alone (and link-local neighbour discovery passes) */
	if (p.odd || (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP))
		return l7_new_flow(skb, &p, dir, &k);
	f = l7_flow_find(&k);
	/* source validation, once per flow: a packet of a flow opened on this interface
	 * carries its endpoint's address (the flow's key holds it) */
	if (dir == L7_DIR_EGRESS && (!f || f->ifindex != skb->ifindex) && !l7_source_ok(skb, &p)) {
		l7_ev_send(skb, &p, dir, 0, 0, -1, L7_EV_DROP, L7_VERDICT_DROPPED, L7_REASON_SPOOFED_SOURCE);
		return TC_ACT_SHOT;
	}
	act = L7_GO_ON;
	if (f && p.proto == IPPROTO_TCP && (p.flags & (L7_TH_SYN | L7_TH_ACK)) == L7_TH_SYN)
		act = l7_syn_on_flow(skb, f, &p, dir);
	if (act != L7_GO_ON)
		return act;
	if (!f || (p.proto == IPPROTO_TCP && (p.flags & (L7_TH_SYN | L7_TH_ACK)) == L7_TH_SYN)) {
		act = l7_new_flow(skb, &p, dir, &k);
		if (act != L7_GO_ON)
			return act;
		/* fast open: the syn's data is judged like any client bytes, below */
		f = bpf_map_lookup_elem(&l7flows, &k);
		if (!f)
			return TC_ACT_SHOT;
	} else if (f->dir != dir) {
		return l7_reply(skb, f, &p, dir);
	} else if (f->policy != L7_POLICY_ID) {
		act = l7_repolicy(skb, &p, dir, f);
		if (act >= 0)
			return act;
	}
	switch (f->kind) {
	case L7_FLOW_ALLOW:
		act = TC_ACT_OK;
		break;
	case L7_FLOW_L7:
		act = l7_client(skb, f, &p, dir, &k);
		break;
	case L7_FLOW_ANSWER_DUE:
		act = l7_answer_due(skb, f, &p, dir);
		break;
	case L7_FLOW_ANSWERED:
		/* the client's acknowledgements and fin reach the server's host, which resets
		 * them: the client's side closes */
		if (!p.payload_len || (p.flags & L7_TH_RST))
			return TC_ACT_OK;
		return l7_drop(skb, &p, dir, f, L7_REASON_FLOW_DENIED);
	default:
		return l7_drop(skb, &p, dir, f, L7_REASON_FLOW_DENIED);
	}
	if (act == L7_SENT)
		return TC_ACT_OK;
	/* stage 3's offsets, on what goes on as the client sent it (not on a reset or a stage-2
	 * answer, written in the server's space) */
	if (act == TC_ACT_OK && (f->ofs.on & OFS_ON) &&
	    (f->kind == L7_FLOW_L7 || f->kind == L7_FLOW_ANSWER_DUE || f->kind == L7_FLOW_ALLOW))
		return l7_ofs_client(skb, f, &p);
	return act;
}

SEC("tc")
int l7_from_pod(struct __sk_buff *skb)
{
	return l7_handle(skb, L7_DIR_EGRESS);
}

SEC("tc")
int l7_to_pod(struct __sk_buff *skb)
{
	return l7_handle(skb, L7_DIR_INGRESS);
}
