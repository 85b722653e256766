/* resumable, strict http/1 request framer. one byte at a time, state in
 * the flow entry (struct l7_h1), so a request may be split anywhere across
 * segments. regex parts (method, path, host, header names and values) run
 * the generated dfas of the policy header. */
#ifndef L7_HTTP1_H
#define L7_HTTP1_H

#include "l7_maps.h"
#include "l7_ctype.h"

/* head states (request line + header block) come first: st < H_BODY */
enum {
	H_METHOD = 0,
	H_TARGET,
	H_VERSION,
	H_RL_LF,
	H_LINE_START,
	H_NAME,
	H_VALUE_OWS,
	H_VALUE,
	H_VALUE_LF,
	H_END_LF,
	H_BODY,		/* content-length body: skipped, not scanned */
	H_CHUNK_SIZE,
	H_CHUNK_EXT,
	H_CHUNK_SIZE_LF,
	H_CHUNK_DATA,	/* skipped, not scanned */
	H_CHUNK_DATA_CR,
	H_CHUNK_DATA_LF,
	H_TRAILER_START,
	H_TRAILER,
	H_TRAILER_LF,
	H_TRAILER_END_LF,
};

/* h1.flags */
#define HF_TSTARTED 0x0001	/* first target byte seen */
#define HF_STAR 0x0002		/* target is "*" */
#define HF_QUERY 0x0004		/* past '?' */
#define HF_NOT_OPTIONS 0x0008	/* method is not OPTIONS */
#define HF_HOST 0x0010
#define HF_CL 0x0020
#define HF_TE 0x0040
#define HF_CL_DIGITS 0x0080
#define HF_CL_WS 0x0100		/* whitespace after content-length digits */
#define HF_VAL_NEEDED 0x0200	/* current header name is named by some requirement */
#define HF_TE_TWICE 0x0400

/* h1.hkind */
#define HK_NONE 0
#define HK_HOST 1
#define HK_CL 2
#define HK_TE 3

/* step results */
#define STEP_OK 0
#define STEP_BODY 1		/* entered a skipped body state */
#define STEP_HEAD_DONE 2	/* header block complete: decide */
#define STEP_ERROR 3		/* strict rule broken: reason set */

/* the empty asm hides _i's history from clang, so the bound check right
 * before the access is what the verifier sees (clang would otherwise fold
 * it into earlier checks the verifier cannot connect). */
#define L7_DFA_STEP(NAME, UP, st, c)                                                  \
	({                                                                            \
		__u32 _i = (__u32)(st) * UP##_CLASSES + l7_##NAME##_classes[(__u8)(c)]; \
		asm volatile("" : "+r"(_i));                                          \
		_i < UP##_STATES * UP##_CLASSES ? l7_##NAME##_trans[_i] : L7_DFA_DEAD;   \
	})

/* accept word w of state st of a dfa with `words` u64 words per state */
#define L7_DFA_ACCEPT(NAME, UP, st, w, words)                                         \
	({                                                                            \
		__u32 _i = (__u32)(st) * (words) + (w);                                 \
		asm volatile("" : "+r"(_i));                                          \
		_i < UP##_STATES * (words) ? l7_##NAME##_accept[_i] : 0;                \
	})

const char l7_lit_options[8] = "OPTIONS";
const char l7_lit_version[8] = "HTTP/1.";
const char l7_lit_chunked[8] = "chunked";
const char l7_lit_host[4] = { 'h', 'o', 's', 't' };
const char l7_lit_cl[14] = { 'c', 'o', 'n', 't', 'e', 'n', 't', '-', 'l', 'e', 'n', 'g', 't', 'h' };
const char l7_lit_te[17] = { 't', 'r', 'a', 'n', 's', 'f', 'e', 'r', '-', 'e', 'n', 'c', 'o', 'd', 'i', 'n', 'g' };

static __always_inline void l7_h1_next(struct l7_h1 *h)
{
	h->st = H_METHOD;
	h->seg = 3;
	h->pct = 0;
	h->flags = 0;
	h->hkind = HK_NONE;
	h->pos = 0;
	h->mst = L7_DFA_START;
	h->pst = L7_DFA_START;
	h->hst = L7_DFA_START;
	h->hcommit = L7_DFA_START;
	h->line_len = 0;
	h->hdr_len = 0;
	h->hsat = 0;
	h->clen = 0;
}

