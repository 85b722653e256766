/* the server's http/1 responses, followed while denials are answered (l7_answer, l7_reset.h).
 * an answer to a denied request must go after the responses to the requests before it
 * (responses stay in order), so the datapath needs to know where each response ends in
 * the server's stream, and how many there were. it reads a strict subset of http/1
 * responses: a status line, header lines (only Content-Length and Transfer-Encoding
 * matter), a body framed by length or chunks, interim 1xx responses. anything else, a
 * body that ends with the connection, a response nobody asked for, a hole in the server's
 * stream, loses the count (R_LOST): a later denial is then a reset. the simulator's
 * sim/http1/response-framer.ts is the same machine. */
#ifndef L7_HTTP1_RESP_H
#define L7_HTTP1_RESP_H

#include "l7_maps.h"
#include "l7_ctype.h"
#include "l7_tcp.h"
#include "l7_http1.h"
#include "l7_events.h"

enum {
	R_LINE = 0,	/* "HTTP/1.x " */
	R_STATUS,	/* three digits, then SP or CR */
	R_REASON,
	R_LINE_LF,
	R_HSTART,	/* a header line, or the CR of the empty line */
	R_NAME,
	R_VALUE,
	R_VALUE_LF,
	R_HEND_LF,
	R_BODY,		/* content-length body: skipped by length */
	R_CSIZE,
	R_CEXT,
	R_CSIZE_LF,
	R_CDATA,	/* chunk data: skipped by length */
	R_CDATA_CR,
	R_CDATA_LF,
	R_TSTART,
	R_TRAILER,
	R_TRAILER_LF,
	R_TEND_LF,
	R_H2HDR,	/* http/2: a frame header */
	R_H2DATA,	/* http/2: a frame payload, skipped by length */
	R_LOST,
};

/* l7_resp.flags */
#define RF_ON 0x01	/* the flow follows responses (answers were on when it opened) */
#define RF_CL 0x02	/* Content-Length seen */
#define RF_TE 0x04	/* Transfer-Encoding: chunked seen */
#define RF_C_CL 0x08	/* the name being read may be Content-Length */
#define RF_C_TE 0x10	/* ... Transfer-Encoding */
#define RF_V_CL 0x20	/* reading a Content-Length value */
#define RF_V_TE 0x40	/* reading a Transfer-Encoding value */
#define RF_V_ANY 0x80	/* value bytes seen */
#define RF_V_WS 0x100	/* whitespace after value bytes */
#define RF_MODE 0x200	/* the server's first byte was seen: */
#define RF_H2 0x400	/* ... it was not the "H" of an http/1 status line: http/2 frames */
#define RF_HBLOCK 0x800	/* http/2: inside a field block (no frame may come between its frames) */
/* what a response's end leaves: the flow's, not the response's */
#define RF_KEEP (RF_ON | RF_MODE | RF_H2)

/* step results */
#define RS_OK 0
#define RS_BODY 1	/* entered a body state: skip by length */
#define RS_LOST 2
/* or'ed in: a final response head ended on this byte (a RESPONSE event is due); bits 16-31
 * then hold the index of the request it answers, taken before l7_resp_done counts it */
#define RS_FINAL 4
/* the result without RS_FINAL and the index */
#define RS_CODE(s) ((s) & 3)

/* requests in flight the framer follows (the HEAD bits) */
#define L7_RESP_INFLIGHT 64
/* walk steps per server packet (a longer walk loses the count) */
#define L7_RESP_STEPS 1024
/* longest body and chunk sizes followed (the simulator's numbers stay exact below 2^53) */
#define L7_RESP_MAX_CL 1000000000000ULL
#define L7_RESP_MAX_HEX 10
/* bytes loaded per step */
#define L7_RESP_CHUNK 32
/* RESPONSE events; a build with 0 (bench/responses.ts) measures what they cost */
#ifndef L7_RESP_EVENTS
#define L7_RESP_EVENTS 1
#endif

