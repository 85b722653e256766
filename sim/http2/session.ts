// HTTP/2 as a session of the replay (sim/l7/session.ts), prior knowledge: the client's bytes
// are the preface and frames; each field block that opens a stream is decoded (HPACK, one
// table for the connection) and judged when its last frame is complete, which is when a
// server can act on it. Framing the server would refuse is denied where it is seen; what a
// block says is judged at its end. The server's frames are followed for responses
// (:status, grpc-status).
//
// The client's table is mirrored up to 4096 octets whatever the server allows: a size
// update above is denied. The server's SETTINGS_HEADER_TABLE_SIZE is not followed: the
// mirror's size is the encoder's last size update, as the server's is; where the server has
// lowered its setting and the client did not follow, the server refuses the block (RFC 7541
// 4.2) or keeps its table as large as the mirror, so an index the server resolves names the
// same entry here.
import type { Denial, L7Session, SessionHost, SessionState } from '../l7/session.ts';
import { FieldBlock, FLAG, FRAME, FrameReader, headerTableSizes, PREFACE, type FrameHeader, type FrameProblem, type FrameSink } from './frames.ts';
import { HpackDecoder, HpackError, type HeaderField } from './hpack.ts';
import type { H2ConnRule, Http2Event } from './types.ts';
import { Responses, type ResponseOwner } from './responses.ts';
import { DEFAULT_LIMITS as SEMANTIC_LIMITS } from '../../src/verdict/limits.ts';
import { grpcAnswerFields, type AnswerKind } from '../../src/net/answers.ts';

/** Streams kept waiting for a response per connection; older ones are emitted unanswered. */
export const MAX_OPEN_STREAMS = 1024;

/** Longest SETTINGS payload read (the six settings RFC 9113 defines, many times over). */
const MAX_SETTINGS = 256;

interface Open<R> {
  readonly rec: R;
  status: number;
  ts: bigint;
  headers: HeaderField[];
}

export class Http2Session<R> implements L7Session, FrameSink, ResponseOwner {
  decided = 0;
  denied = false;
  readonly bodyEnd = -1;
  denial: Denial | null = null;
  /** after `denied`: where the denied stream's frames end and the DATA octets they hold, when
   * stage 3 could cut them (l7_keep_ok_h2), else null */
  keepable: { readonly end: number; readonly start: number; readonly window: number } | null = null;
  /** the open block's HEADERS: its stream offset, END_STREAM, the table's changes before it */
  private blockAt = -1;
  private blockEs = false;
  private blockChanges = 0;
  /** the denied block left the table as it was */
  private deniedClean = false;
  /** the denied block's HEADERS frame header */
  private deniedAt = -1;
  private deniedEs = false;
  /** the denied block's stream */
  private deniedStream = 0;
  /** the stream stage 3 cut last (the server never saw it) */
  private cutStream = 0;
  /** the denied request's record, until the datapath's answer or the end */
  private deniedRec: R | null = null;
  private failed = false;
  private prefaceAt = 0;
  private readonly frames = new FrameReader(PREFACE.length);
  private readonly block: FieldBlock;
  /** mirrors the client's encoder, up to the table size the datapath keeps (the server's
   * SETTINGS_HEADER_TABLE_SIZE is not needed: see clientTableSize in responses.ts) */
  private readonly hpack = new HpackDecoder(SEMANTIC_LIMITS.h2TableBytes);
  private maxStream = 0;
  private settings: Uint8Array[] | null = null;
  private readonly open = new Map<number, Open<R>>();
  private resp: Responses | null = new Responses(this);

  /** `h2c`: the connection was upgraded from HTTP/1: stream 1 is the upgrade request's, and
   * the server's bytes start with the rest of its 101 head */
  constructor(inspectionLimit: number, private readonly host: SessionHost<Http2Event, R>, h2c = false) {
    this.block = new FieldBlock(inspectionLimit);
    if (h2c) {
      this.maxStream = 1;
      this.resp = new Responses(this, true);
    }
  }

  readonly http2 = true;

  get state(): SessionState {
    return this.failed ? 'dead' : 'open';
  }