#define L7_FAIL(r) do { *reason = (r); return STEP_ERROR; } while (0)

/* special names (host, content-length, transfer-encoding), case-insensitive */
static __always_inline void l7_h1_special(struct l7_h1 *h, __u8 c)
{
	__u8 lc = c | 0x20;
	__u16 pos = h->pos;

	if ((h->spec & 1) && (pos >= 4 || lc != l7_lit_host[pos & 3]))
		h->spec &= ~1;
	if ((h->spec & 2) && (pos >= 14 || lc != l7_lit_cl[pos < 14 ? pos : 0]))
		h->spec &= ~2;
	if ((h->spec & 4) && (pos >= 17 || lc != l7_lit_te[pos < 17 ? pos : 0]))
		h->spec &= ~4;
}

/* request-target byte: origin-form and canonical path checks */
static __always_inline int l7_h1_target(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	__u8 ct = l7_ctype[c];

	/* a line that ends inside the target has no version */
	if (c == '\r' || c == '\n')
		L7_FAIL(L7_REASON_BAD_VERSION);
	h->pst = L7_DFA_STEP(path, L7_PATH, h->pst, c);
	if (!(h->flags & HF_TSTARTED)) {
		h->flags |= HF_TSTARTED;
		if (c == '*') {
			h->flags |= HF_STAR;
			return STEP_OK;
		}
		if (c != '/')
			L7_FAIL(L7_REASON_TARGET_NOT_ORIGIN);
	} else if (h->flags & HF_STAR) {
		L7_FAIL(L7_REASON_TARGET_NOT_ORIGIN);
	}
	if (!(ct & CT_TARGET)) {
		if (c == '\\' && !(h->flags & HF_QUERY))
			L7_FAIL(L7_REASON_PATH_BACKSLASH);
		L7_FAIL(L7_REASON_BAD_TARGET_CHAR);
	}
	if (h->pct) {
		if (!(ct & CT_HEX))
			L7_FAIL(L7_REASON_BAD_PCT_ENCODING);
		if (h->pct == 1) {
			h->pcthi = l7_hexval(c);
			h->pct = 2;
			return STEP_OK;
		}
		h->pct = 0;
		if (!(h->flags & HF_QUERY)) {
			__u8 v = (h->pcthi << 4) | l7_hexval(c);

			if (v == '.' || v == '/' || v == '\\')
				L7_FAIL(L7_REASON_PATH_ENCODED_SEPARATOR);
			if (l7_ctype[v] & CT_UNRES)
				L7_FAIL(L7_REASON_PATH_PCT_UNRESERVED);
		}
		return STEP_OK;
	}
	if (c == '%') {
		h->pct = 1;
		h->seg = 3;
		return STEP_OK;
	}
	if (h->flags & HF_QUERY)
		return STEP_OK;
	if (c == '?' || c == '/') {
		if (h->seg == 1)
			L7_FAIL(L7_REASON_PATH_DOT_SEGMENT);
		if (h->seg == 2)
			L7_FAIL(L7_REASON_PATH_DOTDOT_SEGMENT);
		if (c == '?') {
			h->flags |= HF_QUERY;
			return STEP_OK;
		}
		if (h->seg == 0)
			L7_FAIL(L7_REASON_PATH_DOUBLE_SLASH);
		h->seg = 0;
	} else if (c == '.') {
		h->seg = h->seg < 2 ? h->seg + 1 : 3;
	} else {
		h->seg = 3;
	}
	return STEP_OK;
}

/* end of the request-target (the SP before the version) */
static __always_inline int l7_h1_target_end(struct l7_h1 *h, __u16 *reason)
{
	if (!(h->flags & HF_TSTARTED))
		L7_FAIL(L7_REASON_TARGET_NOT_ORIGIN);
	if (h->pct)
		L7_FAIL(L7_REASON_BAD_PCT_ENCODING);
	if (h->flags & HF_STAR) {
		if (h->flags & HF_NOT_OPTIONS)
			L7_FAIL(L7_REASON_ASTERISK_NOT_OPTIONS);
	} else if (!(h->flags & HF_QUERY)) {
		if (h->seg == 1)
			L7_FAIL(L7_REASON_PATH_DOT_SEGMENT);
		if (h->seg == 2)
			L7_FAIL(L7_REASON_PATH_DOTDOT_SEGMENT);
	}
	h->st = H_VERSION;
	h->pos = 0;
	return STEP_OK;
}

