// HTTP/1 as a session of the replay (sim/l7/session.ts): llhttp parses the client's requests
// (RequestParser) and the server's responses (ResponseParser); responses pair with requests
// in order; an upgrade is decided by the server's first bytes, as the kernel's
// l7_upgrade_answer does.
import type { AnswerKind } from '../../src/net/answers.ts';
import type { Denial, L7Session, SessionHost, SessionState } from '../l7/session.ts';
import { TCP_ACK, TCP_RST, TCP_SYN, type PacketView } from '../decode/view.ts';
import type { ClientStream } from '../stream/client-stream.ts';
import { RequestParser } from './request-parser.ts';
import { ResponseParser, type ResponseOwner } from './response-parser.ts';
import type { Http1Event, HttpRequest } from './types.ts';

/** What a server's answer accepting a protocol upgrade starts with. */
const SWITCHING = [...Buffer.from('HTTP/1.1 101 ', 'latin1')];

/** Requests kept waiting for a response per connection; older ones are emitted unanswered. */
export const MAX_PENDING = 1024;

interface Pending<R> {
  readonly rec: R;
  readonly method: string;
  readonly upgrade: boolean;
  /** an `Upgrade: h2c` request: HTTP/2 follows the 101 */
  readonly h2c?: boolean;
  readonly denied?: boolean;
}

export class Http1Session<R> implements L7Session, ResponseOwner {
  decided = 0;
  denied = false;
  bodyEnd = -1;
  denial: Denial | null = null;
  /** the denied request, when stage 3 could cut it: where it ends (stream offset, its body included) */
  keepable: { readonly end: number } | null = null;
  allowedHeads: boolean[] = [];
  /** the server accepted an h2c upgrade: the connection is HTTP/2 from here (sim/l7/sniff.ts) */
  switchToH2 = false;
  private req: RequestParser;
  private resp: ResponseParser | null;
  private pending: Pending<R>[] = [];
  private readonly sink = (ev: Http1Event): boolean => this.onRequest(ev);

  constructor(
    private readonly limit: number,
    private readonly host: SessionHost<Http1Event, R>,
    /** the judge's check of incomplete heads (Judge.partial), or null */
    private readonly partialCheck: ((head: Uint8Array) => boolean) | null,
  ) {
    this.req = new RequestParser(limit);
    this.req.partial = partialCheck;
    this.resp = new ResponseParser(this);
  }

  get state(): SessionState {
    return this.req.state === 'opaque' ? 'opaque' : this.req.state === 'dead' ? 'dead' : 'open';
  }

  client(data: Uint8Array, start: number, end: number): void {
    this.decided = 0;
    this.denied = false;
    this.keepable = null;
    this.bodyEnd = -1;
    this.allowedHeads = [];
    this.req.feed(data, start, end, this.sink);
  }

  private onRequest(ev: Http1Event): boolean {
    const rec = this.host.judge(ev);
    this.decided++;
    if (!this.host.allowed(rec)) {
      this.denied = true;
      const headStart = ev.kind === 'request' ? ev.headStart : this.req.headStart;
      this.denial = { answerable: this.req.phase === 'head', start: headStart + leadingCrLf(ev.head) };
      if (ev.kind === 'request' && this.host.ruleDenied?.(rec)) this.keepable = keepableEnd(ev);
      this.addPending({ rec, method: '', upgrade: false, denied: true });
      return false;
    }
    if (ev.kind !== 'request') {
      this.host.emit(rec);
      return true;
    }
    this.allowedHeads.push(ev.method === 'HEAD');
    this.addPending({ rec, method: ev.method, upgrade: ev.upgrade, h2c: ev.upgrade && ev.headers.some(([n, v]) => /^upgrade$/i.test(n) && /^h2c$/i.test(v.trim())) });
    if (ev.framing === 'content-length') this.bodyEnd = ev.headEnd + contentLength(ev.headers);
    return true;
  }

  private addPending(p: Pending<R>): void {
    this.pending.push(p);
    if (this.pending.length > MAX_PENDING) this.host.emit(this.pending.shift()!.rec);
  }

  pendingMethod(): string | undefined {
    return this.pending[0]?.method;
  }

