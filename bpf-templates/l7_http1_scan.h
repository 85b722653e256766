/* walks a segment's new bytes through the http/1 framer, chunk by chunk */
#ifndef L7_HTTP1_SCAN_H
#define L7_HTTP1_SCAN_H

#include "l7_http1.h"
#include "l7_http1_resp.h"
#include "l7_events.h"
#include "l7_ratelimit.h"

/* http rule allowing the completed request head, or -1; with rate limits, flagged as
 * l7_rl_judge says (L7_RL_*). global: verified once, not once per byte position. */
__attribute__((noinline)) int l7_decide_req(struct l7_flow *f)
{
	struct l7_h1 *h;
	__u32 m, p, o;
	__u64 sat;
	int r;

	if (!f)
		return -1;
	h = &f->h1;
	/* a field no rule names is not stepped: its start state accepts every rule */
	m = L7_NEED_METHOD ? h->mst : L7_DFA_START;
	p = L7_NEED_PATH ? h->pst : L7_DFA_START;
	/* no Host: only rules without a host field can match (the dead state
	 * accepts exactly those) */
	o = !L7_NEED_HOST ? L7_DFA_START : (h->flags & HF_HOST) ? h->hcommit : L7_DFA_DEAD;
	/* presence: any occurrence; with a value: exactly one occurrence, with it */
	sat = (h->hseen & ~L7_HDR_VALUED) | (h->hval & ~h->hdup & L7_HDR_VALUED);
	if (!L7_NUM_RL)
		return l7_first_rule(f->l7rules, l7_h1_rules, m, p, o, sat);
	r = l7_first_rule(f->l7rules, l7_h1_free, m, p, o, sat);
	return r >= 0 ? r : l7_rl_judge(f, m | p << 16, o, sat);
}

/* the request line's start when it began in an earlier packet: its bytes are in the
 * flow's ring (l7_tcp.h), copied there before the scan; returns how many were copied */
static __always_inline __u32 l7_line_from_ring(const struct l7_flow *f, struct l7_scratch *sc, __u8 *line)
{
	__u32 seq = f->h1.req_seq, end = sc->pkt_seq + (sc->end - sc->payload_off), n = end - seq;
	const struct l7_ring *r;

	/* older than the ring holds, or copied before a ring existed */
	if ((__s32)(seq - (end - L7_RING_BYTES)) < 0 || (__s32)(seq - f->ring_lo) < 0 || (__s32)n <= 0)
		return 0;
	r = l7_ring_of(f);
	if (!r)
		return 0;
	if (n > EVENT_LINE_BYTES)
		n = EVENT_LINE_BYTES;
	for (__u32 i = 0; i < EVENT_LINE_BYTES; i++) {
		if (i >= n)
			break;
		line[i] = r->b[(seq + i) & (L7_RING_BYTES - 1)];
	}
	return n;
}

/* allowed-request event; copies the request line start (from the skb, or from the ring
 * when the line began in an earlier packet) */
__attribute__((noinline)) int l7_emit_req(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc, __u32 req_off)
{
	struct l7_event *ev;
	__u32 n;

	if (!skb || !f || !sc)
		return 0;
	ev = l7_ev_open(skb, &sc->pkt, sc->dir, f->local_id, f->peer_id, f->rule, sc->ev_seq);
	if (!ev)
		return 0;
	if (req_off >= sc->payload_off && req_off < sc->end) {
		n = sc->end - req_off;
		if (n > EVENT_LINE_BYTES)
			n = EVENT_LINE_BYTES;
		/* n is in [1, 64]; the asm mask keeps that visible to the verifier */
		n -= 1;
		asm volatile("%0 &= 63" : "+r"(n));
		n += 1;
		if (!bpf_skb_load_bytes(skb, req_off, ev->line, n))
			ev->line_len = n;
	} else {
		ev->line_len = l7_line_from_ring(f, sc, ev->line);
	}
	ev->http_rule = sc->http_rule;
	/* the index its response will carry (l7_resp_expect counts it after this event) */
	ev->msg = f->rs.reqs;
	l7_ev_submit(ev, L7_EV_HTTP, sc->deny_verdict, sc->reason);
	return 0;
}


