// Stage 3's sequence offsets (bpf-templates/l7_tcp.h, struct l7_ofs; l7_splice.h): a denied
// request's bytes cut out of the client's stream and answers inserted into the server's. Client
// sequence numbers and the client's view of the server's stream are the connection's own; the
// server's space differs by the totals past the latest cut and insert, and by the totals before
// them short of those. With no cut every total is 0 and every map the identity.
import { seqAdd, seqDiff } from './seq.ts';

const before = (a: number, b: number) => seqDiff(a, b) < 0;
const after = (a: number, b: number) => seqDiff(a, b) > 0;

export class Offsets {
  /** client bytes removed, every cut */
  cut = 0;
  /** the latest cut: client bytes [cutLo, cutHi) */
  cutLo = 0;
  cutHi = 0;
  /** bytes inserted into the server's stream, every answer */
  ins = 0;
  /** the latest answer: [insLo, insHi) in the client's view */
  insLo = 0;
  insHi = 0;
  /** the latest cut's answer waits for the responses before it (OFS_DUE) */
  due = false;
  /** HTTP/2: the latest answer's stream and the DATA octets its WINDOW_UPDATE gives back */
  stream = 0;
  win = 0;

  /** A client sequence number in the server's space (l7_cli_to_srv). */
  cliToSrv(c: number): number {
    const prev = this.cut - (this.cutHi - this.cutLo);
    if (!before(c, this.cutHi)) return (c - this.cut) >>> 0;
    return after(c, this.cutLo) ? (this.cutLo - prev) >>> 0 : (c - prev) >>> 0;
  }

  /** A position in the client's view of the server's stream (an acknowledgement) in the server's (l7_view_to_srv). */
  viewToSrv(v: number): number {
    const prev = this.ins - (this.insHi - this.insLo);
    if (!before(v, this.insHi)) return (v - this.ins) >>> 0;
    return after(v, this.insLo) ? (this.insLo - prev) >>> 0 : (v - prev) >>> 0;
  }

  /** A server sequence number in the client's view (l7_srv_to_view). */
  srvToView(s: number): number {
    return !before(s, (this.insHi - this.ins) >>> 0) ? seqAdd(s, this.ins) : seqAdd(s, this.ins - (this.insHi - this.insLo));
  }

  /** The server's acknowledgement of client bytes in the client's space (l7_srv_ack_to_cli). */
  srvAckToCli(a: number): number {
    return !before(a, (this.cutHi - this.cut) >>> 0) ? seqAdd(a, this.cut) : seqAdd(a, this.cut - (this.cutHi - this.cutLo));
  }

  /** The client bytes [lo, hi) leave the stream (l7_ofs_cut). */
  cutOut(lo: number, hi: number): void {
    this.cutLo = lo >>> 0;
    this.cutHi = hi >>> 0;
    this.cut = (this.cut + seqDiff(hi, lo)) >>> 0;
  }

  /** `len` answer bytes enter the server's stream at `at`, in the client's view (l7_ofs_insert). */
  insert(at: number, len: number): void {
    this.insLo = at >>> 0;
    this.insHi = seqAdd(at, len);
    this.ins = (this.ins + len) >>> 0;
    this.due = false;
  }

  /** The segment [seq, seq + len) holds bytes of the latest cut. */
  touchesCut(seq: number, len: number): boolean {
    return after(seqAdd(seq, len), this.cutLo) && before(seq, this.cutHi);
  }
}
