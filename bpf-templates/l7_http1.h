/* resumable, strict http/1 request framer. one byte at a time, state in
 * the flow entry (struct l7_h1), so a request may be split anywhere across
 * segments. regex parts (method, path, host, header names and values) run
 * the generated dfas of the policy header.
 *
 * strict rules (src/verdict/http1-strict.ts) are detected at the byte where the
 * oracle's parser, fed the same prefix, first reports them: target problems
 * at the space after the target, version and per-header rules (content-
 * length, transfer-encoding, host, upgrade, missing colon) at the LF ending
 * their line, a bare CR at the byte after it, character rules at the byte.
 * CR and LF bytes before a request line are skipped (H_METHOD at pos 0), as
 * llhttp and the oracle skip them. a websocket handshake l7bpf can follow (the
 * oracle's websocketProblem, checked at the end of the head) is judged like any
 * request, then waits in H_UPGRADE for the server's answer (l7_upgrade_answer). */
#ifndef L7_HTTP1_H
#define L7_HTTP1_H

#include "l7_maps.h"
#include "l7_ctype.h"
#include "methods.generated.h"

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
	H_CR_MALFORMED,	/* CR ending a line that is malformed if the LF follows */
	H_BODY,		/* content-length body: skipped, not scanned */
	H_CHUNK_SIZE,
	H_CHUNK_EXT,		/* after ';': a name must follow */
	H_CHUNK_EXT_NAME,
	H_CHUNK_EXT_VAL_START,	/* after '=' */
	H_CHUNK_EXT_VAL,
	H_CHUNK_EXT_QUOTED,
	H_CHUNK_EXT_QPAIR,	/* after a backslash in a quoted value */
	H_CHUNK_EXT_AFTER_QUOTE,
	H_CHUNK_SIZE_LF,
	H_CHUNK_DATA,	/* skipped, not scanned */
	H_CHUNK_DATA_CR,
	H_CHUNK_DATA_LF,
	H_TRAILER_START,
	H_TRAILER,
	H_TRAILER_LF,
	H_TRAILER_END_LF,
	H_CLOSED,	/* after a message that ends the connection (l7_h1_byte) */
	H_UPGRADE,	/* an allowed websocket handshake sent: no client byte before the server's answer */
	H_H2_NEW,	/* "PRI " opened the connection: http/2 from here (l7_http2.h), state not yet made */
	H_H2_UPG,	/* the server accepted an h2c upgrade: http/2 from the preface on, state not yet made */
	H_H2,		/* http/2: the stream is walked by l7_http2_scan.h */
};

/* h1.flags */
#define HF_NOT_OPTIONS 0x00001	/* method is not OPTIONS */
#define HF_T_STARTED 0x00002	/* first target byte seen */
#define HF_T_STAR 0x00004	/* target starts with '*' */
#define HF_T_MORE 0x00008	/* target has more than one byte */
#define HF_T_NOSLASH 0x00010	/* target does not start with '/' */
#define HF_T_BSLASH 0x00020	/* backslash in the path */
#define HF_T_BADCHAR 0x00040	/* byte outside pchar / query */
#define HF_T_CANON 0x00080	/* path not canonical (dot segments, //, escapes) */
#define HF_T_QPCT 0x00100	/* bad percent-encoding in the query */
#define HF_QUERY 0x00200	/* past '?' */
#define HF_BADVER 0x00400	/* version is not HTTP/1.0 or HTTP/1.1 */
#define HF_HOST 0x00800
#define HF_CL 0x01000
#define HF_TE 0x02000
#define HF_V_BAD 0x04000	/* content-length / transfer-encoding value invalid */
#define HF_V_WS 0x08000		/* whitespace after value bytes */
#define HF_VAL_NEEDED 0x10000	/* current header name is named by some requirement */
#define HF_V10 0x20000		/* HTTP/1.0 */
#define HF_CONN_CLOSE 0x40000	/* a Connection element "close" */
#define HF_CONN_KA 0x80000	/* a Connection element "keep-alive" */
#define HF_CLOSE_AFTER 0x100000	/* the connection ends with this message (llhttp: not keep-alive) */
#define HF_DOOMED 0x200000	/* a head after such a message: an error when it completes */
#define HF_UPGRADE 0x400000	/* an Upgrade header, exactly "websocket" */
#define HF_CONN_UPGRADE 0x800000	/* a Connection element "upgrade" */
#define HF_NOT_PRI 0x1000000	/* the method is not "PRI" (the http/2 preface starts with "PRI ") */
#define HF_H2C 0x2000000	/* the Upgrade value is (so far) "h2c", not "websocket" */
#define HF_NOT_HEAD 0x4000000	/* the method is not HEAD (its response has no body: l7_http1_resp.h) */

