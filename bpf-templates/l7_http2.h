/* http/2 client streams (prior knowledge, RFC 9113), as the simulator reads them
 * (sim/http2/session.ts): after the preface, frames are walked across segments (a 9-byte
 * frame header may straddle two); HEADERS and CONTINUATION payloads are stripped of padding
 * and priority and their field block is decoded with HPACK (RFC 7541) one byte at a time,
 * strings Huffman-coded or not, every name and value run through the policy's dfas as it
 * is decoded, so nothing is buffered. the client encoder's dynamic table is mirrored per
 * connection: not its strings but what the rules need of each entry (struct l7_h2_entry).
 * DATA and the other frames are skipped by length.
 *
 * a field block is judged when its last frame is complete (END_HEADERS), when a server can
 * act on it; what its fields break is noted as decoded and judged then, in the oracle's
 * order (src/verdict/h2-request.ts). framing a server refuses is denied where it is seen:
 * a HEADERS on stream 0, an even or an already opened stream (trailers), padding longer
 * than the frame, a PUSH_PROMISE, a CONTINUATION out of place, a block over the limit. */
#ifndef L7_HTTP2_H
#define L7_HTTP2_H

#include "l7_http1.h"
#include "l7_ratelimit.h"
#include "hpack.generated.h"

/* a test build (test/kernel/h2-hpack-corpus.test.ts): every block is allowed and its event
 * line carries what the decoder made of it (struct l7_h2_trace) instead of ":method :path" */
#ifndef L7_H2_TRACE
#define L7_H2_TRACE 0
#endif

/* the table mirrored: RFC 7541 octets (src/verdict/limits.ts h2TableBytes); entries are at
 * least 32 octets, so at most L7_H2_ENTRIES of them */
#define L7_H2_TABLE 4096
#define L7_H2_ENTRIES 128
/* octets of a :method or :path entry's value kept for events (the decision needs none) */
#define L7_H2_TEXT 24
/* the client preface: PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n */
#define L7_H2_PREFACE 24

/* frame types and flags (RFC 9113 6) */
#define FRAME_DATA 0
#define FRAME_HEADERS 1
#define FRAME_PUSH_PROMISE 5
#define FRAME_CONTINUATION 9
#define FLAG_END_HEADERS 0x4
#define FLAG_PADDED 0x8
#define FLAG_PRIORITY 0x20

/* name classes */
#define H2N_OTHER 0
#define H2N_METHOD 1
#define H2N_SCHEME 2
#define H2N_AUTHORITY 3
#define H2N_PATH 4
#define H2N_PSEUDO 5	/* any other pseudo-header: none of a request's */
#define H2N_HOST 6
#define H2N_TE 7
#define H2N_CONN 8	/* connection-specific: connection, keep-alive, proxy-connection, transfer-encoding, upgrade */

/* value facts */
#define H2V_KNOWN 1	/* :method: a method llhttp knows */
#define H2V_CONNECT 2	/* :method: exactly CONNECT */
#define H2V_OPTIONS 4	/* :method: exactly OPTIONS */
#define H2V_EMPTY 8
#define H2V_TRAILERS 16	/* te: exactly "trailers" */

/* what the rules need of a field (and of a table entry) */
struct l7_h2_entry {
	__u16 size;	/* RFC 7541 octets: name + value + 32 */
	__u16 nlen;	/* name octets */
	__u8 cls;	/* H2N_* */
	__u8 vflags;	/* H2V_* */
	__u16 why;	/* the field's own first problem (name, then value): a strict reason */
	__u16 nwhy;	/* the name's own problem (kept by a literal naming this entry) */
	__u16 dfa;	/* the value's dfa state: method, path or host, by class */
	__u32 tflags;	/* :path: the target checker's HF_T_* and HF_QUERY | seg << 16 | pct << 24 */
	__u64 names;	/* header requirements naming the field (hname dfa) */
	__u64 vals;	/* ... whose required value it has (hvalue dfa) */
};

/* frame payload states */
enum { F_HEADER = 0, F_PADLEN, F_HEAD, F_FRAG, F_PAD, F_SKIP };
/* representation states */
enum { RS_START = 0, RS_INT, RS_STRHDR, RS_STR };
/* what an integer is for */
enum { I_INDEX = 0, I_NAMEIDX, I_SIZE, I_STRLEN };

