// `l7bpf replay CAPTURE --kernel DIR`: every packet of a capture through the compiled object
// with BPF_PROG_TEST_RUN (flow state kept between packets), side by side with the
// simulator, packet by packet. The object and the simulator must agree on every packet.
// test_run takes Ethernet frames of at most TEST_RUN_MAX_FRAME bytes: other link types get a
// synthetic Ethernet header, and larger TCP frames (TSO/GRO on a veth) run as MSS-sized pieces.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SelectorIR } from '../../codegen/ir/types.ts';
import type { Inventory } from '../endpoints/types.ts';
import { endpointByIp } from '../endpoints/lookup.ts';
import { parseIp } from '../net/ip.ts';
import { openLibbpf, loadObject, fillConfig, fillIpcache, fillSelectors, PacketRunner, TC_ACT, TEST_RUN_MAX_FRAME, TestRunError, type ProgName, VERDICT } from '../loader/index.ts';
import { planMaps } from '../plan/plan.ts';
import { PacketView, TCP_FIN, TCP_PSH, TCP_SYN, decodeInto, dstString, srcString } from '../../sim/decode/index.ts';
import { fold, sum16 } from '../../sim/decode/checksum.ts';
import type { CaptureRecord, PacketActionKind, PacketEvent } from '../../sim/index.ts';
import type { AnswerMode } from '../net/answers.ts';

export interface KernelPacket {
  readonly index: number;
  readonly offset: number;
  /** programs run, in order (empty: no local endpoint on either side) */
  readonly programs: readonly ProgName[];
  readonly action: PacketActionKind;
  /** frames fed to each program: 1, more for a TCP frame split to fit test_run, 0 when not run */
  readonly pieces: number;
  /** a non-TCP frame over TEST_RUN_MAX_FRAME, run with its payload cut (the program reads its headers only) */
  readonly cut: boolean;
}

export interface Disagreement {
  readonly index: number;
  readonly offset: number;
  readonly kernel: PacketActionKind;
  readonly simulator: PacketActionKind;
  readonly reason: string;
}

const ETHERTYPE = { 4: 0x0800, 6: 0x86dd } as const;
const LINKTYPE_ETHERNET = 1;
/** tcp_gso_segment keeps CWR on the first segment only */
const TCP_CWR = 0x80;

/**
 * Link MTU of the pieces a frame over TEST_RUN_MAX_FRAME is split into: the segments TSO would
 * have put on a 1500-byte wire. Any size within the limit would do, since the stream rule
 * inspects bytes in sequence whatever the segments.
 */
const PIECE_MTU = 1500;

export class KernelReplayer {
  private readonly runner: PacketRunner;
  private readonly view = new PacketView();

  constructor(private readonly obj: ReturnType<typeof loadObject>, private readonly inv: Inventory, private readonly answer: AnswerMode = 'auto', private readonly audit = false) {
    this.runner = new PacketRunner(obj);
  }

  static open(dir: string, inv: Inventory, answer: AnswerMode = 'auto', audit = false): KernelReplayer {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { selectors: SelectorIR[] };
    const obj = loadObject(openLibbpf(), join(dir, 'l7bpf.o'));
    const plan = planMaps(manifest.selectors, inv);
    fillIpcache(obj, plan.ipcache);
    fillSelectors(obj, plan.selectors);
    fillConfig(obj, answer, false, audit);
    return new KernelReplayer(obj, inv, answer, audit);
  }

