// TCP header: ports, sequence numbers, flags; options skipped by the data offset.
import type { PacketView } from './view.ts';

export function decodeTcp(v: PacketView, d: Uint8Array, off: number, end: number): boolean {
  if (off + 20 > end) {
    v.fail('truncated-tcp');
    return false;
  }
  const doff = (d[off + 12]! >> 4) * 4;
  if (doff < 20 || off + doff > end) {
    v.fail('bad-tcp-header');
    return false;
  }
  v.sport = (d[off]! << 8) | d[off + 1]!;
  v.dport = (d[off + 2]! << 8) | d[off + 3]!;
  v.seq = ((d[off + 4]! << 24) | (d[off + 5]! << 16) | (d[off + 6]! << 8) | d[off + 7]!) >>> 0;
  v.ack = ((d[off + 8]! << 24) | (d[off + 9]! << 16) | (d[off + 10]! << 8) | d[off + 11]!) >>> 0;
  v.flags = d[off + 13]!;
  v.window = (d[off + 14]! << 8) | d[off + 15]!;
  v.payloadOff = off + doff;
  v.payloadLen = end - off - doff;
  return true;
}