struct l7_h2 {
	/* framing */
	__u8 pre;	/* preface octets matched */
	__u8 fhn;	/* frame header octets buffered */
	__u8 fst;	/* F_* */
	__u8 ftype;
	__u8 fh[9];
	__u8 fflags;
	__u8 head;	/* priority octets left */
	__u8 padlen;
	__u32 fstream;
	__u32 left;	/* payload octets left in the frame */
	__u32 frag;	/* field block octets left in the frame */
	__u32 bstream;	/* stream of the open block, 0: none */
	__u32 maxstream;
	__u32 blen;	/* field block octets so far */
	/* stage 3 (l7_splice.h): where the frame header being read started (valid when read whole:
	 * fseq_ok) and the block's HEADERS; table changes (insertions, size updates) in all and
	 * when the block started; the block's HEADERS carried END_STREAM */
	__u32 fseq;
	__u32 bseq;
	__u32 tgen;
	__u32 btgen;
	__u8 fseq_ok;
	__u8 bseq_ok;
	__u8 bes;
	__u8 pad4;
	__u32 cutstream;	/* the stream stage 3 cut last: the server never saw it */
	/* hpack: the representation being read */
	__u8 rst;	/* RS_* */
	__u8 ifor;	/* I_* */
	__u8 shift;
	__u8 incr;	/* literal with incremental indexing */
	__u8 part;	/* 0: the name string, 1: the value */
	__u8 huff;	/* the string is huffman-coded */
	__u8 hnode;	/* huffman tree node */
	__u8 hacc;	/* a string may end here */
	__u64 ival;
	__u32 sleft;	/* string octets (as sent) left */
	__u16 slen;	/* string octets (decoded) so far */
	__u8 vbad;	/* the value has a byte HTTP/2 forbids */
	__u8 vws;	/* its last byte is whitespace */
	__u16 nst;	/* hname dfa */
	__u16 kst;	/* known-method dfa */
	__u16 vst;	/* hvalue dfa (a field some requirement names) */
	__u8 herr;	/* the block cannot be decoded: the rest is only counted */
	__u8 pad1;
	__u8 lits;	/* literal candidates still matching: 1 OPTIONS, 2 CONNECT, 4 trailers */
	__u8 nbuf[19];	/* the name's first octets, for its class */
	struct l7_h2_entry cur;	/* the field being read */
	struct l7_h1 t;	/* :path: the target checker (it steps the path dfa) */
	/* the block */
	__u8 first;	/* no field yet: a size update may come */
	__u8 pseudo;	/* pseudo-headers seen: 1 << H2N_* */
	__u8 regular;	/* a regular field seen */
	__u8 hosts;	/* Host fields */
	__u16 why;	/* first problem of the block */
	__u16 mst;	/* :method's method dfa state */
	__u16 pst;	/* :path's path dfa state */
	__u16 ast;	/* :authority's host dfa state */
	__u16 hst;	/* Host's host dfa state */
	__u8 mflags;	/* :method's H2V_* */
	__u8 pflags;	/* :path's H2V_* */
	__u32 ptflags;	/* :path's tflags */
	__u64 hseen;	/* header requirements whose header occurred */
	__u64 hdup;	/* ... more than once */
	__u64 hval;	/* ... with the required value */
	/* L7_H2_TRACE: the block's fields and their RFC 7541 octets */
	__u32 tr_fields;
	__u32 tr_octets;
	/* the event's request line: ":method :path" as decoded */
	__u8 line_len;
	__u8 vline;	/* where the current value's octets start in it */
	__u8 pad2[6];
	__u8 line[64];
	/* the dynamic table, newest at thead */
	__u16 tsize;
	__u16 tmax;
	__u8 thead;
	__u8 tcount;
	__u8 pad3[2];
	struct l7_h2_entry tab[L7_H2_ENTRIES];
	/* :method and :path entries: their values' first octets, for the event line */
	__u8 tlen[L7_H2_ENTRIES];
	__u8 ttext[L7_H2_ENTRIES][L7_H2_TEXT];
};

/* per l7 connection that speaks http/2: its framing and hpack state (an lru: an evicted
 * entry fails its connection closed, at its next client bytes) */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, L7_H2_CONNS);
	__type(key, struct l7_flow_key);
	__type(value, struct l7_h2);
} h2conns SEC(".maps");

/* the static table's entries as the policy's dfas read them, computed at first use (per cpu:
 * no other cpu writes them; an object's own map, so a swap starts afresh) */
struct l7_h2_statics {
	__u64 ready;	/* bit i: e[i] computed */
	__u64 pad;
	struct l7_h2_entry e[64];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct l7_h2_statics);
} h2static SEC(".maps");

const struct l7_h2 l7_h2_zero = {};
const char l7_h2_preface[32] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/* names of a class, lowercase, by length (the class of a name is known at its end) */
const char l7_h2_names[12][20] = {
	":method", ":scheme", ":authority", ":path", "host", "te",
	"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
};
const __u8 l7_h2_name_cls[12] = {
	H2N_METHOD, H2N_SCHEME, H2N_AUTHORITY, H2N_PATH, H2N_HOST, H2N_TE,
	H2N_CONN, H2N_CONN, H2N_CONN, H2N_CONN, H2N_CONN,
};
const __u8 l7_h2_name_len[12] = { 7, 7, 10, 5, 4, 2, 10, 10, 16, 17, 7 };
const char l7_h2_lit[3][8] = { "OPTIONS", "CONNECT", "trailers" };

/* step results: H2_* | reason << 8 */
#define H2_OK 0
#define H2_DECIDE 1	/* a field block ended with this byte: judge it */
#define H2_ERROR 2	/* a rule broken where it is seen: reason */
#define H2_SKIP 3	/* a payload to skip by length follows */

#define H2_FAIL(r) return H2_ERROR | ((__u32)(r) << 8)

static __always_inline __u32 l7_h2_get32(const __u8 *b)
{
	return ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | b[3];
}

