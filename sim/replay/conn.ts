// State of one TCP connection in the replay: sequence state per direction, the client stream
// and the protocol session of an inspected one.
import { DirState } from '../stream/seq.ts';
import type { ClientStream } from '../stream/client-stream.ts';
import type { L7Session } from '../l7/session.ts';
import type { ResponseFramer } from '../http1/response-framer.ts';
import type { Offsets } from '../stream/offsets.ts';
import type { ConnInfo, ConnVerdict } from './types.ts';

/**
 * l4-denied: every packet dropped. l7: inspected. l4: allowed, not inspected. opaque: inspected
 * until the server accepted a protocol upgrade; its bytes pass both ways since (the kernel's ALLOW).
 * midstream: no SYN seen, passes unjudged. denied: reset after an L7 deny, later packets drop.
 * closed: FIN both ways or RST; kept as a tombstone so late ACKs are not a new connection.
 * answer-due: a denied request waits for the responses before it to end; answered: its answer
 * went to the client (the datapath's L7_FLOW_ANSWER_DUE and L7_FLOW_ANSWERED).
 */
export type ConnMode = 'l4-denied' | 'l7' | 'l4' | 'opaque' | 'midstream' | 'denied' | 'closed' | 'answer-due' | 'answered';

export class Conn<CV extends ConnVerdict> {
  touched = false;
  mode: ConnMode;
  readonly c2s = new DirState();
  readonly s2c = new DirState();
  /** L7 connections: what the receiving TCP accepts of the client stream; null without its SYN. */
  stream: ClientStream | null = null;
  /** L7 connections: the protocol parsing its bytes (sim/l7/session.ts). */
  session: L7Session | null = null;
  packets = 0;
  requests = 0;
  /** L7 connections while denials are answered: the server's responses as the datapath follows them. */
  framer: ResponseFramer | null = null;
  /** answer-due / answered: the client byte the server's reset carries, the client bytes the answer acknowledges. */
  ansRst = 0;
  ansAck = 0;
  /** the latest denial was over a rate limit: its answer is the 429 (src/net/answers.ts) */
  limited = false;
  /** audit mode let a broken stream pass (RequestVerdict.audited 'stream'): no longer judged */
  auditStop = false;
  /** the client data packet being judged: its first byte's sequence number, length, FIN */
  pktSeq = 0;
  pktLen = 0;
  pktFin = false;
  /** stage 3's offsets, from the first cut on */
  ofs: Offsets | null = null;
  /** shed(): it had a client stream; the answer's first sequence number and whether it is HTTP/2 */
  inspected = false;
  ansEnd = 0;
  ansH2 = false;

  /** The judge's verdict; a tombstone lets it go (an oracle verdict holds kilobytes of text). */
  private cv: CV | null;

  constructor(
    readonly key: string,
    readonly info: ConnInfo,
    verdict: CV,
    /** Client endpoint identity used to tell directions apart. */
    readonly clientEp: number | string,
    readonly clientIsn: number,
  ) {
    this.cv = verdict;
    this.mode = !verdict.allowed ? 'l4-denied' : info.midstream ? 'midstream' : verdict.inspect ? 'l7' : 'l4';
  }

  /** The judge's verdict (not a tombstone's: it let it go). */
  get verdict(): CV {
    if (!this.cv) throw new Error(`replay: connection ${this.info.id} asked for its verdict after it closed`);
    return this.cv;
  }

  /** Emits unanswered requests and releases the parsers (the entry may stay as a tombstone). */
  release(): void {
    this.session?.release();
    this.session = null;
  }

  /**
   * Closed for good: the table keeps only a Tombstone in its place (late ACKs are not a new
   * connection); this object, its stream ring (2 KiB), framer and verdict can go.
   */
  toTombstone(): Tombstone {
    this.release();
    const t = new Tombstone(this.key, this.clientEp, this.clientIsn, this.info.id, this.ofs, this.inspected || this.stream !== null);
    this.stream = null;
    this.framer = null;
    this.cv = null;
    return t;
  }

  /**
   * Denied (reset, or answered): later packets only meet the denial, so what inspected the
   * connection can go (a capture's denied connections stay in the table until it evicts them).
   * The answer's sequence number and kind stay for recognizing it on its way (answered()).
   */
  shed(): void {
    this.release();
    if (this.framer) {
      this.ansEnd = this.framer.end;
      this.ansH2 = this.framer.h2;
    }
    this.inspected ||= this.stream !== null;
    this.stream = null;
    this.framer = null;
    this.cv = null;
  }
}

/**
 * What the connection table keeps of a closed connection: enough to tell its late packets (a
 * last ACK, a FIN) from a new connection and to translate them with stage 3's offsets. About
 * 200 bytes with its table entry, where the whole Conn took about 0.8 KB (without its verdict):
 * the table holds up to 65,536 of them.
 */
export class Tombstone {
  readonly mode = 'closed';
  touched = false;
  readonly info: { readonly id: number };

  constructor(
    readonly key: string,
    readonly clientEp: number | string,
    readonly clientIsn: number,
    id: number,
    readonly ofs: Offsets | null,
    /** it had a client stream: client bytes after the close are dropped */
    readonly inspected: boolean,
  ) {
    this.info = { id };
  }
}