  client(data: Uint8Array, start: number, end: number): void {
    this.decided = 0;
    this.denied = false;
    this.keepable = null;
    const at = this.prefaceAt < PREFACE.length ? this.prefaceAt : this.frames.offset;
    let i = start;
    while (this.prefaceAt < PREFACE.length && i < end) {
      if (data[i] !== PREFACE[this.prefaceAt]) return void this.fail('h2-preface', 'bytes differ from the client preface', this.prefaceAt, 0);
      this.prefaceAt++;
      i++;
    }
    if (i < end) this.frames.feed(data, i, end, this);
    if (this.denied && this.deniedRec && this.deniedClean && this.deniedAt === at) {
      // the stream's frames begin this packet: the rest of it must be its DATA up to END_STREAM
      const from = start + (this.frames.offset - at);
      const window = this.deniedEs ? (from === end ? 0 : -1) : dataTail(data, from, end, this.deniedStream);
      if (window >= 0) this.keepable = { start: this.deniedAt, end: at + (end - start), window };
    }
  }

  /** Stage 3 cut the denied stream's frames: the next frame header is at stream offset `at`. */
  resume(at: number): void {
    this.frames.offset = at;
    this.denied = false;
    this.cutStream = this.deniedStream;
  }

  header(h: FrameHeader): boolean {
    // a frame on the stream stage 3 cut, before a later stream opened: idle to the server
    if (h.stream !== 0 && h.stream === this.cutStream && this.maxStream === h.stream) {
      return this.fail('h2-frame', `frame type ${h.type} on stream ${h.stream}, which the server never saw (its call was cut)`, h.offset, h.stream);
    }
    if (this.block.stream !== 0) {
      if (h.type !== FRAME.CONTINUATION || h.stream !== this.block.stream) {
        return this.fail('h2-continuation', `frame type ${h.type} on stream ${h.stream} inside the field block of stream ${this.block.stream}`, h.offset, h.stream);
      }
      return this.problem(this.block.more(h), h.stream);
    }
    switch (h.type) {
      case FRAME.CONTINUATION: return this.fail('h2-continuation', `CONTINUATION on stream ${h.stream} with no field block open`, h.offset, h.stream);
      case FRAME.HEADERS:
        if (h.stream === 0 || h.stream % 2 === 0) return this.fail('h2-frame', `HEADERS on stream ${h.stream} (a client opens odd streams)`, h.offset, h.stream);
        if (h.stream <= this.maxStream) return this.fail('h2-trailers', `HEADERS on stream ${h.stream}, already opened`, h.offset, h.stream);
        this.blockAt = h.offset;
        this.blockEs = (h.flags & FLAG.END_STREAM) !== 0;
        this.blockChanges = this.hpack.tableChanges;
        return this.problem(this.block.open(h), h.stream);
      case FRAME.PUSH_PROMISE: return this.fail('h2-frame', 'PUSH_PROMISE from the client', h.offset, h.stream);
      case FRAME.DATA: return h.stream === 0 ? this.fail('h2-frame', 'DATA on stream 0', h.offset, 0) : true;
      case FRAME.SETTINGS:
        if (!(h.flags & FLAG.ACK)) this.settings = [];
        return true;
      default: return true; // PRIORITY, RST_STREAM, PING, GOAWAY, WINDOW_UPDATE and unknown types: skipped
    }
  }

  payload(h: FrameHeader, data: Uint8Array, start: number, end: number, at: number): boolean {
    if (h.type === FRAME.HEADERS || h.type === FRAME.CONTINUATION) return this.problem(this.block.payload(data, start, end, at), h.stream);
    if (h.type === FRAME.SETTINGS && this.settings && at - h.offset - 9 < MAX_SETTINGS) this.settings.push(data.slice(start, end));
    return true;
  }

  end(h: FrameHeader): boolean {
    if (h.type === FRAME.SETTINGS && this.settings) {
      // the client's table size bounds the server's encoder: the responses' decoder
      for (const n of headerTableSizes(Buffer.concat(this.settings))) this.resp?.allowTableSize(n);
      this.settings = null;
    }
    if ((h.type === FRAME.HEADERS || h.type === FRAME.CONTINUATION) && h.flags & FLAG.END_HEADERS) return this.request(h);
    return true;
  }

