/* walks a segment's new bytes through the http/1 framer, chunk by chunk */
#ifndef L7_SCAN_H
#define L7_SCAN_H

#include "l7_http1.h"
#include "l7_events.h"

/* http rule allowing the completed request head, or -1.
 * global: verified once, not once per byte position. */
__attribute__((noinline)) int l7_decide_req(struct l7_flow *f)
{
	struct l7_h1 *h;
	__u32 m, p, o, r;
	__u64 sat;

	if (!f)
		return -1;
	h = &f->h1;
	m = h->mst;
	p = h->pst;
	/* no Host: only rules without a host field can match (the dead state
	 * accepts exactly those) */
	o = (h->flags & HF_HOST) ? h->hcommit : L7_DFA_DEAD;
	/* presence: any occurrence; with a value: exactly one occurrence, with it */
	sat = (h->hseen & ~L7_HDR_VALUED) | (h->hval & ~h->hdup & L7_HDR_VALUED);
#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++) {
		__u64 bits = f->l7rules[w] & l7_h1_rules[w] & L7_DFA_ACCEPT(method, L7_METHOD, m, w, L7_RULE_WORDS) &
			     L7_DFA_ACCEPT(path, L7_PATH, p, w, L7_RULE_WORDS) &
			     L7_DFA_ACCEPT(host, L7_HOST, o, w, L7_RULE_WORDS);

		for (__u32 b = 0; b < 64 && bits; b++) {
			r = w * 64 + b;
			if (r >= L7_NUM_HTTP_RULES)
				break;
			if (((bits >> b) & 1) && (l7_rule_hdrs[r] & ~sat) == 0)
				return r;
		}
	}
	return -1;
}

/* allowed-request event; copies the request line start when it began in this skb */
__attribute__((noinline)) int l7_emit_req(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc, __u32 req_off)
{
	__u32 n;

	if (!skb || !f || !sc)
		return 0;
	l7_ev_scan(sc, skb, f);
	if (req_off >= sc->payload_off && req_off < sc->end) {
		n = sc->end - req_off;
		if (n > EVENT_LINE_BYTES)
			n = EVENT_LINE_BYTES;
		/* n is in [1, 64]; the asm mask keeps that visible to the verifier */
		n -= 1;
		asm volatile("%0 &= 63" : "+r"(n));
		n += 1;
		if (!bpf_skb_load_bytes(skb, req_off, sc->ev.line, n))
			sc->ev.line_len = n;
	}
	sc->ev.http_rule = sc->http_rule;
	l7_ev_send(&sc->ev, L7_EV_HTTP, sc->stop ? L7_VERDICT_RESET : L7_VERDICT_FORWARDED, sc->reason);
	return 0;
}

/* fast runs: the common bytes of a request head (header-value bytes, header-name
 * token bytes, unreserved path bytes) in tight loops with the dfa state in a
 * register, exactly what l7_h1_byte does for them; the byte that ends a run takes
 * the full step. each run is a global function: verified once, not once per
 * position of the scan loop. a run stops one byte before the inspection limit, so
 * head-too-long is still detected by the full step. */

/* bytes a run may take from position i: up to the chunk end and the window */
static __always_inline __u32 l7_run_lim(const struct l7_h1 *h, __u32 i, __u32 len)
{
	__u32 room = h->hdr_len < L7_INSPECT_WINDOW - 1 ? L7_INSPECT_WINDOW - 1 - h->hdr_len : 0;

	return len - i < room ? len - i : room;
}

/* byte k of the run starting at i; the mask keeps the index inside buf */
#define L7_RUN_BYTE(sc, i, k)                                                         \
	({                                                                            \
		__u32 _j = (i) + (k);                                                 \
		asm volatile("%0 &= %1" : "+r"(_j) : "i"(L7_CHUNK - 1));             \
		(sc)->buf[_j];                                                        \
	})

/* 8 value bytes none of which is a control byte (< 0x20, HTAB included) or DEL:
 * the classic "has a byte less than n" / "has a zero byte" word tests */
static __always_inline int l7_plain8(__u64 w)
{
	const __u64 ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	__u64 x = w ^ (ones * 0x7f);

	return !(((w - ones * 0x20) & ~w & highs) | ((x - ones) & ~x & highs));
}