/* a byte of the event line */
static __always_inline void l7_h2_line(struct l7_h2 *x, __u8 c)
{
	__u32 n = x->line_len;

	if (n < sizeof(x->line)) {
		asm volatile("%0 &= 63" : "+r"(n));
		x->line[n] = c;
		x->line_len = n + 1;
	}
}

/* the class of a complete name from its first octets */
static __always_inline __u8 l7_h2_class(const struct l7_h2 *x, __u16 nlen)
{
	for (int k = 0; k < 11; k++) {
		int same = l7_h2_name_len[k] == nlen;

		for (int i = 0; i < 17 && same; i++) {
			if (i >= nlen)
				break;
			same = l7_h2_names[k][i] == x->nbuf[i];
		}
		if (same)
			return l7_h2_name_cls[k];
	}
	return nlen > 0 && x->nbuf[0] == ':' ? H2N_PSEUDO : H2N_OTHER;
}

/* a decoded octet of a name: RFC 9113 8.2.1, the class, the requirements' dfa */
static __always_inline void l7_h2_name_sym(struct l7_h2 *x, __u8 c)
{
	__u32 i = x->slen;

	if (!x->cur.nwhy) {
		if (c >= 'A' && c <= 'Z')
			x->cur.nwhy = L7_REASON_H2_UPPERCASE_NAME;
		else if (c <= 0x20 || c >= 0x7f || (c == ':' && i > 0))
			x->cur.nwhy = L7_REASON_H2_BAD_FIELD;
	}
	if (i < sizeof(x->nbuf)) {
		asm volatile("%0 &= 31" : "+r"(i));
		if (i < sizeof(x->nbuf))
			x->nbuf[i] = c;
	}
	if (L7_NUM_HDR_REQS)
		x->nst = L7_DFA_STEP(hname, L7_HNAME, x->nst, c);
	x->slen++;
}

/* the literal candidates after octet c at position pos */
static __always_inline __u8 l7_h2_lits(__u8 lits, __u16 pos, __u8 c)
{
	__u32 i = pos;

	if (i >= 8)
		return 0;
	asm volatile("%0 &= 7" : "+r"(i));
	if ((lits & 1) && l7_h2_lit[0][i] != c)
		lits &= ~1;
	if ((lits & 2) && l7_h2_lit[1][i] != c)
		lits &= ~2;
	if ((lits & 4) && l7_h2_lit[2][i] != c)
		lits &= ~4;
	return lits;
}

/* what every value octet takes: the characters HTTP/2 forbids, the requirements' dfa */
static __always_inline void l7_h2_plain_sym(struct l7_h2 *x, __u8 c)
{
	int ws = c == ' ' || c == '\t';

	if (c == 0 || c == '\r' || c == '\n' || (ws && x->slen == 0))
		x->vbad = 1;
	x->vws = ws;
	if (x->cur.names)
		x->vst = L7_DFA_STEP(hvalue, L7_HVALUE, x->vst, c);
	x->slen++;
}

/* a decoded octet of a value: its class's dfa or checker, then what every value takes */
static __always_inline void l7_h2_value_sym(struct l7_h2 *x, __u8 c)
{
	switch (x->cur.cls) {
	case H2N_METHOD:
		if (L7_NEED_METHOD)
			x->cur.dfa = L7_DFA_STEP(method, L7_METHOD, x->cur.dfa, c);
		x->kst = L7_DFA_STEP(kmeth, L7_KMETH, x->kst, c);
		x->lits = l7_h2_lits(x->lits, x->slen, c);
		l7_h2_line(x, c);
		break;
	case H2N_PATH:
		l7_h1_target(&x->t, c);
		l7_h2_line(x, c);
		break;
	case H2N_AUTHORITY:
	case H2N_HOST:
		if (L7_NEED_HOST)
			x->cur.dfa = L7_DFA_STEP(host, L7_HOST, x->cur.dfa, c);
		break;
	case H2N_TE:
		x->lits = l7_h2_lits(x->lits, x->slen, c);
		break;
	default:
		break;
	}
	l7_h2_plain_sym(x, c);
}

/* one decoded octet of the string being read (inline: a call more would take the deepest
 * chain past 6.1's 512-byte stack, where every frame counts at least 32) */
static __always_inline void l7_h2_sym(struct l7_h2 *x, __u8 c)
{
	if (x->part)
		l7_h2_value_sym(x, c);
	else
		l7_h2_name_sym(x, c);
}

/* the value is about to be read: its class's state */
static __always_inline void l7_h2_value_start(struct l7_h2 *x)
{
	x->part = 1;
	x->slen = 0;
	x->vbad = 0;
	x->vws = 0;
	x->cur.dfa = L7_DFA_START;
	x->kst = L7_DFA_START;
	x->vst = L7_DFA_START;
	x->lits = x->cur.cls == H2N_METHOD ? 3 : x->cur.cls == H2N_TE ? 4 : 0;
	if (x->cur.cls == H2N_PATH) {
		__builtin_memset(&x->t, 0, sizeof(x->t));
		x->t.seg = 3;
		x->t.pst = L7_DFA_START;
		if (x->line_len)
			l7_h2_line(x, ' ');
	}
	x->vline = x->line_len;
}

