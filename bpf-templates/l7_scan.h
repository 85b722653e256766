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
__attribute__((noinline)) int l7_emit_req(struct __sk_buff *skb, struct l7_scratch *sc, __u32 req_off)
{
	__u32 n;

	if (!skb || !sc)
		return 0;
	sc->ev.line_len = 0;
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

/* the common bytes of a request head, inline: plain header-value bytes,
 * header-name token bytes, unreserved path bytes. exactly what l7_h1_byte
 * does for them; anything else (and the last bytes before the inspection
 * limit) takes the full step. returns 1 when the byte was consumed. */
static __always_inline int l7_h1_fast(struct l7_h1 *h, __u8 c)
{
	__u8 st = h->st, ct = l7_ctype[c];

	if (h->hdr_len >= L7_INSPECT_WINDOW - 1)
		return 0;
	if (st == H_VALUE) {
		if (c < 0x20 || c == 0x7f || h->hkind >= HK_CL)
			return 0;
		if (h->flags & HF_VAL_NEEDED) {
			h->vst = L7_DFA_STEP(hvalue, L7_HVALUE, h->vst, c);
			if (c != ' ')
				h->vcommit = h->vst;
		}
		if (h->hkind == HK_HOST) {
			h->hst = L7_DFA_STEP(host, L7_HOST, h->hst, c);
			if (c != ' ')
				h->hcommit = h->hst;
		}
	} else if (st == H_NAME) {
		if (!(ct & CT_TCHAR))
			return 0;
		h->nst = L7_DFA_STEP(hname, L7_HNAME, h->nst, c);
		if (h->spec)
			l7_h1_special(h, c);
		h->pos++;
	} else if (st == H_TARGET) {
		if (!(ct & CT_UNRES) || c == '.' || h->pct || (h->flags & (HF_T_STAR | HF_T_STARTED)) != HF_T_STARTED)
			return 0;
		h->pst = L7_DFA_STEP(path, L7_PATH, h->pst, c);
		h->flags |= HF_T_MORE;
		h->seg = 3;
	} else {
		return 0;
	}
	h->hdr_len++;
	return 1;
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

/* one scan step: skip a body, or run up to L7_CHUNK bytes through the framer.
 * returns 1 when the segment is done or denied (sc->stop). */
__attribute__((noinline)) int l7_scan_step(struct __sk_buff *skb, struct l7_flow *f, struct l7_scratch *sc)
{
	struct l7_h1 *h;
	__u32 len, used = 0, i;
	int r, rule;

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
	for (i = 0; i < L7_CHUNK; i++) {
		if (i >= len)
			break;
		if (h->st == H_METHOD && h->hdr_len == 0) {
			h->req_seq = sc->seq + i;
			sc->ev.seq = h->req_seq;
		}
		used = i + 1;
		if (l7_h1_fast(h, sc->buf[i]))
			continue;
		r = l7_h1_step(h, sc->buf[i]);
		if (r == STEP_OK)
			continue;
		if ((r & 0xff) == STEP_ERROR) {
			sc->reason = r >> 8;
			sc->stop = 1;
			break;
		}
		r &= 0xff;
		if (r == STEP_HEAD_DONE) {
			rule = l7_decide_req(f);
			sc->http_rule = rule;
			if (rule < 0) {
				sc->stop = 1;
				sc->reason = L7_REASON_L7_NO_RULE;
				break;
			}
			l7_emit_req(skb, sc, sc->payload_off + (h->req_seq - sc->pkt_seq));
			if (l7_h1_after_head(h) == STEP_BODY)
				break;
			continue;
		}
		/* STEP_BODY: let the next step skip it */
		break;
	}
	sc->off += used;
	sc->seq += used;
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