static __always_inline int l7_h1_method(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	if (c == ' ') {
		if (h->pos == 0)
			L7_FAIL(L7_REASON_BAD_METHOD);
		if (h->pos != 7)
			h->flags |= HF_NOT_OPTIONS;
		h->st = H_TARGET;
		return STEP_OK;
	}
	if (!(l7_ctype[c] & CT_TCHAR))
		L7_FAIL(L7_REASON_BAD_METHOD);
	if (h->pos >= 7 || c != l7_lit_options[h->pos & 7])
		h->flags |= HF_NOT_OPTIONS;
	h->mst = L7_DFA_STEP(method, L7_METHOD, h->mst, c);
	h->pos++;
	return STEP_OK;
}

static __always_inline int l7_h1_version(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	__u16 pos = h->pos;

	if (pos < 7) {
		if (c != l7_lit_version[pos & 7])
			L7_FAIL(L7_REASON_BAD_VERSION);
	} else if (pos == 7) {
		if (c != '0' && c != '1')
			L7_FAIL(L7_REASON_BAD_VERSION);
	} else {
		if (c == '\n')
			L7_FAIL(L7_REASON_BARE_LF);
		if (c != '\r')
			L7_FAIL(L7_REASON_BAD_VERSION);
		h->st = H_RL_LF;
	}
	h->pos = pos + 1;
	return STEP_OK;
}

/* ':' ends a header name: classify it and prepare the value */
static __always_inline int l7_h1_colon(struct l7_h1 *h, __u16 *reason)
{
	__u32 ni = h->nst;

	if (h->pos == 0)
		L7_FAIL(L7_REASON_BAD_HEADER_NAME);
	h->hkind = HK_NONE;
	if ((h->spec & 1) && h->pos == 4) {
		if (h->flags & HF_HOST)
			L7_FAIL(L7_REASON_HOST_DUPLICATE);
		h->flags |= HF_HOST;
		h->hkind = HK_HOST;
		h->hst = L7_DFA_START;
		h->hcommit = L7_DFA_START;
	} else if ((h->spec & 2) && h->pos == 14) {
		if (h->flags & HF_CL)
			L7_FAIL(L7_REASON_CL_DUPLICATE);
		h->flags |= HF_CL;
		h->hkind = HK_CL;
		h->clen = 0;
	} else if ((h->spec & 4) && h->pos == 17) {
		if (h->flags & HF_TE)
			h->flags |= HF_TE_TWICE;
		h->flags |= HF_TE;
		h->hkind = HK_TE;
	}
	h->flags &= ~HF_VAL_NEEDED;
	if (L7_DFA_ACCEPT(hname, L7_HNAME, ni, 0, 1))
		h->flags |= HF_VAL_NEEDED;
	h->vst = L7_DFA_START;
	h->vcommit = L7_DFA_START;
	h->pos = 0;
	h->st = H_VALUE_OWS;
	return STEP_OK;
}

static __always_inline int l7_h1_name(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	if (c == ':')
		return l7_h1_colon(h, reason);
	if (c == ' ' || c == '\t')
		L7_FAIL(L7_REASON_WS_BEFORE_COLON);
	if (!(l7_ctype[c] & CT_TCHAR))
		L7_FAIL(L7_REASON_BAD_HEADER_NAME);
	h->nst = L7_DFA_STEP(hname, L7_HNAME, h->nst, c);
	l7_h1_special(h, c);
	h->pos++;
	return STEP_OK;
}

