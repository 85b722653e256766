// Byte-exact frame construction: Ethernet + IPv4/IPv6 + TCP with valid checksums, because
// the kernel tests feed these frames to a real BPF program.
import { fold, sum16 } from '../decode/checksum.ts';
import { parseIp as parseIpAddr } from '../../src/net/ip.ts';

export interface TcpSegmentSpec {
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly window?: number;
  readonly srcMac?: Uint8Array;
  readonly dstMac?: Uint8Array;
  readonly ttl?: number;
  /** TCP urgent pointer (set URG in flags to make it count). */
  readonly urgent?: number;
  /** IPv4 options (a multiple of 4 bytes) or IPv6 destination-options header bytes (a multiple of 8, first byte rewritten to the next header). */
  readonly ipOptions?: Uint8Array;
  /** TCP options (a multiple of 4 bytes), e.g. SACK blocks. */
  readonly tcpOptions?: Uint8Array;
  /** Corruptions, for insertion tests: a wrong TCP checksum, a wrong IPv4 header checksum. */
  readonly badTcpChecksum?: boolean;
  readonly badIpChecksum?: boolean;
  /** Length field 0, as GSO packets over 64 KB carry it (BIG TCP). */
  readonly zeroLength?: boolean;
}

/** IPv4 (4 bytes) or IPv6 (16 bytes) text as bytes; throws on anything else. */
export function parseIp(ip: string): Uint8Array {
  const a = parseIpAddr(ip);
  if (!a) throw new Error(`not an IP address: ${ip}`);
  return a.bytes;
}

const DEFAULT_CLIENT_MAC = Uint8Array.of(2, 0, 0, 0, 0, 1);
const DEFAULT_SERVER_MAC = Uint8Array.of(2, 0, 0, 0, 0, 2);

/** An Ethernet frame carrying one TCP segment. */
export function tcpFrame(s: TcpSegmentSpec): Uint8Array {
  const src = parseIp(s.src);
  const dst = parseIp(s.dst);
  const v6 = src.length === 16;
  const opts = s.ipOptions ?? new Uint8Array(0);
  const ipLen = (v6 ? 40 : 20) + opts.length;
  const tcpOpts = s.tcpOptions ?? new Uint8Array(0);
  const tcpLen = 20 + tcpOpts.length + s.payload.length;
  const f = new Uint8Array(14 + ipLen + tcpLen);
  f.set(s.dstMac ?? DEFAULT_SERVER_MAC, 0);
  f.set(s.srcMac ?? DEFAULT_CLIENT_MAC, 6);
  f[12] = v6 ? 0x86 : 0x08;
  f[13] = v6 ? 0xdd : 0x00;
  const ip = 14;
  if (v6) {
    const plen = s.zeroLength ? 0 : opts.length + tcpLen;
    f[ip] = 0x60;
    f[ip + 4] = plen >> 8; f[ip + 5] = plen & 255;
    f[ip + 6] = opts.length ? 60 : 6; // a destination-options header before TCP
    f[ip + 7] = s.ttl ?? 64;
    f.set(src, ip + 8);
    f.set(dst, ip + 24);
    if (opts.length) {
      f.set(opts, ip + 40);
      f[ip + 40] = 6;
      f[ip + 41] = opts.length / 8 - 1;
    }
  } else {
    const total = s.zeroLength ? 0 : ipLen + tcpLen;
    f[ip] = 0x40 | (ipLen / 4);
    f[ip + 2] = total >> 8; f[ip + 3] = total & 255;
    f[ip + 6] = 0x40; // DF
    f[ip + 8] = s.ttl ?? 64;
    f[ip + 9] = 6;
    f.set(src, ip + 12);
    f.set(dst, ip + 16);
    f.set(opts, ip + 20);
    const c = fold(sum16(f, ip, ip + ipLen)) ^ (s.badIpChecksum ? 0x5a5a : 0);
    f[ip + 10] = c >> 8; f[ip + 11] = c & 255;
  }
  const t = ip + ipLen;
  f[t] = s.sport >> 8; f[t + 1] = s.sport & 255;
  f[t + 2] = s.dport >> 8; f[t + 3] = s.dport & 255;
  writeU32(f, t + 4, s.seq);
  writeU32(f, t + 8, s.ack);
  f[t + 12] = (5 + tcpOpts.length / 4) << 4;
  f[t + 13] = s.flags;
  const win = s.window ?? 65535;
  f[t + 14] = win >> 8; f[t + 15] = win & 255;
  const urg = s.urgent ?? 0;
  f[t + 18] = urg >> 8; f[t + 19] = urg & 255;
  f.set(tcpOpts, t + 20);
  f.set(s.payload, t + 20 + tcpOpts.length);
  // pseudo-header: addresses, protocol, TCP length
  let acc = sum16(src, 0, src.length) + sum16(dst, 0, dst.length) + 6 + tcpLen;
  acc = sum16(f, t, t + tcpLen, acc);
  const c = fold(acc) ^ (s.badTcpChecksum ? 0x1234 : 0);
  f[t + 16] = c >> 8; f[t + 17] = c & 255;
  return f;
}