const char l7_lit_http1[8] = "HTTP/1.";
const char l7_lit_resp_cl[16] = "content-length";
const char l7_lit_resp_te[24] = "transfer-encoding";

static __always_inline int l7_resp_lost(struct l7_resp *r)
{
	r->st = R_LOST;
	return RS_LOST;
}

/* the next response's status line: nothing of this one's head is kept */
static __always_inline void l7_resp_next(struct l7_resp *r)
{
	r->st = R_LINE;
	r->pos = 0;
	r->flags &= RF_KEEP;
	r->left = 0;
}

/* a final response is complete: `end` is past its last byte */
static __always_inline void l7_resp_done(struct l7_resp *r, __u32 end)
{
	r->resps++;
	r->end = end;
	l7_resp_next(r);
}

/* the header block ended: where the body goes (RFC 9112 section 6.3, as llhttp frames it) */
static __always_inline int l7_resp_head_end(struct l7_resp *r)
{
	__u32 fl = r->flags;

	if (r->status >= 100 && r->status < 200) {
		/* 101 switches protocols: not followed. other 1xx are interim */
		if (r->status == 101)
			return l7_resp_lost(r);
		l7_resp_next(r);
		return RS_OK;
	}
	if (r->resps == r->reqs || ((fl & RF_CL) && (fl & RF_TE)))
		return l7_resp_lost(r);	/* a response nobody asked for; ambiguous framing */
	if (((r->head >> (r->resps & (L7_RESP_INFLIGHT - 1))) & 1) || r->status == 204 || r->status == 304) {
		l7_resp_done(r, r->seq + 1);
		return RS_OK;
	}
	if (fl & RF_TE) {
		r->st = R_CSIZE;
		r->pos = 0;
		r->left = 0;
		return RS_OK;
	}
	if (!(fl & RF_CL))
		return l7_resp_lost(r);	/* the body ends with the connection */
	if (r->left == 0) {
		l7_resp_done(r, r->seq + 1);
		return RS_OK;
	}
	r->st = R_BODY;
	return RS_BODY;
}

/* a header name byte (lowercased) narrows the candidates */
static __always_inline void l7_resp_name(struct l7_resp *r, __u8 lc)
{
	__u8 i = r->pos;

	if (i >= 14 || l7_lit_resp_cl[i & 15] != lc)
		r->flags &= ~RF_C_CL;
	if (i >= 17 || l7_lit_resp_te[i < 24 ? i : 0] != lc)
		r->flags &= ~RF_C_TE;
	if (r->pos < 255)
		r->pos++;
}

/* a value byte of Content-Length or Transfer-Encoding (other values are not read) */
static __always_inline int l7_resp_value(struct l7_resp *r, __u8 c)
{
	if (c == ' ' || c == '\t') {
		if (r->flags & RF_V_ANY)
			r->flags |= RF_V_WS;
		return RS_OK;
	}
	if ((r->flags & RF_V_WS) || !(r->flags & (RF_V_CL | RF_V_TE)))
		return (r->flags & (RF_V_CL | RF_V_TE)) ? l7_resp_lost(r) : RS_OK;
	r->flags |= RF_V_ANY;
	if (r->flags & RF_V_CL) {
		if (!(l7_ctype[c] & CT_DIGIT) || r->left >= L7_RESP_MAX_CL / 10)
			return l7_resp_lost(r);
		r->left = r->left * 10 + (c - '0');
		return RS_OK;
	}
	if (r->pos >= 7 || l7_lit_chunked[r->pos & 7] != (c | 0x20))
		return l7_resp_lost(r);
	r->pos++;
	return RS_OK;
}

