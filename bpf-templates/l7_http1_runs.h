/* fast runs (l7_scan_one calls them when L7_FAST_RUNS is 1, the default): the common
 * bytes of a request head (header-value bytes, header-name token bytes, unreserved path
 * bytes) in tight loops with the dfa state in a register, exactly what l7_h1_byte does for
 * them; the byte that ends a run takes the full step. each run is a global function:
 * verified once, not once per position of the scan loop. a run stops one byte before the
 * inspection limit, so head-too-long is still detected by the full step. they re-derive
 * the full step's decisions: test/kernel/fast-paths.test.ts holds an object built with
 * L7_FAST_RUNS 0 (every byte through the full step) to the same packets and events. */
#ifndef L7_HTTP1_RUNS_H
#define L7_HTTP1_RUNS_H

/* bytes a run may take from position i: up to the chunk end and the window */
static __always_inline __u32 l7_run_lim(const struct l7_h1 *h, __u32 i, __u32 len)
{
	__u32 room = h->hdr_len < L7_INSPECT_WINDOW - 1 ? L7_INSPECT_WINDOW - 1 - h->hdr_len : 0;

	return len - i < room ? len - i : room;
}

/* the value bytes of w that end a plain run (control bytes, HTAB included, and DEL)
 * as 0x80 bits: the classic "has a byte less than n" / "has a zero byte" word tests.
 * bits above the first flagged byte may be false positives; the first one is exact. */
static __always_inline __u64 l7_special8(__u64 w)
{
	const __u64 ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	__u64 x = w ^ (ones * 0x7f);

	return ((w - ones * 0x20) & ~w & highs) | ((x - ones) & ~x & highs);
}

/* index of the first flagged byte of a nonzero l7_special8 mask (little-endian):
 * isolate the lowest bit 2^(8j+7); 2^(8j) times 0x0001020304050607 has j in its top byte */
static __always_inline __u32 l7_first_byte(__u64 m)
{
	return (((m & -m) >> 7) * 0x0001020304050607ULL) >> 56;
}

/* the bytes of w that are not a letter, digit or '-' (the bytes of nearly every header
 * name) as exact 0x80 bits. per 7-bit byte x: x + (0x80 - lo) has its top bit set iff
 * x >= lo, and no sum carries into the next byte. */
static __always_inline __u64 l7_not_alnum_dash8(__u64 w)
{
	const __u64 ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	__u64 x = w & ~highs, lw = x | (ones * 0x20), d = x ^ (ones * '-');
	__u64 alpha = (lw + ones * (0x80 - 'a')) & ~(lw + ones * (0x80 - 'z' - 1));
	__u64 digit = (x + ones * (0x80 - '0')) & ~(x + ones * (0x80 - '9' - 1));
	__u64 dash = ~(d + ones * 0x7f);

	return (~(alpha | digit | dash) | w) & highs;
}

/* a function counting the bytes from i up to the first one STOP8 flags, 8 at a time,
 * at most WORDS words. words past lim are read (buf has 8 bytes of slack past L7_CHUNK;
 * a masked index wraps inside it) and the count is clipped to lim once, at the end. */
#define L7_WORD_RUN(NAME, STOP8, WORDS)                                               \
	static __always_inline __u32 NAME(struct l7_scratch *sc, __u32 i, __u32 lim)   \
	{                                                                             \
		__u32 n = 0, j;                                                       \
		__u64 m;                                                              \
		for (int k = 0; k < (WORDS); k++) {                                   \
			j = i + n;                                                    \
			asm volatile("%0 &= %1" : "+r"(j) : "i"(L7_CHUNK - 1));       \
			m = STOP8(*(const __u64 *)(sc->buf + j));                     \
			if (m) {                                                      \
				n += l7_first_byte(m);                                \
				break;                                                \
			}                                                             \
			n += 8;                                                       \
			if (n >= lim)                                                 \
				break;                                                \
		}                                                                     \
		return n < lim ? n : lim;                                             \
	}

/* header-value bytes of a header no dfa needs */
L7_WORD_RUN(l7_run_plain, l7_special8, L7_CHUNK / 8)
/* header-name bytes: letters, digits and '-' */
L7_WORD_RUN(l7_name_len, l7_not_alnum_dash8, L7_RUN_MAX / 8)

/* value bytes stepping one dfa (or two); *st is the state, *commit the state
 * before trailing whitespace */
