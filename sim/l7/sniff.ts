// Which protocol an inspected connection speaks, from the client's first bytes: "PRI " can
// only start the HTTP/2 preface (no HTTP/1 method is PRI), anything else is HTTP/1 - until
// the server accepts an h2c upgrade, after which the connection is HTTP/2. Bytes
// that are still a prefix of "PRI " are held, not judged (no request can be complete in
// them); then every byte goes to the chosen session from stream offset 0.
import type { AnswerKind } from '../../src/net/answers.ts';
import type { PacketView } from '../decode/view.ts';
import type { ClientStream } from '../stream/client-stream.ts';
import type { Denial, L7Session, SessionState } from './session.ts';

const H2_START = [0x50, 0x52, 0x49, 0x20]; // "PRI "

/** Server bytes kept while the client has not said which protocol it speaks. */
const MAX_EARLY = 64 * 1024;

export class SniffSession implements L7Session {
  private inner: L7Session | null = null;
  private held = 0;
  /** server bytes before the protocol is known; null: more than MAX_EARLY, or a hole */
  private early: Uint8Array[] | null = [];
  private earlyBytes = 0;

  constructor(
    private readonly make: (http2: boolean) => L7Session,
    /** the HTTP/2 session after an accepted h2c upgrade (whole preface, stream 1 taken) */
    private readonly afterH2c: () => L7Session,
  ) {}

  get state(): SessionState {
    return this.inner?.state ?? 'open';
  }

  get decided(): number {
    return this.inner?.decided ?? 0;
  }

  get denied(): boolean {
    return this.inner?.denied ?? false;
  }

  get bodyEnd(): number {
    return this.inner?.bodyEnd ?? -1;
  }

  get http2(): boolean {
    return this.inner?.http2 ?? false;
  }

  get denial(): Denial | null {
    return this.inner?.denial ?? null;
  }

  get allowedHeads(): readonly boolean[] {
    return this.inner?.allowedHeads ?? [];
  }

  get keepable(): { readonly end: number; readonly start?: number; readonly window?: number } | null {
    return this.inner?.keepable ?? null;
  }

  resume(at: number): void {
    this.inner?.resume?.(at);
  }

  answerDenied(kind?: AnswerKind): void {
    this.inner?.answerDenied?.(kind);
  }

  client(data: Uint8Array, start: number, end: number): void {
    if (this.inner) return this.inner.client(data, start, end);
    const before = this.held;
    let i = start;
    while (i < end && this.held < H2_START.length && data[i] === H2_START[this.held]) {
      this.held++;
      i++;
    }
    if (this.held < H2_START.length && i === end) return; // still a prefix of "PRI "
    const inner = this.make(this.held === H2_START.length);
    this.inner = inner;
    // a server that spoke first (an HTTP/2 server's SETTINGS) is heard now
    if (this.early === null) inner.serverHole();
    else for (const b of this.early) inner.server(b, 0, b.length);
    this.early = [];
    if (before === 0) return inner.client(data, start, end);
    const joined = new Uint8Array(before + end - start);
    joined.set(H2_START.slice(0, before));
    joined.set(data.subarray(start, end), before);
    inner.client(joined, 0, joined.length);
  }

  serverSegment(v: PacketView, stream: ClientStream | null): boolean {
    const inner = this.inner;
    if (!inner) return false;
    const opaque = inner.serverSegment(v, stream);
    if (inner.switchToH2) {
      // the 101 answers the upgrade request in HTTP/1; everything after it is HTTP/2
      inner.server(v.data, v.payloadOff, v.payloadOff + v.payloadLen);
      inner.release();
      this.inner = this.afterH2c();
    }
    return opaque;
  }

  server(data: Uint8Array, start: number, end: number): void {
    if (this.inner) return this.inner.server(data, start, end);
    if (this.early === null) return;
    this.earlyBytes += end - start;
    if (this.earlyBytes > MAX_EARLY) return this.serverHole();
    this.early.push(data.slice(start, end));
  }

  serverHole(): void {
    if (this.inner) return this.inner.serverHole();
    this.early = null;
  }

  release(): void {
    this.inner?.release();
  }
}