/* the name string ended: its class and requirements */
static __always_inline void l7_h2_name_end(struct l7_h2 *x)
{
	__u16 n = x->slen;

	if (n == 0 && !x->cur.nwhy)
		x->cur.nwhy = L7_REASON_H2_BAD_FIELD;
	x->cur.nlen = n;
	x->cur.cls = l7_h2_class(x, n);
	x->cur.names = L7_NUM_HDR_REQS ? L7_DFA_ACCEPT(hname, L7_HNAME, x->nst, 0, 1) : 0;
}

/* the value string ended: the field's facts */
static __always_inline void l7_h2_value_end(struct l7_h2 *x)
{
	struct l7_h2_entry *e = &x->cur;
	__u16 n = x->slen;

	e->vflags = n == 0 ? H2V_EMPTY : 0;
	if (e->cls == H2N_METHOD) {
		if (x->kst < L7_KMETH_STATES && l7_kmeth_accept[x->kst])
			e->vflags |= H2V_KNOWN;
		if (n == 7 && (x->lits & 1))
			e->vflags |= H2V_OPTIONS;
		if (n == 7 && (x->lits & 2))
			e->vflags |= H2V_CONNECT;
	} else if (e->cls == H2N_TE && n == 8 && (x->lits & 4)) {
		e->vflags |= H2V_TRAILERS;
	} else if (e->cls == H2N_PATH) {
		e->dfa = x->t.pst;
		e->tflags = (x->t.flags & 0x3ff) | ((__u32)x->t.seg << 16) | ((__u32)x->t.pct << 24);
	}
	e->vals = e->names ? e->names & L7_DFA_ACCEPT(hvalue, L7_HVALUE, x->vst, 0, 1) : 0;
	e->why = e->nwhy ? e->nwhy : (x->vbad || x->vws) ? L7_REASON_H2_BAD_FIELD : 0;
	e->size = e->nlen + n + 32;
}

/* global: verified once. evicts the oldest entries until `room` more octets fit */
__attribute__((noinline)) int l7_h2_evict(struct l7_h2 *x, __u32 room)
{
	if (!x)
		return 0;
	for (int k = 0; k < L7_H2_ENTRIES; k++) {
		__u32 old = (x->thead - x->tcount + 1) & (L7_H2_ENTRIES - 1);

		if (!x->tcount || x->tsize + room <= x->tmax)
			break;
		x->tsize -= x->tab[old].size;
		x->tcount--;
	}
	return 0;
}

/* literal with incremental indexing: the field becomes the newest entry (an entry larger
 * than the table empties it and is not added, RFC 7541 4.4) */
static __always_inline void l7_h2_insert(struct l7_h2 *x)
{
	__u32 size = x->cur.size, at;

	x->tgen++;
	l7_h2_evict(x, size);
	if (size > x->tmax)
		return;
	at = (x->thead + 1) & (L7_H2_ENTRIES - 1);
	x->thead = at;
	x->tab[at] = x->cur;
	x->tcount++;
	x->tsize += size;
	x->tlen[at] = 0;
	if (x->cur.cls == H2N_METHOD || x->cur.cls == H2N_PATH) {
		/* the value's octets as they went into the line (its first ones, when it was full) */
		__u32 n = x->line_len - x->vline, from = x->vline;

		if (n > L7_H2_TEXT || x->vline > x->line_len)
			n = x->vline > x->line_len ? 0 : L7_H2_TEXT;
		for (__u32 i = 0; i < L7_H2_TEXT; i++) {
			__u32 j = from + i;

			if (i >= n)
				break;
			asm volatile("%0 &= 63" : "+r"(j));
			x->ttext[at][i] = x->line[j];
		}
		x->tlen[at] = n;
	}
}

/* a :method or :path value taken from the dynamic table: its kept octets to the line */
static __always_inline void l7_h2_text_out(struct l7_h2 *x, __u32 at)
{
	__u32 n;

	at &= L7_H2_ENTRIES - 1;
	n = x->tlen[at];
	if (x->tab[at].cls == H2N_PATH && x->line_len)
		l7_h2_line(x, ' ');
	for (__u32 i = 0; i < L7_H2_TEXT; i++) {
		if (i >= n)
			break;
		l7_h2_line(x, x->ttext[at][i]);
	}
}

/* the field is complete: the per-field rules in the oracle's order, then what the
 * decision needs of it */