#define L7_RUN_DFA(NAME, UP)                                                          \
	static __always_inline __u32 l7_run_dfa_##NAME(struct l7_scratch *sc, __u32 i, __u32 lim, \
						       __u32 *stp, __u32 *commitp)             \
	{                                                                             \
		__u32 n = 0, st = *stp, commit = *commitp;                              \
		for (int k = 0; k < L7_RUN_MAX; k++) {                                  \
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

	for (int k = 0; k < L7_RUN_MAX; k++) {
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

/* st == H_VALUE, hkind < HK_CL: value bytes */
static __always_inline __u32 l7_run_value(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n = 0, vst, vc, hs, hc;
	int need, host;

	need = h->flags & HF_VAL_NEEDED;
	host = L7_NEED_HOST && h->hkind == HK_HOST;
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

/* "\r\n" at j ending a value line whose end cannot fail (no special header, a first
 * Host, a first valid Content-Length): what the CR and LF steps (l7_h1_line_end) do */
static __always_inline __u32 l7_run_crlf(struct l7_h1 *h, struct l7_scratch *sc, __u32 j, __u32 room)
{
	__u16 reason;

	if (room < 2 || L7_RUN_BYTE(sc, j, 0) != '\r' || L7_RUN_BYTE(sc, j, 1) != '\n')
		return 0;
	/* the failing ends (multiple-host, content-length rules) are the full step's */
	if (h->hkind == HK_HOST && (h->flags & HF_HOST))
		return 0;
	if (h->hkind == HK_CL && ((h->flags & (HF_CL | HF_TE | HF_V_BAD)) || h->pos == 0))
		return 0;
	if (h->hkind > HK_CL)
		return 0;
	l7_h1_line_end(h, &reason);
	return 2;
}

/* st == H_VALUE, hkind < HK_CL: value bytes, then the line end */
static __always_inline __u32 l7_run_value_line(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n = l7_forget(sc, l7_run_value(h, sc, i, lim));

	if (n >= lim)
		return n;
	return n + l7_run_crlf(h, sc, i + n, lim - n);
}

/* the value run as a global function: verified once, not once per way into it */
__attribute__((noinline)) __u32 l7_run_value_g(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	if (!h || !sc)
		return 0;
	return l7_run_value_line(h, sc, i, lim);
}

/* st == H_VALUE, hkind == HK_CL, no requirement names the header, no whitespace after
 * digits yet: up to 18 digits (l7_h1_value), then the line end. global: verified once. */
__attribute__((noinline)) __u32 l7_run_clen(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n = 0, pos;
	__u64 v;

	if (!h || !sc || (h->flags & (HF_V_WS | HF_V_BAD | HF_VAL_NEEDED)))
		return 0;
	v = h->clen;
	pos = h->pos;
	for (int k = 0; k < 18; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);

		/* a 19th digit is the full step's (bad-content-length) */
		if (k >= lim || !(l7_ctype[c] & CT_DIGIT) || pos + k >= 18)
			break;
		v = v * 10 + (c - '0');
		n++;
	}
	h->clen = v;
	h->pos = pos + n;
	n = l7_forget(sc, n);
	if (n >= lim)
		return n;
	return n + l7_run_crlf(h, sc, i + n, lim - n);
}

/* st == H_VALUE_OWS: spaces (no-ops there) */
static __always_inline __u32 l7_run_spaces(struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 k = 0;

	for (int t = 0; t < 8; t++) {
		if (k >= lim || L7_RUN_BYTE(sc, i, k) != ' ')
			break;
		k++;
	}
	return k;
}

/* offset of a special name's literal in l7_lit_special, per SPEC_* bit (a table, so
 * the verifier sees one unknown offset, not one path per candidate) */
const __u8 l7_spec_base[32] = { [SPEC_HOST] = 0, [SPEC_CL] = 32, [SPEC_TE] = 64, [SPEC_UPGRADE] = 96, [SPEC_CONN] = 128 };

/* st == H_NAME past its first byte: token bytes; a special-name candidate (at most
 * one is left after the first byte) is compared along the way */
static __always_inline __u32 l7_run_name(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	const char *lit = &l7_lit_special[0][0];
	__u32 n = 0, ns, pos, base;
	__u16 reason;
	__u8 spec;
	int alive;

	/* content-length and connection both still possible ("con"): the full step tells them
	 * apart on the fourth byte */
	if (h->pos == 0 || h->spec == (SPEC_CL | SPEC_CONN))
		return 0;
	ns = h->nst;
	pos = h->pos;
	spec = h->spec;
	alive = spec != 0;
	base = l7_spec_base[spec & 31];
	for (int k = 0; k < L7_RUN_MAX; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);
		__u32 at;

		if (k >= lim || !(l7_ctype[c] & CT_TCHAR))
			break;
		if (L7_NUM_HDR_REQS)
			ns = L7_DFA_STEP(hname, L7_HNAME, ns, c);
		if (alive) {
			at = pos + k;
			if (at >= 32) {
				alive = 0;
			} else {
				at += base;
				asm volatile("%0 &= 255" : "+r"(at));
				if (lit[at] != (c | 0x20))
					alive = 0;
			}
		}
		n++;
	}
	h->nst = ns;
	h->pos = pos + n;
	h->spec = alive ? spec : 0;
	n = l7_forget(sc, n);
	/* the colon after a non-empty name cannot fail */
	if (n < lim && L7_RUN_BYTE(sc, i, n) == ':') {
		l7_h1_colon(h, &reason);
		n++;
		/* one space after it, as usual: a no-op in H_VALUE_OWS */
		if (n < lim && L7_RUN_BYTE(sc, i, n) == ' ')
			n++;
	}
	return n;
}

/* the name run as a global function: verified once, not once per way into it (a line
 * start and a name split across segments); the value runs stay inline (verified per
 * way in, about 20k instructions, for ~3% of a 200-byte head) */
__attribute__((noinline)) __u32 l7_run_name_g(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n;
	__u8 c;

	if (!h || !sc)
		return 0;
	n = l7_forget(sc, l7_run_name(h, sc, i, lim));
	/* past the colon (and a space): the value of an ordinary header or of Host goes on
	 * in the same call (the step leaving H_VALUE_OWS reads its first byte as a value byte) */
	if (h->st != H_VALUE_OWS || h->hkind >= HK_CL || n >= lim)
		return n;
	c = L7_RUN_BYTE(sc, i, n);
	if (c <= ' ' || c == 0x7f)
		return n;
	h->st = H_VALUE;
	return n + l7_run_value_g(h, sc, i + n, lim - n);
}

/* 1 when a header requirement names the header whose n name bytes are at i */
static __always_inline int l7_name_required(struct l7_scratch *sc, __u32 i, __u32 n)
{
	__u32 ns = L7_DFA_START;

	for (int k = 0; k < L7_RUN_MAX; k++) {
		if (k >= n)
			break;
		ns = L7_DFA_STEP(hname, L7_HNAME, ns, L7_RUN_BYTE(sc, i, k));
	}
	return n > L7_RUN_MAX || L7_DFA_ACCEPT(hname, L7_HNAME, ns, 0, 1) != 0;
}

/* the special header (HK_*) an n-byte name of letters, digits and '-' at i is: its
 * first letter and length pick the candidate, a word compare of the lowercased name
 * against the NUL-padded literal decides (|0x20 lowercases letters and keeps digits
 * and '-') */
static __always_inline __u32 l7_special_kind(struct l7_scratch *sc, __u32 i, __u32 n)
{
	__u8 c0 = L7_RUN_BYTE(sc, i, 0) | 0x20;
	__u32 k, j, off;
	__u64 keep, w;

	if (c0 == 'h' && n == 4)
		k = 0;
	else if (c0 == 'c' && n == 14)
		k = 1;
	else if (c0 == 't' && n == 17)
		k = 2;
	else if (c0 == 'u' && n == 7)
		k = 3;
	else if (c0 == 'c' && n == 10)
		k = 4;
	else
		return HK_NONE;
	for (int t = 0; t < 3; t++) {
		off = t * 8;
		if (off >= n)
			break;
		j = i + off;
		asm volatile("%0 &= %1" : "+r"(j) : "i"(L7_CHUNK - 1));
		w = *(const __u64 *)(sc->buf + j) | 0x2020202020202020ULL;
		keep = n - off >= 8 ? ~0ULL : (1ULL << (8 * (n - off))) - 1;
		if ((w ^ *(const __u64 *)&l7_lit_special[k][off]) & keep)
			return HK_NONE;
	}
	return k + 1;
}

/* Content-Length digits at i (1 to 18, as l7_h1_value takes them), or 0 */
static __always_inline __u32 l7_clen_digits(struct l7_scratch *sc, __u32 i, __u32 lim, __u64 *v)
{
	__u32 n = 0;
	__u64 x = 0;

	for (int k = 0; k < 18; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);

		if (k >= lim || !(l7_ctype[c] & CT_DIGIT))
			break;
		x = x * 10 + (c - '0');
		n++;
	}
	*v = x;
	return n;
}

/* the HF_CONN_* flag of a Connection value that is exactly "close" or "keep-alive"
 * (ASCII case-insensitive: | 0x20 lowercases the letters and keeps '-'), or 0 */
static __always_inline __u32 l7_conn_value(struct l7_scratch *sc, __u32 j, __u32 len)
{
	__u64 w0, w1;

	asm volatile("%0 &= %1" : "+r"(j) : "i"(L7_CHUNK - 1));
	w0 = *(const __u64 *)(sc->buf + j) | 0x2020202020202020ULL;
	if (len == 5 && (w0 & 0xffffffffffULL) == 0x65736f6c63ULL)
		return HF_CONN_CLOSE;
	if (len != 10 || w0 != 0x696c612d7065656bULL)
		return 0;
	j += 8;
	asm volatile("%0 &= %1" : "+r"(j) : "i"(L7_CHUNK - 1));
	w1 = *(const __u64 *)(sc->buf + j) | 0x2020ULL;
	return (w1 & 0xffff) == 0x6576 ? HF_CONN_KA : 0;
}

/* a header line whole at i whose steps cannot fail, or 0 (the full steps take it):
 * "name:" with a name of letters, digits and '-' that no requirement names, spaces,
 * then for an ordinary header value bytes without control bytes (HTAB included), for
 * a first Host (no rule matches hosts) the same, for a first Content-Length (no
 * Transfer-Encoding yet) 1-18 digits, for Connection exactly close or keep-alive; CRLF.
 * what the line-start, name, colon, value and line-end steps do for it: a Host,
 * Content-Length or Connection line sets its flag (and the length). global: verified
 * once, not once per line of l7_run_lines. */
__attribute__((noinline)) __u32 l7_plain_line(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n, kind, v0, conn = 0;
	__u64 clen = 0;

	if (!h || !sc)
		return 0;
	n = l7_forget(sc, l7_name_len(sc, i, lim));
	if (n == 0 || n >= lim || L7_RUN_BYTE(sc, i, n) != ':')
		return 0;
	kind = l7_special_kind(sc, i, n);
	if (kind == HK_TE || kind == HK_UPGRADE)
		return 0;
	if (kind == HK_HOST && (L7_NEED_HOST || (h->flags & HF_HOST)))
		return 0;
	if (kind == HK_CL && (h->flags & (HF_CL | HF_TE)))
		return 0;
	if (L7_NUM_HDR_REQS && l7_name_required(sc, i, n))
		return 0;
	n = l7_forget(sc, n + 1 + l7_run_spaces(sc, i + n + 1, lim - n - 1));
	if (n >= lim)
		return 0;
	v0 = n;
	if (kind == HK_CL) {
		__u32 d = l7_clen_digits(sc, i + n, lim - n, &clen);

		if (d == 0)
			return 0;
		n = l7_forget(sc, n + d);
	} else {
		n = l7_forget(sc, n + l7_run_plain(sc, i + n, lim - n));
	}
	if (n + 2 > lim || L7_RUN_BYTE(sc, i, n) != '\r' || L7_RUN_BYTE(sc, i, n + 1) != '\n')
		return 0;
	if (kind == HK_CONN) {
		conn = l7_conn_value(sc, i + v0, n - v0);
		if (!conn)
			return 0;
		h->flags |= conn;
	}
	if (kind == HK_HOST)
		h->flags |= HF_HOST;
	if (kind == HK_CL) {
		h->flags |= HF_CL;
		h->clen = clen;
	}
	return n + 2;
}

/* st == H_LINE_START: header lines that cannot fail (l7_plain_line), up to L7_RUN_MAX / 4 of
 * them, then the CR of the empty line ending the head (its LF, which decides, is the
 * full step's). global: verified once. */
__attribute__((noinline)) __u32 l7_run_lines(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n = 0, len;

	if (!h || !sc)
		return 0;
	for (int k = 0; k < L7_RUN_MAX / 4; k++) {
		if (n >= lim)
			break;
		len = l7_forget(sc, l7_plain_line(h, sc, i + n, lim - n));
		if (!len)
			break;
		n += len;
	}
	if (n) {
		/* what the colon and line-end steps leave for an ordinary header */
		h->flags &= ~(HF_VAL_NEEDED | HF_V_BAD | HF_V_WS);
		h->hkind = HK_NONE;
		h->hnames = 0;
		h->vst = L7_DFA_START;
		h->vcommit = L7_DFA_START;
		h->pos = 0;
	}
	n = l7_forget(sc, n);
	if (n < lim && L7_RUN_BYTE(sc, i, n) == '\r') {
		/* l7_h1_line_start on a CR */
		h->st = H_END_LF;
		n++;
	}
	return n;
}

/* "HTTP/1.1\r\n" or "HTTP/1.0\r\n" whole: what the version, CR and LF steps do */
static __always_inline __u32 l7_run_version(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 j = i;
	__u64 w;

	if (lim < 10)
		return 0;
	asm volatile("%0 &= %1" : "+r"(j) : "i"(L7_CHUNK - 1));
	w = *(const __u64 *)(sc->buf + j);
	/* little-endian "HTTP/1.1" / "HTTP/1.0" */
	if (w != 0x312e312f50545448ULL && w != 0x302e312f50545448ULL)
		return 0;
	if (L7_RUN_BYTE(sc, i, 8) != '\r' || L7_RUN_BYTE(sc, i, 9) != '\n')
		return 0;
	if (w == 0x302e312f50545448ULL)
		h->flags |= HF_V10;
	h->pos = 8;
	h->st = H_LINE_START;
	return 10;
}

/* st == H_TARGET, no escape pending, started (not with '*') or starting with '/':
 * unreserved bytes but '.', and a '/' that keeps the path canonical (after such a
 * byte, or anywhere in the query), as l7_h1_target does. no segment state is carried
 * through the loop (the byte before a '/' is read again), so the verifier walks one
 * path per position. global: verified once. */
__attribute__((noinline)) __u32 l7_run_target(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	__u32 n = 0, ps, fl;
	int q, plain0;

	if (!h || !sc)
		return 0;
	ps = h->pst;
	fl = h->flags;
	q = fl & HF_QUERY;
	/* the path so far ends in a plain segment byte (l7_h1_target's seg == 3) */
	plain0 = h->seg == 3;
	for (int k = 0; k < L7_RUN_MAX; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);

		if (k >= lim)
			break;
		if (!(l7_ctype[c] & CT_UNRES) || c == '.') {
			if (c != '/')
				break;
			if (!q) {
				/* "//" or "/./" would not be canonical: the full step names it */
				if (k == 0) {
					if (!plain0)
						break;
				} else {
					__u8 p = L7_RUN_BYTE(sc, i, k - 1);

					if (p == '/')
						break;
				}
			}
		}
		if (L7_NEED_PATH)
			ps = L7_DFA_STEP(path, L7_PATH, ps, c);
		n++;
	}
	if (n) {
		/* a first byte here is a '/' (the dispatch checks it) */
		if ((fl & HF_T_STARTED) || n > 1)
			fl |= HF_T_MORE;
		h->flags = fl | HF_T_STARTED;
		h->pst = ps;
		/* segment state after the last byte: 0 after '/', 3 after a plain byte */
		h->seg = L7_RUN_BYTE(sc, i, n - 1) == '/' ? 0 : 3;
	}
	n = l7_forget(sc, n);
	/* the space after a target l7_h1_target_end accepts: no problem recorded, not
	 * ending in "/." or "/.." (a run never ends so) */
	fl = h->flags;
	if (n < lim && L7_RUN_BYTE(sc, i, n) == ' ' && (fl & HF_T_STARTED) &&
	    !(fl & (HF_T_STAR | HF_T_NOSLASH | HF_T_BSLASH | HF_T_BADCHAR | HF_T_CANON | HF_T_QPCT)) &&
	    ((fl & HF_QUERY) || h->seg == 0 || h->seg == 3)) {
		h->st = H_VERSION;
		h->pos = 0;
		n++;
	}
	if (h->st != H_VERSION || h->pos != 0)
		return n;
	/* the request line goes on in the same call with the version (the header lines
	 * that follow are the caller's: l7_scan_one) */
	n = l7_forget(sc, n);
	if (n >= lim)
		return n;
	return n + l7_run_version(h, sc, i + n, lim - n);
}

