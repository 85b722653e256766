// Strict request rules (fail closed), shared semantics of oracle, simulator and kernel.
// A request head is denied when its framing or path is ambiguous. Every rule has a
// detection offset (the byte at which a streaming parser knows); when a head breaks
// several rules, the one detected first wins (bare CR/LF before others at one offset).
// CR and LF bytes before the request line are skipped, any number in any order, as llhttp
// 9 skips them (RFC 9112 2.2: a stray CRLF before a request, e.g. after a POST body); they
// belong to the head (offsets, its length and the inspection limit count them).
// An Upgrade header is a rule of its own: only a websocket or h2c handshake l7bpf can follow
// is judged by the http rules (upgradeProblem); any other upgrade is denied.
import { DEFAULT_LIMITS } from './limits.ts';
import { KNOWN_METHODS, type HttpRequest, type HttpVersion } from './http.ts';
import { targetProblem } from './http1-target.ts';
import type { AnyStrictRule } from './h2-request.ts';

/** the strict rules and their descriptions: the one table (the kernel's reason codes for
 * them, codegen/emit/event.ts, are derived from it, in this order) */
export const STRICT_RULES = {
  'head-too-long': 'request line and headers longer than the inspection limit',
  'bare-cr-lf': 'bare CR or LF (lines must end with CRLF)',
  malformed: 'not a valid HTTP/1.x request head (or chunked body)',
  'unknown-method': 'method unknown to HTTP parsers',
  'not-origin-form': 'request-target not in origin-form',
  'path-not-canonical': 'path not canonical',
  'bad-version': 'HTTP version other than 1.0/1.1',
  'obs-fold': 'obsolete line folding (a header line starting with SP or HTAB)',
  'space-before-colon': 'whitespace between header name and colon',
  'duplicate-content-length': 'more than one Content-Length',
  'bad-content-length': 'Content-Length not 1 to 18 digits',
  'bad-transfer-encoding': 'Transfer-Encoding other than exactly "chunked", or sent twice',
  'cl-and-te': 'both Content-Length and Transfer-Encoding',
  'multiple-host': 'more than one Host header',
  upgrade: 'protocol upgrade l7bpf cannot follow (only a websocket or an h2c handshake, as the first request, is judged)',
} as const;
export type StrictRule = keyof typeof STRICT_RULES;

export interface StrictViolation {
  /** HTTP/1's rules, or HTTP/2's (h2-request.ts) */
  readonly rule: AnyStrictRule;
  readonly detail: string;
  /** byte offset from the start of the request */
  readonly offset: number;
}

export type BodyFraming = { readonly kind: 'none' } | { readonly kind: 'length'; readonly length: number } | { readonly kind: 'chunked' };

export type HeadResult =
  | { readonly kind: 'ok'; readonly request: HttpRequest; readonly framing: BodyFraming; /** head length incl. the CR/LF bytes before the request line and CRLFCRLF */ readonly length: number }
  | { readonly kind: 'violation'; readonly violation: StrictViolation }
  /** the head has not ended yet and no rule is broken so far */
  | { readonly kind: 'incomplete' };

const CR = 13;
const LF = 10;
/** RFC 9110 tchar, as a lookup table (this runs for every byte of every inspected head). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TCHAR[c.charCodeAt(0)] = 1;
const isTchar = (code: number) => code < 128 && TCHAR[code] === 1;

interface Line {
  readonly start: number;
  /** offset of the CR ending the line */
  readonly end: number;
  readonly text: string;
}

/** Parses the head at the start of `bytes` (later bytes, e.g. a body, are ignored). */
export function parseRequestHead(bytes: Uint8Array, limit: number = DEFAULT_LIMITS.headBytes): HeadResult {
  const window = bytes.subarray(0, limit);
  const { lines, headEnd, bareAt } = splitLines(window, latin1(window), blankPrefix(window));
  const found: StrictViolation[] = [];
  if (bareAt >= 0) found.push({ rule: 'bare-cr-lf', detail: `bare ${window[bareAt] === CR ? 'CR' : 'LF'}`, offset: bareAt });
  if (headEnd < 0 && bytes.length >= limit) found.push({ rule: 'head-too-long', detail: `no end of headers within ${limit} bytes`, offset: limit });
  const first = lines[0];
  const rl = first ? checkRequestLine(first) : null;
  if (rl?.violation) found.push(rl.violation);
  const hs = checkHeaders(lines);
  if (hs.violation) found.push(hs.violation);
  const ws = headEnd >= 0 && rl?.request && hs.upgrade ? upgradeProblem(rl.request.version, hs) : null;
  // detected at the end of the head: the Connection header may follow the Upgrade header
  if (ws) found.push(violation('upgrade', ws, headEnd - 2));
  const v = earliest(found);
  if (v) return { kind: 'violation', violation: v };
  if (headEnd < 0 || !rl?.request) return { kind: 'incomplete' };
  const request: HttpRequest = { method: rl.request.method, target: rl.request.target, version: rl.request.version, headers: hs.headers };
  return { kind: 'ok', request, framing: hs.framing, length: headEnd };
}

