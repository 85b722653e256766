// Server -> client HTTP/1 parsing, only to pair responses with requests (status, latency).
// Replies are never subject to policy, so a broken response stream just stops pairing.
import { ERR_OK, ERR_PAUSED, ERR_PAUSED_UPGRADE, TYPE_RESPONSE, llhttp, type Llhttp, type LlhttpHandler } from './llhttp.ts';

/** What the response side needs from the connection: the request being answered. */
export interface ResponseOwner {
  /** Method of the oldest unanswered request, if any. */
  pendingMethod(): string | undefined;
  /** A final (non-1xx, or 101) response head is complete. */
  response(status: number): void;
}

export type ResponseParserState = 'active' | 'opaque' | 'dead';

export class ResponseParser implements LlhttpHandler {
  state: ResponseParserState = 'active';
  private readonly ll: Llhttp;
  private ptr: number;
  private readonly owner: ResponseOwner;
  /** Body bytes still to pass over in JS (a Content-Length body is never fed to llhttp). */
  private bodyLeft = 0;
  /** Set in onHeadersComplete: the body to skip once llhttp has paused after the head. */
  private skipNext = 0;

  constructor(owner: ResponseOwner) {
    this.ll = llhttp();
    // only onHeadersComplete is called back: status and framing are all pairing needs
    this.ptr = this.ll.allocLean(TYPE_RESPONSE);
    this.owner = owner;
  }

  free(): void {
    if (this.ptr) this.ll.x.llhttp_free(this.ptr);
    this.ptr = 0;
    this.state = 'dead';
  }

  feed(data: Uint8Array, start: number, end: number): void {
    let i = start;
    while (i < end && this.state === 'active') {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, end - i);
        this.bodyLeft -= n;
        i += n;
        continue;
      }
      const ptr = this.ll.load(data, i, end);
      const ret = this.ll.execute(this.ptr, this, ptr, end - i);
      if (ret === ERR_OK) return;
      if (ret === ERR_PAUSED) {
        // paused after a head with a Content-Length body: a fresh parser takes over after it,
        // which is what llhttp itself is in once a keep-alive message is complete
        i += this.ll.x.llhttp_get_error_pos(this.ptr) - ptr;
        this.ll.x.llhttp_reset(this.ptr);
        this.bodyLeft = this.skipNext;
        this.skipNext = 0;
        continue;
      }
      this.state = ret === ERR_PAUSED_UPGRADE ? 'opaque' : 'dead';
    }
  }

  onMessageBegin(): number { return 0; }
  onUrl(): number { return 0; }
  onStatus(): number { return 0; }
  onHeaderField(): number { return 0; }
  onHeaderValue(): number { return 0; }
  onHeadersComplete(status: number, _upgrade: boolean, keepAlive: boolean): number {
    // 1xx other than 101 are interim: the request stays unanswered
    if (status >= 100 && status < 200 && status !== 101) return 0;
    const method = this.owner.pendingMethod();
    this.owner.response(status);
    // 101, or 2xx to CONNECT: the connection is no longer HTTP
    if (status === 101 || (method === 'CONNECT' && status >= 200 && status < 300)) return 2; // llhttp: treat as upgrade, stop parsing
    if (method === 'HEAD') return 1; // the response has no body
    // 204 and 304 have no body whatever they announce; without keep-alive llhttp must see the end
    if (keepAlive && status !== 204 && status !== 304) {
      const len = this.ll.contentLength(this.ptr);
      if (len > 0) {
        this.skipNext = len;
        return ERR_PAUSED;
      }
    }
    return 0;
  }
  onBody(): number { return 0; }
  onMessageComplete(): number { return 0; }
}