  response(status: number): void {
    const p = this.pending.shift();
    if (!p) return;
    this.host.answered(p.rec, { status });
    // a CONNECT tunnel opens on a 2xx to it; a protocol upgrade is decided by the server's
    // first bytes (serverSegment), not here
    if (!p.upgrade || p.method !== 'CONNECT') return;
    if (status >= 200 && status < 300) this.req.upgraded();
    else this.req.upgradeRefused();
  }

  /**
   * The server's answer to an allowed protocol upgrade: the handshake was the first request,
   * so only bytes at the server's first sequence number (srvNxt while it has sent nothing),
   * acknowledging the whole handshake (a forged 101 must know both sequence numbers), answer
   * it. "HTTP/1.1 101 " there makes the connection opaque; anything else (another status, a
   * first segment under 13 bytes, a segment elsewhere, a SYN or RST) is a refusal and the next
   * request is parsed as usual.
   */
  serverSegment(v: PacketView, s: ClientStream | null): boolean {
    if (!this.req.awaitsUpgradeAnswer()) return false;
    const first = s !== null && s.srvSeen && !s.srvSent && v.seq >>> 0 === s.srvNxt && !(v.flags & (TCP_SYN | TCP_RST))
      && (v.flags & TCP_ACK) !== 0 && v.ack >>> 0 === s.next;
    if (!first || v.payloadLen < SWITCHING.length || SWITCHING.some((b, i) => v.data[v.payloadOff + i] !== b)) {
      this.req.upgradeRefused();
      return false;
    }
    // h2c: HTTP/2 follows (the session is replaced), not an opaque tunnel
    if (this.pending.some((p) => p.h2c)) {
      this.switchToH2 = true;
      return false;
    }
    this.req.upgraded();
    return true;
  }

  server(data: Uint8Array, start: number, end: number): void {
    this.resp?.feed(data, start, end);
  }

  serverHole(): void {
    this.resp?.free();
    this.resp = null;
  }

  /** Stage 3 cut the denied request: the next request starts after it, on a fresh parser (the
   * kernel's l7_h1_next). */
  resume(at: number): void {
    const off = at;
    this.req.free();
    this.req = new RequestParser(this.limit);
    this.req.partial = this.partialCheck;
    this.req.streamOff = off;
    this.req.headStart = off;
    this.denied = false;
  }

  answerDenied(kind: AnswerKind = 'denied'): void {
    const i = this.pending.findIndex((p) => p.denied);
    if (i < 0) return;
    this.host.answered(this.pending[i]!.rec, { status: kind === 'limited' ? 429 : 403 });
    this.pending.splice(i, 1);
  }

  release(): void {
    for (const p of this.pending) this.host.emit(p.rec);
    this.pending = [];
    this.req.free();
    this.resp?.free();
    this.resp = null;
  }
}

/** CR and LF bytes before a request line (the kernel's req_seq is past them); the last byte
 * of a head that holds nothing else */
function leadingCrLf(head: Uint8Array): number {
  let i = 0;
  while (i < head.length && (head[i] === 13 || head[i] === 10)) i++;
  return i === head.length && i > 0 ? i - 1 : i;
}

/** Where a denied request ends if stage 3 can cut it (l7_keep_ok): kept alive (llhttp's rule: HTTP/1.0
 * with keep-alive, HTTP/1.1 without close), no Upgrade, no chunked body; null otherwise. */
function keepableEnd(ev: HttpRequest): { end: number } | null {
  if (ev.framing === 'chunked' || ev.headers.some(([n]) => /^upgrade$/i.test(n))) return null;
  const tokens = ev.headers.filter(([n]) => /^connection$/i.test(n)).flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase()));
  const alive = ev.version === '1.0' ? tokens.includes('keep-alive') : !tokens.includes('close');
  if (!alive) return null;
  return { end: ev.headEnd + (ev.framing === 'content-length' ? contentLength(ev.headers) : 0) };
}

/** The Content-Length value of a head whose framing is content-length (one, digits only). */
function contentLength(headers: readonly (readonly [string, string])[]): number {
  for (const [k, v] of headers) if (k.toLowerCase() === 'content-length') return Number(v.trim());
  return 0;
}