function earliest(vs: readonly StrictViolation[]): StrictViolation | null {
  let best: StrictViolation | null = null;
  for (const v of vs) {
    if (!best || v.offset < best.offset || (v.offset === best.offset && v.rule === 'bare-cr-lf')) best = v;
  }
  return best;
}

/** Length of the run of CR and LF bytes before the request line (llhttp skips them). */
function blankPrefix(b: Uint8Array): number {
  let i = 0;
  while (i < b.length && (b[i] === CR || b[i] === LF)) i++;
  return i;
}

/** Lines ending in CRLF from `from` up to the empty line; the first bare CR or LF; the head length. */
function splitLines(b: Uint8Array, text: string, from: number): { lines: Line[]; headEnd: number; bareAt: number } {
  const lines: Line[] = [];
  let start = from;
  // a CR as the last byte may yet be followed by LF: not part of the partial line
  let end = b.length;
  for (let i = from; i < b.length; i++) {
    const c = b[i];
    if (c === LF) return bare(lines, start, i, text);
    if (c !== CR) continue;
    if (i + 1 >= b.length) {
      end = i;
      break;
    }
    if (b[i + 1] !== LF) return bare(lines, start, i, text);
    if (i === start && lines.length > 0) return { lines, headEnd: i + 2, bareAt: -1 };
    lines.push({ start, end: i, text: text.slice(start, i) });
    start = i + 2;
    i++;
  }
  // a partial last line still counts for rules detected inside it
  if (start < end) lines.push({ start, end: -1, text: text.slice(start, end) });
  return { lines, headEnd: -1, bareAt: -1 };
}

/** Stop at a bare CR/LF, keeping the partial line before it: a rule it breaks earlier still wins. */
function bare(lines: Line[], start: number, at: number, text: string): { lines: Line[]; headEnd: number; bareAt: number } {
  if (start < at) lines.push({ start, end: -1, text: text.slice(start, at) });
  return { lines, headEnd: -1, bareAt: at };
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function violation(rule: StrictRule, detail: string, offset: number): StrictViolation {
  return { rule, detail, offset };
}

type RequestLineResult = { violation?: StrictViolation; request?: Omit<HttpRequest, 'headers'> };

function checkRequestLine(line: Line): RequestLineResult {
  const t = line.text;
  const sp1 = t.indexOf(' ');
  if (sp1 === 0) return { violation: violation('malformed', 'empty method', line.start) };
  if (sp1 < 0) {
    const bad = firstNonToken(t);
    if (bad >= 0) return { violation: violation('malformed', 'invalid character in method', line.start + bad) };
    if (line.end < 0) return {};
    return { violation: violation('malformed', 'request line without target', line.end) };
  }
  const method = t.slice(0, sp1);
  const bad = firstNonToken(method);
  if (bad >= 0) return { violation: violation('malformed', 'invalid character in method', line.start + bad) };
  if (!KNOWN_METHODS.has(method)) return { violation: violation('unknown-method', `method "${method}"`, line.start + sp1) };
  const sp2 = t.indexOf(' ', sp1 + 1);
  if (sp2 < 0) {
    if (line.end < 0) return {};
    return { violation: violation('malformed', 'request line without HTTP version', line.end) };
  }
  const target = t.slice(sp1 + 1, sp2);
  const problem = targetProblem(method, target);
  if (problem) return { violation: violation(problem.rule, problem.detail, line.start + sp2) };
  if (line.end < 0) return {};
  const version = t.slice(sp2 + 1);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return { violation: violation('bad-version', `version "${version}"`, line.end) };
  return { request: { method, target, version: version as HttpVersion } };
}

function firstNonToken(s: string): number {
  for (let i = 0; i < s.length; i++) if (!isTchar(s.charCodeAt(i))) return i;
  return -1;
}

interface HeaderState {
  headers: [string, string][];
  violation: StrictViolation | null;
  framing: BodyFraming;
  /** the one Upgrade header's protocol: websocket, or h2c (HTTP/2 after the 101) */
  upgrade: 'websocket' | 'h2c' | false;
  /** Connection elements as llhttp reads them (comma-separated, spaces and tabs around each) */
  connUpgrade: boolean;
  connClose: boolean;
}

const NO_BODY: BodyFraming = { kind: 'none' };

/** Header lines: every line after the request line. */
function checkHeaders(lines: readonly Line[]): HeaderState {
  const st: HeaderState = { headers: [], violation: null, framing: NO_BODY, upgrade: false, connUpgrade: false, connClose: false };
  const count = new Map<string, number>();
  for (let i = 1; i < lines.length && !st.violation; i++) st.violation = checkHeaderLine(lines[i] as Line, st, count);
  return st;
}

function checkHeaderLine(line: Line, st: HeaderState, count: Map<string, number>): StrictViolation | null {
  const t = line.text;
  if (t[0] === ' ' || t[0] === '\t') return violation('obs-fold', 'header line starts with whitespace', line.start);
  const colon = t.indexOf(':');
  const nameEnd = colon < 0 ? t.length : colon;
  for (let i = 0; i < nameEnd; i++) {
    const c = t.charCodeAt(i);
    if (c === 32 || c === 9) return violation('space-before-colon', `after "${t.slice(0, i)}"`, line.start + i);
    if (!isTchar(c)) return violation('malformed', 'invalid character in header name', line.start + i);
  }
  if (colon === 0) return violation('malformed', 'empty header name', line.start);
  const badValue = colon < 0 ? -1 : firstCtl(t, colon + 1);
  if (badValue >= 0) return violation('malformed', 'control character in header value', line.start + badValue);
  if (line.end < 0) return null;
  if (colon < 0) return violation('malformed', 'header line without colon', line.end);
  const name = t.slice(0, colon);
  const value = trimOws(t, colon + 1);
  st.headers.push([name, value]);
  const lower = name.toLowerCase();
  count.set(lower, (count.get(lower) ?? 0) + 1);
  return headerSemantics(lower, value, count, line.end, st);
}

/** s[from..] without leading and trailing spaces/tabs. */
function trimOws(s: string, from: number): string {
  let a = from;
  let z = s.length;
  while (a < z && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (z > a && (s.charCodeAt(z - 1) === 32 || s.charCodeAt(z - 1) === 9)) z--;
  return s.slice(a, z);
}

function firstCtl(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f) return i;
  }
  return -1;
}

