// Public types of the replay engine: the judge callbacks, per-packet actions, events.

/** What the kernel program does with a packet. answer: rewritten into the answer to the
 * client (403 and FIN, injected) and a RST to the server (docs/datapath.md, "Answers"); trim:
 * forwarded without its bytes from a denied request on (the allowed ones before it go on). */
export type PacketActionKind = 'pass' | 'drop' | 'reset' | 'answer' | 'trim';

export type PacketReason =
  | 'not-ip'          // not IPv4/IPv6: passes (policy is about IP traffic)
  | 'not-tcp'         // UDP, ICMP, ...: passes (L7 policy here is TCP only)
  | 'ip-fragment'     // a TCP fragment cannot be inspected: dropped (fail closed)
  | 'decode-error'    // malformed or snaplen-truncated frame: passes, bytes unknown
  | 'handshake'       // SYN / SYN-ACK of an allowed connection
  | 'l4-denied'       // connection denied at L3/L4: every packet dropped
  | 'flow-denied'     // after an L7 deny: every later packet dropped
  | 'request-denied'  // this packet completed (or broke) a denied request: answered, reset, or dropped while the answer waits
  | 'answer-sent'     // the client packet that carried a waiting answer (it acknowledged the responses before it)
  | 'answer-lost'     // the waiting answer could not follow the responses (not followed, server closed): reset
  | 'answer'          // the answer l7bpf injected towards the client, seen on its way
  | 'request-allowed' // this packet completed the head of allowed request(s)
  | 'in-order'        // new bytes inspected, no decision taken on this packet
  | 'retransmission'  // only already inspected bytes
  | 'hole'            // after a sequence hole: dropped, the sender retransmits
  | 'control'         // no payload (ACK, FIN)
  | 'rst'             // RST of an allowed connection
  | 'reply'           // server -> client: never subject to policy
  | 'l4-allowed'      // connection allowed without L7 inspection
  | 'opaque'          // after an accepted upgrade / CONNECT: not HTTP any more
  | 'unparsed'        // after a parse error the judge allowed: nothing left to parse
  | 'midstream'       // connection seen without its SYN: not judged at L7
  | 'audited'         // a denial audit mode let pass (reported AUDIT)
  | 'closed'          // segment of a connection already closed (late ACK)
  // stream integrity (docs/datapath.md, "What the datapath trusts"): dropped or reset
  | 'no-flow-state'   // client packet of an L7 connection seen without its SYN
  | 'urgent-data'     // TCP urgent data on an inspected stream: reset
  | 'insertion'       // a segment the receiving TCP would discard (no ACK flag, ack out of range)
  | 'bad-ip-header'   // IPv4 header checksum wrong, TTL / hop limit <= 1
  | 'out-of-window'   // client bytes before the connection's first byte
  | 'retransmission-differs' // unacknowledged judged bytes resent different, or no longer kept
  | 'syn-on-flow'     // a SYN on a live L7 connection (RFC 5961)
  | 'flow-closed';    // client data after the connection closed

export interface ConnInfo {
  /** 1-based, in order of first sight. */
  readonly id: number;
  readonly proto: 'TCP';
  readonly ipVersion: 4 | 6;
  /** Client = SYN sender (or guessed: see `guessed`). */
  readonly srcIp: string;
  readonly srcPort: number;
  readonly dstIp: string;
  readonly dstPort: number;
  /** The capture starts after the handshake: bytes are not judged as requests. */
  readonly midstream: boolean;
  /** Client/server guessed (lower port = server) because no SYN was seen. */
  readonly guessed: boolean;
  readonly startTs: bigint;
  /** The flow's hash, the same both ways: a parallel replay's worker i takes hash % workers === i. */
  readonly hash?: number;
}

export interface ConnVerdict {
  readonly allowed: boolean;
  /** false: allowed without L7 parsing (bytes pass, no per-request work). */
  readonly inspect: boolean;
  /** The client's own egress policy inspects (before the node forwards: TTL <= 1 is dropped). */
  readonly inspectsBeforeForwarding?: boolean;
  /** Every direction that inspects is in audit mode: what fails closed (no flow state, a strict
   * rule, a parser limit) passes, reported, and the connection is no longer judged. */
  readonly audited?: boolean;
}

export interface RequestVerdict {
  readonly allowed: boolean;
  /** Denied by the rules, the request well-formed (the kernel's l7-no-rule, judged at the head's
   * end): stage 3 may cut it and keep the connection. Unset: a stage-2 answer at most. */
  readonly ruleDenied?: boolean;
  /** Denied over a rate limit: its answer is 429 / RESOURCE_EXHAUSTED. */
  readonly limited?: boolean;
  /** A denial audit mode let pass (allowed is true): 'request', the rules denied it and the
   * connection goes on as if they had allowed it; 'stream', the stream itself failed (a strict
   * rule, a parser limit): its bytes pass unjudged from here (the datapath's ALLOW). */
  readonly audited?: 'request' | 'stream';
}

export type { BodyFraming, HttpRequest, HttpParseError, ViolationCode, HttpViolation, Http1Event } from '../http1/types.ts';
export type { Http2Request, Http2Error, Http2Event, H2ConnRule } from '../http2/types.ts';
import type { Http1Event } from '../http1/types.ts';
import type { Http2Event } from '../http2/types.ts';

