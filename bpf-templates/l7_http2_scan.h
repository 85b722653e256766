/* walks a segment's new bytes of an http/2 connection (l7_http2.h), chunk by chunk: the
 * frame headers and field blocks octet by octet, other payloads skipped by length */
#ifndef L7_HTTP2_SCAN_H
#define L7_HTTP2_SCAN_H

#include "l7_http2.h"
#include "l7_events.h"

struct l7_scan_ctx {
	struct __sk_buff *skb;
	struct l7_flow *f;
	struct l7_scratch *sc;
	const struct l7_flow_key *key;
	struct l7_h2 *x;	/* the flow's http/2 state, once looked up */
};

/* the flow's http/2 state; made when "PRI " opened the connection (the walk checks the rest
 * of the preface) or the server accepted an h2c upgrade (the whole preface follows; stream 1
 * is the upgrade request's). NULL when it cannot be made or was evicted */
static __always_inline struct l7_h2 *l7_h2_state(struct l7_scan_ctx *c)
{
	struct l7_h1 *h = &c->f->h1;
	int made = h->st == H_H2_NEW || h->st == H_H2_UPG;
	struct l7_h2 *x;

	if (c->x)
		return c->x;
	if (made && bpf_map_update_elem(&h2conns, c->key, &l7_h2_zero, BPF_ANY))
		return 0;
	x = bpf_map_lookup_elem(&h2conns, c->key);
	if (x && made) {
		x->pre = h->st == H_H2_NEW ? 4 : 0;
		x->maxstream = h->st == H_H2_NEW ? 0 : 1;
		x->tmax = L7_H2_TABLE;
		h->st = H_H2;
	}
	c->x = x;
	return x;
}

/* a stream's request event: its ":method :path" as decoded. without the http/2 state (x
 * NULL: evicted, NO_FLOW_STATE) the event names no stream, but is still the decision's report */
__attribute__((noinline)) int l7_emit_h2(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc,
					 struct l7_h2 *x)
{
	struct l7_event *ev;
	__u32 n;

	if (!skb || !f || !sc)
		return 0;
	ev = l7_ev_open(skb, &sc->pkt, sc->dir, f->local_id, f->peer_id, f->rule, sc->pkt_seq);
	if (!ev)
		return 0;
	ev->version = 2;
	if (x) {
		n = x->line_len;
		if (n > EVENT_LINE_BYTES)
			n = EVENT_LINE_BYTES;
		for (__u32 i = 0; i < EVENT_LINE_BYTES; i++) {
			if (i >= n)
				break;
			ev->line[i] = x->line[i];
		}
		ev->line_len = n;
		ev->stream = x->fstream;
	}
	ev->http_rule = sc->http_rule;
	l7_ev_submit(ev, L7_EV_HTTP, sc->deny_verdict, sc->reason);
	return 0;
}

/* what a step said: 1 ends the chunk (a payload to skip follows, or the scan stops) */
static __always_inline int l7_h2_after(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc,
				       struct l7_h2 *x, __u32 r)
{
	int rule, r2;
	__u16 why;

	switch (r & 0xff) {
	case H2_OK:
		return 0;
	case H2_DECIDE:
		/* a field block ended: judge its stream */
		r2 = l7_h2_decide(f, x);
		rule = l7_rl_split(r2, &why);
		sc->http_rule = rule;
		if (rule < 0 || (r2 & L7_RL_LIMITED)) {
			/* audit: a stream the rules deny (no rule, a rate limit) is reported and judged
			 * on as if allowed; a strict rule stops the scan (l7_audit_stop) */
			if (f->audit && (rule >= 0 || x->why == L7_REASON_L7_NO_RULE)) {
				sc->deny_verdict = L7_VERDICT_AUDIT;
			} else {
				sc->stop = 1;
				sc->reason = rule < 0 ? x->why : why;
				/* the stream's own fields, read whole: its answer can go on the stream (a
				 * block that could not be decoded leaves the tables unknown: the connection's) */
				sc->deny_stream = x->why != L7_REASON_H2_HPACK && x->why != L7_REASON_H2_BLOCK_TOO_LONG;
				return 1;
			}
		}
		sc->reason = why;	/* a shadow limit's pass is reported */
		l7_emit_h2(skb, f, sc, x);
		sc->reason = L7_REASON_NONE;
		sc->deny_verdict = L7_VERDICT_FORWARDED;
		return 0;
	case H2_ERROR:
		sc->stop = 1;
		sc->reason = r >> 8;
		return 1;
	default:	/* H2_SKIP: the next step skips by length */
		return 1;
	}
}

/* a decoded octet of a value some class dfa or checker reads (method, path, host, te):
 * a call of its own inside the runs, which then stay small for the verifier */
__attribute__((noinline)) int l7_h2_class_sym(struct l7_h2 *x, __u32 c)
{
	if (x)
		l7_h2_value_sym(x, c);
	return 0;
}

/* what a run does with a decoded octet: RUN_NAME, RUN_PLAIN (a value no class reads) inline,
 * RUN_CLASS by a call (small loop bodies keep the verifier's walk of the runs short) */
/* longest run per call: shorter than http/1's, the verifier walks each iteration of each kind */
#define L7_H2_RUN_MAX 16
#define RUN_NAME 0
#define RUN_PLAIN 1
#define RUN_CLASS 2

