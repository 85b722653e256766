// The kernel's RESPONSE events -> Hubble RESPONSE flows (`l7bpf observe`), each paired with the
// request it answers for the method, URL and latency. HTTP/1 answers in request order, and
// both events carry the exchange's index on the connection (`msg`, mod 2^16): a response pairs
// with the queued request of its index, so a lost event (a full ring buffer) costs that one
// pairing, never shifts the later ones. Pure: no I/O; memory bounded by connections x queue.
import type { FlowRecord, FlowSide } from '../flow/build.ts';
import type { HttpRequest } from '../verdict/http.ts';
import type { RawEvent } from '../loader/index.ts';
import { describePeer } from '../verdict/peers.ts';

/** connections whose requests are remembered; the least recently used is forgotten */
export const MAX_CONNECTIONS = 4096;
/** requests per connection awaiting a response: the kernel follows at most 64 in flight (L7_RESP_INFLIGHT) */
export const MAX_PENDING = 64;

export interface PendingRequest {
  readonly msg: number;
  readonly tsNs: bigint;
  readonly request?: HttpRequest;
  readonly policies: FlowRecord['policies'];
}

/** `a` comes before `b` in the mod-2^16 order of exchange indexes */
const before = (a: number, b: number): boolean => {
  const d = (b - a) & 0xffff;
  return d !== 0 && d < 0x8000;
};

export class ResponsePairing {
  // Map order is age: a touched connection moves to the end
  private readonly conns = new Map<string, PendingRequest[]>();

  constructor(readonly maxConnections = MAX_CONNECTIONS, readonly maxPending = MAX_PENDING) {}

  /** An allowed HTTP/1 request went on to the server. */
  request(conn: string, p: PendingRequest): void {
    let q = this.touch(conn);
    const last = q.at(-1);
    // indexes only grow on a connection: one that does not is a new connection on the same ports
    if (last && !before(last.msg, p.msg)) q = this.reset(conn);
    if (q.length >= this.maxPending) q.shift();
    q.push(p);
  }

  /** The request answered by response `msg`, removed with those before it (their responses were lost). */
  response(conn: string, msg: number): PendingRequest | undefined {
    const q = this.conns.get(conn);
    if (!q) return undefined;
    this.touch(conn);
    while (q.length && before(q[0]!.msg, msg)) q.shift();
    return q[0]?.msg === msg ? q.shift() : undefined;
  }

  get size(): number {
    return this.conns.size;
  }

  pending(conn: string): number {
    return this.conns.get(conn)?.length ?? 0;
  }

  private touch(conn: string): PendingRequest[] {
    const q = this.conns.get(conn);
    if (q) {
      this.conns.delete(conn);
      this.conns.set(conn, q);
      return q;
    }
    return this.reset(conn);
  }

  private reset(conn: string): PendingRequest[] {
    const q: PendingRequest[] = [];
    this.conns.delete(conn);
    this.conns.set(conn, q);
    while (this.conns.size > this.maxConnections) this.conns.delete(this.conns.keys().next().value!);
    return q;
  }
}

/** client -> server of a connection, whichever side sent the event */
export const connKey = (client: FlowSide, server: FlowSide): string => `${client.ip}:${client.port}>${server.ip}:${server.port}`;

// one pairing per observe session (its context object), so the observe() signature stays as it is
const sessions = new WeakMap<object, ResponsePairing>();
const pairingOf = (session: object): ResponsePairing => {
  let p = sessions.get(session);
  if (!p) sessions.set(session, (p = new ResponsePairing()));
  return p;
};

/** What observe() builds from any event: the sides as the event's packet has them. */
type Base = Omit<FlowRecord, 'kind' | 'isReply'>;

/** An HTTP event observe() turned into a request flow: an allowed HTTP/1 one waits for its response. */
export function noteRequest(session: object, ev: RawEvent, record: FlowRecord): void {
  if (!record.allowed || ev.version === 2) return;
  pairingOf(session).request(connKey(record.src, record.dst), { msg: ev.msg, tsNs: ev.ts_ns, ...(record.request ? { request: record.request } : {}), policies: record.policies });
}

/**
 * A RESPONSE event -> a RESPONSE flow. Sides as the request's (client -> server), as replay
 * writes them, so both go through the same reply handling; no TCP flags (an L7 flow); the
 * request's policies; latency from the request's event (both the kernel's clock). No request
 * known: no method or URL, latency 0.
 */
export function responseFlow(session: object, ev: RawEvent, base: Base): { record: FlowRecord; flows: readonly FlowRecord[]; row: { readonly pair: string } } {
  const { tcpFlags: _, src: server, dst: client, ...rest } = base;
  const req = pairingOf(session).response(connKey(client, server), ev.msg);
  const record: FlowRecord = {
    ...rest, src: client, dst: server, kind: 'l7-response', allowed: true, isReply: true, status: ev.status,
    latencyNs: req && ev.ts_ns >= req.tsNs ? ev.ts_ns - req.tsNs : 0n,
    ...(req?.request ? { request: req.request } : {}),
    ...(req ? { policies: req.policies } : {}),
  };
  return { record, flows: [record], row: { pair: `${describePeer(client.peer)} -> ${describePeer(server.peer)}:${server.port}` } };
}