static __always_inline void l7_h2_field(struct l7_h2 *x, const struct l7_h2_entry *e)
{
	__u8 cls = e->cls;

	x->first = 0;
	if (L7_H2_TRACE) {
		x->tr_fields++;
		x->tr_octets += e->size;
	}
	if (x->why)
		return;
	if (e->why) {
		x->why = e->why;
		return;
	}
	if (cls >= H2N_METHOD && cls <= H2N_PSEUDO) {
		if (x->regular)
			x->why = L7_REASON_H2_PSEUDO_ORDER;
		else if (cls == H2N_PSEUDO)
			x->why = L7_REASON_H2_PSEUDO_UNKNOWN;
		else if (x->pseudo & (1 << cls))
			x->why = L7_REASON_H2_PSEUDO_REPEATED;
		if (x->why)
			return;
		x->pseudo |= 1 << cls;
		if (cls == H2N_METHOD) {
			x->mst = e->dfa;
			x->mflags = e->vflags;
		} else if (cls == H2N_PATH) {
			x->pst = e->dfa;
			x->pflags = e->vflags;
			x->ptflags = e->tflags;
		} else if (cls == H2N_AUTHORITY) {
			x->ast = e->dfa;
		}
		return;
	}
	x->regular = 1;
	if (cls == H2N_CONN || (cls == H2N_TE && !(e->vflags & H2V_TRAILERS))) {
		x->why = L7_REASON_H2_CONNECTION_FIELD;
		return;
	}
	if (cls == H2N_HOST) {
		x->hosts += x->hosts < 255;
		x->hst = e->dfa;
	}
	x->hdup |= x->hseen & e->names;
	x->hseen |= e->names;
	x->hval |= e->vals;
}

/* the dynamic entry at an index (62..) into *out: its slot + 1, or 0 when it does not exist */
static __always_inline int l7_h2_dynamic(struct l7_h2 *x, __u64 index, struct l7_h2_entry *out)
{
	__u64 k = index - L7_HP_STATIC - 1;
	__u32 at;

	if (k >= x->tcount)
		return 0;
	at = (x->thead - (__u32)k) & (L7_H2_ENTRIES - 1);
	*out = x->tab[at];
	return at + 1;
}

/* a static entry's name, then (with_value) its value, through the octet steps (inlined in
 * l7_h2_static_entry: a call more would take the deepest chain past 6.1's stack limit) */
static __always_inline int l7_h2_static(struct l7_h2 *x, __u32 index, __u32 with_value)
{
	__u32 n, i;

	if (index < 1 || index > L7_HP_STATIC)
		return 0;
	/* the verifier sees the bound of the mask, not the check above (clang keeps it apart) */
	asm volatile("%0 &= 63" : "+r"(index));
	if (index > L7_HP_STATIC)
		return 0;
	n = l7_hp_snlen[index];
	x->part = 0;
	x->slen = 0;
	x->nst = L7_DFA_START;
	for (i = 0; i < L7_HP_SNAME; i++) {
		if (i >= n)
			break;
		l7_h2_name_sym(x, l7_hp_sname[index][i]);
	}
	l7_h2_name_end(x);
	if (!with_value)
		return 0;
	l7_h2_value_start(x);
	n = l7_hp_svlen[index];
	for (i = 0; i < L7_HP_SVALUE; i++) {
		if (i >= n)
			break;
		l7_h2_value_sym(x, l7_hp_svalue[index][i]);
	}
	l7_h2_value_end(x);
	return 0;
}

/* static entry `index` (1..61) into x->cur: from the per-cpu cache, else computed (the
 * event line gets :method and :path values either way) */
__attribute__((noinline)) int l7_h2_static_entry(struct l7_h2 *x, __u32 index)
{
	struct l7_h2_statics *st;
	__u32 zero = 0, at, n;

	if (!x || index < 1 || index > L7_HP_STATIC)
		return 0;
	asm volatile("%0 &= 63" : "+r"(index));
	st = bpf_map_lookup_elem(&h2static, &zero);
	if (st && (st->ready >> index) & 1) {
		x->cur = st->e[index];
		/* the value is not decoded: its octets go to the line from the table */
		if (x->cur.cls == H2N_METHOD || x->cur.cls == H2N_PATH) {
			if (x->cur.cls == H2N_PATH && x->line_len)
				l7_h2_line(x, ' ');
			n = l7_hp_svlen[index];
			for (at = 0; at < L7_HP_SVALUE; at++) {
				if (at >= n)
					break;
				l7_h2_line(x, l7_hp_svalue[index][at]);
			}
		}
		return 0;
	}
	l7_h2_static(x, index, 1);
	if (st) {
		st->e[index] = x->cur;
		st->ready |= 1ULL << index;
	}
	return 0;
}

/* a new field: nothing known of it yet */
static __always_inline void l7_h2_field_start(struct l7_h2 *x)
{
	__builtin_memset(&x->cur, 0, sizeof(x->cur));
	x->part = 0;
	x->slen = 0;
	x->nst = L7_DFA_START;
}

/* an integer is complete: what it was for */
static __always_inline int l7_h2_int_done(struct l7_h2 *x, __u64 v)
{
	x->rst = RS_START;
	switch (x->ifor) {
	case I_INDEX:
		if (v == 0)
			return L7_REASON_H2_HPACK;
		l7_h2_field_start(x);
		if (v <= L7_HP_STATIC) {
			l7_h2_static_entry(x, v);
		} else {
			__u32 slot = l7_h2_dynamic(x, v, &x->cur);

			if (!slot)
				return L7_REASON_H2_HPACK;
			if (x->cur.cls == H2N_METHOD || x->cur.cls == H2N_PATH)
				l7_h2_text_out(x, slot - 1);
		}
		l7_h2_field(x, &x->cur);
		return 0;
	case I_NAMEIDX:
		l7_h2_field_start(x);
		x->rst = RS_STRHDR;
		if (v == 0)
			return 0;	/* a literal name follows */
		if (v <= L7_HP_STATIC) {
			/* the name's facts from the cached entry (its value's are replaced below) */
			__u8 line = x->line_len;

			l7_h2_static_entry(x, v);
			x->line_len = line;
		} else if (!l7_h2_dynamic(x, v, &x->cur)) {
			return L7_REASON_H2_HPACK;
		}
		x->cur.why = 0;
		x->cur.vflags = 0;
		x->cur.vals = 0;
		x->nst = L7_DFA_START;
		l7_h2_value_start(x);
		return 0;
	case I_SIZE:
		if (v > L7_H2_TABLE)
			return L7_REASON_H2_HPACK;
		x->tmax = v;
		x->tgen++;
		l7_h2_evict(x, 0);
		return 0;
	default:	/* I_STRLEN */
		x->rst = RS_STR;
		x->sleft = v;
		x->hnode = 0;
		x->hacc = 1;
		return 0;
	}
}