/* the end of a header line's value */
static __always_inline int l7_resp_value_end(struct l7_resp *r)
{
	__u32 fl = r->flags;

	if ((fl & (RF_V_CL | RF_V_TE)) && !(fl & RF_V_ANY))
		return l7_resp_lost(r);	/* empty */
	if ((fl & RF_V_TE) && r->pos != 7)
		return l7_resp_lost(r);	/* only exactly "chunked" */
	if (fl & RF_V_CL)
		r->flags |= RF_CL;
	if (fl & RF_V_TE)
		r->flags |= RF_TE;
	r->flags &= ~(RF_V_CL | RF_V_TE | RF_V_ANY | RF_V_WS | RF_C_CL | RF_C_TE);
	r->st = R_VALUE_LF;
	return RS_OK;
}

/* a byte of an http/2 frame header: the length, the type, the flags (END_HEADERS) */
static __always_inline int l7_resp_h2_header(struct l7_resp *r, __u8 c)
{
	if (r->pos < 3) {
		r->left = (r->left << 8) | c;
	} else if (r->pos == 3) {
		r->status = c;	/* the frame type */
	} else if (r->pos == 4) {
		/* HEADERS and PUSH_PROMISE open a field block, CONTINUATION may close it */
		if ((r->status == 1 || r->status == 5) && !(c & 4))
			r->flags |= RF_HBLOCK;
		else if (r->status == 9 && (c & 4))
			r->flags &= ~RF_HBLOCK;
	}
	if (++r->pos < 9)
		return RS_OK;
	r->pos = 0;
	if (r->left) {
		r->st = R_H2DATA;
		return RS_BODY;
	}
	if (!(r->flags & RF_HBLOCK))
		r->end = r->seq + 1;
	return RS_OK;
}