  /** A block opening stream h.stream is complete: decode it and judge it. */
  private request(h: FrameHeader): boolean {
    const stream = this.block.stream;
    const bytes = this.block.take();
    const offset = h.offset + 9 + h.length;
    this.maxStream = stream;
    let fields: HeaderField[];
    try {
      fields = this.hpack.decode(bytes);
    } catch (e) {
      if (!(e instanceof HpackError)) throw e;
      return this.fail('h2-hpack', e.message, offset, stream);
    }
    const rec = this.host.judge({ kind: 'h2-request', stream, fields, offset });
    this.decided++;
    if (!this.host.allowed(rec)) {
      // its own fields, read whole: the datapath may answer on the stream (held until it does)
      this.denied = true;
      this.deniedRec = rec;
      this.denial = { answerable: true, start: 0, stream };
      this.deniedClean = this.hpack.tableChanges === this.blockChanges;
      this.deniedAt = this.blockAt;
      this.deniedEs = this.blockEs;
      this.deniedStream = stream;
      return false;
    }
    this.open.set(stream, { rec, status: 0, ts: 0n, headers: [] });
    if (this.open.size > MAX_OPEN_STREAMS) this.closeStream(this.open.keys().next().value!);
    return true;
  }

  private problem(p: FrameProblem | null, stream: number): boolean {
    return p ? this.fail(p.rule, p.detail, p.offset, stream) : true;
  }

  /** The client broke a rule of the connection: judged (denied by the oracle); nothing after it is parsed. */
  private fail(rule: H2ConnRule, detail: string, offset: number, stream: number): boolean {
    const rec = this.host.judge({ kind: 'h2-error', rule, detail, offset, stream });
    this.decided++;
    this.failed = true;
    this.denial = null; // the connection's, not a stream's: no answer on a stream (a reset)
    this.host.emit(rec);
    if (!this.host.allowed(rec)) this.denied = true;
    return false;
  }

  serverSegment(): boolean {
    return false;
  }

  server(data: Uint8Array, start: number, end: number): void {
    if (this.resp && !this.resp.feed(data, start, end)) this.serverHole();
  }

  serverHole(): void {
    this.resp = null;
  }

  // ResponseOwner: what the server's frames say about the client's streams

  responseBlock(stream: number, fields: readonly HeaderField[]): void {
    const o = this.open.get(stream);
    if (!o) return;
    if (o.status === 0) {
      const status = Number(fields.find(([n]) => n === ':status')?.[1] ?? 0);
      if (status < 200) return; // an interim response
      o.status = status;
      o.ts = this.host.now();
      o.headers.push(...fields.filter(([n]) => n !== ':status'));
      return;
    }
    o.headers.push(...fields); // trailers (grpc-status)
  }

  closeStream(stream: number): void {
    const o = this.open.get(stream);
    if (!o) return;
    this.open.delete(stream);
    if (o.status === 0) this.host.emit(o.rec);
    else this.host.answered(o.rec, { status: o.status, headers: o.headers, ts: o.ts });
  }

  /** The datapath's answer on the denied stream (src/net/answers.ts): trailers-only, status 7 (8 over a rate limit). */
  answerDenied(kind: AnswerKind = 'denied'): void {
    if (!this.deniedRec) return;
    const headers = grpcAnswerFields(kind);
    this.host.answered(this.deniedRec, { status: Number(headers[0]![1]), headers });
    this.deniedRec = null;
  }

  release(): void {
    // the denied stream was decided last but its record goes first, as when it was reset at once
    if (this.deniedRec) this.host.emit(this.deniedRec);
    this.deniedRec = null;
    for (const stream of [...this.open.keys()]) this.closeStream(stream);
    this.resp = null;
  }
}

/**
 * The frames of data[from, end) when they are DATA of `stream` only, the last with END_STREAM
 * ending at `end` (l7_h2_tail: at most 16): their payload octets, the connection window they
 * took; else -1.
 */
function dataTail(data: Uint8Array, from: number, end: number, stream: number): number {
  let n = 0;
  let off = from;
  for (let k = 0; k < 16; k++) {
    if (off + 9 > end) return -1;
    const len = (data[off]! << 16) | (data[off + 1]! << 8) | data[off + 2]!;
    const id = ((data[off + 5]! << 24) | (data[off + 6]! << 16) | (data[off + 7]! << 8) | data[off + 8]!) & 0x7fffffff;
    if (data[off + 3] !== FRAME.DATA || id !== stream) return -1;
    const flags = data[off + 4]!;
    off += 9 + len;
    n += len;
    if (off > end) return -1;
    if (flags & FLAG.END_STREAM) return off === end ? n : -1;
  }
  return -1;
}