/* the verifier tracks a loop's exit count exactly, so code after a loop is verified once
 * per possible count; a round trip through scratch memory (map values are not tracked)
 * leaves one unknown value, and the code after it is verified once */
static __always_inline __u32 l7_forget(struct l7_scratch *sc, __u32 n)
{
	sc->forget = n;
	asm volatile("" ::: "memory");
	return sc->forget;
}

/* byte k of the run starting at i; the mask keeps the index inside buf */
#define L7_RUN_BYTE(sc, i, k)                                                         \
	({                                                                            \
		__u32 _j = (i) + (k);                                                 \
		asm volatile("%0 &= %1" : "+r"(_j) : "i"(L7_CHUNK - 1));             \
		(sc)->buf[_j];                                                        \
	})

/* up to L7_CHUNK payload bytes at sc->off into sc->buf; their count (0: the load failed,
 * the scan stops) */
static __always_inline __u32 l7_load_chunk(struct __sk_buff *skb, struct l7_scratch *sc)
{
	__u32 len = sc->end - sc->off;

	if (len > L7_CHUNK)
		len = L7_CHUNK;
	/* len - 1 masked in asm so clang cannot drop the bound: len is in [1, L7_CHUNK] */
	len -= 1;
	asm volatile("%0 &= %1" : "+r"(len) : "i"(L7_CHUNK - 1));
	len += 1;
	sc->used = 0;
	if (bpf_skb_load_bytes(skb, sc->off, sc->buf, len)) {
		sc->stop = 1;
		sc->reason = L7_REASON_UNSUPPORTED;
		return 0;
	}
	return len;
}

#include "l7_http2_scan.h"

/* the fast runs: a build with L7_FAST_RUNS 0 steps every byte through the full framer
 * (test/kernel/fast-paths.test.ts compares the two) */
#ifndef L7_FAST_RUNS
#define L7_FAST_RUNS 1
#endif
#if L7_FAST_RUNS
#include "l7_http1_runs.h"
#endif

/* the body of a content-length request or of a chunk: skipped in one step */
static __always_inline int l7_skip_body(struct l7_h1 *h, struct l7_scratch *sc)
{
	__u32 avail = sc->end - sc->off;
	__u64 n = h->clen < avail ? h->clen : avail;

	sc->off += n;
	sc->seq += n;
	h->clen -= n;
	if (h->clen == 0) {
		if (h->st == H_BODY)
			l7_h1_done(h);
		else
			h->st = H_CHUNK_DATA_CR;
	}
	return sc->off >= sc->end;
}

/* one byte through the full step; returns 1 to end the chunk */
static __always_inline int l7_slow_byte(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc, __u8 c)
{
	struct l7_h1 *h = &f->h1;
	__u16 reason = L7_REASON_NONE, why;
	int r = l7_h1_byte(h, c, &reason), rule;

	if (r == STEP_OK)
		return 0;
	if (r == STEP_ERROR) {
		sc->reason = reason;
		sc->stop = 1;
		return 1;
	}
	if (r == STEP_H2) {
		/* "PRI " at the stream's start, nothing before it (the simulator's sniffing, and an
		 * http/2 server's: a CR or LF first is no preface): the http/2 preface */
		if (h->hdr_len != 4 || sc->seq + sc->used - 4 != f->base) {
			sc->stop = 1;
			sc->reason = L7_REASON_UNKNOWN_METHOD;
			return 1;
		}
		h->st = H_H2_NEW;
		return 1;
	}
	if (r != STEP_HEAD_DONE)
		return 1;	/* STEP_BODY: the next step skips it */
	/* a websocket handshake only as the connection's first request (its head, with the CR
	 * and LF bytes before it, starts at base): the server's first bytes are then its answer
	 * (l7_upgrade_answer) */
	if ((h->flags & HF_UPGRADE) && sc->seq + sc->used - h->hdr_len != f->base) {
		sc->stop = 1;
		sc->reason = L7_REASON_UPGRADE;
		return 1;
	}
	r = l7_decide_req(f);
	rule = l7_rl_split(r, &why);
	sc->http_rule = rule;
	if (rule < 0 || (r & L7_RL_LIMITED)) {
		if (!f->audit) {
			sc->stop = 1;
			sc->reason = why;
			return 1;
		}
		/* audit: reported, and judged on as if allowed */
		sc->deny_verdict = L7_VERDICT_AUDIT;
	}
	sc->reason = why;	/* a shadow limit's pass is reported */
	l7_emit_req(skb, f, sc, sc->payload_off + (h->req_seq - sc->pkt_seq));
	sc->reason = L7_REASON_NONE;
	sc->deny_verdict = L7_VERDICT_FORWARDED;
	l7_resp_expect(f, !(h->flags & HF_NOT_HEAD));
	return l7_h1_after_head(h) == STEP_BODY;
}

