// What a receiving Linux TCP socket in ESTABLISHED state hands to the application, from the
// client segments that reach it: an independent model for the stream-integrity tests (issue 10),
// written from RFC 793/5961/6093 and Linux 6.x net/ipv4/tcp_input.c (tcp_rcv_established,
// tcp_validate_incoming, tcp_ack, tcp_urg, tcp_data_queue, tcp_data_queue_ofo, tcp_ofo_queue),
// not from the datapath. It decodes the frames itself and verifies their checksums.
//
// Assumptions: no TCP options were negotiated (no timestamps, so no PAWS; no SACK; no window
// scaling), the node forwards the packet to the pod (TTL <= 1 dies on the way, as does a bad IPv4
// header checksum), the application reads everything as soon as it is queued (so copied_seq ==
// rcv_nxt), no FIN. Where Linux depends on state a packet list cannot show, the caller chooses
// (`Choices`): whether the fast path has receive memory already charged, and whether an
// out-of-order segment coalesces with its neighbour.

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;

const before = (a: number, b: number) => ((a - b) | 0) < 0;
const after = (a: number, b: number) => ((a - b) | 0) > 0;
const add = (a: number, n: number) => (a + n) >>> 0;

export interface Segment {
  readonly ttl: number;
  readonly ipHeaderOk: boolean;
  readonly tcpChecksumOk: boolean;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly urgent: number;
  /** TCP header length in bytes */
  readonly doff: number;
  readonly payload: Uint8Array;
}