/* CR after a header value: settle what the value meant */
static __always_inline int l7_h1_value_end(struct l7_h1 *h, __u16 *reason)
{
	__u32 ni = h->nst, vi = h->vcommit;

	if (h->hkind == HK_CL && !(h->flags & HF_CL_DIGITS))
		L7_FAIL(L7_REASON_CL_INVALID);
	if (h->hkind == HK_TE && (h->pos != 7 || (h->flags & HF_TE_TWICE)))
		L7_FAIL(L7_REASON_TE_NOT_CHUNKED);
	if (h->flags & HF_VAL_NEEDED)
		h->hsat |= L7_DFA_ACCEPT(hname, L7_HNAME, ni, 0, 1) & L7_DFA_ACCEPT(hvalue, L7_HVALUE, vi, 0, 1);
	h->st = H_VALUE_LF;
	return STEP_OK;
}

static __always_inline int l7_h1_value(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	int ws = c == ' ' || c == '\t';

	if (c == '\r')
		return l7_h1_value_end(h, reason);
	if (c == '\n')
		L7_FAIL(L7_REASON_BARE_LF);
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		L7_FAIL(L7_REASON_BAD_HEADER_VALUE);
	if (h->flags & HF_VAL_NEEDED) {
		h->vst = L7_DFA_STEP(hvalue, L7_HVALUE, h->vst, c);
		if (!ws)
			h->vcommit = h->vst;
	}
	if (h->hkind == HK_HOST) {
		h->hst = L7_DFA_STEP(host, L7_HOST, h->hst, c);
		if (!ws)
			h->hcommit = h->hst;
	} else if (h->hkind == HK_CL) {
		if (ws) {
			h->flags |= HF_CL_WS;
		} else {
			if (!(l7_ctype[c] & CT_DIGIT) || (h->flags & HF_CL_WS) || h->clen > 100000000000000ULL)
				L7_FAIL(L7_REASON_CL_INVALID);
			h->clen = h->clen * 10 + (c - '0');
			h->flags |= HF_CL_DIGITS;
		}
	} else if (h->hkind == HK_TE) {
		/* exactly "chunked", trailing whitespace allowed */
		if (ws ? h->pos != 7 : (h->pos >= 7 || c != l7_lit_chunked[h->pos & 7]))
			L7_FAIL(L7_REASON_TE_NOT_CHUNKED);
		if (!ws)
			h->pos++;
	}
	return STEP_OK;
}

static __always_inline int l7_h1_line_start(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	if (c == '\r') {
		h->st = H_END_LF;
		return STEP_OK;
	}
	if (c == '\n')
		L7_FAIL(L7_REASON_BARE_LF);
	if (c == ' ' || c == '\t')
		L7_FAIL(L7_REASON_OBS_FOLD);
	h->st = H_NAME;
	h->nst = L7_DFA_START;
	h->spec = 7;
	h->pos = 0;
	return l7_h1_name(h, c, reason);
}

static __always_inline int l7_h1_chunk_size(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	if (l7_ctype[c] & CT_HEX) {
		if (h->pos >= 15)
			L7_FAIL(L7_REASON_BAD_CHUNK);
		h->clen = (h->clen << 4) | l7_hexval(c);
		h->pos++;
		return STEP_OK;
	}
	if (h->pos == 0 || (c != ';' && c != '\r'))
		L7_FAIL(L7_REASON_BAD_CHUNK);
	h->st = c == ';' ? H_CHUNK_EXT : H_CHUNK_SIZE_LF;
	return STEP_OK;
}

/* expect `want`, go to `next`; anything else is `r` */
static __always_inline int l7_h1_expect(struct l7_h1 *h, __u8 c, __u8 want, __u8 next, __u16 r, __u16 *reason)
{
	if (c != want)
		L7_FAIL(r);
	h->st = next;
	return STEP_OK;
}

