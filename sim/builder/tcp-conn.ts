// Declarative TCP connection fixtures (katran style): describe a conversation, get Ethernet
// frames with valid checksums, a description per packet and, where stated, the expected action.
import type { PacketActionKind } from '../replay/types.ts';
import { tcpFrame, type TcpSegmentSpec } from './frames.ts';
import { TCP_ACK as ACK, TCP_FIN as FIN, TCP_PSH as PSH, TCP_RST as RST, TCP_SYN as SYN } from '../decode/view.ts';
import { pcapBytes } from '../capture/writer.ts';

export type Side = 'client' | 'server';

export interface FixturePacket {
  readonly frame: Uint8Array;
  readonly ts: bigint;
  readonly from: Side;
  readonly description: string;
  readonly expect?: PacketActionKind;
}

export interface TcpConnOptions {
  /** "10.0.0.1:40000" or "[fd00::1]:40000" */
  readonly client: string;
  readonly server: string;
  readonly isn?: { readonly client?: number; readonly server?: number };
  readonly startTs?: bigint;
  /** Time between consecutive packets (default 1 ms). */
  readonly stepNs?: bigint;
}

export interface CraftOptions {
  readonly flags?: number;
  /** Acknowledgement number (default: everything the other side sent). */
  readonly ack?: number;
  /** Frame details: ttl, urgent pointer, checksum corruption, IP options, source/destination. */
  readonly frame?: Partial<TcpSegmentSpec>;
  readonly description?: string;
  readonly expect?: PacketActionKind;
}

export interface SendOptions {
  /** Split the data at these byte offsets into several segments. */
  readonly splitAt?: readonly number[];
  /** Emit the segments in this order (indexes into the split list). */
  readonly order?: readonly number[];
  /** Re-emit these segments (by index) after the ones in `order`. */
  readonly retransmit?: readonly number[];
  /** Expected action per emitted packet, in emission order. */
  readonly expect?: readonly PacketActionKind[];
}


function parseEndpoint(s: string): { ip: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`endpoint must be ip:port or [ipv6]:port, got ${s}`);
  return { ip: m[1]!, port: Number(m[2]) };
}

const enc = new TextEncoder();
const bytesOf = (d: string | Uint8Array) => (typeof d === 'string' ? enc.encode(d) : d);

export class TcpConn {
  readonly client: { ip: string; port: number };
  readonly server: { ip: string; port: number };
  private readonly isn: Record<Side, number>;
  /** Next stream offset (relative to ISN+1) per side. */
  private readonly cursor: Record<Side, number> = { client: 0, server: 0 };
  private readonly packets: FixturePacket[] = [];
  private spliced = 0;
  private cutBytes = 0;
  private ts: bigint;
  private readonly step: bigint;

  constructor(o: TcpConnOptions) {
    this.client = parseEndpoint(o.client);
    this.server = parseEndpoint(o.server);
    this.isn = { client: o.isn?.client ?? 1000, server: o.isn?.server ?? 5000 };
    this.ts = o.startTs ?? 1_700_000_000_000_000_000n;
    this.step = o.stepNs ?? 1_000_000n;
  }

  handshake(expect?: readonly PacketActionKind[]): this {
    this.raw('client', -1, SYN, new Uint8Array(0), 'SYN', expect?.[0], 0);
    this.raw('server', -1, SYN | ACK, new Uint8Array(0), 'SYN-ACK', expect?.[1]);
    this.raw('client', 0, ACK, new Uint8Array(0), 'ACK', expect?.[2]);
    return this;
  }

  /** Client data at the current cursor; advances the cursor. */
  send(data: string | Uint8Array, o: SendOptions = {}): this {
    return this.data('client', bytesOf(data), o);
  }

  /** Server data at the current cursor; advances the cursor. */
  recv(data: string | Uint8Array, o: SendOptions = {}): this {
    return this.data('server', bytesOf(data), o);
  }

  /** A segment at an arbitrary stream offset (overlaps, holes); the cursor does not move. */
  segmentAt(from: Side, offset: number, data: string | Uint8Array, expect?: PacketActionKind): this {
    const b = bytesOf(data);
    this.raw(from, offset, PSH | ACK, b, `${from} data @${offset} len ${b.length}`, expect);
    return this;
  }

  /**
   * A segment at an arbitrary stream offset (offset -1: the SYN's sequence number) with any
   * flags, acknowledgement and frame details (insertion candidates); the cursor does not move.
   */
  craft(from: Side, offset: number, data: string | Uint8Array, o: CraftOptions = {}): this {
    const b = bytesOf(data);
    const flags = o.flags ?? PSH | ACK;
    this.raw(from, offset, flags, b, o.description ?? `${from} crafted @${offset} len ${b.length} flags 0x${flags.toString(16)}`, o.expect, o.ack, o.frame);
    return this;
  }

  /** The ISN of a side (its SYN's sequence number). */
  isnOf(side: Side): number {
    return this.isn[side];
  }