/** What a protocol session hands the judge: a request, or what broke the stream first. */
export type RequestEvent = Http1Event | Http2Event;

export interface Judge<CV extends ConnVerdict = ConnVerdict, RV extends RequestVerdict = RequestVerdict> {
  connection(conn: ConnInfo): CV;
  /** `ts`: the time of the packet that completed the request (rate limits) */
  request(conn: ConnInfo, req: RequestEvent, connVerdict: CV, ts: bigint): RV;
  /**
   * Optional: a client segment left a request head incomplete. Return a denied verdict when
   * the bytes so far already break a rule (the kernel decides on the byte it sees that), or
   * null to wait for the rest. The denial is recorded as a `partial-head` violation.
   */
  partial?(conn: ConnInfo, head: Uint8Array, connVerdict: CV): RV | null;
}

export interface PacketEvent {
  readonly index: number;
  readonly offset: number;
  readonly ts: bigint;
  readonly action: PacketActionKind;
  readonly reason: PacketReason;
  /** 0 when the packet belongs to no TCP connection. */
  readonly connId: number;
  /** action 'answer': the segments it becomes (sequence numbers as on the wire) */
  readonly answer?: AnswerSegments;
  /** stage 3: the sequence and acknowledgement numbers the packet leaves with (offsets applied) */
  readonly rewrite?: { readonly seq: number; readonly ack: number };
}

/** The answer to the client (403 and FIN) and the reset to the server a packet became. */
export interface AnswerSegments {
  /** the 403's sequence number (past the last complete response) and acknowledgement */
  readonly seq: number;
  readonly ack: number;
  /** the server's reset: at the first client byte it did not read. Stage 3 (`keep`): the
   * acknowledgement the server gets instead, at rstSeq acknowledging srvAck (server space) */
  readonly rstSeq: number;
  /** stage 3: the 403 without Connection: close and FIN, the connection goes on */
  readonly keep?: boolean;
  readonly srvAck?: number;
  /** HTTP/2: the denied stream (GOAWAY names the one below it) */
  readonly stream?: number;
  /** the answer is 429 / RESOURCE_EXHAUSTED (a rate limit), not 403 */
  readonly limited?: boolean;
}

export interface ResponseInfo {
  readonly status: number;
  /** HTTP/2: the response's fields (head, then trailers, e.g. grpc-status) */
  readonly headers?: readonly (readonly [string, string])[];
  /** From the packet completing the request head to the one completing the response head. */
  readonly latencyNs: bigint;
}

export interface RequestRecord<CV extends ConnVerdict = ConnVerdict, RV extends RequestVerdict = RequestVerdict> {
  readonly conn: ConnInfo;
  readonly connVerdict: CV;
  readonly request: RequestEvent;
  readonly verdict: RV;
  /** Index of the packet on which the verdict was taken. */
  readonly packetIndex: number;
  readonly ts: bigint;
  readonly response?: ResponseInfo;
}

export type CloseReason = 'fin' | 'rst' | 'evicted' | 'reused' | 'end' | 'denied';

export type ConnectionEvent<CV extends ConnVerdict = ConnVerdict> =
  | { readonly type: 'open'; readonly conn: ConnInfo; readonly verdict: CV }
  | { readonly type: 'close'; readonly conn: ConnInfo; readonly reason: CloseReason; readonly packets: number; readonly requests: number };

export interface ReplayOptions<CV extends ConnVerdict = ConnVerdict, RV extends RequestVerdict = RequestVerdict> {
  readonly judge: Judge<CV, RV>;
  /** Longest request head (request line + headers + blank line) inspected; default 8192. */
  readonly inspectionLimit?: number;
  /**
   * Denials are answered as the datapath answers them by default (403 and FIN to the client,
   * after the responses before it; `deploy --deny-answer auto`); false: reset (`--deny-answer reset`).
   */
  readonly answers?: boolean;
  /** With answers: stage 3 where it works (the request cut, the connection kept; `--deny-answer
   * auto`, the default); false: stage 2 always (`--deny-answer close`). */
  readonly keepAlive?: boolean;
  /**
   * Where the capture was taken. 'hook' (default): packets as the tc program gets them, server
   * packets before stage 3's offsets. 'client': on the client's side of the hook, where server
   * packets already carry them (the client's view).
   */
  readonly capturePoint?: 'hook' | 'client';
  /** Connections tracked at once; least recently used ones beyond are evicted. Default 65536. */
  readonly maxConnections?: number;
  readonly onPacket?: (e: PacketEvent) => void;
  readonly onRequest?: (e: RequestRecord<CV, RV>) => void;
  readonly onConnection?: (e: ConnectionEvent<CV>) => void;
  readonly onError?: (e: Error) => void;
  /**
   * Handle only flows whose hash falls in shard `index` of `count` (packets of other flows are
   * counted in `packets`/`bytes` and otherwise ignored; non-TCP packets belong to shard 0).
   * Used by replayParallel's workers.
   */
  readonly shard?: { readonly index: number; readonly count: number };
}

export interface ReplaySummary {
  packets: number;
  bytes: number;
  connections: number;
  requests: number;
  denied: number;
  evicted: number;
  actions: Record<PacketActionKind, number>;
  reasons: Partial<Record<PacketReason, number>>;
}
