// Client -> server HTTP/1 parsing for one connection: llhttp in strict mode, paused at each
// header-block end and message end so the raw head and its stream offsets are exact.
import {
  ERR_OK, ERR_PAUSED, ERR_PAUSED_UPGRADE, TYPE_REQUEST, errorName, llhttp, methodName,
  type Llhttp, type LlhttpHandler,
} from './llhttp.ts';
import { copyBytes, joinParts } from './head-fields.ts';
import { LazyRequest, versionString } from './request-event.ts';
import type { HttpParseError, Http1Event } from './types.ts';

export type RequestParserState = 'idle' | 'head' | 'body' | 'upgrade-pending' | 'opaque' | 'collect' | 'dead';

/** Receives each request event in stream order; returns false to stop (the request was denied). */
export type RequestSink = (ev: Http1Event) => boolean;

const PAUSE_NONE = 0;
const PAUSE_HEAD = 1;
const PAUSE_MESSAGE = 2;

/** Where the last event the parser emitted happened (the datapath answers denials in a head only). */
export type EventPhase = 'head' | 'body' | 'closed' | 'upgrade';

export class RequestParser implements LlhttpHandler {
  state: RequestParserState = 'idle';
  /** Where the last event was emitted, and the stream offset of its head. */
  phase: EventPhase = 'head';
  headStart = 0;
  /** Stream offset of the next byte to be fed. */
  streamOff = 0;
  private readonly ll: Llhttp;
  private ptr: number;
  private readonly limit: number;
  private headParts: Uint8Array[] = [];
  private headLen = 0;
  private tooLongReported = false;
  private upgrade = false;
  /** The upgrade is a CONNECT tunnel (opened by a 2xx, as llhttp reads the answer); otherwise a
   * protocol upgrade whose answer the engine judges on the server's first bytes, as the kernel does. */
  private tunnel = false;
  private pause = PAUSE_NONE;

  constructor(inspectionLimit: number) {
    this.ll = llhttp();
    // llhttp calls back only at head end and message end; URL and header pieces are decoded
    // from the head bytes when read (LazyRequest)
    this.ptr = this.ll.allocLean(TYPE_REQUEST);
    this.limit = inspectionLimit;
  }

  free(): void {
    if (this.ptr) this.ll.x.llhttp_free(this.ptr);
    this.ptr = 0;
    this.state = 'dead';
  }

  /** Feeds new in-order bytes data[start, end). Stops early when the sink returns false. */
  feed(data: Uint8Array, start: number, end: number, sink: RequestSink): void {
    let base = -1;
    let i = start;
    while (i < end) {
      // CR and LF bytes before a request line are part of its head: llhttp skips them (any
      // number, in any order), and so do the strict rules (oracle and kernel)
      if (this.state === 'idle') this.beginHead();
      if (this.state === 'collect') return this.collect(data, i, end, sink);
      if (this.state === 'upgrade-pending') {
        this.state = 'dead';
        this.phase = 'upgrade';
        sink({ kind: 'violation', code: 'data-before-upgrade', detail: 'client sent bytes after an upgrade request before the server accepted or refused it', offset: this.streamOff, head: new Uint8Array(0) });
        return;
      }
      if (this.state !== 'head' && this.state !== 'body') return;
      if (base < 0) base = this.ll.load(data, start, end) - start; // wasm address of data[0]
      const ret = this.ll.execute(this.ptr, this, base + i, end - i);
      const pos = ret === ERR_OK ? end : this.ll.x.llhttp_get_error_pos(this.ptr) - base;
      const wasHead = this.state === 'head';
      if (wasHead) {
        if (!this.takeHead(data, i, pos, ret === ERR_PAUSED && this.pause === PAUSE_HEAD, sink)) return;
      }
      this.streamOff += pos - i;
      i = pos;
      if (ret === ERR_OK) {
        if (this.state === 'head' && this.partial && !this.tooLongReported) this.checkPartial(sink);
        return;
      }
      if (ret === ERR_PAUSED) {
        this.ll.x.llhttp_resume(this.ptr);
        // a protocol upgrade waits for the answer right after its head (the kernel's H_UPGRADE; a
        // body it announced is a strict violation anyway)
        if (this.pause === PAUSE_HEAD) this.state = this.upgrade && !this.tunnel ? 'upgrade-pending' : 'body';
        else if (this.pause === PAUSE_MESSAGE) this.state = this.upgrade ? 'upgrade-pending' : 'idle';
        this.pause = PAUSE_NONE;
        continue;
      }
      if (ret === ERR_PAUSED_UPGRADE) {
        this.state = 'upgrade-pending';
        continue;
      }
      const error: HttpParseError = { kind: 'parse-error', code: errorName(ret), reason: this.ll.reason(this.ptr), offset: this.streamOff, head: new Uint8Array(0) };
      if (wasHead && this.partial) {
        // llhttp gave up; the strict rules decide where a streaming parser would (the kernel):
        // keep the bytes until they break a rule or the head ends
        this.collected = error;
        this.state = 'collect';
        return this.collect(data, pos, end, sink);
      }
      this.state = 'dead';
      this.phase = !wasHead ? 'body' : error.code === 'HPE_CLOSED_CONNECTION' ? 'closed' : 'head';
      sink({ ...error, head: joinParts(this.headParts, Math.min(this.headLen, this.limit)) });
      return;
    }
  }

  /** llhttp error kept while collecting the rest of a broken head. */
  private collected: HttpParseError | null = null;