/** One's-complement sum of 16-bit words, folded (RFC 1071). */
function sum16(b: Uint8Array, from: number, to: number, acc = 0): number {
  for (let i = from; i < to; i += 2) acc += (b[i]! << 8) | (i + 1 < to ? b[i + 1]! : 0);
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** An Ethernet frame carrying IPv4 (no options needed) or IPv6 (no extension headers) and TCP. */
export function decodeSegment(f: Uint8Array): Segment {
  const v6 = f[12] === 0x86 && f[13] === 0xdd;
  const ip = 14;
  const ipLen = v6 ? 40 : (f[ip]! & 15) * 4;
  const total = v6 ? 40 + ((f[ip + 4]! << 8) | f[ip + 5]!) : (f[ip + 2]! << 8) | f[ip + 3]!;
  if ((v6 ? f[ip + 6] : f[ip + 9]) !== 6) throw new Error('linux-tcp-model: not TCP');
  const t = ip + ipLen;
  const end = ip + total;
  const addrs = v6 ? sum16(f, ip + 8, ip + 40) : sum16(f, ip + 12, ip + 20);
  const doff = (f[t + 12]! >> 4) * 4;
  const u32 = (o: number) => ((f[o]! << 24) | (f[o + 1]! << 16) | (f[o + 2]! << 8) | f[o + 3]!) >>> 0;
  return {
    ttl: f[ip + (v6 ? 7 : 8)]!,
    // a checksum field of 0 is no exception: ip_rcv_core sums the header as it is
    ipHeaderOk: v6 || sum16(f, ip, ip + ipLen) === 0xffff,
    tcpChecksumOk: sum16(f, t, end, addrs + 6 + (end - t)) === 0xffff,
    seq: u32(t + 4),
    ack: u32(t + 8),
    flags: f[t + 13]!,
    window: (f[t + 14]! << 8) | f[t + 15]!,
    urgent: (f[t + 18]! << 8) | f[t + 19]!,
    doff,
    payload: f.slice(t + doff, end),
  };
}

export interface ReceiverOptions {
  /** the client's ISN (its SYN's sequence number) and the server's */
  readonly clientIsn: number;
  readonly serverIsn: number;
  /** the window of the client's SYN and handshake ACK (snd_wnd, max_window) */
  readonly clientWindow: number;
  /** the server's receive window (rcv_wnd); 65535 by default */
  readonly rcvWindow?: number;
}

export interface Choices {
  /** fast path: sk_forward_alloc already covers the skb (else tcp_rcv_established goes to step5) */
  readonly memoryReady?: boolean;
  /** tcp_ooo_try_coalesce succeeds (skb layout decides) */
  readonly coalesce?: boolean;
}

interface Ooo {
  seq: number;
  end: number;
  data: Uint8Array;
}

export class LinuxTcpReceiver {
  private rcvNxt: number;
  private rcvWup: number;
  private readonly rcvWnd: number;
  private sndUna: number;
  private sndNxt: number;
  private sndWnd: number;
  private sndWl1: number;
  private maxWindow: number;
  private bytesAcked = 0;
  private urgSeq: number | null = null;
  private ofo: Ooo[] = [];
  private readonly app: number[] = [];
  /** the connection was reset: nothing more reaches the application */
  dead = false;

  constructor(o: ReceiverOptions) {
    this.rcvNxt = add(o.clientIsn, 1);
    this.rcvWup = this.rcvNxt;
    this.rcvWnd = o.rcvWindow ?? 65535;
    this.sndUna = add(o.serverIsn, 1);
    this.sndNxt = this.sndUna;
    this.sndWnd = o.clientWindow;
    this.maxWindow = o.clientWindow;
    this.sndWl1 = this.rcvNxt;
  }

  /** The bytes the application read (urgent bytes taken out: no SO_OOBINLINE). */
  get stream(): Uint8Array {
    return Uint8Array.from(this.app);
  }

  /** The server sends `n` bytes of data. */
  sent(n: number): void {
    this.sndNxt = add(this.sndNxt, n);
  }

  /** The server sends an ACK now: its acknowledgement number (rcv_nxt; tcp_select_window sets rcv_wup). */
  acknowledge(): number {
    this.rcvWup = this.rcvNxt;
    return this.rcvNxt;
  }

  /** A client segment reaches the socket; returns what became of it (for failure messages). */
  receive(s: Segment, c: Choices = {}): string {
    if (this.dead) return 'discarded: connection reset';
    // the node's ip_rcv_core and ip_forward, before any TCP
    if (!s.ipHeaderOk) return 'discarded: IPv4 header checksum';
    if (s.ttl <= 1) return 'discarded: TTL expired forwarding';
    if (!s.tcpChecksumOk) return 'discarded: TCP checksum';
    if (this.predicted(s)) {
      if (s.payload.length === 0) return this.fastAck(s), 'pure ACK (fast path)';
      if (c.memoryReady !== false) {
        // queued before tcp_ack looks at the ack: its age does not matter here
        this.append(s.seq, s.payload);
        if (s.ack !== this.sndUna) this.fastAck(s);
        return 'queued (fast path)';
      }
      return this.step5(s, c);
    }
    if (!(s.flags & (ACK | RST | SYN))) return 'discarded: no ACK flag';
    const why = this.validate(s);
    return why ?? this.step5(s, c);
  }

  /** Header prediction (tcp_rcv_established): pred_flags, seq == rcv_nxt, ack <= snd_nxt. */
  private predicted(s: Segment): boolean {
    const enabled = this.ofo.length === 0 && this.urgSeq === null;
    return enabled && s.doff === 20 && (s.flags & ~PSH) === ACK && s.window === this.sndWnd && s.seq === this.rcvNxt && !after(s.ack, this.sndNxt);
  }

  /** tcp_validate_incoming: sequence window, RST (RFC 5961 3.2), SYN (RFC 5961 4.2). */
  private validate(s: Segment): string | null {
    const end = add(s.seq, s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0));
    if (before(end, this.rcvWup) || after(s.seq, add(this.rcvWup, this.rcvWnd))) {
      return s.flags & RST ? 'discarded: RST out of window' : s.flags & SYN ? 'discarded: SYN (challenge ACK)' : 'discarded: out of window (dup ACK)';
    }
    if (s.flags & RST) {
      if (s.seq !== this.rcvNxt) return 'discarded: RST not at rcv_nxt (challenge ACK)';
      this.dead = true;
      this.ofo = [];
      return 'reset';
    }
    if (s.flags & SYN) return 'discarded: SYN (challenge ACK)';
    return null;
  }

  /** tcp_ack, then urgent pointer and data (the slow path from step 5 on). */
  private step5(s: Segment, c: Choices): string {
    const bad = this.slowAck(s);
    if (bad) return `discarded: ${bad}`;
    if (s.flags & URG) this.checkUrg(s);
    return this.dataQueue(s, c);
  }

  /** tcp_ack of the slow path: RFC 5961 5.2 (since 6.7 and stable: never older than bytes_acked), RFC 793 unsent data. */
  private slowAck(s: Segment): string | null {
    if (before(s.ack, this.sndUna)) {
      const maxWindow = Math.min(this.maxWindow, this.bytesAcked);
      return before(s.ack, (this.sndUna - maxWindow) >>> 0) ? 'ack too old (challenge ACK)' : null;
    }
    if (after(s.ack, this.sndNxt)) return 'ack of unsent data';
    // tcp_ack_update_window
    if (after(s.ack, this.sndUna) || after(s.seq, this.sndWl1) || (s.seq === this.sndWl1 && (s.window > this.sndWnd || s.window === 0))) {
      this.sndWl1 = s.seq;
      this.sndWnd = s.window;
      this.maxWindow = Math.max(this.maxWindow, s.window);
    }
    this.unaTo(s.ack);
    return null;
  }

  /** tcp_ack without FLAG_SLOWPATH (fast path): its result is ignored, the window stays. */
  private fastAck(s: Segment): void {
    if (after(s.ack, this.sndUna) && !after(s.ack, this.sndNxt)) {
      this.sndWl1 = s.seq;
      this.unaTo(s.ack);
    }
  }

  private unaTo(ack: number): void {
    if (!after(ack, this.sndUna)) return;
    this.bytesAcked += (ack - this.sndUna) >>> 0;
    this.sndUna = ack;
  }

  /** tcp_check_urg (tcp_stdurg = 0: the pointer names the byte after the urgent one). */
  private checkUrg(s: Segment): void {
    const ptr = add(s.seq, s.urgent ? s.urgent - 1 : 0);
    if (before(ptr, this.rcvNxt)) return; // already read, or "do not replay urg ptr"
    if (this.urgSeq !== null && !after(ptr, this.urgSeq)) return;
    this.urgSeq = ptr;
  }

  /** tcp_data_queue: in order (first copy wins over what was queued), duplicate, out of order. */
  private dataQueue(s: Segment, c: Choices): string {
    const len = s.payload.length;
    if (len === 0) return 'no data';
    const end = add(s.seq, len);
    if (s.seq === this.rcvNxt || (before(s.seq, this.rcvNxt) && after(end, this.rcvNxt))) {
      const partial = s.seq !== this.rcvNxt;
      this.append(s.seq, s.payload);
      this.drainOfo();
      return partial ? 'queued (overlap: its new part)' : 'queued';
    }
    if (!after(end, this.rcvNxt)) return 'duplicate';
    if (!before(s.seq, add(this.rcvWup, this.rcvWnd))) return 'discarded: beyond the window';
    return this.ofoInsert({ seq: s.seq, end, data: s.payload }, c.coalesce !== false);
  }

  /** Bytes from rcv_nxt on reach the reader; it skips the urgent byte. */
  private append(seq: number, data: Uint8Array): void {
    for (let i = (this.rcvNxt - seq) >>> 0; i < data.length; i++) {
      if (this.urgSeq === add(seq, i)) this.urgSeq = null;
      else this.app.push(data[i]!);
    }
    this.rcvNxt = add(seq, data.length);
  }

  /** tcp_ofo_queue: queued segments that now start at or before rcv_nxt, lowest first. */
  private drainOfo(): void {
    while (this.ofo[0] && !after(this.ofo[0].seq, this.rcvNxt)) {
      const o = this.ofo.shift()!;
      if (after(o.end, this.rcvNxt)) this.append(o.seq, o.data);
    }
  }

  /**
   * tcp_data_queue_ofo: a segment inside a queued one is dropped, one at the same sequence
   * that covers a queued one replaces it (the last copy wins there), a partial overlap keeps
   * both (the lower one wins when read), queued segments the new one covers are removed. The
   * rb-tree walk is modelled as a walk over the queued segments at or below the new one's
   * sequence, lowest first: the same while no queued segment lies inside another.
   */
  private ofoInsert(n: Ooo, coalesce: boolean): string {
    const q = this.ofo;
    const last = q[q.length - 1];
    if (last && coalesce && n.seq === last.end) return this.extend(last, n);
    if (!last || !before(n.seq, last.end)) return q.push(n), 'out of order';
    let at = q.length;
    for (let i = 0; i < q.length; i++) {
      const o = q[i]!;
      if (before(n.seq, o.seq)) {
        at = i;
        break;
      }
      if (before(n.seq, o.end)) {
        if (!after(n.end, o.end)) return 'out of order, inside a queued segment: dropped';
        if (after(n.seq, o.seq)) continue;
        q.splice(i, 1, n);
        this.mergeRight(i);
        return 'out of order, replaces a queued segment';
      }
      if (coalesce && n.seq === o.end) return this.extend(o, n);
    }
    q.splice(at, 0, n);
    this.mergeRight(at);
    return 'out of order';
  }

  private extend(o: Ooo, n: Ooo): string {
    const d = new Uint8Array(o.data.length + n.data.length);
    d.set(o.data);
    d.set(n.data, o.data.length);
    o.data = d;
    o.end = n.end;
    return 'out of order (coalesced)';
  }

  private mergeRight(i: number): void {
    const n = this.ofo[i]!;
    for (let o = this.ofo[i + 1]; o && after(n.end, o.seq) && !before(n.end, o.end); o = this.ofo[i + 1]) this.ofo.splice(i + 1, 1);
  }
}

/** A request head as the server frames it: the bytes up to and with the blank line. */
export interface Head {
  readonly text: string;
  readonly line: string;
}

/**
 * The complete request heads in a byte stream, framed as an HTTP/1.1 server does for the
 * requests of these tests (a Content-Length body is skipped; nothing else has a body).
 */
export function headsOf(stream: Uint8Array): Head[] {
  const s = Buffer.from(stream).toString('latin1');
  const out: Head[] = [];
  for (let at = 0; ;) {
    const end = s.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const text = s.slice(at, end + 4);
    out.push({ text, line: text.slice(0, text.indexOf('\r\n')) });
    const cl = /\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n/i.exec(text);
    at = end + 4 + (cl ? Number(cl[1]) : 0);
    if (at > s.length) return out;
  }
}