/* an integer with an n-bit prefix starts at byte c */
static __always_inline int l7_h2_int(struct l7_h2 *x, __u8 c, __u8 mask, __u8 ifor)
{
	x->ifor = ifor;
	if ((c & mask) < mask)
		return l7_h2_int_done(x, c & mask);
	x->rst = RS_INT;
	x->ival = mask;
	x->shift = 0;
	return 0;
}

/* a string (its octets, as sent) ended */
static __always_inline int l7_h2_string_end(struct l7_h2 *x)
{
	x->rst = RS_START;
	if (x->huff && !x->hacc)
		return L7_REASON_H2_HPACK;	/* padding longer than 7 bits, or not all ones */
	if (!x->part) {
		l7_h2_name_end(x);
		l7_h2_value_start(x);
		x->rst = RS_STRHDR;
		return 0;
	}
	l7_h2_value_end(x);
	if (x->incr)
		l7_h2_insert(x);
	l7_h2_field(x, &x->cur);
	return 0;
}

/* one huffman nibble */
static __always_inline int l7_h2_nibble(struct l7_h2 *x, __u32 nib)
{
	__u32 i = ((__u32)x->hnode << 4) | (nib & 15), e;

	asm volatile("%0 &= 4095" : "+r"(i));
	e = l7_huff[i];
	if ((e >> 16) & L7_HUFF_FAIL)
		return L7_REASON_H2_HPACK;	/* EOS inside a string */
	if ((e >> 16) & L7_HUFF_EMIT)
		l7_h2_sym(x, e & 0xff);
	x->hnode = (e >> 8) & 0xff;
	x->hacc = ((e >> 16) & L7_HUFF_ACCEPT) != 0;
	return 0;
}

/* global: verified once. one octet of a field block; returns a reason when it cannot be
 * decoded (the block is then only counted to its end) */
__attribute__((noinline)) int l7_hpack_byte(struct l7_h2 *x, __u32 b)
{
	__u8 c = b;
	int r;

	if (!x)
		return L7_REASON_H2_HPACK;
	switch (x->rst) {
	case RS_START:
		if (c & 0x80)
			return l7_h2_int(x, c, 0x7f, I_INDEX);
		if (c & 0x40) {
			x->incr = 1;
			return l7_h2_int(x, c, 0x3f, I_NAMEIDX);
		}
		if (c & 0x20) {
			if (!x->first)
				return L7_REASON_H2_HPACK;	/* a size update after a field */
			return l7_h2_int(x, c, 0x1f, I_SIZE);
		}
		x->incr = 0;
		return l7_h2_int(x, c, 0x0f, I_NAMEIDX);
	case RS_INT:
		if (x->shift < 32)
			x->ival += (__u64)(c & 0x7f) << x->shift;
		else if (c & 0x7f)
			return L7_REASON_H2_HPACK;
		if (x->ival > 0x7fffffff)
			return L7_REASON_H2_HPACK;	/* an integer above 2^31 - 1 */
		if (x->shift < 35)
			x->shift += 7;
		if (c & 0x80)
			return 0;
		return l7_h2_int_done(x, x->ival);
	case RS_STRHDR:
		x->huff = (c & 0x80) != 0;
		x->ifor = I_STRLEN;
		if ((c & 0x7f) < 0x7f) {
			r = l7_h2_int_done(x, c & 0x7f);
			return r ? r : x->sleft ? 0 : l7_h2_string_end(x);
		}
		x->rst = RS_INT;
		x->ival = 0x7f;
		x->shift = 0;
		return 0;
	default:	/* RS_STR */
		if (x->huff) {
			r = l7_h2_nibble(x, c >> 4);
			if (!r)
				r = l7_h2_nibble(x, c);
			if (r)
				return r;
		} else {
			l7_h2_sym(x, c);
		}
		x->sleft--;
		return x->sleft ? 0 : l7_h2_string_end(x);
	}
}

/* a HEADERS frame opens a block: the per-block state */
static __always_inline void l7_h2_block_start(struct l7_h2 *x)
{
	x->blen = 0;
	x->rst = RS_START;
	x->first = 1;
	x->pseudo = 0;
	x->regular = 0;
	x->hosts = 0;
	x->why = 0;
	x->herr = 0;
	x->mst = L7_DFA_START;
	x->pst = L7_DFA_START;
	x->ast = L7_DFA_START;
	x->hst = L7_DFA_START;
	x->mflags = 0;
	x->pflags = 0;
	x->ptflags = 0;
	x->hseen = 0;
	x->hdup = 0;
	x->hval = 0;
	x->line_len = 0;
	x->tr_fields = 0;
	x->tr_octets = 0;
}

