// Server -> client HTTP/1 parsing, only to pair responses with requests (status, latency).
// Replies are never subject to policy, so a broken response stream just stops pairing.
import { ERR_OK, ERR_PAUSED_UPGRADE, TYPE_RESPONSE, llhttp, type Llhttp, type LlhttpHandler } from './llhttp.ts';

/** What the response side needs from the connection: the request being answered. */
export interface ResponseOwner {
  /** Method of the oldest unanswered request, if any. */
  pendingMethod(): string | undefined;
  /** A final (non-1xx, or 101) response head is complete. */
  response(status: number): void;
  /** 101, or 2xx to CONNECT: the connection is no longer HTTP. */
  upgraded(): void;
}

export type ResponseParserState = 'active' | 'opaque' | 'dead';

export class ResponseParser implements LlhttpHandler {
  state: ResponseParserState = 'active';
  private readonly ll: Llhttp;
  private ptr: number;
  private readonly owner: ResponseOwner;

  constructor(owner: ResponseOwner) {
    this.ll = llhttp();
    this.ptr = this.ll.alloc(TYPE_RESPONSE);
    this.owner = owner;
  }

  free(): void {
    if (this.ptr) this.ll.x.llhttp_free(this.ptr);
    this.ptr = 0;
    this.state = 'dead';
  }

  feed(data: Uint8Array, start: number, end: number): void {
    if (this.state !== 'active' || start >= end) return;
    const ptr = this.ll.load(data, start, end);
    const ret = this.ll.execute(this.ptr, this, ptr, end - start);
    if (ret === ERR_OK) return;
    this.state = ret === ERR_PAUSED_UPGRADE ? 'opaque' : 'dead';
  }

  onMessageBegin(): number { return 0; }
  onUrl(): number { return 0; }
  onStatus(): number { return 0; }
  onHeaderField(): number { return 0; }
  onHeaderValue(): number { return 0; }
  onHeadersComplete(status: number): number {
    // 1xx other than 101 are interim: the request stays unanswered
    if (status >= 100 && status < 200 && status !== 101) return 0;
    const method = this.owner.pendingMethod();
    this.owner.response(status);
    if (status === 101 || (method === 'CONNECT' && status >= 200 && status < 300)) {
      this.owner.upgraded();
      return 2; // llhttp: treat as upgrade, stop parsing
    }
    return method === 'HEAD' ? 1 : 0; // 1 = the response has no body
  }
  onBody(): number { return 0; }
  onMessageComplete(): number { return 0; }
}