/* one byte of the server's stream at r->seq (the caller advances seq). global: verified once */
__attribute__((noinline)) int l7_resp_step(struct l7_resp *r, __u32 b)
{
	__u8 c = b;

	if (!r)
		return RS_LOST;
	if (!(r->flags & RF_MODE)) {
		/* an http/1 response starts "HTTP/1."; an http/2 server speaks first, SETTINGS */
		r->flags |= RF_MODE;
		if (c != 'H') {
			r->flags |= RF_H2;
			r->st = R_H2HDR;
			r->pos = 0;
			r->left = 0;
		}
	}
	switch (r->st) {
	case R_H2HDR:
		return l7_resp_h2_header(r, c);
	case R_LINE:
		if (r->pos < 7) {
			if (c != l7_lit_http1[r->pos & 7])
				return l7_resp_lost(r);
		} else if (r->pos == 7) {
			if (c != '0' && c != '1')
				return l7_resp_lost(r);
		} else {
			if (c != ' ')
				return l7_resp_lost(r);
			r->st = R_STATUS;
			r->pos = 0;
			r->status = 0;
			return RS_OK;
		}
		r->pos++;
		return RS_OK;
	case R_STATUS:
		if (r->pos < 3) {
			if (!(l7_ctype[c] & CT_DIGIT))
				return l7_resp_lost(r);
			r->status = r->status * 10 + (c - '0');
			r->pos++;
			return RS_OK;
		}
		if (c == ' ')
			r->st = R_REASON;
		else if (c == '\r')
			r->st = R_LINE_LF;
		else
			return l7_resp_lost(r);
		return RS_OK;
	case R_REASON:
		if (c == '\n')
			return l7_resp_lost(r);
		if (c == '\r')
			r->st = R_LINE_LF;
		return RS_OK;
	case R_LINE_LF:
	case R_VALUE_LF:
		if (c != '\n')
			return l7_resp_lost(r);
		r->st = R_HSTART;
		return RS_OK;
	case R_HSTART:
		if (c == '\r') {
			r->st = R_HEND_LF;
			return RS_OK;
		}
		if (!(l7_ctype[c] & CT_TCHAR))
			return l7_resp_lost(r);
		r->st = R_NAME;
		r->pos = 0;
		r->flags |= RF_C_CL | RF_C_TE;
		l7_resp_name(r, c | 0x20);
		return RS_OK;
	case R_NAME:
		if (c == ':') {
			if ((r->flags & RF_C_CL) && r->pos == 14) {
				if (r->flags & RF_CL)
					return l7_resp_lost(r);	/* a second Content-Length */
				r->flags |= RF_V_CL;
				r->left = 0;
			} else if ((r->flags & RF_C_TE) && r->pos == 17) {
				if (r->flags & RF_TE)
					return l7_resp_lost(r);
				r->flags |= RF_V_TE;
			}
			r->pos = 0;
			r->st = R_VALUE;
			return RS_OK;
		}
		if (!(l7_ctype[c] & CT_TCHAR))
			return l7_resp_lost(r);
		l7_resp_name(r, c | 0x20);
		return RS_OK;
	case R_VALUE:
		if (c == '\r')
			return l7_resp_value_end(r);
		if (c == '\n')
			return l7_resp_lost(r);
		return l7_resp_value(r, c);
	case R_HEND_LF: {
		__u32 idx = r->resps;	/* before l7_resp_done counts this response */

		if (c != '\n')
			return l7_resp_lost(r);
		if (r->status < 200)
			return l7_resp_head_end(r);
		/* a final head was read whole, whatever its framing lets the walk do next */
		return l7_resp_head_end(r) | RS_FINAL | ((idx & 0xffff) << 16);
	}
	case R_CSIZE:
		if (l7_ctype[c] & CT_HEX) {
			if (r->pos >= L7_RESP_MAX_HEX)
				return l7_resp_lost(r);
			r->left = (r->left << 4) | l7_hexval(c);
			r->pos++;
			return RS_OK;
		}
		if (r->pos == 0)
			return l7_resp_lost(r);
		if (c == ';')
			r->st = R_CEXT;
		else if (c == '\r')
			r->st = R_CSIZE_LF;
		else
			return l7_resp_lost(r);
		return RS_OK;
	case R_CEXT:
		if (c == '\n')
			return l7_resp_lost(r);
		if (c == '\r')
			r->st = R_CSIZE_LF;
		return RS_OK;
	case R_CSIZE_LF:
		if (c != '\n')
			return l7_resp_lost(r);
		if (r->left == 0) {
			r->st = R_TSTART;
			return RS_OK;
		}
		r->st = R_CDATA;
		return RS_BODY;
	case R_CDATA_CR:
		if (c != '\r')
			return l7_resp_lost(r);
		r->st = R_CDATA_LF;
		return RS_OK;
	case R_CDATA_LF:
		if (c != '\n')
			return l7_resp_lost(r);
		r->st = R_CSIZE;
		r->pos = 0;
		r->left = 0;
		return RS_OK;
	case R_TSTART:
		if (c == '\r') {
			r->st = R_TEND_LF;
			return RS_OK;
		}
		if (c == '\n')
			return l7_resp_lost(r);
		r->st = R_TRAILER;
		return RS_OK;
	case R_TRAILER:
		if (c == '\n')
			return l7_resp_lost(r);
		if (c == '\r')
			r->st = R_TRAILER_LF;
		return RS_OK;
	case R_TRAILER_LF:
		if (c != '\n')
			return l7_resp_lost(r);
		r->st = R_TSTART;
		return RS_OK;
	case R_TEND_LF:
		if (c != '\n')
			return l7_resp_lost(r);
		l7_resp_done(r, r->seq + 1);
		return RS_OK;
	default:
		return l7_resp_lost(r);
	}
}

struct l7_resp_walk {
	struct __sk_buff *skb;
	struct l7_flow *f;	/* the flow and packet a RESPONSE event names */
	const struct l7_pkt *p;
	struct l7_resp *r;
	__u32 off;	/* skb offset of the byte at r->seq */
	__u32 end;
};

/* a final response head ended: its status code and the index of the request it answers (HTTP
 * events carry the same index), so user space pairs them for latency even when events were
 * lost. global, off the deepest call chain (6.1's 512 bytes: docs/datapath.md); observability
 * only: it changes nothing the walk decides */