/* the frame's last payload octet (or its header, when it has none) was read */
static __always_inline __u32 l7_h2_frame_end(struct l7_h2 *x)
{
	__u8 t = x->ftype;

	x->fst = F_HEADER;
	x->fhn = 0;
	if ((t != FRAME_HEADERS && t != FRAME_CONTINUATION) || !(x->fflags & FLAG_END_HEADERS))
		return H2_OK;
	x->bstream = 0;
	/* a representation cut off by the block's end */
	if (x->rst != RS_START)
		x->herr = 1;
	return H2_DECIDE;
}

/* after the field block octets of a frame: its padding, or its end */
static __always_inline __u32 l7_h2_after_frag(struct l7_h2 *x)
{
	if (x->left)
		x->fst = F_PAD;
	return x->left ? H2_SKIP : l7_h2_frame_end(x);
}

/* the frame header is complete. global: verified once (the byte step and the whole-header
 * fast path both call it) */
__attribute__((noinline)) __u32 l7_h2_frame_start(struct l7_h2 *x)
{
	__u32 len, stream, pre;
	__u8 t, fl;

	if (!x)
		H2_FAIL(L7_REASON_UNSUPPORTED);
	len = ((__u32)x->fh[0] << 16) | ((__u32)x->fh[1] << 8) | x->fh[2];
	stream = l7_h2_get32(&x->fh[5]) & 0x7fffffff;
	t = x->fh[3];
	fl = x->fh[4];

	x->ftype = t;
	x->fflags = fl;
	x->fstream = stream;
	x->left = len;
	/* a frame on the stream stage 3 cut, before a later stream opened: to the server that
	 * stream is idle, and a frame on an idle stream is a connection error (RFC 9113 5.1) */
	if (stream && stream == x->cutstream && x->maxstream == stream)
		H2_FAIL(L7_REASON_H2_FRAME);
	if (x->bstream) {
		if (t != FRAME_CONTINUATION || stream != x->bstream)
			H2_FAIL(L7_REASON_H2_CONTINUATION);
		x->frag = len;
		x->fst = F_FRAG;
		return len ? H2_OK : l7_h2_frame_end(x);
	}
	switch (t) {
	case FRAME_CONTINUATION:
		H2_FAIL(L7_REASON_H2_CONTINUATION);
	case FRAME_HEADERS:
		if (stream == 0 || !(stream & 1))
			H2_FAIL(L7_REASON_H2_FRAME);
		if (stream <= x->maxstream)
			H2_FAIL(L7_REASON_H2_TRAILERS);
		pre = ((fl & FLAG_PADDED) ? 1 : 0) + ((fl & FLAG_PRIORITY) ? 5 : 0);
		if (len < pre)
			H2_FAIL(L7_REASON_H2_FRAME);
		x->bstream = stream;
		x->maxstream = stream;
		x->bseq = x->fseq;
		x->bseq_ok = x->fseq_ok;
		x->bes = fl & 1;	/* END_STREAM */
		x->btgen = x->tgen;
		l7_h2_block_start(x);
		x->frag = len - pre;
		x->head = (fl & FLAG_PRIORITY) ? 5 : 0;
		x->padlen = 0;
		x->fst = (fl & FLAG_PADDED) ? F_PADLEN : x->head ? F_HEAD : F_FRAG;
		return len ? H2_OK : l7_h2_frame_end(x);
	case FRAME_PUSH_PROMISE:
		H2_FAIL(L7_REASON_H2_FRAME);
	case FRAME_DATA:
		if (stream == 0)
			H2_FAIL(L7_REASON_H2_FRAME);
		/* fall through */
	default:
		/* SETTINGS, WINDOW_UPDATE, PING, PRIORITY, RST_STREAM, GOAWAY, unknown types */
		if (!len)
			return l7_h2_frame_end(x);
		x->fst = F_SKIP;
		return H2_SKIP;
	}
}

/* one octet of the client stream outside skipped payloads: H2_* | reason << 8 (inlined in
 * its one caller, l7_h2_one, a global function: one frame less in the deepest chain) */