/* one position of the chunk at sc->used: a fast run or one byte through the full
 * step; advances sc->used, returns 1 to end the chunk. global: the chunk loop then
 * verifies a call per position, not the dispatch, decision and event code. a run
 * that ends the method or the request line does not call the next one (the target,
 * the header lines): the next position's call does, so no run nests in another and
 * the deepest call chain stays within 512 bytes where a frame takes 32 (6.1;
 * docs/datapath.md, kernels) */
__attribute__((noinline)) int l7_scan_one(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc, __u32 len)
{
	struct l7_h1 *h;
	__u32 i, n;

	if (!skb || !f || !sc)
		return 1;
	h = &f->h1;
	i = sc->used;
	if ((h->st == H_METHOD && h->pos == 0) || h->st == H_CLOSED) {
		/* a request starts here (after a closing message: the bytes that may not);
		 * set again after each CR or LF skipped before it, so the event's line
		 * starts at the method */
		h->req_seq = sc->seq + i;
		sc->ev_seq = h->req_seq;
		if (h->st == H_CLOSED)
			sc->http_rule = -1;
	}
#if L7_FAST_RUNS
	/* whole ordinary header lines first (l7_run_lines) */
	n = h->st == H_LINE_START ? l7_run_lines(h, sc, i, l7_run_lim(h, i, len)) : 0;
	if (!n)
		n = l7_run(h, sc, i, len);
#else
	/* len is not read then: keep it an argument the callers set (the verifier checks
	 * a global function's arguments against its BTF) */
	asm volatile("" ::"r"(len));
	n = 0;
#endif
	if (n) {
		h->hdr_len += n;
		sc->used = i + n;
		return 0;
	}
	sc->used = i + 1;
	return l7_slow_byte(skb, f, sc, L7_RUN_BYTE(sc, i, 0));
}

/* one scan step, bpf_loop's callback: skip a body, or run up to L7_CHUNK bytes through
 * the framer. returns 1 when the segment is done or denied (sc->stop). the position
 * lives in sc->used (memory), so the verifier sees the same state at the loop head
 * whichever way (run or single byte) the last iteration went, and prunes. the step is
 * the callback itself, not a call from it: one frame less in the deepest chain */
static __attribute__((noinline)) long l7_scan_cb(__u32 idx, void *data)
{
	struct l7_scan_ctx *c = data;
	struct __sk_buff *skb = c->skb;
	struct l7_flow *f = c->f;
	struct l7_scratch *sc = c->sc;
	struct l7_h1 *h;
	__u32 len;

	h = &f->h1;
	if (h->st >= H_H2_NEW)
		return l7_h2_scan(c);
	if (sc->off >= sc->end)
		return 1;
	if (h->st == H_BODY || h->st == H_CHUNK_DATA)
		return l7_skip_body(h, sc);
	len = l7_load_chunk(skb, sc);
	if (!len)
		return 1;
	for (int k = 0; k < L7_CHUNK; k++) {
		if (sc->used >= len || l7_scan_one(skb, f, sc, len))
			break;
	}
	sc->off += sc->used;
	sc->seq += sc->used;
	return sc->stop || sc->off >= sc->end;
}

#endif