/* one byte of the client stream */
static __always_inline int l7_h1_byte(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	__u8 st = h->st;

	if (st < H_BODY) {
		h->hdr_len++;
		if (st <= H_RL_LF && ++h->line_len > L7_INSPECT_WINDOW)
			L7_FAIL(L7_REASON_REQUEST_LINE_TOO_LONG);
		if (h->hdr_len > L7_INSPECT_WINDOW)
			L7_FAIL(L7_REASON_HEADER_TOO_LONG);
	}
	switch (st) {
	case H_METHOD:
		return l7_h1_method(h, c, reason);
	case H_TARGET:
		if (c == ' ')
			return l7_h1_target_end(h, reason);
		return l7_h1_target(h, c, reason);
	case H_VERSION:
		return l7_h1_version(h, c, reason);
	case H_RL_LF:
		return l7_h1_expect(h, c, '\n', H_LINE_START, L7_REASON_BARE_CR, reason);
	case H_LINE_START:
		return l7_h1_line_start(h, c, reason);
	case H_NAME:
		return l7_h1_name(h, c, reason);
	case H_VALUE_OWS:
		if (c == ' ' || c == '\t')
			return STEP_OK;
		h->st = H_VALUE;
		return l7_h1_value(h, c, reason);
	case H_VALUE:
		return l7_h1_value(h, c, reason);
	case H_VALUE_LF:
		return l7_h1_expect(h, c, '\n', H_LINE_START, L7_REASON_BARE_CR, reason);
	case H_END_LF:
		if (c != '\n')
			L7_FAIL(L7_REASON_BARE_CR);
		if ((h->flags & HF_CL) && (h->flags & HF_TE))
			L7_FAIL(L7_REASON_CL_AND_TE);
		return STEP_HEAD_DONE;
	case H_CHUNK_SIZE:
		return l7_h1_chunk_size(h, c, reason);
	case H_CHUNK_EXT:
		if (c == '\r') {
			h->st = H_CHUNK_SIZE_LF;
			return STEP_OK;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			L7_FAIL(L7_REASON_BAD_CHUNK);
		return STEP_OK;
	case H_CHUNK_SIZE_LF:
		if (c != '\n')
			L7_FAIL(L7_REASON_BAD_CHUNK);
		h->st = h->clen ? H_CHUNK_DATA : H_TRAILER_START;
		return h->clen ? STEP_BODY : STEP_OK;
	case H_CHUNK_DATA_CR:
		return l7_h1_expect(h, c, '\r', H_CHUNK_DATA_LF, L7_REASON_BAD_CHUNK, reason);
	case H_CHUNK_DATA_LF:
		h->pos = 0;
		h->clen = 0;
		return l7_h1_expect(h, c, '\n', H_CHUNK_SIZE, L7_REASON_BAD_CHUNK, reason);
	case H_TRAILER_START:
		if (c == '\r') {
			h->st = H_TRAILER_END_LF;
			return STEP_OK;
		}
		if (c == '\n')
			L7_FAIL(L7_REASON_BAD_CHUNK);
		h->st = H_TRAILER;
		return STEP_OK;
	case H_TRAILER:
		if (c == '\n')
			L7_FAIL(L7_REASON_BAD_CHUNK);
		if (c == '\r')
			h->st = H_TRAILER_LF;
		return STEP_OK;
	case H_TRAILER_LF:
		return l7_h1_expect(h, c, '\n', H_TRAILER_START, L7_REASON_BAD_CHUNK, reason);
	case H_TRAILER_END_LF:
		if (c != '\n')
			L7_FAIL(L7_REASON_BAD_CHUNK);
		l7_h1_next(h);
		return STEP_OK;
	default:
		/* body states never reach the byte loop */
		L7_FAIL(L7_REASON_BAD_CHUNK);
	}
}

/* the byte step as a global function: the verifier checks it once, so the
 * per-byte loop costs a few instructions per iteration to verify instead of
 * the whole state machine. returns STEP_* | reason << 8. */
__attribute__((noinline)) int l7_h1_step(struct l7_h1 *h, __u32 c)
{
	__u16 reason = L7_REASON_NONE;
	int r;

	if (!h)
		return STEP_ERROR | (L7_REASON_UNSUPPORTED << 8);
	r = l7_h1_byte(h, (__u8)c, &reason);
	return r | ((__u32)reason << 8);
}

/* after an allowed header block: where the body goes */
static __always_inline int l7_h1_after_head(struct l7_h1 *h)
{
	if (h->flags & HF_TE) {
		h->st = H_CHUNK_SIZE;
		h->pos = 0;
		h->clen = 0;
		return STEP_OK;
	}
	if ((h->flags & HF_CL) && h->clen) {
		h->st = H_BODY;
		return STEP_BODY;
	}
	l7_h1_next(h);
	return STEP_OK;
}

#endif