static __always_inline __u32 l7_h2_step(struct l7_h2 *x, __u8 c)
{
	__u32 i;

	if (x->pre < L7_H2_PREFACE) {
		i = x->pre;
		asm volatile("%0 &= 31" : "+r"(i));
		if (l7_h2_preface[i] != c)
			H2_FAIL(L7_REASON_H2_PREFACE);
		x->pre++;
		return H2_OK;
	}
	switch (x->fst) {
	case F_HEADER:
		i = x->fhn;
		if (!i)
			x->fseq_ok = 0;	/* read octet by octet: where it started is not kept */
		asm volatile("%0 &= 7" : "+r"(i));
		if (x->fhn >= 8) {
			x->fh[8] = c;
			return l7_h2_frame_start(x);
		}
		x->fh[i] = c;
		x->fhn++;
		return H2_OK;
	case F_PADLEN:
		x->left--;
		x->padlen = c;
		if (c > x->frag)
			H2_FAIL(L7_REASON_H2_FRAME);
		x->frag -= c;
		x->fst = x->head ? F_HEAD : F_FRAG;
		if (x->fst == F_FRAG && !x->frag)
			return l7_h2_after_frag(x);
		return H2_OK;
	case F_HEAD:
		x->left--;
		if (--x->head)
			return H2_OK;
		x->fst = F_FRAG;
		return x->frag ? H2_OK : l7_h2_after_frag(x);
	case F_FRAG:
		x->left--;
		x->frag--;
		if (++x->blen > L7_INSPECT_WINDOW)
			H2_FAIL(L7_REASON_H2_BLOCK_TOO_LONG);
		/* after a decoding error the fields cannot be read: the block is denied for it
		 * (before anything its earlier fields broke, as the simulator decodes a block
		 * whole) */
		if (!x->herr && l7_hpack_byte(x, c))
			x->herr = 1;
		return x->frag ? H2_OK : l7_h2_after_frag(x);
	default:	/* F_PAD, F_SKIP: skipped by length (l7_h2_skip) */
		return H2_SKIP;
	}
}

/* payload octets skipped by length (DATA and the frames that carry no fields, padding);
 * returns H2_* as l7_h2_step */
static __always_inline __u32 l7_h2_skip(struct l7_h2 *x, __u32 n)
{
	x->left -= n;
	return x->left ? H2_OK : l7_h2_frame_end(x);
}

/* the block's problems, then its rules: the http rule allowing the request, or -1 with
 * the reason in x->why. global: verified once */
__attribute__((noinline)) int l7_h2_decide(struct l7_flow *f, struct l7_h2 *x)
{
	struct l7_h1 *t;
	__u16 reason = L7_REASON_NONE;
	__u32 m, p, o;
	__u64 sat;
	int r;

	if (!f || !x)
		return -1;
	if (x->herr)
		x->why = L7_REASON_H2_HPACK;
	if (L7_H2_TRACE && !x->herr) {
		/* fields, octets, then the table's octets and entries after the block */
		__builtin_memcpy(x->line, &x->tr_fields, 4);
		__builtin_memcpy(x->line + 4, &x->tr_octets, 4);
		__builtin_memcpy(x->line + 8, &x->tsize, 2);
		x->line[10] = x->tcount;
		x->line_len = 11;
		x->why = 0;
		return 0;
	}
	if (x->why)
		return -1;
	if (x->mflags & H2V_CONNECT) {
		x->why = L7_REASON_H2_CONNECT;
		return -1;
	}
	if ((x->pseudo & ((1 << H2N_METHOD) | (1 << H2N_SCHEME) | (1 << H2N_PATH))) !=
	    ((1 << H2N_METHOD) | (1 << H2N_SCHEME) | (1 << H2N_PATH))) {
		x->why = L7_REASON_H2_PSEUDO_MISSING;
		return -1;
	}
	if (x->pflags & H2V_EMPTY) {
		x->why = L7_REASON_H2_EMPTY_PATH;
		return -1;
	}
	if (!(x->mflags & H2V_KNOWN)) {
		x->why = L7_REASON_UNKNOWN_METHOD;
		return -1;
	}
	/* the path's target rules, as at the space after an http/1 request-target (the
	 * checker of the fields is free: they are all read) */
	t = &x->t;
	t->flags = (x->ptflags & 0x3ff) | ((x->mflags & H2V_OPTIONS) ? 0 : HF_NOT_OPTIONS);
	t->seg = (x->ptflags >> 16) & 0xff;
	t->pct = (x->ptflags >> 24) & 0xff;
	if (l7_h1_target_end(t, &reason) == STEP_ERROR) {
		x->why = reason;
		return -1;
	}
	if (x->hosts > 1) {
		x->why = L7_REASON_MULTIPLE_HOST;
		return -1;
	}
	if (x->hosts && (x->pseudo & (1 << H2N_AUTHORITY))) {
		x->why = L7_REASON_H2_HOST_AUTHORITY;
		return -1;
	}
	m = L7_NEED_METHOD ? x->mst : L7_DFA_START;
	p = L7_NEED_PATH ? x->pst : L7_DFA_START;
	/* host = :authority, else Host; neither: only rules without a host field match */
	o = !L7_NEED_HOST ? L7_DFA_START : (x->pseudo & (1 << H2N_AUTHORITY)) ? x->ast : x->hosts ? x->hst : L7_DFA_DEAD;
	sat = (x->hseen & ~L7_HDR_VALUED) | (x->hval & ~x->hdup & L7_HDR_VALUED);
	/* every rule applies to http/2, grpc ones too; with rate limits the free ones first */
	r = l7_first_rule(f->l7rules, L7_NUM_RL ? l7_rl_free : 0, m, p, o, sat);
	if (L7_NUM_RL && r < 0)
		r = l7_rl_judge(f, m | p << 16, o | 1 << 16, sat);
	if (r < 0)
		x->why = L7_REASON_L7_NO_RULE;
	return r;
}

#endif
