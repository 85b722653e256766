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
#include "l7_scan.h"
#include "l7_reset.h"

_Static_assert(L7_NUM_SELECTORS <= L7_MAX_SELECTORS, "too many selectors");
_Static_assert(L7_NUM_HTTP_RULES <= L7_MAX_HTTP_RULES, "too many http rules");
_Static_assert(L7_NUM_HDR_REQS <= L7_MAX_HEADER_REQS, "too many header requirements");
_Static_assert(L7_INGRESS_NUM_ENTRIES <= L7_MAX_PORT_ENTRIES, "too many ingress entries");
_Static_assert(L7_EGRESS_NUM_ENTRIES <= L7_MAX_PORT_ENTRIES, "too many egress entries");

char LICENSE[] SEC("license") = "GPL";

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

/* a dropped syn ends what the tuple was before (port reuse, or the other end opening it):
 * its later packets are judged alone, not by the old entry, as the simulator has it */
static __always_inline int l7_syn_denied(const struct l7_pkt *p, const struct l7_flow_key *key, int syn)
{
	if (syn && !p->odd)
		bpf_map_delete_elem(&flows, key);
	return TC_ACT_SHOT;
}

/* first packet of a flow (tcp syn, first udp datagram, or mid-stream) */
static __attribute__((noinline)) int l7_new_flow(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir,
						   const struct l7_flow_key *key)
{
	struct l7_conn_q q = {};
	struct l7_scratch *sc = l7_scratch_get();
	struct l7_flow *f;
	int syn = p->proto == IPPROTO_TCP && (p->flags & (L7_TH_SYN | L7_TH_ACK)) == L7_TH_SYN;

	l7_ask(&q, p, dir);
	if (q.kind == L7_FLOW_DENY) {
		l7_ev_conn(skb, p, dir, &q, L7_VERDICT_DROPPED, q.reason);
		return l7_syn_denied(p, key, syn);
	}
	/* no l4 header, or l7 rules without the stream from its start: fail closed */
	if (q.kind == L7_FLOW_L7 && (p->odd || p->proto != IPPROTO_TCP || !syn || p->payload_len)) {
		l7_ev_conn(skb, p, dir, &q, L7_VERDICT_DROPPED, p->odd ? L7_REASON_UNSUPPORTED : L7_REASON_NO_FLOW_STATE);
		return l7_syn_denied(p, key, syn);
	}
	l7_ev_conn(skb, p, dir, &q, L7_VERDICT_FORWARDED, L7_REASON_NONE);
	/* only a syn opens tcp state: a mid-stream packet (or a syn-ack nobody asked
	 * for) is judged alone, so it cannot make the peer's packets look like replies */
	if (p->odd || (p->proto == IPPROTO_TCP && !syn))
		return TC_ACT_OK;
	if (!sc)
		return TC_ACT_SHOT;
	f = &sc->nf;	/* built in scratch: the stack is too small */
	__builtin_memset(f, 0, sizeof(*f));
	f->kind = q.kind;
	f->family = p->family;
	f->dir = dir;
	f->local_id = q.local_id;
	f->peer_id = q.peer_id;
	f->rule = q.rule;
	f->policy = L7_POLICY_ID;
	f->next_seq = p->seq + 1;
#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++)
		f->l7rules[w] = q.rules[w];
	l7_h1_next(&f->h1);
	bpf_map_update_elem(&flows, key, f, BPF_ANY);
	return TC_ACT_OK;
}

/* client bytes of an l7 flow: the stream rule, then the framer */
static __always_inline int l7_stream(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p, __u8 dir)
{
	struct l7_scan_ctx c = { .skb = skb, .f = f };
	struct l7_scratch *sc;
	__u32 start, fresh;

	if (p->payload_len == 0)
		return TC_ACT_OK;
	if ((__s32)(p->seq - f->next_seq) > 0)
		return l7_drop(skb, p, dir, f, L7_REASON_STREAM_HOLE);
	if ((__s32)(p->seq + p->payload_len - f->next_seq) <= 0)
		return TC_ACT_OK;	/* pure retransmission of inspected bytes */
	start = f->next_seq;
	fresh = p->seq + p->payload_len - start;
	/* content-length body bytes only: pass them without scanning (what
	 * l7_skip_body would do, minus the setup) */
	if (f->h1.st == H_BODY && fresh <= f->h1.clen) {
		f->next_seq = start + fresh;
		f->h1.clen -= fresh;
		if (f->h1.clen == 0)
			l7_h1_done(&f->h1);
		return TC_ACT_OK;
	}
	sc = l7_scratch_get();
	if (!sc)
		return TC_ACT_SHOT;
	c.sc = sc;
	sc->pkt = *p;
	sc->dir = dir;
	sc->payload_off = p->payload_off;
	sc->pkt_seq = p->seq;
	sc->ev_seq = p->seq;
	sc->off = p->payload_off + (start - p->seq);
	sc->end = p->payload_off + p->payload_len;
	sc->seq = start;
	sc->stop = 0;
	sc->reason = L7_REASON_NONE;
	sc->http_rule = -1;
	bpf_loop(L7_MAX_PAYLOAD, l7_scan_cb, &c, 0);
	f->next_seq = sc->seq;
	if (!sc->stop)
		return TC_ACT_OK;
	f->kind = L7_FLOW_RESET;
	l7_emit_req(skb, f, sc, sc->payload_off + (f->h1.req_seq - sc->pkt_seq));
	return l7_reset(skb, p, start);
}

