// What the receiving TCP accepts of an inspected client stream: the simulator's copy of
// bpf-templates/l7_tcp.h, field for field and rule for rule, so kernel and simulator agree
// packet by packet (docs/datapath.md, "What the datapath trusts"). Pure sequence arithmetic
// over 32-bit numbers plus a ring of the last RING_BYTES client bytes.
import { seqDiff, seqAdd } from './seq.ts';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/view.ts';

/** Client bytes kept for the retransmission check (L7_RING_BYTES). */
export const RING_BYTES = 2048;

export type StreamDrop = 'insertion' | 'bad-ip-header' | 'out-of-window' | 'hole' | 'retransmission-differs';

/** How a client data segment goes on: dropped, only judged bytes, or new bytes from `fresh` on. */
export type SegmentStep =
  | { readonly kind: 'drop'; readonly reason: StreamDrop }
  | { readonly kind: 'retransmission' }
  | { readonly kind: 'fresh'; readonly skip: number };

const after = (a: number, b: number) => seqDiff(a, b) > 0;
const before = (a: number, b: number) => seqDiff(a, b) < 0;
const seqMax = (a: number, b: number) => (after(a, b) ? a : b);

export class ClientStream {
  /** The client's ISN + 1: no client byte lies before it. */
  base: number;
  /** Next client byte to inspect. */
  next: number;
  /** Client bytes the server acknowledged. */
  una: number;
  srvNxt = 0;
  ackHi = 0;
  readonly synWin: number;
  ringLo: number;
  bodyLo: number;
  bodyHi: number;
  /** Past the last byte copied into the ring (body bytes are not copied). */
  wrHi: number;
  srvSeen = false;
  /** The server sent past its SYN (data, FIN): srvNxt is past its ISN + 1 (L7_TCP_SRV_SENT). */
  srvSent = false;
  cliFin = false;
  finAcked = false;
  srvFin = false;
  closed = false;
  private readonly ring = new Uint8Array(RING_BYTES);

  constructor(isn: number, synWindow: number) {
    this.base = seqAdd(isn, 1);
    this.next = this.base;
    this.una = this.base;
    this.ringLo = this.base;
    this.bodyLo = this.base;
    this.bodyHi = this.base;
    this.wrHi = this.base;
    this.synWin = synWindow;
  }

  /** A server packet (l7_tcp_reply). */
  reply(flags: number, seq: number, len: number, ack: number): void {
    const end = seqAdd(seq, len + (flags & TCP_SYN ? 1 : 0) + (flags & TCP_FIN ? 1 : 0));
    if (flags & TCP_RST) {
      this.closed = true;
      return;
    }
    if (!this.srvSeen) {
      if ((flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK)) return;
      this.srvSeen = true;
      if (end !== seqAdd(seq, 1)) this.srvSent = true;
      this.srvNxt = end;
      this.ackHi = end;
    } else if (after(end, this.srvNxt)) {
      this.srvSent = true;
      this.srvNxt = end;
    }
    if (flags & TCP_ACK) {
      if (after(ack, this.una) && !after(ack, this.next)) this.una = ack >>> 0;
      if (this.cliFin && ack >>> 0 === seqAdd(this.next, 1)) this.finAcked = true;
    }
    if (flags & TCP_FIN) this.srvFin = true;
    if (this.finAcked && this.srvFin) this.closed = true;
  }

  /** A client packet without payload, or a reset, or after its bytes (l7_tcp_client_ctl). */
  clientCtl(flags: number, seq: number, len: number, ack: number): void {
    if (flags & TCP_RST) {
      if (seq >>> 0 === this.next && this.una === this.next) this.closed = true;
      return;
    }
    if (flags & TCP_ACK && this.srvSeen && after(ack, this.ackHi) && !after(ack, this.srvNxt)) this.ackHi = ack >>> 0;
    if (flags & TCP_FIN && seqAdd(seq, len) === this.next) this.cliFin = true;
  }

  /** Null when the receiving TCP would queue the payload (l7_tcp_accepts). */
  /** Whether the inspecting hook sits before the node forwards (the client's egress policy inspects): TTL and the IPv4 header checksum count. */
  forwards = false;

