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
  /** the client data packet being judged: its first byte's sequence number, length, FIN */
  pktSeq = 0;
  pktLen = 0;
  pktFin = false;
  /** stage 3's offsets, from the first cut on */
  ofs: Offsets | null = null;

  constructor(
    readonly key: string,
    readonly info: ConnInfo,
    readonly verdict: CV,
    /** Client endpoint identity used to tell directions apart. */
    readonly clientEp: number | string,
    readonly clientIsn: number,
  ) {
    this.mode = !verdict.allowed ? 'l4-denied' : info.midstream ? 'midstream' : verdict.inspect ? 'l7' : 'l4';
  }

  /** Emits unanswered requests and releases the parsers (the entry may stay as a tombstone). */
  release(): void {
    this.session?.release();
    this.session = null;
  }
}