/* a flow decided by another policy object (deploy swapped objects, the flows map
 * was reused): its rule bits and dfa states are numbered by that object. re-decide
 * as at the syn; an l7 flow keeps its stream only where no dfa state is live (between
 * requests, or in a body). returns -1 to go on with the packet, else the action. */
static __attribute__((noinline)) int l7_repolicy(struct __sk_buff *skb, const struct l7_pkt *p, __u8 dir,
				       struct l7_flow *f)
{
	struct l7_conn_q q = {};
	int idle = (f->h1.st == H_METHOD && f->h1.hdr_len == 0) || f->h1.st >= H_BODY;

	if (f->kind == L7_FLOW_RESET) {
		/* the connection is over whatever the policy says */
		f->policy = L7_POLICY_ID;
		return -1;
	}
	l7_ask(&q, p, dir);
	if (q.kind == L7_FLOW_L7 && !(f->kind == L7_FLOW_L7 && idle)) {
		/* the framer cannot join a stream mid-way: fail closed */
		q.kind = L7_FLOW_DENY;
		q.reason = L7_REASON_NO_FLOW_STATE;
	}
	f->kind = q.kind;
	f->local_id = q.local_id;
	f->peer_id = q.peer_id;
	f->rule = q.rule;
	f->policy = L7_POLICY_ID;
#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++)
		f->l7rules[w] = q.rules[w];
	if (q.kind == L7_FLOW_DENY) {
		l7_ev_conn(skb, p, dir, &q, L7_VERDICT_DROPPED, q.reason);
		return TC_ACT_SHOT;
	}
	l7_ev_conn(skb, p, dir, &q, L7_VERDICT_FORWARDED, L7_REASON_NONE);
	return -1;
}

static __always_inline int l7_handle(struct __sk_buff *skb, __u32 dir)
{
	struct l7_flow_key k;
	struct l7_flow *f;
	struct l7_pkt p;

	if (!skb)
		return TC_ACT_OK;
	if (l7_parse(skb, &p))
		return TC_ACT_OK;	/* not ip: not ours to judge */
	l7_key(&k, &p, dir);
	if (p.odd || (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP))
		return l7_new_flow(skb, &p, dir, &k);
	f = bpf_map_lookup_elem(&flows, &k);
	if (!f)
		return l7_new_flow(skb, &p, dir, &k);
	/* a fresh syn re-decides (port reuse, from either end; policy swap) */
	if (p.proto == IPPROTO_TCP && (p.flags & (L7_TH_SYN | L7_TH_ACK)) == L7_TH_SYN)
		return l7_new_flow(skb, &p, dir, &k);
	if (f->dir != dir) {
		/* a reply: passes, never judged. a reset connection is over for both ends (as
		 * the simulator has it), but a reply-direction rst passes: it is the one we
		 * injected towards the client, re-entering through tc ingress of this veth */
		if (f->kind == L7_FLOW_RESET && !(p.flags & L7_TH_RST))
			return l7_drop(skb, &p, dir, f, L7_REASON_FLOW_DENIED);
		return TC_ACT_OK;
	}
	if (f->policy != L7_POLICY_ID) {
		int act = l7_repolicy(skb, &p, dir, f);

		if (act >= 0)
			return act;
	}
	switch (f->kind) {
	case L7_FLOW_ALLOW:
		return TC_ACT_OK;
	case L7_FLOW_L7:
		if (p.proto != IPPROTO_TCP)
			return l7_drop(skb, &p, dir, f, L7_REASON_UNSUPPORTED);
		return l7_stream(skb, f, &p, dir);
	default:
		return l7_drop(skb, &p, dir, f, L7_REASON_FLOW_DENIED);
	}
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