/* h1.hkind */
#define HK_NONE 0
#define HK_HOST 1
#define HK_CL 2
#define HK_TE 3
#define HK_UPGRADE 4
#define HK_CONN 5

/* h1.spec: special-name candidates while reading a name */
#define SPEC_HOST 1
#define SPEC_CL 2
#define SPEC_TE 4
#define SPEC_UPGRADE 8
#define SPEC_CONN 16
#define SPEC_ALL 31

/* step results */
#define STEP_OK 0
#define STEP_BODY 1		/* entered a skipped body state */
#define STEP_HEAD_DONE 2	/* header block complete: decide */
#define STEP_ERROR 3		/* strict rule broken: reason set */
#define STEP_H2 4		/* "PRI " at the method: the http/2 preface may be starting */

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

/* the first http rule of the connection's (`mask`: the ones the protocol may use) whose
 * method, path and host dfas accept the final states m, p, o and whose header requirements
 * `sat` holds, or -1. shared by the http/1 and http/2 decisions */
static __always_inline int l7_first_rule(const __u64 *l7rules, const __u64 *mask, __u32 m, __u32 p, __u32 o, __u64 sat)
{
	__u32 r;

#pragma unroll
	for (int w = 0; w < L7_RULE_WORDS; w++) {
		__u64 bits = l7rules[w] & (mask ? mask[w] : ~0ULL) & L7_DFA_ACCEPT(method, L7_METHOD, m, w, L7_RULE_WORDS) &
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

const char l7_lit_options[8] = "OPTIONS";
const char l7_lit_pri[4] = "PRI";
const char l7_lit_version[8] = "HTTP/1.";
const char l7_lit_chunked[8] = "chunked";
const char l7_lit_websocket[16] = "websocket";
const char l7_lit_h2c[4] = "h2c";
/* special header names, lowercase, NUL-padded: index = SPEC_* bit number; the empty rows
 * make the table 256 bytes, so an offset masked with 255 stays inside (l7_run_name) */
const char l7_lit_head[4] = { 'H', 'E', 'A', 'D' };
const char l7_lit_special[8][32] = { "host", "content-length", "transfer-encoding", "upgrade", "connection" };
/* Connection elements llhttp acts on, by candidate: 1 close, 2 keep-alive, 3 upgrade (l7_h1_conn_byte) */
const char l7_lit_conn[4][16] = { "", "close", "keep-alive", "upgrade" };
const __u8 l7_lit_conn_len[4] = { 0, 5, 10, 7 };

static __always_inline void l7_h1_next(struct l7_h1 *h)
{
	h->st = H_METHOD;
	h->seg = 3;
	h->pct = 0;
	h->flags = 0;
	h->hkind = HK_NONE;
	h->pos = 0;
	h->mst = L7_DFA_START;
	h->kst = L7_DFA_START;
	h->pst = L7_DFA_START;
	h->hst = L7_DFA_START;
	h->hcommit = L7_DFA_START;
	h->hdr_len = 0;
	h->hnames = 0;
	h->hseen = 0;
	h->hdup = 0;
	h->hval = 0;
	h->clen = 0;
}

/* a message is complete: the next request, or the end of the connection when llhttp
 * would not keep it alive (HTTP/1.0 without keep-alive, or Connection: close) */
static __always_inline void l7_h1_done(struct l7_h1 *h)
{
	int close = h->flags & HF_CLOSE_AFTER;

	l7_h1_next(h);
	if (close)
		h->st = H_CLOSED;
}

#define L7_FAIL(r) do { *reason = (r); return STEP_ERROR; } while (0)

/* special names (host, content-length, transfer-encoding, upgrade, connection),
 * case-insensitive. only content-length and connection share a first letter (and
 * "con"), so at most two candidates are left after the first byte and one after the
 * fourth; each byte is a table compare per candidate (a NUL past the literal's end
 * never equals c | 0x20). returns the candidates left after byte c at position pos. */
static __always_inline __u8 l7_spec_next(__u8 spec, __u16 pos, __u8 c)
{
	__u8 lc = c | 0x20, out = 0;
	__u32 k, at = pos;

	if (!spec)
		return 0;
	if (pos == 0)
		return lc == 'h' ? SPEC_HOST : lc == 'c' ? SPEC_CL | SPEC_CONN : lc == 't' ? SPEC_TE : lc == 'u' ? SPEC_UPGRADE : 0;
	if (pos >= 32)
		return 0;
	/* clang would drop a plain `& 31` after the check above; the verifier needs it */
	asm volatile("%0 &= 31" : "+r"(at));
	if ((spec & SPEC_CONN) && l7_lit_special[4][at] == lc)
		out = SPEC_CONN;
	spec &= ~SPEC_CONN;
	if (!spec)
		return out;
	k = spec == SPEC_HOST ? 0 : spec == SPEC_CL ? 1 : spec == SPEC_TE ? 2 : 3;
	return l7_lit_special[k][at] == lc ? out | spec : out;
}

static __always_inline void l7_h1_special(struct l7_h1 *h, __u8 c)
{
	h->spec = l7_spec_next(h->spec, h->pos, c);
}

/* request-target byte (not SP, CR, LF): problems are only recorded here and
 * judged at the space, in the oracle's order (target.ts targetProblem) */
static __always_inline int l7_h1_target(struct l7_h1 *h, __u8 c)
{
	__u8 ct = l7_ctype[c];

	if (L7_NEED_PATH)
		h->pst = L7_DFA_STEP(path, L7_PATH, h->pst, c);
	if (!(h->flags & HF_T_STARTED)) {
		h->flags |= HF_T_STARTED;
		if (c == '*')
			h->flags |= HF_T_STAR;
		if (c != '/')
			h->flags |= HF_T_NOSLASH;
	} else {
		h->flags |= HF_T_MORE;
	}
	if (!(ct & CT_TARGET)) {
		/* outranks every later path problem, so path state no longer matters */
		if (c == '\\' && !(h->flags & HF_QUERY))
			h->flags |= HF_T_BSLASH;
		h->flags |= HF_T_BADCHAR;
		return STEP_OK;
	}
	if (h->pct) {
		if (ct & CT_HEX) {
			if (h->pct == 1) {
				h->pcthi = l7_hexval(c);
				h->pct = 2;
				return STEP_OK;
			}
			h->pct = 0;
			if (!(h->flags & HF_QUERY)) {
				__u8 v = (h->pcthi << 4) | l7_hexval(c);

				/* %2f %5c, and any escaped unreserved byte (%2e among them) */
				if (v == '/' || v == '\\' || (l7_ctype[v] & CT_UNRES))
					h->flags |= HF_T_CANON;
			}
			return STEP_OK;
		}
		/* '%' without two hex digits; the byte itself is read normally */
		h->flags |= (h->flags & HF_QUERY) ? HF_T_QPCT : HF_T_CANON;
		h->pct = 0;
	}
	if (c == '%') {
		h->pct = 1;
		h->seg = 3;
		return STEP_OK;
	}
	if (h->flags & HF_QUERY)
		return STEP_OK;
	if (c == '?' || c == '/') {
		/* "/." or "/.." ends a segment */
		if (h->seg == 1 || h->seg == 2)
			h->flags |= HF_T_CANON;
		if (c == '?') {
			h->flags |= HF_QUERY;
			return STEP_OK;
		}
		if (h->seg == 0)
			h->flags |= HF_T_CANON;
		h->seg = 0;
	} else if (c == '.') {
		h->seg = h->seg < 2 ? h->seg + 1 : 3;
	} else {
		h->seg = 3;
	}
	return STEP_OK;
}

/* the space after the request-target: judge it */
static __always_inline int l7_h1_target_end(struct l7_h1 *h, __u16 *reason)
{
	__u32 fl = h->flags;

	if (!(fl & HF_T_STARTED))
		L7_FAIL(L7_REASON_NOT_ORIGIN_FORM);
	if ((fl & (HF_T_STAR | HF_T_MORE)) == HF_T_STAR) {
		if (fl & HF_NOT_OPTIONS)
			L7_FAIL(L7_REASON_NOT_ORIGIN_FORM);
	} else {
		if (fl & HF_T_NOSLASH)
			L7_FAIL(L7_REASON_NOT_ORIGIN_FORM);
		if (h->pct)
			fl |= (fl & HF_QUERY) ? HF_T_QPCT : HF_T_CANON;
		if (!(fl & HF_QUERY) && (h->seg == 1 || h->seg == 2))
			fl |= HF_T_CANON;
		if (fl & HF_T_BSLASH)
			L7_FAIL(L7_REASON_PATH_NOT_CANONICAL);
		if (fl & HF_T_BADCHAR)
			L7_FAIL(L7_REASON_NOT_ORIGIN_FORM);
		if (fl & HF_T_CANON)
			L7_FAIL(L7_REASON_PATH_NOT_CANONICAL);
		if (fl & HF_T_QPCT)
			L7_FAIL(L7_REASON_NOT_ORIGIN_FORM);
	}
	h->st = H_VERSION;
	h->pos = 0;
	return STEP_OK;
}

static __always_inline int l7_h1_method(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	if (c == ' ') {
		/* empty method (a space first): malformed on this byte, as the oracle has it */
		if (h->pos == 0)
			L7_FAIL(L7_REASON_MALFORMED);
		/* no http/1 method is PRI: the caller tells the preface (at the stream's start)
		 * from an unknown method */
		if (h->pos == 3 && !(h->flags & HF_NOT_PRI))
			return STEP_H2;
		if (!l7_kmeth_accept[h->kst < L7_KMETH_STATES ? h->kst : 0])
			L7_FAIL(L7_REASON_UNKNOWN_METHOD);
		if (h->pos != 7)
			h->flags |= HF_NOT_OPTIONS;
		if (h->pos != 4)
			h->flags |= HF_NOT_HEAD;
		h->st = H_TARGET;
		return STEP_OK;
	}
	if (c == '\r' || c == '\n') {
		/* before the request line: skipped, any number in any order, as llhttp
		 * does (rfc 9112 2.2; a stray CRLF after a body). they count in hdr_len */
		if (h->pos == 0)
			return STEP_OK;
		if (c == '\n')
			L7_FAIL(L7_REASON_BARE_CR_LF);
		/* a request line without target */
		h->st = H_CR_MALFORMED;
		return STEP_OK;
	}
	if (!(l7_ctype[c] & CT_TCHAR))
		L7_FAIL(L7_REASON_MALFORMED);
	if (h->pos >= 7 || c != l7_lit_options[h->pos & 7])
		h->flags |= HF_NOT_OPTIONS;
	if (h->pos >= 3 || c != l7_lit_pri[h->pos & 3])
		h->flags |= HF_NOT_PRI;
	if (h->pos >= 4 || c != l7_lit_head[h->pos & 3])
		h->flags |= HF_NOT_HEAD;
	if (L7_NEED_METHOD)
		h->mst = L7_DFA_STEP(method, L7_METHOD, h->mst, c);
	h->kst = L7_DFA_STEP(kmeth, L7_KMETH, h->kst, c);
	h->pos++;
	return STEP_OK;
}

static __always_inline int l7_h1_version(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	__u16 pos = h->pos;

	if (c == '\r') {
		h->st = H_RL_LF;
		return STEP_OK;
	}
	if (c == '\n')
		L7_FAIL(L7_REASON_BARE_CR_LF);
	/* judged when the line ends, as the oracle does */
	if (pos < 7 ? c != l7_lit_version[pos & 7] : pos > 7 || (c != '0' && c != '1'))
		h->flags |= HF_BADVER;
	if (pos == 7 && c == '0')
		h->flags |= HF_V10;
	if (pos < 9)
		h->pos = pos + 1;
	return STEP_OK;
}

/* ':' ends a header name: classify it and prepare the value */
static __always_inline int l7_h1_colon(struct l7_h1 *h, __u16 *reason)
{
	__u32 ni = h->nst;
	__u16 pos = h->pos;

	if (pos == 0)
		L7_FAIL(L7_REASON_MALFORMED);
	h->hkind = HK_NONE;
	if ((h->spec & SPEC_HOST) && pos == 4) {
		h->hkind = HK_HOST;
		h->hst = L7_DFA_START;
		h->hcommit = L7_DFA_START;
	} else if ((h->spec & SPEC_CL) && pos == 14) {
		h->hkind = HK_CL;
		h->clen = 0;
	} else if ((h->spec & SPEC_TE) && pos == 17) {
		h->hkind = HK_TE;
	} else if ((h->spec & SPEC_UPGRADE) && pos == 7) {
		h->hkind = HK_UPGRADE;
	} else if ((h->spec & SPEC_CONN) && pos == 10) {
		h->hkind = HK_CONN;	/* h->pos = 0: l7_h1_conn_byte's element start */
	}
	h->flags &= ~(HF_VAL_NEEDED | HF_V_BAD | HF_V_WS);
	/* no header requirements: the name dfa is never stepped */
	h->hnames = L7_NUM_HDR_REQS ? L7_DFA_ACCEPT(hname, L7_HNAME, ni, 0, 1) : 0;
	if (h->hnames)
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
		L7_FAIL(L7_REASON_SPACE_BEFORE_COLON);
	if (c == '\r') {
		/* a header line without colon */
		h->st = H_CR_MALFORMED;
		return STEP_OK;
	}
	if (c == '\n')
		L7_FAIL(L7_REASON_BARE_CR_LF);
	if (!(l7_ctype[c] & CT_TCHAR))
		L7_FAIL(L7_REASON_MALFORMED);
	if (L7_NUM_HDR_REQS)
		h->nst = L7_DFA_STEP(hname, L7_HNAME, h->nst, c);
	l7_h1_special(h, c);
	h->pos++;
	return STEP_OK;
}

/* Connection value bytes, as llhttp reads them: comma-separated elements, each with
 * spaces and tabs around it; an element that is exactly close, keep-alive or upgrade
 * (ASCII case-insensitive) counts once a comma or the line end follows it. h->pos:
 * 0 at an element start, CONN_TOKEN in an element that does not count, else the
 * candidate (1 close, 2 keep-alive, 3 upgrade) << 8 and the bytes matched so far, or
 * CONN_FULL when all are. a byte that breaks a match is read again as a token byte. */
#define CONN_TOKEN 0xffff
#define CONN_FULL 0xff

static __always_inline void l7_h1_conn_commit(struct l7_h1 *h, __u16 st)
{
	if ((st & 0xff) != CONN_FULL)
		return;
	if ((st >> 8) == 1)
		h->flags |= HF_CONN_CLOSE;
	else if ((st >> 8) == 2)
		h->flags |= HF_CONN_KA;
	else if ((st >> 8) == 3)
		h->flags |= HF_CONN_UPGRADE;
}

static __always_inline void l7_h1_conn_byte(struct l7_h1 *h, __u8 c)
{
	__u8 lc = c >= 'A' && c <= 'Z' ? c | 0x20 : c;
	__u16 st = h->pos;
	__u32 cand = (st >> 8) & 3, i = st & 0xff;
	int ws = c == ' ' || c == '\t';

	if (st == 0) {
		if (ws || c == ',')
			return;
		cand = lc == 'c' ? 1 : lc == 'k' ? 2 : lc == 'u' ? 3 : 0;
		h->pos = cand ? (cand << 8) | 1 : CONN_TOKEN;
		return;
	}
	if (st == CONN_TOKEN) {
		if (c == ',')
			h->pos = 0;
		return;
	}
	if (i == CONN_FULL) {
		if (ws)
			return;
		if (c == ',')
			l7_h1_conn_commit(h, st);
		h->pos = c == ',' ? 0 : CONN_TOKEN;
		return;
	}
	asm volatile("%0 &= 15" : "+r"(i));
	if (lc == l7_lit_conn[cand][i]) {
		i++;
		h->pos = i >= l7_lit_conn_len[cand] ? (cand << 8) | CONN_FULL : (cand << 8) | i;
		return;
	}
	h->pos = c == ',' ? 0 : CONN_TOKEN;
}

/* the LF ending a header line: the rules judged per line, then requirements */
static __always_inline int l7_h1_line_end(struct l7_h1 *h, __u16 *reason)
{
	__u32 fl = h->flags;
	__u64 names = h->hnames;

	switch (h->hkind) {
	case HK_CL:
		if (fl & HF_CL)
			L7_FAIL(L7_REASON_DUPLICATE_CONTENT_LENGTH);
		if ((fl & HF_V_BAD) || h->pos == 0)
			L7_FAIL(L7_REASON_BAD_CONTENT_LENGTH);
		if (fl & HF_TE)
			L7_FAIL(L7_REASON_CL_AND_TE);
		h->flags |= HF_CL;
		break;
	case HK_TE:
		if ((fl & (HF_TE | HF_V_BAD)) || h->pos != 7)
			L7_FAIL(L7_REASON_BAD_TRANSFER_ENCODING);
		if (fl & HF_CL)
			L7_FAIL(L7_REASON_CL_AND_TE);
		h->flags |= HF_TE;
		break;
	case HK_HOST:
		if (fl & HF_HOST)
			L7_FAIL(L7_REASON_MULTIPLE_HOST);
		h->flags |= HF_HOST;
		break;
	case HK_UPGRADE:
		/* one Upgrade header, exactly websocket or h2c: other protocols are not followed */
		if ((fl & (HF_UPGRADE | HF_V_BAD)) || h->pos != ((fl & HF_H2C) ? 3 : 9))
			L7_FAIL(L7_REASON_UPGRADE);
		h->flags |= HF_UPGRADE;
		break;
	case HK_CONN:
		l7_h1_conn_commit(h, h->pos);
		break;
	default:
		break;
	}
	/* a requirement with a value holds for exactly one occurrence with that value */
	if (names) {
		h->hdup |= h->hseen & names;
		h->hseen |= names;
		h->hval |= names & L7_DFA_ACCEPT(hvalue, L7_HVALUE, h->vcommit, 0, 1);
	}
	h->hkind = HK_NONE;
	h->hnames = 0;
	h->st = H_LINE_START;
	return STEP_OK;
}

static __always_inline int l7_h1_value(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	int ws = c == ' ' || c == '\t';

	if (c == '\r') {
		h->st = H_VALUE_LF;
		return STEP_OK;
	}
	if (c == '\n')
		L7_FAIL(L7_REASON_BARE_CR_LF);
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		L7_FAIL(L7_REASON_MALFORMED);
	if (h->flags & HF_VAL_NEEDED) {
		h->vst = L7_DFA_STEP(hvalue, L7_HVALUE, h->vst, c);
		if (!ws)
			h->vcommit = h->vst;
	}
	if (h->hkind == HK_HOST) {
		if (L7_NEED_HOST)
			h->hst = L7_DFA_STEP(host, L7_HOST, h->hst, c);
		if (!ws)
			h->hcommit = h->hst;
	} else if (h->hkind == HK_CL) {
		/* 1-18 digits, surrounding whitespace trimmed */
		if (ws) {
			h->flags |= HF_V_WS;
		} else if (!(l7_ctype[c] & CT_DIGIT) || (h->flags & HF_V_WS) || h->pos >= 18) {
			h->flags |= HF_V_BAD;
		} else {
			h->clen = h->clen * 10 + (c - '0');
			h->pos++;
		}
	} else if (h->hkind == HK_CONN) {
		l7_h1_conn_byte(h, c);
	} else if (h->hkind == HK_TE) {
		/* exactly "chunked", surrounding whitespace trimmed */
		if (ws) {
			h->flags |= HF_V_WS;
		} else if ((h->flags & HF_V_WS) || h->pos >= 7 || c != l7_lit_chunked[h->pos & 7]) {
			h->flags |= HF_V_BAD;
		} else {
			h->pos++;
		}
	} else if (h->hkind == HK_UPGRADE) {
		/* exactly "websocket" or "h2c", any case (| 0x20 matches a letter's two cases
		 * only; control bytes never get here), surrounding whitespace trimmed */
		if (h->pos == 0 && (c | 0x20) == 'h')
			h->flags |= HF_H2C;
		if (ws) {
			h->flags |= HF_V_WS;
		} else if ((h->flags & HF_V_WS) || h->pos >= ((h->flags & HF_H2C) ? 3 : 9) ||
			   (c | 0x20) != ((h->flags & HF_H2C) ? l7_lit_h2c[h->pos & 3] : l7_lit_websocket[h->pos & 15])) {
			h->flags |= HF_V_BAD;
		} else {
			h->pos++;
		}
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
		L7_FAIL(L7_REASON_BARE_CR_LF);
	if (c == ' ' || c == '\t')
		L7_FAIL(L7_REASON_OBS_FOLD);
	h->st = H_NAME;
	h->nst = L7_DFA_START;
	h->spec = SPEC_ALL;
	h->pos = 0;
	return l7_h1_name(h, c, reason);
}

static __always_inline int l7_h1_chunk_size(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	if (l7_ctype[c] & CT_HEX) {
		if (h->pos >= 15)
			L7_FAIL(L7_REASON_MALFORMED);
		h->clen = (h->clen << 4) | l7_hexval(c);
		h->pos++;
		return STEP_OK;
	}
	if (h->pos == 0 || (c != ';' && c != '\r'))
		L7_FAIL(L7_REASON_MALFORMED);
	h->st = c == ';' ? H_CHUNK_EXT : H_CHUNK_SIZE_LF;
	return STEP_OK;
}

/* chunk-ext = *( ";" name [ "=" ( token / quoted-string ) ] ), no whitespace:
 * what llhttp accepts in strict mode (rfc 9112 7.1.1) */
static __always_inline int l7_h1_chunk_ext(struct l7_h1 *h, __u8 st, __u8 c, __u16 *reason)
{
	int tok = l7_ctype[c] & CT_TCHAR;
	int ctl = (c < 0x20 && c != '\t') || c == 0x7f;

	switch (st) {
	case H_CHUNK_EXT:
		if (!tok)
			L7_FAIL(L7_REASON_MALFORMED);
		h->st = H_CHUNK_EXT_NAME;
		return STEP_OK;
	case H_CHUNK_EXT_QUOTED:
		if (ctl)
			L7_FAIL(L7_REASON_MALFORMED);
		if (c == '"')
			h->st = H_CHUNK_EXT_AFTER_QUOTE;
		else if (c == '\\')
			h->st = H_CHUNK_EXT_QPAIR;
		return STEP_OK;
	case H_CHUNK_EXT_QPAIR:
		if (ctl)
			L7_FAIL(L7_REASON_MALFORMED);
		h->st = H_CHUNK_EXT_QUOTED;
		return STEP_OK;
	case H_CHUNK_EXT_VAL_START:
		if (c == '"') {
			h->st = H_CHUNK_EXT_QUOTED;
			return STEP_OK;
		}
		if (!tok)
			L7_FAIL(L7_REASON_MALFORMED);
		h->st = H_CHUNK_EXT_VAL;
		return STEP_OK;
	default:	/* NAME, VAL, AFTER_QUOTE */
		if (c == ';') {
			h->st = H_CHUNK_EXT;
			return STEP_OK;
		}
		if (c == '\r') {
			h->st = H_CHUNK_SIZE_LF;
			return STEP_OK;
		}
		if (st == H_CHUNK_EXT_NAME && c == '=') {
			h->st = H_CHUNK_EXT_VAL_START;
			return STEP_OK;
		}
		if (!tok || st == H_CHUNK_EXT_AFTER_QUOTE)
			L7_FAIL(L7_REASON_MALFORMED);
		return STEP_OK;
	}
}

/* a head with Upgrade: websocket or h2c is a handshake l7bpf follows (the oracle's upgradeProblem):
 * HTTP/1.1, Connection: upgrade, not close, no body (where the new protocol starts would be
 * ambiguous: llhttp switches after a body, other servers right after the head) */
static __always_inline int l7_h1_websocket_ok(const struct l7_h1 *h)
{
	__u32 fl = h->flags;

	if ((fl & (HF_CONN_UPGRADE | HF_CONN_CLOSE | HF_V10 | HF_TE)) != HF_CONN_UPGRADE)
		return 0;
	return !(fl & HF_CL) || h->clen == 0;
}

/* expect `want`, go to `next`; anything else is `r` */
static __always_inline int l7_h1_expect(struct l7_h1 *h, __u8 c, __u8 want, __u8 next, __u16 r, __u16 *reason)
{
	if (c != want)
		L7_FAIL(r);
	h->st = next;
	return STEP_OK;
}

static __always_inline int l7_h1_head_byte(struct l7_h1 *h, __u8 st, __u8 c, __u16 *reason)
{
	switch (st) {
	case H_METHOD:
		return l7_h1_method(h, c, reason);
	case H_TARGET:
		if (c == ' ')
			return l7_h1_target_end(h, reason);
		if (c == '\r') {
			/* a request line without version */
			h->st = H_CR_MALFORMED;
			return STEP_OK;
		}
		if (c == '\n')
			L7_FAIL(L7_REASON_BARE_CR_LF);
		return l7_h1_target(h, c);
	case H_VERSION:
		return l7_h1_version(h, c, reason);
	case H_RL_LF:
		if (c != '\n')
			L7_FAIL(L7_REASON_BARE_CR_LF);
		if ((h->flags & HF_BADVER) || h->pos != 8)
			L7_FAIL(L7_REASON_BAD_VERSION);
		h->st = H_LINE_START;
		return STEP_OK;
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
		if (c != '\n')
			L7_FAIL(L7_REASON_BARE_CR_LF);
		return l7_h1_line_end(h, reason);
	case H_END_LF:
		if (c != '\n')
			L7_FAIL(L7_REASON_BARE_CR_LF);
		if (h->flags & HF_DOOMED)
			L7_FAIL(L7_REASON_MALFORMED);
		if ((h->flags & HF_UPGRADE) && !l7_h1_websocket_ok(h))
			L7_FAIL(L7_REASON_UPGRADE);
		return STEP_HEAD_DONE;
	default:	/* H_CR_MALFORMED */
		if (c != '\n')
			L7_FAIL(L7_REASON_BARE_CR_LF);
		L7_FAIL(L7_REASON_MALFORMED);
	}
}

static __always_inline int l7_h1_body_byte(struct l7_h1 *h, __u8 st, __u8 c, __u16 *reason)
{
	switch (st) {
	case H_CHUNK_SIZE:
		return l7_h1_chunk_size(h, c, reason);
	case H_CHUNK_EXT:
	case H_CHUNK_EXT_NAME:
	case H_CHUNK_EXT_VAL_START:
	case H_CHUNK_EXT_VAL:
	case H_CHUNK_EXT_QUOTED:
	case H_CHUNK_EXT_QPAIR:
	case H_CHUNK_EXT_AFTER_QUOTE:
		return l7_h1_chunk_ext(h, st, c, reason);
	case H_CHUNK_SIZE_LF:
		if (c != '\n')
			L7_FAIL(L7_REASON_MALFORMED);
		h->st = h->clen ? H_CHUNK_DATA : H_TRAILER_START;
		return h->clen ? STEP_BODY : STEP_OK;
	case H_CHUNK_DATA_CR:
		return l7_h1_expect(h, c, '\r', H_CHUNK_DATA_LF, L7_REASON_MALFORMED, reason);
	case H_CHUNK_DATA_LF:
		h->pos = 0;
		h->clen = 0;
		return l7_h1_expect(h, c, '\n', H_CHUNK_SIZE, L7_REASON_MALFORMED, reason);
	case H_TRAILER_START:
		if (c == '\r') {
			h->st = H_TRAILER_END_LF;
			return STEP_OK;
		}
		if (c == '\n')
			L7_FAIL(L7_REASON_MALFORMED);
		h->st = H_TRAILER;
		return STEP_OK;
	case H_TRAILER:
		if (c == '\n')
			L7_FAIL(L7_REASON_MALFORMED);
		if (c == '\r')
			h->st = H_TRAILER_LF;
		return STEP_OK;
	case H_TRAILER_LF:
		return l7_h1_expect(h, c, '\n', H_TRAILER_START, L7_REASON_MALFORMED, reason);
	case H_TRAILER_END_LF:
		if (c != '\n')
			L7_FAIL(L7_REASON_MALFORMED);
		l7_h1_done(h);
		return STEP_OK;
	case H_UPGRADE:
		/* the client waits for the server's answer to its handshake */
		L7_FAIL(L7_REASON_UPGRADE);
	default:
		/* body states never reach the byte loop */
		L7_FAIL(L7_REASON_MALFORMED);
	}
}

/* one byte of the client stream */
static __always_inline int l7_h1_byte(struct l7_h1 *h, __u8 c, __u16 *reason)
{
	__u8 st = h->st;
	int r;

	/* data after the last message: llhttp gives up on it, and where the stream is reset
	 * is the strict rules' call, as for any head llhttp refuses (the simulator keeps the
	 * bytes until they break a rule or the head ends): read it as a head that fails when
	 * it completes (HF_DOOMED) */
	if (st == H_CLOSED) {
		st = H_METHOD;
		h->st = st;
		h->flags |= HF_DOOMED;
	}
	if (st >= H_BODY)
		return l7_h1_body_byte(h, st, c, reason);
	h->hdr_len++;
	r = l7_h1_head_byte(h, st, c, reason);
	/* the window is full and the head has not ended: it cannot end inside it */
	if (r == STEP_OK && h->hdr_len >= L7_INSPECT_WINDOW)
		L7_FAIL(L7_REASON_HEAD_TOO_LONG);
	return r;
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
	__u32 fl = h->flags;

	/* llhttp_should_keep_alive for a request */
	if ((fl & HF_V10) ? !(fl & HF_CONN_KA) : (fl & HF_CONN_CLOSE) != 0)
		h->flags |= HF_CLOSE_AFTER;
	if (fl & HF_UPGRADE) {
		/* no body (l7_h1_websocket_ok): the server's answer decides what follows */
		h->st = H_UPGRADE;
		return STEP_OK;
	}
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
	l7_h1_done(h);
	return STEP_OK;
}

#endif
