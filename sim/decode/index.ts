// Frame -> packet decode. `decodeInto` fills a reusable view (hot path); `decodePacket`
// returns a plain object. Neither throws on bad bytes.
import { decodeIpv4, decodeIpv6 } from './ip.ts';
import { decodeLink, ETH_IPV4, ETH_IPV6 } from './link.ts';
import { decodeTcp } from './tcp.ts';
import { PacketView, type DecodeErrorReason, type DecodeStatus } from './view.ts';

export { PacketView, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from './view.ts';
export type { DecodeErrorReason, DecodeStatus } from './view.ts';

export const IPPROTO_TCP = 6;

/**
 * Decodes the frame d[start, limit) (default: all of d). Offsets in the view (payloadOff, src6,
 * ...) index d itself, so a record can be decoded in place in the reader's buffer.
 */
export function decodeInto(v: PacketView, linkType: number, d: Uint8Array, start = 0, limit = d.length): DecodeStatus {
  v.reset(d);
  const l3 = decodeLink(v, linkType, d, start, limit);
  if (l3 < 0) return v.status;
  let end: number;
  if (v.etherType === ETH_IPV4) end = decodeIpv4(v, d, l3, limit);
  else if (v.etherType === ETH_IPV6) end = decodeIpv6(v, d, l3, limit);
  else return (v.status = 'not-ip');
  if (end < 0) return v.status;
  if (v.proto !== IPPROTO_TCP) return (v.status = 'not-tcp');
  if (!decodeTcp(v, d, v.l4Off, end)) return v.status;
  return (v.status = 'tcp');
}

export function ipv4String(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** RFC 5952 text form (longest zero run compressed). */
export function ipv6String(d: Uint8Array, off: number): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((d[off + i]! << 8) | d[off + i + 1]!);
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

export interface DecodedTcp {
  readonly kind: 'tcp';
  readonly ipVersion: 4 | 6;
  readonly src: string;
  readonly dst: string;
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly vlans: readonly number[];
  readonly payload: Uint8Array;
}

export type DecodedPacket =
  | DecodedTcp
  | { readonly kind: 'not-ip'; readonly etherType: number }
  | { readonly kind: 'not-tcp' | 'fragment'; readonly ipVersion: 4 | 6; readonly proto: number; readonly src: string; readonly dst: string }
  | { readonly kind: 'error'; readonly reason: DecodeErrorReason };

export function srcString(v: PacketView): string {
  return v.ipVersion === 4 ? ipv4String(v.src4) : ipv6String(v.data, v.src6);
}

export function dstString(v: PacketView): string {
  return v.ipVersion === 4 ? ipv4String(v.dst4) : ipv6String(v.data, v.dst6);
}

/** Plain-object decode for tests and tools. */
export function decodePacket(linkType: number, d: Uint8Array): DecodedPacket {
  const v = new PacketView();
  const s = decodeInto(v, linkType, d);
  switch (s) {
    case 'tcp':
      return {
        kind: 'tcp', ipVersion: v.ipVersion as 4 | 6, src: srcString(v), dst: dstString(v),
        sport: v.sport, dport: v.dport, seq: v.seq, ack: v.ack, flags: v.flags, vlans: v.vlans,
        payload: d.subarray(v.payloadOff, v.payloadOff + v.payloadLen),
      };
    case 'not-ip':
      return { kind: 'not-ip', etherType: v.etherType };
    case 'not-tcp':
    case 'fragment':
      return { kind: s, ipVersion: v.ipVersion as 4 | 6, proto: v.proto, src: srcString(v), dst: dstString(v) };
    case 'error':
      return { kind: 'error', reason: v.error ?? 'bad-ip-header' };
  }
}