  /** The sequence number of a side's stream offset. */
  seqOf(side: Side, offset: number): number {
    return (this.isn[side] + 1 + offset) >>> 0;
  }

  /** The client received `n` bytes the server never sent (a stage-3 answer the datapath spliced
   * into the server's stream): its later acknowledgements count them. */
  received(n: number): this {
    this.spliced += n;
    return this;
  }

  /** The server never received the client's last `n` bytes (a denied request the datapath kept
   * from it): its later acknowledgements leave them out, as its own sequence space does. */
  unseen(n: number): this {
    this.cutBytes += n;
    return this;
  }

  /** Moves a side's cursor (e.g. after segments sent with segmentAt). */
  advance(from: Side, n: number): this {
    this.cursor[from] += n;
    return this;
  }

  /** FIN from the client, FIN from the server, final ACK. */
  close(expect?: readonly PacketActionKind[]): this {
    this.fin('client', expect?.[0]);
    this.fin('server', expect?.[1]);
    this.raw('client', this.cursor.client, ACK, new Uint8Array(0), 'final ACK', expect?.[2]);
    return this;
  }

  fin(from: Side, expect?: PacketActionKind): this {
    this.raw(from, this.cursor[from], FIN | ACK, new Uint8Array(0), `${from} FIN`, expect);
    this.cursor[from] += 1;
    return this;
  }

  rst(from: Side, expect?: PacketActionKind): this {
    this.raw(from, this.cursor[from], RST | ACK, new Uint8Array(0), `${from} RST`, expect);
    return this;
  }

  /** A pure ACK from a side acknowledging everything the other sent. */
  ackOnly(from: Side, expect?: PacketActionKind): this {
    this.raw(from, this.cursor[from], ACK, new Uint8Array(0), `${from} ACK`, expect);
    return this;
  }

  get list(): readonly FixturePacket[] {
    return this.packets;
  }

  frames(): Uint8Array[] {
    return this.packets.map((p) => p.frame);
  }

  pcap(): Uint8Array {
    return pcapBytes(this.packets.map((p) => ({ data: p.frame, ts: p.ts })));
  }

  private data(from: Side, b: Uint8Array, o: SendOptions): this {
    const cuts = [0, ...(o.splitAt ?? []).filter((x) => x > 0 && x < b.length), b.length]
      .sort((x, y) => x - y)
      .filter((x, i, a) => i === 0 || x !== a[i - 1]);
    const segs = cuts.slice(0, -1).map((s, i) => ({ start: s, end: cuts[i + 1]! }));
    const base = this.cursor[from];
    const order = [...(o.order ?? segs.map((_, i) => i)), ...(o.retransmit ?? [])];
    order.forEach((i, k) => {
      const sg = segs[i];
      if (!sg) throw new Error(`send: no segment ${i} (have ${segs.length})`);
      const what = k >= (o.order?.length ?? segs.length) ? 'retransmit ' : '';
      this.raw(from, base + sg.start, PSH | ACK, b.subarray(sg.start, sg.end), `${what}${from} data [${sg.start},${sg.end}) of ${b.length}`, o.expect?.[k]);
    });
    this.cursor[from] = base + b.length;
    return this;
  }

  /** offset -1 = SYN (sequence = ISN). */
  private raw(from: Side, offset: number, flags: number, payload: Uint8Array, description: string, expect?: PacketActionKind, ackOverride?: number, extra: Partial<TcpSegmentSpec> = {}): void {
    const other: Side = from === 'client' ? 'server' : 'client';
    const a = from === 'client' ? this.client : this.server;
    const z = from === 'client' ? this.server : this.client;
    const seq = (this.isn[from] + 1 + offset) >>> 0;
    const seen = from === 'client' ? this.spliced : -this.cutBytes;
    const ack = ackOverride ?? ((this.isn[other] + 1 + this.cursor[other] + seen) >>> 0);
    const frame = tcpFrame({
      src: a.ip, dst: z.ip, sport: a.port, dport: z.port, seq, ack, flags,
      payload,
      srcMac: from === 'client' ? undefined : Uint8Array.of(2, 0, 0, 0, 0, 2),
      dstMac: from === 'client' ? undefined : Uint8Array.of(2, 0, 0, 0, 0, 1),
      ...extra,
    });
    this.packets.push({ frame, ts: this.ts, from, description, ...(expect ? { expect } : {}) });
    this.ts += this.step;
  }
}

export function tcpConn(o: TcpConnOptions): TcpConn {
  return new TcpConn(o);
}

/** Interleaves several connections' packets by timestamp (stable), for multi-flow captures. */
export function mergeByTime(...lists: (readonly FixturePacket[])[]): FixturePacket[] {
  return lists.flat().map((p, i) => ({ p, i })).sort((x, y) => (x.p.ts < y.p.ts ? -1 : x.p.ts > y.p.ts ? 1 : x.i - y.i)).map((x) => x.p);
}