/* st == H_METHOD at the method's first byte: token bytes (method dfa, known-method dfa),
 * then the space after a known method, as l7_h1_method does. global: verified once. */
__attribute__((noinline)) __u32 l7_run_method(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 lim)
{
	/* little-endian "OPTIONS" and "PRI", and the mask of their first n bytes */
	const __u64 options = 0x00534e4f4954504fULL, pri = 0x495250ULL, head = 0x44414548ULL;
	__u32 n = 0, ms, ks, j = i;
	__u64 w, m;

	if (!h || !sc || h->pos != 0)
		return 0;
	ms = h->mst;
	ks = h->kst;
	for (int k = 0; k < L7_RUN_MAX; k++) {
		__u8 c = L7_RUN_BYTE(sc, i, k);

		if (k >= lim || !(l7_ctype[c] & CT_TCHAR))
			break;
		if (L7_NEED_METHOD)
			ms = L7_DFA_STEP(method, L7_METHOD, ms, c);
		ks = L7_DFA_STEP(kmeth, L7_KMETH, ks, c);
		n++;
	}
	h->mst = ms;
	h->kst = ks;
	h->pos = n;
	n = l7_forget(sc, n);
	/* HF_NOT_OPTIONS unless the bytes so far are a prefix of "OPTIONS" (buf has 8 bytes
	 * of slack past L7_CHUNK) */
	asm volatile("%0 &= %1" : "+r"(j) : "i"(L7_CHUNK - 1));
	w = *(const __u64 *)(sc->buf + j);
	m = n >= 8 ? 0 : (1ULL << (8 * n)) - 1;
	if (n >= 8 || (w & m) != (options & m))
		h->flags |= HF_NOT_OPTIONS;
	if (n > 3 || (w & m) != (pri & m))
		h->flags |= HF_NOT_PRI;
	if (n > 4 || (w & m) != (head & m))
		h->flags |= HF_NOT_HEAD;
	/* the bound check right before the access is what the verifier sees (L7_DFA_STEP) */
	asm volatile("" : "+r"(ks));
	/* the space after a non-empty known method */
	if (n && n < lim && L7_RUN_BYTE(sc, i, n) == ' ' && ks < L7_KMETH_STATES && l7_kmeth_accept[ks]) {
		if (n != 7)
			h->flags |= HF_NOT_OPTIONS;
		if (n != 4)
			h->flags |= HF_NOT_HEAD;
		h->st = H_TARGET;
		n++;
	}
	return n;
}