  private collect(data: Uint8Array, i: number, end: number, sink: RequestSink): void {
    const room = this.limit + 1 - this.headLen;
    if (room > 0 && i < end) this.headParts.push(data.slice(i, i + Math.min(end - i, room)));
    this.headLen += end - i;
    this.streamOff += end - i;
    const head = joinParts(this.headParts, Math.min(this.headLen, this.limit));
    const denied = this.partial?.(head) === false;
    if (!denied && !endsHead(head) && this.headLen < this.limit) return;
    this.state = 'dead';
    // bytes after a message that closes the connection: the datapath reads them as a doomed head
    this.phase = this.collected?.code === 'HPE_CLOSED_CONNECTION' ? 'closed' : 'head';
    // the strict rules broke, or the head ended without breaking them: llhttp's error stands
    sink(denied ? { kind: 'violation', code: 'partial-head', detail: 'the request head so far breaks a rule', offset: this.streamOff, head } : { ...this.collected!, head });
  }

  /** Set by the engine when its judge checks incomplete heads (Judge.partial). */
  partial: ((head: Uint8Array) => boolean) | null = null;

  /** The head is still incomplete after this segment: may its bytes so far already be denied? */
  private checkPartial(sink: RequestSink): void {
    const head = joinParts(this.headParts, Math.min(this.headLen, this.limit));
    if (this.partial?.(head) !== false) return;
    this.state = 'dead';
    this.phase = 'head';
    sink({ kind: 'violation', code: 'partial-head', detail: 'the request head so far breaks a rule', offset: this.streamOff, head });
  }

  /** A protocol upgrade (not CONNECT) waits for the server's answer: the engine judges it. */
  awaitsUpgradeAnswer(): boolean {
    return this.state === 'upgrade-pending' && this.upgrade && !this.tunnel;
  }

  /** The server accepted the upgrade: nothing after it is HTTP. */
  upgraded(): void {
    if (this.upgrade && (this.state === 'upgrade-pending' || this.state === 'body')) this.state = 'opaque';
  }

  /** The server refused the upgrade: the connection goes on as HTTP/1 with a fresh parser. */
  upgradeRefused(): void {
    if (!this.upgrade || (this.state !== 'upgrade-pending' && this.state !== 'body')) return;
    this.ll.x.llhttp_reset(this.ptr);
    this.upgrade = false;
    this.tunnel = false;
    this.state = 'idle';
  }

  private beginHead(): void {
    this.state = 'head';
    this.headStart = this.streamOff;
    this.headParts = [];
    this.headLen = 0;
    this.tooLongReported = false;
    this.upgrade = false;
    this.tunnel = false;
  }

  /** Accounts head bytes data[i, pos); on completion emits the request. False = stop. */
  private takeHead(data: Uint8Array, i: number, pos: number, complete: boolean, sink: RequestSink): boolean {
    const n = pos - i;
    if (complete && this.headLen === 0 && n <= this.limit) {
      // the whole head in one piece (the common case): one copy, owned by the event
      this.headLen = n;
      return this.emitRequest(copyBytes(data, i, pos), null, sink);
    }
    // all of it, also beyond the limit: the fields of a cut head are still decoded from it
    if (n > 0) this.headParts.push(data.slice(i, pos));
    this.headLen += n;
    if (this.headLen > this.limit && !this.tooLongReported) {
      this.tooLongReported = true;
      this.phase = 'head';
      const head = joinParts(this.headParts, this.limit);
      const ok = sink({ kind: 'violation', code: 'head-too-long', detail: `request head exceeds the inspection limit of ${this.limit} bytes`, offset: this.headStart + this.limit, head });
      if (!ok) return false;
    }
    if (!complete) return true;
    // every part is a copy, so the joined head is owned by the event either way
    const full = joinParts(this.headParts, this.headLen);
    if (!this.tooLongReported) return this.emitRequest(full, null, sink);
    return this.emitRequest(full.subarray(0, this.limit), full, sink);
  }

  private emitRequest(head: Uint8Array, full: Uint8Array | null, sink: RequestSink): boolean {
    const ll = this.ll;
    this.phase = 'head';
    const p = this.ptr;
    return sink(new LazyRequest(
      methodName(ll.method(p)), versionString(ll.httpMajor(p), ll.httpMinor(p)),
      head, this.headStart, this.headStart + this.headLen, this.upgrade, full,
    ));
  }

  onMessageBegin(): number { return 0; }
  // pieces: not called with lean settings, ignored otherwise (LazyRequest decodes the head)
  onUrl(): number { return 0; }
  onStatus(): number { return 0; }
  onHeaderField(): number { return 0; }
  onHeaderValue(): number { return 0; }
  onHeadersComplete(_s: number, upgrade: boolean): number {
    this.upgrade = upgrade;
    this.tunnel = upgrade && methodName(this.ll.method(this.ptr)) === 'CONNECT';
    this.pause = PAUSE_HEAD;
    return ERR_PAUSED;
  }
  onBody(): number { return 0; }
  onMessageComplete(): number {
    this.pause = PAUSE_MESSAGE;
    return ERR_PAUSED;
  }
}

/** Whether a head's bytes contain the blank line that ends it (after the CR and LF bytes
 * before its request line, which cannot end it). */
function endsHead(b: Uint8Array): boolean {
  let from = 0;
  while (from < b.length && (b[from] === 13 || b[from] === 10)) from++;
  for (let i = from + 3; i < b.length; i++) if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return true;
  return false;
}
