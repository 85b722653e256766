// IPv4 and IPv6 headers up to the upper-layer protocol. Fragments are flagged, never reassembled.
import type { DecodeStatus, PacketView } from './view.ts';
import { fold, sum16 } from './checksum.ts';

const EXT_HOP = 0;
const EXT_ROUTING = 43;
const EXT_FRAGMENT = 44;
const EXT_AH = 51;
const EXT_NONE = 59;
const EXT_DSTOPTS = 60;

/** Returns the end of the IP payload (exclusive), or -1 with status set. The frame ends at `limit`. */
export function decodeIpv4(v: PacketView, d: Uint8Array, off: number, limit: number): number {
  if (off + 20 > limit) return fail(v, 'truncated-ip');
  const vihl = d[off]!;
  const ihl = (vihl & 0x0f) * 4;
  if (vihl >> 4 !== 4 || ihl < 20) return fail(v, 'bad-ip-header');
  // BIG TCP: a GSO packet over 64 KB carries total length 0; its length is the frame's
  const total = ((d[off + 2]! << 8) | d[off + 3]!) || limit - off;
  if (total < ihl) return fail(v, 'bad-ip-header');
  // a shorter capture than the IP length means the snaplen cut the packet: bytes unknown
  if (off + total > limit) return fail(v, 'truncated-ip');
  v.ipVersion = 4;
  v.ipOff = off;
  v.proto = d[off + 9]!;
  v.ttl = d[off + 8]!;
  v.src4 = ((d[off + 12]! << 24) | (d[off + 13]! << 16) | (d[off + 14]! << 8) | d[off + 15]!) >>> 0;
  v.dst4 = ((d[off + 16]! << 24) | (d[off + 17]! << 16) | (d[off + 18]! << 8) | d[off + 19]!) >>> 0;
  const frag = ((d[off + 6]! << 8) | d[off + 7]!) & 0x3fff; // MF flag + offset
  if (frag !== 0) {
    v.status = 'fragment';
    return -1;
  }
  v.l4Off = off + ihl; // options are skipped by the IHL
  return off + total;
}

export function decodeIpv6(v: PacketView, d: Uint8Array, off: number, limit: number): number {
  if (off + 40 > limit) return fail(v, 'truncated-ip');
  if (d[off]! >> 4 !== 6) return fail(v, 'bad-ip-header');
  const plen = (d[off + 4]! << 8) | d[off + 5]!;
  // BIG TCP: payload length 0 on a GSO packet (a hop-by-hop jumbo option may follow): the frame's length
  const end = plen ? off + 40 + plen : limit;
  if (end > limit) return fail(v, 'truncated-ip');
  v.ipVersion = 6;
  v.ipOff = off;
  v.ttl = d[off + 7]!;
  v.src6 = off + 8;
  v.dst6 = off + 24;
  let next = d[off + 6]!;
  let at = off + 40;
  for (;;) {
    if (next === EXT_HOP || next === EXT_ROUTING || next === EXT_DSTOPTS || next === EXT_AH) {
      if (at + 8 > end) return fail(v, 'truncated-ext-header');
      const len = next === EXT_AH ? (d[at + 1]! + 2) * 4 : (d[at + 1]! + 1) * 8;
      next = d[at]!;
      at += len;
      if (at > end) return fail(v, 'truncated-ext-header');
    } else if (next === EXT_FRAGMENT) {
      if (at + 8 > end) return fail(v, 'truncated-ext-header');
      const fo = ((d[at + 2]! << 8) | d[at + 3]!);
      v.proto = d[at]!;
      // offset != 0 or more-fragments: a real fragment (an atomic fragment has neither)
      if ((fo & 0xfff9) !== 0) {
        v.status = 'fragment';
        return -1;
      }
      next = d[at]!;
      at += 8;
    } else {
      break;
    }
  }
  v.proto = next === EXT_NONE ? EXT_NONE : next;
  v.l4Off = at;
  return end;
}

function fail(v: PacketView, r: 'truncated-ip' | 'bad-ip-header' | 'truncated-ext-header'): number {
  v.fail(r);
  return -1;
}

export type { DecodeStatus };

/**
 * Whether an IPv4 header without options has a valid checksum (headers with options, and a
 * zero checksum, one not computed as in synthetic captures: true), as l7_ip4_header_ok.
 */
export function ipv4HeaderOk(d: Uint8Array, off: number): boolean {
  if ((d[off]! & 0x0f) !== 5 || (d[off + 10]! | d[off + 11]!) === 0) return true;
  return fold(sum16(d, off, off + 20)) === 0;
}