  /** Runs one captured frame through the programs of the endpoints it leaves and enters. */
  push(index: number, r: CaptureRecord): KernelPacket {
    const none = { index, offset: r.offset, programs: [], action: 'pass', pieces: 0, cut: false } as const;
    if (decodeInto(this.view, r.linkType, r.data) !== 'tcp' && this.view.ipVersion === 0) return none;
    const programs = this.programsOf();
    if (programs.length === 0) return none;
    const fed = testRunFrames(this.view, ethernetFrame(this.view, r.linkType, r.data));
    // pieces of one frame: no trim, which would cut one piece of what the node sees whole (a
    // frame split here is over 3712 bytes; a trim keeps at most 1448 and cuts at most 4096)
    const split = fed.frames.length > 1;
    if (split) fillConfig(this.obj, this.answer, true, this.audit);
    try {
      return { index, offset: r.offset, programs, action: this.runAll(programs, fed.frames, r.ts), pieces: fed.frames.length, cut: fed.cut };
    } catch (e) {
      throw e instanceof TestRunError ? e.at(`packet #${index + 1} (capture offset ${r.offset}): `) : e;
    } finally {
      if (split) fillConfig(this.obj, this.answer, false, this.audit);
    }
  }

  private programsOf(): ProgName[] {
    const programs: ProgName[] = [];
    if (this.isLocal(srcString(this.view))) programs.push('l7_from_pod');
    if (this.isLocal(dstString(this.view))) programs.push('l7_to_pod');
    return programs;
  }

  /**
   * The whole skb passes one program, then the next, which gets what the first let out (stage 3
   * rewrites sequence numbers). The first piece not passed decides: on a node the skb ends
   * there, and a later piece would only meet the flow it closed.
   */
  private runAll(programs: readonly ProgName[], frames: readonly Uint8Array[], ts: bigint): PacketActionKind {
    let fed = frames;
    for (const prog of programs) {
      const out: Uint8Array[] = [];
      for (const frame of fed) {
        const r = this.runOne(prog, frame, ts);
        if (r.action !== 'pass') return r.action;
        out.push(r.out);
      }
      fed = out;
    }
    return 'pass';
  }

  /** `ts`: the capture's time, skb->tstamp (an object built with --test-clock runs its rate limits on it) */
  private runOne(prog: ProgName, frame: Uint8Array, ts: bigint): { action: PacketActionKind; out: Uint8Array } {
    const res = this.runner.run({ prog, frame, tstampNs: ts });
    const out = res.dataOut;
    if (res.action === TC_ACT.SHOT) return { action: 'drop', out };
    if (res.events.some((e) => e.verdict === VERDICT.ANSWERED)) return { action: 'answer', out };
    if (res.events.some((e) => e.verdict === VERDICT.RESET)) return { action: 'reset', out };
    // stage 3: the denied request sent again became its answer (no event: not a new request),
    // the packet the client's bare acknowledgement to the server
    if (tcpPayload(frame) > 0 && tcpPayload(out) === 0 && !(tcpFlagsOf(out) & 4)) return { action: 'answer', out };
    // forwarded shorter: the bytes before a denied request went on alone
    return { action: out.length < frame.length ? 'trim' : 'pass', out };
  }

  private isLocal(ip: string): boolean {
    const addr = parseIp(ip);
    return addr !== null && endpointByIp(this.inv, addr) !== null;
  }

  close(): void {
    this.runner.close();
    this.obj.close();
  }
}

/**
 * BPF_PROG_TEST_RUN takes Ethernet frames: other link types (NULL/LOOP, raw IP, SLL, SLL2) get a
 * synthetic header in front of their IP packet. `v` holds the decode of `data`.
 */
export function ethernetFrame(v: PacketView, linkType: number, data: Uint8Array): Uint8Array {
  if (linkType === LINKTYPE_ETHERNET) return data;
  const ip = data.subarray(v.ipOff);
  const out = new Uint8Array(14 + ip.length);
  out.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1], 0);
  const type = v.ipVersion === 6 ? ETHERTYPE[6] : ETHERTYPE[4];
  out[12] = type >> 8;
  out[13] = type & 0xff;
  out.set(ip, 14);
  return out;
}

