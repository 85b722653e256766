// The replay engine: one packet at a time, the kernel model's per-packet action plus
// request verdicts from the judge. Knows nothing about policies.
import type { CaptureRecord } from '../capture/types.ts';
import { ReusedRecord } from '../capture/record.ts';
import { decodeInto, dstString, srcString, type DecodeStatus } from '../decode/index.ts';
import { PacketView, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TCP_URG } from '../decode/view.ts';
import { ipv4HeaderOk } from '../decode/ip.ts';
import { ClientStream } from '../stream/client-stream.ts';
import { Http1Session } from '../http1/session.ts';
import { Http2Session } from '../http2/session.ts';
import { SniffSession } from '../l7/sniff.ts';
import type { L7Session, SessionHost } from '../l7/session.ts';
import { classifySegment, seqAdd, seqDiff, SEG_HOLE, SEG_RETRANSMISSION } from '../stream/seq.ts';
import { ConnTable } from '../stream/table.ts';
import { ResponseFramer } from '../http1/response-framer.ts';
import { TRIM, grpcDenied, grpcDeniedKeep, http1Answer, type AnswerKind } from '../../src/net/answers.ts';
import { Offsets } from '../stream/offsets.ts';
import { Conn, Tombstone } from './conn.ts';
import { DEFAULT_LIMITS as SEMANTIC_LIMITS } from '../../src/verdict/limits.ts';
import type {
  AnswerSegments, CloseReason, PacketEvent, ConnVerdict, PacketActionKind, PacketReason, ReplayOptions, ReplaySummary, RequestEvent,
  RequestVerdict, RequestRecord,
} from './types.ts';

export const DEFAULT_INSPECTION_LIMIT = SEMANTIC_LIMITS.headBytes;
export const DEFAULT_MAX_CONNECTIONS = 65536;

export class ReplayEngine<CV extends ConnVerdict = ConnVerdict, RV extends RequestVerdict = RequestVerdict> {
  readonly summary: ReplaySummary = {
    packets: 0, bytes: 0, connections: 0, requests: 0, denied: 0, evicted: 0,
    actions: { pass: 0, drop: 0, reset: 0, answer: 0, trim: 0 }, reasons: {},
  };
  private readonly o: ReplayOptions<CV, RV>;
  private readonly answers: boolean;
  /** stage 3 where it works (ReplayOptions.keepAlive) */
  private readonly keep: boolean;
  /** server packets were captured with stage 3's offsets applied (capturePoint 'client') */
  private readonly clientView: boolean;
  /** the current packet: from the client; the seq and ack it leaves with when stage 3 rewrites it */
  private fromClient = false;
  private cur: Conn<CV> | Tombstone | undefined;
  private rewrite: { seq: number; ack: number } | undefined;
  private readonly limit: number;
  private readonly table: ConnTable<Conn<CV> | Tombstone>;
  private readonly v = new PacketView();
  private nextConnId = 1;
  private readonly shard: number;
  private readonly shards: number;
  // per-packet scratch, read when a session judges a request
  private curIndex = 0;
  /** The record being processed: its bigint ts is read only when a request or response needs it. */
  private curRec: CaptureRecord | null = null;
  private readonly emitRequest = (r: RequestRecord<CV, RV>): void => this.o.onRequest?.(r);
  private readonly evict = (c: Conn<CV> | Tombstone): void => {
    if (c === this.last) this.last = undefined;
    if (c instanceof Conn) this.closeConn(c, 'evicted');
  };
  /** The table entry of the last IPv4 packet and its endpoints (lower, higher): skips the lookup. */
  private last: Conn<CV> | Tombstone | undefined = undefined;
  private lastLo = -1;
  private lastHi = -1;

  private remember(c: Conn<CV> | Tombstone | undefined, lo: number, hi: number): void {
    this.last = c;
    this.lastLo = lo;
    this.lastHi = hi;
  }

  constructor(o: ReplayOptions<CV, RV>) {
    this.o = o;
    this.answers = o.answers ?? true;
    this.keep = this.answers && (o.keepAlive ?? true);
    this.clientView = o.capturePoint === 'client';
    this.limit = o.inspectionLimit ?? DEFAULT_INSPECTION_LIMIT;
    this.table = new ConnTable(o.maxConnections ?? DEFAULT_MAX_CONNECTIONS);
    this.shard = o.shard?.index ?? 0;
    this.shards = o.shard?.count ?? 1;
  }