  accepts(flags: number, ack: number, ttl: number, ipHeaderOk: boolean): StreamDrop | null {
    // the opening SYN's data (fast open); a SYN|ACK from the client is discarded by the receiver
    if (flags & TCP_SYN) return flags & TCP_ACK ? 'insertion' : null;
    if (!(flags & TCP_ACK) || !this.srvSeen) return 'insertion';
    if (after(ack, this.srvNxt) || before(ack, (this.ackHi - this.synWin) >>> 0)) return 'insertion';
    if (this.forwards && (ttl <= 1 || !ipHeaderOk)) return 'bad-ip-header';
    return null;
  }

  /**
   * The stream rule for payload data[off, off + len) at sequence `dseq` (the SYN's data starts
   * after its ISN): out of window, hole, resent bytes that differ, retransmission, or fresh
   * bytes from `skip` on (already copied into the ring).
   */
  step(data: Uint8Array, off: number, dseq: number, len: number, flags: number, ack: number, ttl: number, ipHeaderOk: boolean): SegmentStep {
    const why = this.accepts(flags, ack, ttl, ipHeaderOk);
    if (why) return { kind: 'drop', reason: why };
    if (before(dseq, this.base)) return { kind: 'drop', reason: 'out-of-window' };
    if (after(dseq, this.next)) return { kind: 'drop', reason: 'hole' };
    const end = seqAdd(dseq, len);
    const start = this.next;
    const a = seqMax(dseq, this.una);
    const b = before(end, start) ? end : start;
    if (after(b, a) && !this.resentSame(data, off + seqDiff(a, dseq), a, b)) return { kind: 'drop', reason: 'retransmission-differs' };
    if (!after(end, start)) return { kind: 'retransmission' };
    return { kind: 'fresh', skip: seqDiff(start, dseq) };
  }

  /** Fresh bytes data[off, off + n) at `this.next`, copied unless the body fast path passes them. */
  copy(data: Uint8Array, off: number, n: number): void {
    let seq = this.next;
    this.wrHi = seqAdd(seq, n);
    if (n > RING_BYTES) {
      off += n - RING_BYTES;
      seq = seqAdd(seq, n - RING_BYTES);
      n = RING_BYTES;
    }
    for (let i = 0; i < n; i++) this.ring[(seq + i) & (RING_BYTES - 1)] = data[off + i]!;
  }

  /** After a packet's fresh bytes: a content-length body continues to `bodyEnd` (l7_body_range). */
  bodyRange(bodyEnd: number): void {
    const n = seqDiff(bodyEnd, this.next);
    if (n <= 0) return;
    if (this.bodyHi !== this.bodyLo) this.ringLo = seqMax(this.ringLo, this.bodyHi);
    this.bodyLo = this.next;
    this.bodyHi = seqAdd(this.next, Math.min(n, 1 << 30));
  }

  /** Whether a fresh packet's bytes all lie in the body being passed (the kernel's body fast path). */
  inBody(fresh: number): boolean {
    return !before(this.next, this.bodyLo) && seqDiff(this.bodyHi, this.next) >= fresh;
  }

  /** l7_resent_same: bytes outside the body range equal the ring's, and are still in it. */
  private resentSame(data: Uint8Array, off: number, a: number, b: number): boolean {
    const lo = seqMax(this.ringLo, (this.wrHi - RING_BYTES) >>> 0);
    const hasBody = after(this.bodyHi, this.bodyLo);
    const pieces: [number, number][] = [];
    if (hasBody) {
      const y = after(b, this.bodyLo) ? (after(a, this.bodyLo) ? a : this.bodyLo) : b;
      pieces.push([a, y], [seqMax(a, this.bodyHi), b]);
    } else {
      pieces.push([a, b]);
    }
    for (const [x, y] of pieces) {
      if (!after(y, x)) continue;
      if (before(x, lo)) return false;
      const o = off + seqDiff(x, a);
      for (let i = 0; i < seqDiff(y, x); i++) if (data[o + i] !== this.ring[(x + i) & (RING_BYTES - 1)]) return false;
    }
    return true;
  }
}