/* header-value bytes of a header no dfa needs: 8 at a time, then one at a time */
static __always_inline __u32 l7_run_plain(struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n = 0, j;

	for (int k = 0; k < L7_CHUNK / 8; k++) {
		if (n + 8 > lim)
			break;
		j = i + n;
		asm volatile("%0 &= %1" : "+r"(j) : "i"(L7_CHUNK - 1));
		/* buf has 8 bytes of slack past L7_CHUNK */
		if (!l7_plain8(*(const __u64 *)(sc->buf + j)))
			break;
		n += 8;
	}
	for (int k = 0; k < 8; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, n);

		if (n >= lim || c < 0x20 || c == 0x7f)
			break;
		n++;
	}
	return n;
}

/* value bytes stepping one dfa (or two); *st is the state, *commit the state
 * before trailing whitespace */
#define L7_RUN_DFA(NAME, UP)                                                          \
	static __always_inline __u32 l7_run_dfa_##NAME(struct l7_scratch *sc, __u32 i, __u32 lim, \
						       __u32 *stp, __u32 *commitp)             \
	{                                                                             \
		__u32 n = 0, st = *stp, commit = *commitp;                              \
		for (int k = 0; k < L7_CHUNK; k++) {                                    \
			__u8 c = L7_RUN_BYTE(sc, i, k);                                 \
			if (k >= lim || c < 0x20 || c == 0x7f)                          \
				break;                                                  \
			st = L7_DFA_STEP(NAME, UP, st, c);                              \
			if (c != ' ')                                                   \
				commit = st;                                            \
			n++;                                                            \
		}                                                                       \
		*stp = st;                                                              \
		*commitp = commit;                                                      \
		return n;                                                               \
	}
L7_RUN_DFA(hvalue, L7_HVALUE)
L7_RUN_DFA(host, L7_HOST)

static __always_inline __u32 l7_run_both(struct l7_scratch *sc, __u32 i, __u32 lim, __u32 *vstp, __u32 *vcp,
					 __u32 *hsp, __u32 *hcp)
{
	__u32 n = 0, vst = *vstp, vc = *vcp, hs = *hsp, hc = *hcp;

	for (int k = 0; k < L7_CHUNK; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);

		if (k >= lim || c < 0x20 || c == 0x7f)
			break;
		vst = L7_DFA_STEP(hvalue, L7_HVALUE, vst, c);
		hs = L7_DFA_STEP(host, L7_HOST, hs, c);
		if (c != ' ') {
			vc = vst;
			hc = hs;
		}
		n++;
	}
	*vstp = vst;
	*vcp = vc;
	*hsp = hs;
	*hcp = hc;
	return n;
}

/* st == H_VALUE, hkind < HK_CL */
__attribute__((noinline)) int l7_run_value(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 len)
{
	__u32 lim, n = 0, vst, vc, hs, hc;
	int need, host;

	if (!h || !sc)
		return 0;
	lim = l7_run_lim(h, i, len);
	need = h->flags & HF_VAL_NEEDED;
	host = h->hkind == HK_HOST;
	/* a header nobody asked about: only its bytes are checked */
	if (!need && !host)
		return l7_run_plain(sc, i, lim);
	vst = h->vst;
	vc = h->vcommit;
	hs = h->hst;
	hc = h->hcommit;
	/* one loop per combination: the verifier then walks one path per position */
	if (need && host)
		n = l7_run_both(sc, i, lim, &vst, &vc, &hs, &hc);
	else if (need)
		n = l7_run_dfa_hvalue(sc, i, lim, &vst, &vc);
	else
		n = l7_run_dfa_host(sc, i, lim, &hs, &hc);
	h->vst = vst;
	h->vcommit = vc;
	h->hst = hs;
	h->hcommit = hc;
	return n;
}

/* st == H_NAME: token bytes */
__attribute__((noinline)) int l7_run_name(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 len)
{
	__u32 lim, n = 0, ns;

	if (!h || !sc)
		return 0;
	/* while the name may still be host / content-length / ...: the full step */
	if (h->spec)
		return 0;
	lim = l7_run_lim(h, i, len);
	ns = h->nst;
	for (int k = 0; k < L7_CHUNK; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);

		if (k >= lim || !(l7_ctype[c] & CT_TCHAR))
			break;
		ns = L7_DFA_STEP(hname, L7_HNAME, ns, c);
		n++;
	}
	h->nst = ns;
	h->pos += n;
	return n;
}