  push(rec: CaptureRecord): void {
    const index = this.summary.packets++;
    this.cur = undefined;
    const v = this.v;
    let st: DecodeStatus;
    if (rec instanceof ReusedRecord) {
      // the reader's reused record: decode in place, no view object per packet
      this.summary.bytes += rec.len;
      st = decodeInto(v, rec.linkType, rec.buf, rec.at, rec.at + rec.len);
    } else {
      this.summary.bytes += rec.data.length;
      st = decodeInto(v, rec.linkType, rec.data);
    }
    // a worker of a parallel replay handles only its share of flows (non-TCP: worker 0)
    if (this.shards > 1 && (st === 'tcp' ? flowHash(v) % this.shards : 0) !== this.shard) return;
    if (st !== 'tcp') {
      const reason: PacketReason = st === 'not-ip' ? 'not-ip' : st === 'not-tcp' ? 'not-tcp' : st === 'fragment' ? 'ip-fragment' : 'decode-error';
      this.act(rec, index, reason === 'ip-fragment' ? 'drop' : 'pass', reason, 0);
      return;
    }
    let srcEp: number | string;
    let dstEp: number | string;
    let key: string;
    let c: Conn<CV> | Tombstone | undefined;
    if (v.ipVersion === 4) {
      srcEp = v.src4 * 65536 + v.sport;
      dstEp = v.dst4 * 65536 + v.dport;
      const lo = srcEp < dstEp ? srcEp : dstEp;
      const hi = srcEp < dstEp ? dstEp : srcEp;
      // consecutive packets mostly belong to one connection (a response's segments, its ACK)
      if (lo === this.lastLo && hi === this.lastHi && this.last) {
        c = this.last;
        c.touched = true;
        key = c.key;
      } else {
        // a short key of 16-bit char codes: much cheaper to build and hash than decimal text
        key = srcEp < dstEp ? key4(v.src4, v.sport, v.dst4, v.dport) : key4(v.dst4, v.dport, v.src4, v.sport);
        c = this.table.get(key);
        this.remember(c, lo, hi);
      }
    } else {
      srcEp = ep6(v.data, v.src6, v.sport);
      dstEp = ep6(v.data, v.dst6, v.dport);
      key = srcEp < dstEp ? srcEp + dstEp : dstEp + srcEp;
      c = this.table.get(key);
    }
    // a SYN as the kernel tells it (RST does not matter)
    const syn = (v.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN;
    if (c instanceof Tombstone) {
      // a late packet of a closed connection; a new SYN on its tuple opens a new one (reused)
      if (!syn) return this.closedPacket(c, rec, index, srcEp === c.clientEp);
      c = undefined;
    }
    if (c && syn && (c.mode === 'l7' || c.mode === 'answer-due') && c.stream && !c.stream.closed) {
      // a live L7 connection: a SYN moves nothing (RFC 5961), but for the client's own sent again
      c.packets++;
      const again = srcEp === c.clientEp && v.seq === c.clientIsn && v.payloadLen === 0;
      return this.act(rec, index, again ? 'pass' : 'drop', again ? 'handshake' : 'syn-on-flow', c.info.id);
    }
    // a new SYN on this tuple (closed, reset, another ISN, or from the other side): connection reuse
    if (c && syn && (c.mode === 'closed' || c.mode === 'denied' || c.mode === 'answer-due' || c.mode === 'answered' || c.mode === 'l7' || srcEp !== c.clientEp || v.seq !== c.clientIsn)) {
      this.closeConn(c, 'reused');
      c = undefined;
    }
    if (!c) {
      c = this.open(key, srcEp, dstEp, rec.ts);
      if (typeof srcEp === 'number' && typeof dstEp === 'number') this.remember(c, Math.min(srcEp, dstEp), Math.max(srcEp, dstEp));
    }
    c.packets++;
    this.curRec = rec;
    this.curIndex = index;
    this.rewrite = undefined;
    this.fromClient = srcEp === c.clientEp;
    this.cur = c;
    this.segment(c, rec, index, this.fromClient);
  }

  /** Ends the replay: pending requests are emitted unanswered, connections closed. */
  finish(): ReplaySummary {
    for (const c of this.table.map.values()) if (c instanceof Conn) this.closeConn(c, 'end');
    this.table.map.clear();
    this.last = undefined;
    return this.summary;
  }

  private open(key: string, srcEp: number | string, dstEp: number | string, ts: bigint): Conn<CV> {
    const v = this.v;
    const f = v.flags;
    const synAck = (f & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
    const midstream = (f & TCP_SYN) === 0;
    // the SYN sender is the client; a SYN-ACK names the server; otherwise guess: lower port serves
    const srcIsClient = synAck ? false : midstream ? v.sport > v.dport : true;
    const src = srcString(v);
    const dst = dstString(v);
    const info = {
      id: this.nextConnId++, proto: 'TCP' as const, ipVersion: v.ipVersion as 4 | 6,
      srcIp: srcIsClient ? src : dst, srcPort: srcIsClient ? v.sport : v.dport,
      dstIp: srcIsClient ? dst : src, dstPort: srcIsClient ? v.dport : v.sport,
      midstream, guessed: midstream, startTs: ts, hash: flowHash(v),
    };
    const verdict = this.o.judge.connection(info);
    const clientIsn = srcIsClient && !midstream ? v.seq : synAck ? (v.ack - 1) >>> 0 : 0;
    const c = new Conn<CV>(key, info, verdict, srcIsClient ? srcEp : dstEp, clientIsn);
    if (synAck) {
      c.c2s.start(v.ack);
      c.s2c.start(v.seq + 1);
    } else if (!midstream) {
      c.c2s.start(v.seq + 1);
    }
    if (c.mode === 'midstream' && verdict.inspect) c.mode = 'l7'; // no stream: its client packets fail closed
    if (c.mode === 'l7' && srcIsClient && !midstream && !synAck) {
      c.stream = new ClientStream(v.seq, v.window);
      c.stream.forwards = verdict.inspectsBeforeForwarding === true;
      if (this.answers) c.framer = new ResponseFramer();
    }
    if (c.mode === 'l7') c.session = this.newSession(c);
    this.summary.connections++;
    this.table.set(key, c, this.evict);
    this.o.onConnection?.({ type: 'open', conn: info, verdict });
    return c;
  }

  /** The protocol session of an inspected connection, with the engine as its host. */
  private newSession(c: Conn<CV>): L7Session {
    const judge = this.o.judge;
    const host: SessionHost<RequestEvent, RequestRecord<CV, RV>> = {
      judge: (ev) => this.judgeRequest(c, ev),
      // a broken stream audit mode lets pass stops the session as a denial would (inspect())
      allowed: (r) => r.verdict.allowed && r.verdict.audited !== 'stream',
      ruleDenied: (r) => r.verdict.ruleDenied === true,
      emit: this.emitRequest,
      answered: (r, a) => this.emitRequest({
        conn: r.conn, connVerdict: r.connVerdict, request: r.request, verdict: r.verdict, packetIndex: r.packetIndex, ts: r.ts,
        response: { status: a.status, latencyNs: (a.ts ?? this.curRec!.ts) - r.ts, ...(a.headers ? { headers: a.headers } : {}) },
      }),
      now: () => this.curRec!.ts,
    };
    const partial = judge.partial ? (head: Uint8Array) => {
      const v = judge.partial?.(c.info, head, c.verdict);
      // audit: the head broke a rule all the same; its record says it passed
      const ok = !v || (v.allowed && v.audited === undefined);
      if (!ok) c.limited = false;
      return ok;
    } : null;
    return new SniffSession(
      (http2) => (http2 ? new Http2Session(this.limit, host) : new Http1Session(this.limit, host, partial)),
      () => new Http2Session(this.limit, host, true),
    );
  }

  private judgeRequest(c: Conn<CV>, ev: RequestEvent): RequestRecord<CV, RV> {
    const verdict = this.o.judge.request(c.info, ev, c.verdict, this.curRec!.ts);
    if (verdict.audited === 'stream') c.auditStop = true;
    // the denial's kind, kept until the next denial as the kernel keeps f->ans_reason: a resent
    // cut request after later allowed ones is answered (and its answer known) as it was
    if (!verdict.allowed) c.limited = verdict.limited === true;
    c.requests++;
    this.summary.requests++;
    return { conn: c.info, connVerdict: c.verdict, request: ev, verdict, packetIndex: this.curIndex, ts: this.curRec!.ts };
  }

  private segment(c: Conn<CV>, rec: CaptureRecord, index: number, fromClient: boolean): void {
    const v = this.v;
    const id = c.info.id;
    switch (c.mode) {
      case 'l4-denied': return this.act(rec, index, 'drop', 'l4-denied', id);
      // the RST l7bpf sends the client after a deny passes (as in the kernel); nothing else does
      case 'denied': return !fromClient && v.flags & TCP_RST ? this.act(rec, index, 'pass', 'rst', id) : this.act(rec, index, 'drop', 'flow-denied', id);
      case 'closed': return this.closedPacket(c, rec, index, fromClient);
      case 'l7': return fromClient ? this.l7Client(c, rec, index) : this.l7Server(c, rec, index);
      case 'answer-due': return fromClient ? this.answerDue(c, rec, index) : this.l7Server(c, rec, index);
      case 'answered': return this.answered(c, rec, index, fromClient);
      default: break;
    }
    if (v.flags & TCP_RST) {
      this.act(rec, index, 'pass', 'rst', id);
      return this.closeConn(c, 'rst');
    }
    // midstream, l4, opaque: not inspected (an opaque connection's server bytes are replies,
    // as on the kernel's reply path)
    this.act(rec, index, 'pass', c.mode === 'l4' ? 'l4-allowed' : c.mode === 'opaque' && !fromClient ? 'reply' : c.mode, id);
    this.trackFin(c, fromClient);
  }

  /** A server packet of an L7 connection: what it sent and acknowledged, then its response bytes. */
  private l7Server(c: Conn<CV>, rec: CaptureRecord, index: number): void {
    const v = this.v;
    const id = c.info.id;
    if (c.ofs && this.ownAnswer(c)) return this.act(rec, index, 'pass', 'answer', id);
    this.serverToView(c);
    // before the stream takes the packet (it moves srvNxt past it): an upgrade's answer
    if (v.payloadLen > 0 && c.session?.serverSegment(v, c.stream)) {
      c.mode = 'opaque';
      c.stream = null;
    }
    const seen = c.stream?.srvSeen ?? false;
    c.stream?.reply(v.flags, v.seq, v.payloadLen, v.ack);
    // the datapath follows the responses (l7_reply) from the SYN-ACK on: HTTP/1 responses, or
    // HTTP/2 frames when the server's first byte says so
    const f = c.framer;
    if (f && !seen && c.stream?.srvSeen) f.start(v.seq);
    else if (f && seen && v.payloadLen) f.walk(v.data, v.payloadOff, v.flags & TCP_SYN ? seqAdd(v.seq, 1) : v.seq, v.payloadLen, c.session?.http2 === true);
    if (v.flags & TCP_RST) {
      this.act(rec, index, 'pass', 'rst', id);
      return this.closeConn(c, 'rst');
    }
    const dir = c.s2c;
    if (v.flags & TCP_SYN) {
      dir.start(v.seq + 1);
      this.act(rec, index, 'pass', 'handshake', id);
    } else {
      if (!dir.init) dir.start(v.seq);
      this.serverBytes(c);
      this.act(rec, index, 'pass', v.payloadLen ? 'reply' : 'control', id);
      if (v.flags & TCP_FIN && ((v.seq + v.payloadLen) >>> 0) === dir.nextSeq && !dir.fin) {
        dir.fin = true;
        dir.nextSeq = seqAdd(dir.nextSeq, 1);
      }
    }
    if (c.stream?.closed) this.closeConn(c, 'fin');
  }

  /** A server packet of a connection with offsets into the client's view (l7_ofs_server): the
   * stream state and the framer read it. */
  private serverToView(c: { readonly ofs: Offsets | null }): void {
    const v = this.v;
    if (!c.ofs || this.clientView) return;
    v.seq = c.ofs.srvToView(v.seq);
    if (v.flags & TCP_ACK) v.ack = c.ofs.srvAckToCli(v.ack);
    this.rewrite = { seq: v.seq, ack: v.ack >>> 0 };
  }

  /** Response bytes in order to the response parser; a hole ends following the responses. */
  private serverBytes(c: Conn<CV>): void {
    const v = this.v;
    const len = v.payloadLen;
    if (len === 0) return;
    const skip = classifySegment(c.s2c.nextSeq, v.seq, len);
    if (skip === SEG_RETRANSMISSION) return;
    if (skip === SEG_HOLE) {
      c.session?.serverHole();
      return;
    }
    c.s2c.nextSeq = seqAdd(v.seq, len);
    c.s2c.bytes += len - skip;
    c.session?.server(v.data, v.payloadOff + skip, v.payloadOff + len);
  }

  /** A client packet of an L7 connection: l7_client and l7_stream of the kernel, in order. */
  private l7Client(c: Conn<CV>, rec: CaptureRecord, index: number): void {
    const v = this.v;
    const id = c.info.id;
    const s = c.stream;
    const len = v.payloadLen;
    const syn = (v.flags & TCP_SYN) !== 0;
    // without its start the stream cannot be followed: fail closed, or (audit) pass judged alone
    if (!s) return c.verdict.audited ? this.act(rec, index, 'pass', 'audited', id) : this.act(rec, index, 'drop', 'no-flow-state', id);
    if (syn && len === 0) return this.act(rec, index, 'pass', 'handshake', id);
    if (v.flags & TCP_URG) return this.deny(c, rec, index, 'urgent-data');
    if (len === 0 || v.flags & TCP_RST) {
      s.clientCtl(v.flags, v.seq, len, v.ack);
      this.act(rec, index, 'pass', v.flags & TCP_RST ? 'rst' : 'control', id);
      if (s.closed) this.closeConn(c, 'rst');
      return;
    }
    if (s.closed || s.cliFin) return this.act(rec, index, 'drop', 'flow-closed', id);
    if (c.ofs?.touchesCut(v.seq, len)) return this.cutResent(c, rec, index);
    const dseq = syn ? seqAdd(v.seq, 1) : v.seq;
    const ipOk = v.ipVersion !== 4 || ipv4HeaderOk(v.data, v.ipOff);
    const step = s.step(v.data, v.payloadOff, dseq, len, v.flags, v.ack, v.ttl, ipOk);
    if (step.kind === 'drop') return this.act(rec, index, 'drop', step.reason, id);
    if (step.kind === 'retransmission') {
      s.clientCtl(v.flags, v.seq, len, v.ack);
      return this.act(rec, index, 'pass', 'retransmission', id);
    }
    const start = v.payloadOff + step.skip;
    const end = v.payloadOff + len;
    // where an answer would put the server's reset, and what it acknowledges; the packet's own
    // first byte and flags (a trim keeps what comes before a denied request)
    c.ansRst = s.next;
    c.ansAck = seqAdd(dseq, len);
    c.pktSeq = dseq;
    c.pktLen = len;
    c.pktFin = (v.flags & TCP_FIN) !== 0;
    const body = s.inBody(end - start);
    if (!body) s.copy(v.data, start, end - start);
    const bodyEnd = this.inspect(c, rec, index, start, end, syn);
    if (c.mode !== 'l7' || bodyEnd === KEPT) return; // denied
    s.next = seqAdd(dseq, len);
    if (bodyEnd >= 0) s.bodyRange(seqAdd(s.base, bodyEnd));
    s.clientCtl(v.flags, v.seq, len, v.ack);
  }

  /** An inspected connection refused outright (urgent data): reset. */
  private deny(c: Conn<CV>, rec: CaptureRecord, index: number, reason: PacketReason): void {
    this.summary.denied++;
    this.denied(c, rec, index, reason);
  }

  /** The packet becomes resets to both ends; the connection is over. */
  private denied(c: Conn<CV>, rec: CaptureRecord, index: number, reason: PacketReason): void {
    this.act(rec, index, 'reset', reason, c.info.id);
    c.mode = 'denied';
    this.o.onConnection?.({ type: 'close', conn: c.info, reason: 'denied', packets: c.packets, requests: c.requests });
    c.shed();
  }

  /** The packet becomes the answer to the client and a reset to the server (l7_answer). */
  private answer(c: Conn<CV>, rec: CaptureRecord, index: number, reason: PacketReason): void {
    const f = c.framer!;
    const stream = c.session?.denial?.stream;
    const rstSeq = c.ofs ? c.ofs.cliToSrv(c.ansRst) : c.ansRst;
    const answer: AnswerSegments = { seq: f.end, ack: c.ansAck, rstSeq, ...(f.h2 && stream ? { stream } : {}), ...(c.limited ? { limited: true } : {}) };
    this.act(rec, index, 'answer', reason, c.info.id, answer);
    c.mode = 'answered';
    c.session?.answerDenied?.(answerKind(c));
    this.o.onConnection?.({ type: 'close', conn: c.info, reason: 'denied', packets: c.packets, requests: c.requests });
    c.shed();
  }

  /**
   * How a denied request is answered (l7_deny_how): now, after the responses before it, or with
   * a reset. Only a request whose bytes from this packet's first new byte on the server has not
   * read, denied in its head, on a connection whose responses are followed and whose server has
   * not closed.
   */
  private denyHow(c: Conn<CV>): 'answer' | 'due' | 'reset' | 'trim' {
    const f = c.framer;
    const s = c.stream!;
    const d = c.session?.denial;
    const h2 = c.session?.http2 === true;
    if (!f || f.lost || !d?.answerable || !s.srvSeen || s.srvFin || s.closed) return 'reset';
    if (h2 || !f.h2) {
      if (f.idle(s.srvNxt, h2)) return 'answer';
      if (h2 || d.start <= seqDiff(c.ansRst, s.base)) return 'due';
      // HTTP/1 with new bytes before the denied request while the server owes responses: they
      // go on alone (l7_trim_fits)
      const keep = d.start - seqDiff(c.pktSeq, s.base);
      return keep > 0 && keep <= TRIM.keep && keep < c.pktLen && c.pktLen - keep <= TRIM.cut && !c.pktFin ? 'trim' : 'reset';
    }
    return 'reset'; // an HTTP/1 connection whose server spoke HTTP/2
  }

  /**
   * Stage 3 for the request just denied (l7_keep_ok): a request the rules denied, kept alive,
   * ending with this packet, none of it before the packet's new bytes; with offsets already, the
   * client acknowledged the latest answer and the server the latest cut.
   */
  private keepOk(c: Conn<CV>, how: 'answer' | 'due' | 'reset' | 'trim'): boolean {
    const s = c.stream!;
    const session = c.session!;
    const k = session.keepable;
    if (!this.keep || how === 'reset' || !k || c.pktFin) return false;
    // HTTP/2: where the denied stream's frames start (they begin the packet: Http2Session.keepable)
    const lo = k.start ?? session.denial!.start;
    if (lo < seqDiff(c.ansRst, s.base)) return false;
    if (k.end !== seqDiff(seqAdd(c.pktSeq, c.pktLen), s.base)) return false;
    // answered now, the 403 acknowledges every byte before the request: the server must hold them
    if (how === 'answer' && seqDiff(s.una, seqAdd(s.base, lo)) < 0) return false;
    const ack = seqDiff(this.v.ack, s.ackHi) > 0 ? this.v.ack >>> 0 : s.ackHi;
    return !c.ofs || (seqDiff(ack, c.ofs.insHi) >= 0 && seqDiff(s.una, c.ofs.cutHi) >= 0);
  }

  /** Stage 3 (l7_keep): the denied request [start, end of packet) is cut; answered now, or once
   * the responses before it are complete (the packet dropped, or trimmed to the bytes before it). */
  private keepCut(c: Conn<CV>, rec: CaptureRecord, index: number, how: 'answer' | 'due' | 'reset' | 'trim'): void {
    const s = c.stream!;
    const k = c.session!.keepable!;
    const lo = seqAdd(s.base, k.start ?? c.session!.denial!.start);
    const end = seqAdd(c.pktSeq, c.pktLen);
    c.ansRst = lo;
    c.ansAck = end;
    c.ofs ??= new Offsets();
    c.ofs.cutOut(lo, end);
    c.ofs.stream = c.session!.denial!.stream ?? 0;
    c.ofs.win = k.window ?? 0;
    if (seqDiff(s.una, lo) >= 0) s.una = end;
    s.next = end;
    c.session!.resume?.(seqDiff(end, s.base));
    if (how === 'answer') return this.answerKeep(c, rec, index, 'request-denied', true);
    c.ofs.due = true;
    c.mode = 'answer-due';
    this.act(rec, index, how === 'trim' ? 'trim' : 'drop', 'request-denied', c.info.id);
  }

  /** The 403 to the client at the end of the responses (the first time: it takes its place in
   * the server's stream), the packet an acknowledgement to the server (l7_answer_keep). */
  private answerKeep(c: Conn<CV>, rec: CaptureRecord, index: number, reason: PacketReason, first: boolean): void {
    const o = c.ofs!;
    const f = c.framer!;
    const s = c.stream!;
    if (first) {
      o.insert(f.end, this.keepAnswer(c).length);
      f.seq = o.insHi;
      f.end = o.insHi;
      if (seqDiff(o.insHi, s.srvNxt) >= 0) s.srvNxt = o.insHi;
      c.s2c.nextSeq = o.insHi;
      c.session?.answerDenied?.(answerKind(c));
    }
    const answer: AnswerSegments = { seq: o.insLo, ack: o.cutHi, rstSeq: o.cliToSrv(o.cutHi), keep: true, srvAck: o.viewToSrv(this.v.ack), ...(c.limited ? { limited: true } : {}) };
    this.act(rec, index, 'answer', reason, c.info.id, answer);
  }

  /** The stage-3 answer's bytes (l7_keep_bytes): HTTP/1's 403, or HTTP/2's HEADERS on the
   * stream and the WINDOW_UPDATE for the cut DATA. */
  private keepAnswer(c: Conn<CV>): Uint8Array {
    const o = c.ofs!;
    return c.framer!.h2 ? grpcDeniedKeep(o.stream, o.win, answerKind(c)) : http1Answer(answerKind(c), true);
  }

  /** A client segment with bytes of the latest cut (l7_cut_resent): the request sent again gets
   * its answer again; earlier bytes joined to it, a reset. */
  private cutResent(c: Conn<CV>, rec: CaptureRecord, index: number): void {
    const v = this.v;
    // a segment the receiver would discard gets nothing (the answer's ACK to the server carries its ack)
    const why = c.stream!.accepts(v.flags, v.ack, v.ttl, v.ipVersion !== 4 || ipv4HeaderOk(v.data, v.ipOff));
    if (why) return this.act(rec, index, 'drop', why, c.info.id);
    if (seqDiff(v.seq, c.ofs!.cutLo) >= 0) return this.answerKeep(c, rec, index, 'retransmission', false);
    this.summary.denied++;
    this.denied(c, rec, index, 'retransmission-differs');
  }

  /** The injected stage-3 answer seen on its way to the client (the kernel knows it by its mark):
   * at the latest answer's place, its length, its bytes. */
  private ownAnswer(c: Conn<CV>): boolean {
    const v = this.v;
    const o = c.ofs!;
    const bytes = this.keepAnswer(c);
    if (v.seq >>> 0 !== o.insLo || v.payloadLen !== bytes.length || v.flags & TCP_FIN) return false;
    for (let i = 0; i < bytes.length; i++) if (v.data[v.payloadOff + i] !== bytes[i]) return false;
    return true;
  }

  /** A client packet that goes on as sent, on a connection with offsets: into the server's space. */
  private clientRewrite(action: PacketActionKind): { seq: number; ack: number } | undefined {
    const c = this.cur;
    if (!c?.ofs || !this.fromClient || (action !== 'pass' && action !== 'trim') || (c.mode !== 'l7' && c.mode !== 'answer-due' && c.mode !== 'closed')) return undefined;
    const v = this.v;
    return { seq: c.ofs.cliToSrv(v.seq), ack: v.flags & TCP_ACK ? c.ofs.viewToSrv(v.ack) : v.ack >>> 0 };
  }

  /** A client packet while the answer waits (l7_answer_due): the one acknowledging the responses carries it. */
  private answerDue(c: Conn<CV>, rec: CaptureRecord, index: number): void {
    const v = this.v;
    const s = c.stream!;
    const f = c.framer!;
    const id = c.info.id;
    const data = v.payloadLen > 0 && !(v.flags & TCP_RST);
    if (s.closed) return this.act(rec, index, data ? 'drop' : 'pass', data ? 'flow-denied' : 'control', id);
    // the packet acknowledges the end of the responses owed: the answer goes with it
    const due = f.idle(s.srvNxt, c.session?.http2 === true) && (v.flags & TCP_ACK) !== 0 && seqDiff(v.ack, f.end) >= 0 && !(v.flags & TCP_RST);
    // (stage 3: not when it would acknowledge client bytes the server never acknowledged, l7_keep_due_ok)
    if (f.lost || s.srvFin || (due && c.ofs?.due && seqDiff(s.una, c.ofs.cutLo) < 0)) return this.denied(c, rec, index, 'answer-lost');
    if (due) {
      if (!c.ofs?.due) return this.answer(c, rec, index, 'answer-sent');
      c.mode = 'l7';
      return this.answerKeep(c, rec, index, 'answer-sent', true);
    }
    if (data) return this.act(rec, index, 'drop', 'flow-denied', id);
    s.clientCtl(v.flags, v.seq, v.payloadLen, v.ack);
    this.act(rec, index, 'pass', v.flags & TCP_RST ? 'rst' : 'control', id);
    if (s.closed) this.closeConn(c, 'rst');
  }

  /** After the answer: the client's control segments reach the server's host (which resets
   * them); the answer itself passes on its way; nothing else. */
  private answered(c: Conn<CV>, rec: CaptureRecord, index: number, fromClient: boolean): void {
    const v = this.v;
    const id = c.info.id;
    if (fromClient) {
      const data = v.payloadLen > 0 && !(v.flags & TCP_RST);
      return this.act(rec, index, data ? 'drop' : 'pass', data ? 'flow-denied' : v.flags & TCP_RST ? 'rst' : 'control', id);
    }
    if (v.flags & TCP_RST) return this.act(rec, index, 'pass', 'rst', id);
    const ours = v.seq >>> 0 === c.ansEnd && v.payloadLen === (c.ansH2 ? grpcDenied(0, 0, answerKind(c)) : http1Answer(answerKind(c), false)).length && (v.flags & TCP_FIN) !== 0;
    this.act(rec, index, ours ? 'pass' : 'drop', ours ? 'answer' : 'flow-denied', id);
  }

  /** Client bytes through the session; returns where the last judged request's content-length body ends (-1: none). */
  private inspect(c: Conn<CV>, rec: CaptureRecord, index: number, start: number, end: number, fastOpen = false): number {
    const session = c.session!;
    const id = c.info.id;
    if (session.state === 'opaque') return this.act(rec, index, 'pass', 'opaque', id), -1;
    if (session.state === 'dead') return this.act(rec, index, 'pass', 'unparsed', id), -1;
    session.client(this.v.data, start, end);
    if (session.denied && c.auditStop) {
      // audit: the broken stream passes; nothing after it is judged (the kernel's ALLOW)
      this.act(rec, index, 'pass', 'audited', id);
      c.mode = 'opaque';
      c.stream = null;
      return -1;
    }
    if (session.denied && fastOpen) {
      // fast-open data denied: no connection yet to reset; the flow is forgotten (the
      // client sends its SYN again without data)
      this.act(rec, index, 'drop', 'request-denied', id);
      this.summary.denied++;
      this.closeConn(c, 'denied');
      this.table.delete(c.key);
      if (this.last === c) this.last = undefined;
      return -1;
    }
    if (c.framer) for (const head of session.allowedHeads ?? []) c.framer.expect(head);
    if (session.denied) {
      this.summary.denied++;
      const how = this.denyHow(c);
      if (this.keepOk(c, how)) return this.keepCut(c, rec, index, how), KEPT;
      if (how === 'due') {
        c.mode = 'answer-due';
        this.act(rec, index, 'drop', 'request-denied', id);
        return -1;
      }
      if (how === 'trim') {
        // the allowed bytes before the denied request go on; the server reads up to it
        const s = c.stream!;
        c.mode = 'answer-due';
        c.ansRst = seqAdd(s.base, session.denial!.start);
        s.next = c.ansRst;
        this.act(rec, index, 'trim', 'request-denied', id);
        return -1;
      }
      if (how === 'answer') this.answer(c, rec, index, 'request-denied');
      else this.denied(c, rec, index, 'request-denied');
      return -1;
    }
    this.act(rec, index, 'pass', session.decided > 0 ? 'request-allowed' : 'in-order', id);
    return session.bodyEnd;
  }

  private trackFin(c: Conn<CV>, fromClient: boolean): void {
    const v = this.v;
    if (!(v.flags & TCP_FIN)) return;
    // connections not inspected: a FIN from each side closes (L7 ones close by ClientStream's rules)
    (fromClient ? c.c2s : c.s2c).fin = true;
    if (c.c2s.fin && c.s2c.fin) this.closeConn(c, 'fin');
  }

  /** A packet of a closed connection (a tombstone: its late ACK or FIN). */
  private closedPacket(c: Conn<CV> | Tombstone, rec: CaptureRecord, index: number, fromClient: boolean): void {
    const v = this.v;
    this.cur = c;
    this.curRec = rec;
    this.curIndex = index;
    this.rewrite = undefined;
    this.fromClient = fromClient;
    // stage 3's offsets outlive the close: the kernel's flow stays and translates (FIN, ACK)
    if (!fromClient) this.serverToView(c);
    // an inspected connection's client bytes after its close reach no one: dropped
    const inspected = c instanceof Tombstone ? c.inspected : c.stream !== null;
    if (inspected && fromClient && v.payloadLen > 0 && !(v.flags & TCP_RST)) return this.act(rec, index, 'drop', 'flow-closed', c.info.id);
    return this.act(rec, index, 'pass', 'closed', c.info.id);
  }

  private closeConn(c: Conn<CV>, reason: CloseReason): void {
    if (c.mode === 'closed') return;
    const wasDenied = c.mode === 'denied' || c.mode === 'answered';
    const tomb = c.toTombstone();
    c.mode = 'closed';
    // the table keeps the tombstone in the connection's place (not when it evicted it)
    if (this.table.map.get(c.key) === c) this.table.map.set(c.key, tomb);
    if (this.last === c) this.last = tomb;
    if (reason === 'evicted') this.summary.evicted++;
    if (!wasDenied) this.o.onConnection?.({ type: 'close', conn: c.info, reason, packets: c.packets, requests: c.requests });
  }

  private act(rec: CaptureRecord, index: number, action: PacketActionKind, reason: PacketReason, connId: number, answer?: AnswerSegments): void {
    const s = this.summary;
    s.actions[action]++;
    s.reasons[reason] = (s.reasons[reason] ?? 0) + 1;
    if (!this.o.onPacket) return;
    const rewrite = this.rewrite ?? this.clientRewrite(action);
    const e: PacketEvent = { index, offset: rec.offset, ts: rec.ts, action, reason, connId };
    this.o.onPacket(answer || rewrite ? { ...e, ...(answer ? { answer } : {}), ...(rewrite ? { rewrite } : {}) } : e);
  }
}

/** inspect(): the packet's denied request was cut (stage 3); the packet is done with */
const KEPT = -2;

/** Same value for both directions of a flow (xor is symmetric), mixed so shards are even. */
function flowHash(v: PacketView): number {
  let h: number;
  if (v.ipVersion === 4) h = v.src4 ^ v.dst4;
  else {
    h = 0;
    const d = v.data;
    for (let i = 0; i < 16; i += 4) {
      h ^= ((d[v.src6 + i]! << 24) | (d[v.src6 + i + 1]! << 16) | (d[v.src6 + i + 2]! << 8) | d[v.src6 + i + 3]!)
        ^ ((d[v.dst6 + i]! << 24) | (d[v.dst6 + i + 1]! << 16) | (d[v.dst6 + i + 2]! << 8) | d[v.dst6 + i + 3]!);
    }
  }
  h = Math.imul(h ^ (v.sport ^ v.dport) * 0x9e3779b1, 0x85ebca6b);
  return (h ^ (h >>> 15)) >>> 0;
}

function key4(a: number, ap: number, b: number, bp: number): string {
  return String.fromCharCode(a >>> 16, a & 0xffff, ap, b >>> 16, b & 0xffff, bp);
}

/** IPv6 endpoint identity: address bytes + port as a string. */
function ep6(d: Uint8Array, off: number, port: number): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += String.fromCharCode(d[off + i]!);
  return s + String.fromCharCode(port >> 8, port & 255);
}

const answerKind = (c: { limited: boolean }): AnswerKind => (c.limited ? 'limited' : 'denied');