/* a fast run from position i, or 0 when the byte there needs the full step */
static __always_inline __u32 l7_run(struct l7_h1 *h, struct l7_scratch *sc, __u32 i, __u32 len)
{
	__u32 lim = l7_run_lim(h, i, len), pre = 0;
	__u8 c = L7_RUN_BYTE(sc, i, 0);

	if (lim == 0)
		return 0;
	/* the fall-throughs share one copy of each run: the verifier walks it once */
	switch (h->st) {
	case H_VALUE_OWS:
		if (h->hkind > HK_CL)
			return 0;
		if (c == ' ')
			return l7_run_spaces(sc, i, lim);
		if (c < 0x20 || c == 0x7f)
			return 0;	/* HTAB, CR, control bytes: the full step */
		/* the step leaving H_VALUE_OWS reads c as a value byte */
		h->st = H_VALUE;
		/* fall through */
	case H_VALUE:
		if (h->hkind == HK_CL)
			return l7_run_clen(h, sc, i, lim);
		return h->hkind < HK_CL ? l7_run_value_g(h, sc, i, lim) : 0;
	case H_LINE_START:
		/* a header name's first byte, as l7_h1_line_start does for a token byte */
		if (!(l7_ctype[c] & CT_TCHAR))
			return 0;
		h->st = H_NAME;
		h->nst = L7_NUM_HDR_REQS ? L7_DFA_STEP(hname, L7_HNAME, L7_DFA_START, c) : L7_DFA_START;
		h->spec = l7_spec_next(SPEC_ALL, 0, c);
		h->pos = 1;
		pre = 1;
		/* fall through */
	case H_NAME:
		if (pre > lim)
			return 0;
		return pre + l7_run_name_g(h, sc, i + pre, lim - pre);
	case H_VERSION:
		return h->pos == 0 ? l7_run_version(h, sc, i, lim) : 0;
	case H_TARGET:
		if (h->pct || (h->flags & HF_T_STAR) || (!(h->flags & HF_T_STARTED) && c != '/'))
			return 0;
		return l7_run_target(h, sc, i, lim);
	case H_METHOD:
		return l7_run_method(h, sc, i, lim);
	default:
		return 0;
	}
}

#endif