/** The frames one captured frame becomes for test_run (the view is reused to decode `eth`). */
export function testRunFrames(v: PacketView, eth: Uint8Array): { frames: Uint8Array[]; cut: boolean } {
  if (eth.length <= TEST_RUN_MAX_FRAME) return { frames: [eth], cut: false };
  if (decodeInto(v, LINKTYPE_ETHERNET, eth) !== 'tcp' || pieceMss(v) <= 0) return { frames: [cutFrame(v, eth)], cut: true };
  const end = v.payloadOff + v.payloadLen; // bytes after the IP length are link padding
  if (end <= TEST_RUN_MAX_FRAME) return { frames: [eth.subarray(0, end)], cut: false };
  return { frames: tcpPieces(v, eth), cut: false };
}

/** Payload bytes per piece: what is left of PIECE_MTU after the IP and TCP headers. */
const pieceMss = (v: PacketView): number => PIECE_MTU - (v.payloadOff - v.ipOff);

/** Splits a TCP frame's payload into PIECE_MTU-sized segments with their own headers. */
export function tcpPieces(v: PacketView, f: Uint8Array): Uint8Array[] {
  const headers = f.subarray(0, v.payloadOff);
  const payload = f.subarray(v.payloadOff, v.payloadOff + v.payloadLen);
  const mss = pieceMss(v);
  const synLen = v.flags & TCP_SYN ? 1 : 0; // the SYN takes a sequence number before the data
  const out: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += mss) {
    const seq = at === 0 ? v.seq : v.seq + synLen + at;
    const flags = pieceFlags(v.flags, at === 0, at + mss >= payload.length);
    out.push(tcpPiece(v, headers, payload.subarray(at, at + mss), seq, flags, out.length));
  }
  return out;
}

/** SYN (and CWR) on the first piece only, FIN and PSH on the last only, as tcp_gso_segment does. */
function pieceFlags(flags: number, first: boolean, last: boolean): number {
  let f = flags;
  if (!first) f &= ~(TCP_SYN | TCP_CWR);
  if (!last) f &= ~(TCP_FIN | TCP_PSH);
  return f;
}

function tcpPiece(v: PacketView, headers: Uint8Array, chunk: Uint8Array, seq: number, flags: number, k: number): Uint8Array {
  const p = new Uint8Array(headers.length + chunk.length);
  p.set(headers);
  p.set(chunk, headers.length);
  writeU32(p, v.l4Off + 4, seq >>> 0);
  p[v.l4Off + 13] = flags;
  setIpLength(v, p, k);
  setTcpChecksum(v, p);
  return p;
}

/** A non-TCP frame keeps its headers and as much payload as fits, its IP length made to match. */
function cutFrame(v: PacketView, f: Uint8Array): Uint8Array {
  const p = f.slice(0, TEST_RUN_MAX_FRAME);
  if (v.ipVersion !== 0) setIpLength(v, p, 0);
  return p;
}

/** IP length fields for a packet that ends with `p`; the k-th IPv4 piece gets ID + k, as GSO gives. */
function setIpLength(v: PacketView, p: Uint8Array, k: number): void {
  const ip = v.ipOff;
  const len = p.length - ip;
  if (v.ipVersion === 6) return writeU16(p, ip + 4, len - 40);
  writeU16(p, ip + 2, len);
  writeU16(p, ip + 4, (((p[ip + 4]! << 8) | p[ip + 5]!) + k) & 0xffff);
  writeU16(p, ip + 10, 0);
  writeU16(p, ip + 10, fold(sum16(p, ip, ip + (p[ip]! & 15) * 4)));
}

/** TCP checksum over the pseudo-header (addresses, protocol, TCP length) and the segment. */
function setTcpChecksum(v: PacketView, p: Uint8Array): void {
  const t = v.l4Off;
  const addrs = v.ipVersion === 6 ? p.subarray(v.ipOff + 8, v.ipOff + 40) : p.subarray(v.ipOff + 12, v.ipOff + 20);
  writeU16(p, t + 16, 0);
  writeU16(p, t + 16, fold(sum16(addrs, 0, addrs.length, 6 + p.length - t) + sum16(p, t, p.length)));
}