function writeU32(b: Uint8Array, i: number, v: number): void {
  v = v >>> 0;
  b[i] = v >>> 24; b[i + 1] = (v >>> 16) & 255; b[i + 2] = (v >>> 8) & 255; b[i + 3] = v & 255;
}

/** Checks the IPv4 header and TCP checksums of an Ethernet frame made here (for tests). */
export function checksumsValid(f: Uint8Array): boolean {
  const v6 = f[12] === 0x86;
  const ip = 14;
  if (!v6 && fold(sum16(f, ip, ip + 20)) !== 0) return false;
  const ipLen = v6 ? 40 : 20;
  const tcpLen = v6 ? ((f[ip + 4]! << 8) | f[ip + 5]!) : ((f[ip + 2]! << 8) | f[ip + 3]!) - 20;
  const a = v6 ? f.subarray(ip + 8, ip + 40) : f.subarray(ip + 12, ip + 20);
  const acc = sum16(a, 0, a.length) + 6 + tcpLen + sum16(f, ip + ipLen, ip + ipLen + tcpLen);
  return fold(acc) === 0;
}

/** Re-frames an Ethernet frame for another link type (for decoder tests). */
export function reframe(eth: Uint8Array, linkType: number, opts: { bigEndianFamily?: boolean; vlan?: number } = {}): Uint8Array {
  const etherType = (eth[12]! << 8) | eth[13]!;
  const l3 = eth.subarray(14);
  const v6 = etherType === 0x86dd;
  const cat = (h: Uint8Array) => { const o = new Uint8Array(h.length + l3.length); o.set(h); o.set(l3, h.length); return o; };
  switch (linkType) {
    case 1: {
      if (opts.vlan === undefined) return eth;
      const h = new Uint8Array(18);
      h.set(eth.subarray(0, 12));
      h[12] = 0x81; h[13] = 0x00; h[14] = (opts.vlan >> 8) & 0x0f; h[15] = opts.vlan & 255;
      h[16] = etherType >> 8; h[17] = etherType & 255;
      return cat(h);
    }
    case 0: {
      const fam = v6 ? 30 : 2;
      const h = new Uint8Array(4);
      if (opts.bigEndianFamily) h[3] = fam; else h[0] = fam;
      return cat(h);
    }
    case 101:
      return cat(new Uint8Array(0));
    case 113: {
      const h = new Uint8Array(16);
      h[1] = 4; h[3] = 1; h[5] = 6; h.set(eth.subarray(6, 12), 6);
      h[14] = etherType >> 8; h[15] = etherType & 255;
      return cat(h);
    }
    case 276: {
      const h = new Uint8Array(20);
      h[0] = etherType >> 8; h[1] = etherType & 255;
      h[7] = 2; h[9] = 1; h[10] = 4; h[11] = 6; h.set(eth.subarray(6, 12), 12);
      return cat(h);
    }
    default:
      throw new Error(`reframe: unsupported link type ${linkType}`);
  }
}