__attribute__((noinline)) int l7_emit_resp(struct __sk_buff *skb, const struct l7_flow *f, const struct l7_pkt *p,
					   __u32 status, __u32 msg)
{
	struct l7_event *ev;

	if (!skb || !f || !p)
		return 0;
	ev = l7_ev_open(skb, p, f->dir, f->local_id, f->peer_id, f->rule, p->seq);
	if (!ev)
		return 0;
	ev->status = status;
	ev->msg = msg;
	ev->kind = L7_EV_RESPONSE;
	ev->verdict = L7_VERDICT_FORWARDED;
	ev->reason = L7_REASON_NONE;
	/* a reader that keeps up would be woken (an irq_work) once more per request: no wakeup,
	 * its poll brings this one along, unless a quarter of the ring waits already (an unread
	 * record also keeps later events from waking it: without this, a reader polling every
	 * 200 ms would let the ring overflow under load) */
	bpf_ringbuf_submit(ev, bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > L7_RINGBUF_BYTES / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

/* one walk step: a body skipped by length, or up to L7_RESP_CHUNK bytes stepped */
static long l7_resp_cb(__u32 i, void *data)
{
	struct l7_resp_walk *w = data;
	struct l7_resp *r = w->r;
	__u8 buf[L7_RESP_CHUNK];
	__u32 n = w->end - w->off;

	if (w->off >= w->end || r->st == R_LOST)
		return 1;
	if (r->st == R_BODY || r->st == R_CDATA || r->st == R_H2DATA) {
		__u64 k = r->left < n ? r->left : n;

		w->off += k;
		r->seq += k;
		r->left -= k;
		if (r->left == 0) {
			if (r->st == R_BODY) {
				l7_resp_done(r, r->seq);
			} else if (r->st == R_CDATA) {
				r->st = R_CDATA_CR;
			} else {
				/* an http/2 frame ends: a place for the answer, outside a field block */
				r->st = R_H2HDR;
				if (!(r->flags & RF_HBLOCK))
					r->end = r->seq;
			}
		}
		return 0;
	}
	if (n > L7_RESP_CHUNK)
		n = L7_RESP_CHUNK;
	n -= 1;
	asm volatile("%0 &= %1" : "+r"(n) : "i"(L7_RESP_CHUNK - 1));
	n += 1;
	if (bpf_skb_load_bytes(w->skb, w->off, buf, n)) {
		l7_resp_lost(r);
		return 1;
	}
	for (__u32 k = 0; k < L7_RESP_CHUNK; k++) {
		int s;

		if (k >= n)
			break;
		s = l7_resp_step(r, buf[k]);
		w->off++;
		r->seq++;
		if (L7_RESP_EVENTS && (s & RS_FINAL))
			l7_emit_resp(w->skb, w->f, w->p, r->status, (__u32)s >> 16);
		/* the walk goes on as without events: same steps, same bound */
		if (RS_CODE(s) != RS_OK)
			break;
	}
	return 0;
}

/* a server packet of a flow that follows responses: its new bytes, in order. a hole loses
 * the count (replies are never dropped, and what came before the hole is unknown) */
static __attribute__((noinline)) void l7_resp_walk(struct __sk_buff *skb, struct l7_flow *f, const struct l7_pkt *p)
{
	struct l7_resp_walk w;
	__u32 seq, end;

	if (!skb || !f || !p)
		return;
	seq = p->seq + !!(p->flags & L7_TH_SYN);
	end = seq + p->payload_len;
	if (f->rs.st == R_LOST || !l7_after(end, f->rs.seq))
		return;
	/* an http/2 connection whose server spoke http/1 (the 101 of an h2c upgrade): not followed */
	if (f->h1.st >= H_H2_NEW && (f->rs.flags & (RF_MODE | RF_H2)) == RF_MODE) {
		l7_resp_lost(&f->rs);
		return;
	}
	if (l7_after(seq, f->rs.seq)) {
		l7_resp_lost(&f->rs);
		return;
	}
	w.skb = skb;
	w.f = f;
	w.p = p;
	w.r = &f->rs;
	w.off = p->payload_off + (f->rs.seq - seq);
	w.end = p->payload_off + p->payload_len;
	bpf_loop(L7_RESP_STEPS, l7_resp_cb, &w, 0);
	if (w.off < w.end)
		l7_resp_lost(&f->rs);
}

/* how a denied http/1 request is answered (l7_stream): at once, later (after the responses
 * before it), or with a reset. only a request whose bytes the server has not read past
 * (they start in this packet's new bytes, or earlier packets held a part of its head) is
 * answered; a denial in a body (the server has the head), after a closing request, or on a
 * connection whose responses are not followed, is a reset. other new bytes before it in the
 * packet (an allowed pipelined request) go on when the server owes responses: the packet is
 * trimmed; when it owes none they do not matter (its side is reset with the answer) */
#define L7_DENY_RESET 0
#define L7_DENY_ANSWER 1
#define L7_DENY_DUE 2
#define L7_DENY_TRIM 3	/* allowed bytes before it in the packet go on alone; the answer waits */

/* every response the server owes is complete, and it sent nothing after them; http/2: the
 * server's stream is between frames, outside a field block, and it sent its SETTINGS */
static __always_inline int l7_resp_idle(const struct l7_flow *f)
{
	const struct l7_resp *r = &f->rs;

	if (r->seq != r->end || f->srv_nxt != r->end || r->pos != 0)
		return 0;
	if (f->h1.st >= H_H2_NEW)
		return (r->flags & RF_H2) && r->st == R_H2HDR && !(r->flags & RF_HBLOCK);
	return !(r->flags & RF_H2) && r->resps == r->reqs && r->st == R_LINE;
}

static __always_inline int l7_deny_how(const struct l7_flow *f, __u32 start)
{
	if (!(f->rs.flags & RF_ON) || f->rs.st == R_LOST || (f->rs.flags & RF_H2) || f->h1.st >= H_BODY || (f->h1.flags & HF_DOOMED) ||
	    !(f->tcp & L7_TCP_SRV_SEEN) || (f->tcp & (L7_TCP_SRV_FIN | L7_TCP_CLOSED)))
		return L7_DENY_RESET;
	if (l7_resp_idle(f))
		return L7_DENY_ANSWER;
	/* the server owes responses, and the bytes before the denied request may be what it needs
	 * to give them (an allowed request, the end of a body): they go on */
	return l7_after(f->h1.req_seq, start) ? L7_DENY_TRIM : L7_DENY_DUE;
}

/* http/2 (stage 2): a stream whose field block was judged and denied is answered on its
 * stream (then GOAWAY and the server's reset), after the server's frame in flight, or after
 * its SETTINGS when it has not spoken yet (a client sends its first request with its preface);
 * a denial of the connection (framing, hpack) is a reset */
static __always_inline int l7_deny_how_h2(const struct l7_flow *f, int stream)
{
	if (!stream || !(f->rs.flags & RF_ON) || f->rs.st == R_LOST ||
	    !(f->tcp & L7_TCP_SRV_SEEN) || (f->tcp & (L7_TCP_SRV_FIN | L7_TCP_CLOSED)))
		return L7_DENY_RESET;
	return l7_resp_idle(f) ? L7_DENY_ANSWER : L7_DENY_DUE;
}

/* an allowed request's head goes on to the server: one more response to wait for */
static __always_inline void l7_resp_expect(struct l7_flow *f, int head)
{
	struct l7_resp *r = &f->rs;
	__u64 bit = 1ULL << (r->reqs & (L7_RESP_INFLIGHT - 1));

	if (!(r->flags & RF_ON) || (r->flags & RF_H2))
		return;
	if (r->reqs - r->resps >= L7_RESP_INFLIGHT)
		l7_resp_lost(r);
	r->head = head ? (r->head | bit) : (r->head & ~bit);
	r->reqs++;
}

#endif