function writeU16(b: Uint8Array, i: number, v: number): void {
  b[i] = v >> 8;
  b[i + 1] = v & 0xff;
}

function writeU32(b: Uint8Array, i: number, v: number): void {
  writeU16(b, i, v >>> 16);
  writeU16(b, i + 2, v & 0xffff);
}

/** "kernel: 2 frame(s) over test_run's 3712 bytes split into 24 TCP piece(s)", or null when none was. */
export function splitSummary(packets: readonly KernelPacket[]): string | null {
  const split = packets.filter((k) => k.pieces > 1);
  const cut = packets.filter((k) => k.cut).length;
  if (split.length === 0 && cut === 0) return null;
  const pieces = split.reduce((n, k) => n + k.pieces, 0);
  const parts = [`${split.length} frame(s) over test_run's ${TEST_RUN_MAX_FRAME} bytes split into ${pieces} TCP piece(s)`];
  if (cut) parts.push(`${cut} non-TCP frame(s) cut to that size (headers kept)`);
  return `kernel: ${parts.join('; ')}`;
}

export interface KernelComparison {
  readonly diffs: readonly Disagreement[];
  /** packets on which the two differ after their connection ended (not disagreements) */
  readonly afterEnd: { readonly packets: number; readonly connections: number };
}

/** The packet ends its connection on a node: denied at L3/L4, after an L7 denial, or reset.
 * (A denied request's own drop does not: the answer to it still follows the connection.) */
const ends = (s: PacketEvent, k: KernelPacket) =>
  s.action === 'reset' || k.action === 'reset' || (s.action === 'drop' && (s.reason === 'l4-denied' || s.reason === 'flow-denied'));

/**
 * Packet by packet, the kernel's action against the simulator's. Once a packet ends its
 * connection (denied at L3/L4, dropped after an L7 denial, or reset by either), the capture's
 * later packets of that connection could not have happened on a node that enforced the policy
 * (the server never saw the SYN, the client got a reset): a capture recorded without
 * enforcement still holds them. The two still run them, but where they differ on one it is
 * counted apart, not reported as a disagreement (docs/simulator.md). A disagreement on the
 * ending packet itself is reported.
 */
export function compareActions(kernel: readonly KernelPacket[], sim: readonly PacketEvent[]): KernelComparison {
  const diffs: Disagreement[] = [];
  const ended = new Set<number>();
  const differAfter = new Set<number>();
  let packets = 0;
  for (const k of kernel) {
    const s = sim[k.index];
    if (!s) continue;
    const after = s.connId !== 0 && ended.has(s.connId);
    if (s.action !== k.action) {
      if (after) {
        packets++;
        differAfter.add(s.connId);
      } else {
        diffs.push({ index: k.index, offset: k.offset, kernel: k.action, simulator: s.action, reason: s.reason });
      }
    }
    if (s.connId !== 0 && ends(s, k)) ended.add(s.connId);
  }
  return { diffs, afterEnd: { packets, connections: differAfter.size } };
}

/** The TCP header's offset in an Ethernet frame (IPv4 with options, IPv6 without extension headers). */
function l4Offset(f: Uint8Array): number {
  return 14 + (f[12] === 0x86 && f[13] === 0xdd ? 40 : (f[14]! & 15) * 4);
}

function tcpFlagsOf(f: Uint8Array): number {
  return f[l4Offset(f) + 13] ?? 0;
}

/** A TCP frame's payload length (from the IP length: a frame may carry Ethernet padding). */
function tcpPayload(f: Uint8Array): number {
  const l4 = l4Offset(f);
  const v6 = f[12] === 0x86 && f[13] === 0xdd;
  const ipEnd = v6 ? 54 + ((f[18]! << 8) | f[19]!) : 14 + ((f[16]! << 8) | f[17]!);
  return Math.max(0, ipEnd - l4 - ((f[l4 + 12] ?? 0) >> 4) * 4);
}