/* st == H_TARGET past its first byte, no escape pending: unreserved bytes but '.' */
__attribute__((noinline)) int l7_run_target(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 len)
{
	__u32 lim, n = 0, ps;

	if (!h || !sc)
		return 0;
	lim = l7_run_lim(h, i, len);
	ps = h->pst;
	for (int k = 0; k < L7_CHUNK; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);

		if (k >= lim || !(l7_ctype[c] & CT_UNRES) || c == '.')
			break;
		ps = L7_DFA_STEP(path, L7_PATH, ps, c);
		n++;
	}
	if (n) {
		h->pst = ps;
		h->flags |= HF_T_MORE;
		h->seg = 3;
	}
	return n;
}

/* a fast run from position i, or 0 when the byte there needs the full step */
static __always_inline __u32 l7_run(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 len)
{
	switch (h->st) {
	case H_VALUE:
		return h->hkind < HK_CL ? l7_run_value(h, sc, i, len) : 0;
	case H_NAME:
		return l7_run_name(h, sc, i, len);
	case H_TARGET:
		if (h->pct || (h->flags & (HF_T_STAR | HF_T_STARTED)) != HF_T_STARTED)
			return 0;
		return l7_run_target(h, sc, i, len);
	default:
		return 0;
	}
}

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
			l7_h1_next(h);
		else
			h->st = H_CHUNK_DATA_CR;
	}
	return sc->off >= sc->end;
}

/* one byte through the full step; returns 1 to end the chunk */
static __always_inline int l7_slow_byte(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc, __u8 c)
{
	struct l7_h1 *h = &f->h1;
	int r = l7_h1_step(h, c), rule;

	if (r == STEP_OK)
		return 0;
	if ((r & 0xff) == STEP_ERROR) {
		sc->reason = r >> 8;
		sc->stop = 1;
		return 1;
	}
	if ((r & 0xff) != STEP_HEAD_DONE)
		return 1;	/* STEP_BODY: the next step skips it */
	rule = l7_decide_req(f);
	sc->http_rule = rule;
	if (rule < 0) {
		sc->stop = 1;
		sc->reason = L7_REASON_L7_NO_RULE;
		return 1;
	}
	l7_emit_req(skb, f, sc, sc->payload_off + (h->req_seq - sc->pkt_seq));
	return l7_h1_after_head(h) == STEP_BODY;
}

/* one scan step: skip a body, or run up to L7_CHUNK bytes through the framer.
 * returns 1 when the segment is done or denied (sc->stop). the position lives in
 * sc->used (memory), so the verifier sees the same state at the loop head whichever
 * way (run or single byte) the last iteration went, and prunes. */
__attribute__((noinline)) int l7_scan_step(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc)
{
	struct l7_h1 *h;
	__u32 len, i, n;

	if (!skb || !f || !sc)
		return 1;
	h = &f->h1;
	if (sc->off >= sc->end)
		return 1;
	if (h->st == H_BODY || h->st == H_CHUNK_DATA)
		return l7_skip_body(h, sc);
	len = sc->end - sc->off;
	if (len > L7_CHUNK)
		len = L7_CHUNK;
	/* len - 1 masked in asm so clang cannot drop the bound: len is in [1, L7_CHUNK] */
	len -= 1;
	asm volatile("%0 &= %1" : "+r"(len) : "i"(L7_CHUNK - 1));
	len += 1;
	if (bpf_skb_load_bytes(skb, sc->off, sc->buf, len)) {
		sc->stop = 1;
		sc->reason = L7_REASON_UNSUPPORTED;
		return 1;
	}
	sc->used = 0;
	for (int k = 0; k < L7_CHUNK; k++) {
		i = sc->used;
		if (i >= len)
			break;
		if (h->st == H_METHOD && h->hdr_len == 0) {
			h->req_seq = sc->seq + i;
			sc->ev_seq = h->req_seq;
		}
		n = l7_run(h, sc, i, len);
		if (n) {
			h->hdr_len += n;
			sc->used = i + n;
			continue;
		}
		sc->used = i + 1;
		if (l7_slow_byte(skb, f, sc, L7_RUN_BYTE(sc, i, 0)))
			break;
	}
	sc->off += sc->used;
	sc->seq += sc->used;
	return sc->stop || sc->off >= sc->end;
}

struct l7_scan_ctx {
	struct __sk_buff *skb;
	struct l7_flow *f;
	struct l7_scratch *sc;
};

static __attribute__((noinline)) long l7_scan_cb(__u32 idx, void *data)
{
	struct l7_scan_ctx *c = data;

	return l7_scan_step(c->skb, c->f, c->sc) ? 1 : 0;
}

#endif