static __always_inline void l7_h2_run_sym(struct l7_h2 *x, __u8 c, int kind)
{
	if (kind == RUN_NAME)
		l7_h2_name_sym(x, c);
	else if (kind == RUN_PLAIN)
		l7_h2_plain_sym(x, c);
	else
		l7_h2_class_sym(x, c);
}

/* a run of string octets from position i that ends neither the string nor the frame's
 * fragment; returns the octets taken (0: none, the full step takes the next one). a
 * huffman octet that decodes EOS ends the run after it, the block then undecodable, as the
 * full step has it. global: verified once */
__attribute__((noinline)) __u32 l7_h2_run(struct l7_h2 *x, struct l7_scratch *sc, __u32 i, __u32 len)
{
	__u32 lim, n = 0, e, j;
	int kind;

	if (!x || !sc || x->pre < L7_H2_PREFACE || x->fst != F_FRAG || x->rst != RS_STR || x->herr || i >= len)
		return 0;
	kind = !x->part ? RUN_NAME : x->cur.cls == H2N_OTHER ? RUN_PLAIN : RUN_CLASS;
	if (x->sleft < 2 || x->frag < 2 || x->blen >= L7_INSPECT_WINDOW)
		return 0;
	lim = len - i;
	if (lim > x->sleft - 1)
		lim = x->sleft - 1;
	if (lim > x->frag - 1)
		lim = x->frag - 1;
	if (lim > L7_INSPECT_WINDOW - x->blen)
		lim = L7_INSPECT_WINDOW - x->blen;
	if (x->huff) {
		for (int k = 0; k < L7_H2_RUN_MAX; k++) {
			__u8 c = L7_RUN_BYTE(sc, i, k);

			if (k >= lim)
				break;
			n++;
			j = ((__u32)x->hnode << 4) | (c >> 4);
			asm volatile("%0 &= 4095" : "+r"(j));
			e = l7_huff[j];
			if (!((e >> 16) & L7_HUFF_FAIL)) {
				if ((e >> 16) & L7_HUFF_EMIT)
					l7_h2_run_sym(x, e & 0xff, kind);
				j = ((e >> 4) & 0xff0) | (c & 15);
				asm volatile("%0 &= 4095" : "+r"(j));
				e = l7_huff[j];
			}
			if ((e >> 16) & L7_HUFF_FAIL) {
				x->herr = 1;	/* EOS inside a string */
				break;
			}
			if ((e >> 16) & L7_HUFF_EMIT)
				l7_h2_run_sym(x, e & 0xff, kind);
			x->hnode = (e >> 8) & 0xff;
			x->hacc = ((e >> 16) & L7_HUFF_ACCEPT) != 0;
		}
	} else {
		for (int k = 0; k < L7_H2_RUN_MAX; k++) {
			if (k >= lim)
				break;
			l7_h2_run_sym(x, L7_RUN_BYTE(sc, i, k), kind);
			n++;
		}
	}
	n = l7_forget(sc, n);
	x->sleft -= n;
	x->frag -= n;
	x->left -= n;
	x->blen += n;
	return n;
}

/* one octet at sc->used through the step, and what it said: 1 ends the chunk (a payload
 * to skip follows, or the scan stops). global: the chunk loop verifies a call per position */
__attribute__((noinline)) int l7_h2_one(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc, struct l7_h2 *x, __u32 len)
{
	__u32 i, r, n;

	if (!skb || !f || !sc || !x)
		return 1;
	i = sc->used;
	/* a whole frame header in the chunk: read at once */
	if (x->pre >= L7_H2_PREFACE && x->fst == F_HEADER && x->fhn == 0 && i + 9 <= len) {
		for (int k = 0; k < 9; k++)
			x->fh[k] = L7_RUN_BYTE(sc, i, k);
		x->fseq = sc->seq + i;
		x->fseq_ok = 1;
		sc->used = i + 9;
		return l7_h2_after(skb, f, sc, x, l7_h2_frame_start(x));
	}
	n = l7_h2_run(x, sc, i, len);
	if (n) {
		sc->used = i + n;
		return 0;
	}
	sc->used = i + 1;
	r = l7_h2_step(x, L7_RUN_BYTE(sc, i, 0));
	return l7_h2_after(skb, f, sc, x, r);
}

/* one scan step of an http/2 connection (l7_scan_cb's, for these flows) */
static __always_inline long l7_h2_scan(struct l7_scan_ctx *c)
{
	struct l7_scratch *sc = c->sc;
	struct l7_h2 *x = l7_h2_state(c);
	__u32 len, n;

	if (!x) {
		sc->stop = 1;
		sc->reason = L7_REASON_NO_FLOW_STATE;
		return 1;
	}
	if (sc->off >= sc->end)
		return 1;
	if (x->pre >= L7_H2_PREFACE && (x->fst == F_SKIP || x->fst == F_PAD)) {
		n = sc->end - sc->off;
		if (n > x->left)
			n = x->left;
		sc->off += n;
		sc->seq += n;
		l7_h2_after(c->skb, c->f, sc, x, l7_h2_skip(x, n));
		return sc->stop || sc->off >= sc->end;
	}
	len = l7_load_chunk(c->skb, sc);
	if (!len)
		return 1;
	for (int k = 0; k < L7_CHUNK; k++) {
		if (sc->used >= len || l7_h2_one(c->skb, c->f, sc, x, len))
			break;
	}
	sc->off += sc->used;
	sc->seq += sc->used;
	return sc->stop || sc->off >= sc->end;
}

#endif
