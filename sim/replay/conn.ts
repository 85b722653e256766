// State of one TCP connection in the replay: sequence state per direction, HTTP parsers,
// requests waiting for their response.
import { DirState } from '../stream/seq.ts';
import type { ClientStream } from '../stream/client-stream.ts';
import type { RequestParser } from '../http1/request-parser.ts';
import type { ResponseParser, ResponseOwner } from '../http1/response-parser.ts';
import type { ConnInfo, ConnVerdict, RequestRecord, RequestVerdict } from './types.ts';

/**
 * l4-denied: every packet dropped. l7: inspected. l4: allowed, not inspected. opaque: inspected
 * until the server accepted a protocol upgrade; its bytes pass both ways since (the kernel's ALLOW).
 * midstream: no SYN seen, passes unjudged. denied: reset after an L7 deny, later packets drop.
 * closed: FIN both ways or RST; kept as a tombstone so late ACKs are not a new connection.
 */
export type ConnMode = 'l4-denied' | 'l7' | 'l4' | 'opaque' | 'midstream' | 'denied' | 'closed';

export interface PendingRequest<CV extends ConnVerdict, RV extends RequestVerdict> {
  readonly rec: RequestRecord<CV, RV>;
  readonly method: string;
  readonly upgrade: boolean;
}

/** Requests kept waiting for a response per connection; older ones are emitted unanswered. */
export const MAX_PENDING = 1024;

export class Conn<CV extends ConnVerdict, RV extends RequestVerdict> implements ResponseOwner {
  touched = false;
  mode: ConnMode;
  readonly c2s = new DirState();
  readonly s2c = new DirState();
  /** L7 connections: what the receiving TCP accepts of the client stream; null without its SYN. */
  stream: ClientStream | null = null;
  req: RequestParser | null = null;
  resp: ResponseParser | null = null;
  pending: PendingRequest<CV, RV>[] = [];
  packets = 0;
  requests = 0;

  constructor(
    readonly key: string,
    readonly info: ConnInfo,
    readonly verdict: CV,
    /** Client endpoint identity used to tell directions apart. */
    readonly clientEp: number | string,
    readonly clientIsn: number,
    private readonly emit: (r: RequestRecord<CV, RV>) => void,
    /** ts of the packet being processed (for response latency). */
    private readonly now: () => bigint,
  ) {
    this.mode = !verdict.allowed ? 'l4-denied' : info.midstream ? 'midstream' : verdict.inspect ? 'l7' : 'l4';
  }

  pendingMethod(): string | undefined {
    return this.pending[0]?.method;
  }

  response(status: number): void {
    const p = this.pending.shift();
    if (!p) return;
    const r = p.rec;
    this.emit({
      conn: r.conn, connVerdict: r.connVerdict, request: r.request, verdict: r.verdict, packetIndex: r.packetIndex, ts: r.ts,
      response: { status, latencyNs: this.now() - r.ts },
    });
    // a CONNECT tunnel opens on a 2xx to it; a protocol upgrade is decided by the server's first
    // bytes (ReplayEngine.upgradeAnswer, as the kernel's l7_upgrade_answer), not here
    if (!p.upgrade || p.method !== 'CONNECT') return;
    if (status >= 200 && status < 300) this.req?.upgraded();
    else this.req?.upgradeRefused();
  }

  addPending(p: PendingRequest<CV, RV>): void {
    this.pending.push(p);
    if (this.pending.length > MAX_PENDING) this.emit(this.pending.shift()!.rec);
  }

  /** Emits unanswered requests and releases the parsers (the entry may stay as a tombstone). */
  release(): void {
    for (const p of this.pending) this.emit(p.rec);
    this.pending = [];
    this.req?.free();
    this.resp?.free();
    this.req = null;
    this.resp = null;
  }
}