function headerSemantics(name: string, value: string, count: Map<string, number>, at: number, st: HeaderState): StrictViolation | null {
  const n = count.get(name) ?? 0;
  switch (name) {
    case 'content-length':
      if (n > 1) return violation('duplicate-content-length', 'second Content-Length', at);
      if (!/^[0-9]{1,18}$/.test(value)) return violation('bad-content-length', `Content-Length "${value}"`, at);
      if (count.has('transfer-encoding')) return violation('cl-and-te', 'Content-Length after Transfer-Encoding', at);
      st.framing = { kind: 'length', length: Number(value) };
      return null;
    case 'transfer-encoding':
      if (n > 1 || value !== 'chunked') return violation('bad-transfer-encoding', `Transfer-Encoding "${value}"`, at);
      if (count.has('content-length')) return violation('cl-and-te', 'Transfer-Encoding after Content-Length', at);
      st.framing = { kind: 'chunked' };
      return null;
    case 'host':
      return n > 1 ? violation('multiple-host', 'second Host header', at) : null;
    case 'upgrade':
      // exactly one Upgrade header, exactly the websocket or the h2c token (any case): a list
      // or another protocol could not be inspected after the switch
      if (n > 1) return violation('upgrade', 'second Upgrade header', at);
      if (/^websocket$/i.test(value)) st.upgrade = 'websocket';
      else if (/^h2c$/i.test(value)) st.upgrade = 'h2c';
      else return violation('upgrade', `Upgrade: ${value}`, at);
      return null;
    case 'connection':
      for (const e of value.split(',')) {
        const t = trimOws(e, 0);
        if (/^upgrade$/i.test(t)) st.connUpgrade = true;
        else if (/^close$/i.test(t)) st.connClose = true;
      }
      return null;
    default:
      return null;
  }
}

/**
 * Why a head with `Upgrade: websocket` or `Upgrade: h2c` is not a handshake l7bpf follows, or
 * null. RFC 6455 4.1 and RFC 7540 3.2: HTTP/1.1 and `Connection: upgrade` (h2c's
 * HTTP2-Settings header concerns the server's side only). No body: where the new protocol
 * starts would be ambiguous (llhttp: after the body; other servers: right after the head),
 * which is how upgrade smuggling works. No `Connection: close`: the connection could not go
 * on either way.
 */
function upgradeProblem(version: HttpVersion, st: HeaderState): string | null {
  const what = `${st.upgrade} upgrade`;
  if (version !== 'HTTP/1.1') return `${what} over ${version}`;
  if (!st.connUpgrade) return `Upgrade: ${st.upgrade} without Connection: upgrade`;
  if (st.connClose) return `${what} with Connection: close`;
  if (st.framing.kind === 'chunked' || (st.framing.kind === 'length' && st.framing.length > 0)) return `${what} with a body`;
  return null;
}
