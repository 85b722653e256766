// Link layers: find the L3 header and its ethertype.
import { LINKTYPE } from '../capture/types.ts';
import type { PacketView } from './view.ts';

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;

/** BSD address families for IPv6 differ by OS (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS). */
function familyToEtherType(f: number): number {
  if (f === 2) return ETH_IPV4;
  if (f === 24 || f === 28 || f === 30) return ETH_IPV6;
  return 0;
}

/**
 * Sets v.etherType and returns the L3 offset (an index into d), or -1 after v.fail(). The frame
 * is d[s, end): the replay decodes records in place in the reader's buffer.
 */
export function decodeLink(v: PacketView, linkType: number, d: Uint8Array, s: number, end: number): number {
  const n = end - s;
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      if (n < 14) return fail(v);
      return vlanWalk(v, d, s + 12, end);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (n < 4) return fail(v);
      // the family is in the capturing host's byte order (NULL) or network order (LOOP): accept both
      const le = d[s]! | (d[s + 1]! << 8) | (d[s + 2]! << 16) | (d[s + 3]! << 24);
      const be = (d[s]! << 24) | (d[s + 1]! << 16) | (d[s + 2]! << 8) | d[s + 3]!;
      v.etherType = familyToEtherType(le) || familyToEtherType(be);
      return s + 4;
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_12:
    case LINKTYPE.RAW_14:
      if (n < 1) return fail(v);
      v.etherType = d[s]! >> 4 === 4 ? ETH_IPV4 : d[s]! >> 4 === 6 ? ETH_IPV6 : 0;
      return s;
    case LINKTYPE.IPV4:
      v.etherType = ETH_IPV4;
      return s;
    case LINKTYPE.IPV6:
      v.etherType = ETH_IPV6;
      return s;
    case LINKTYPE.LINUX_SLL:
      if (n < 16) return fail(v);
      return vlanWalk(v, d, s + 14, end);
    case LINKTYPE.LINUX_SLL2:
      if (n < 20) return fail(v);
      v.etherType = (d[s]! << 8) | d[s + 1]!;
      return vlanTags(v, d, s + 20, end);
    default:
      v.fail('unknown-link-type');
      return -1;
  }
}

function fail(v: PacketView): number {
  v.fail('truncated-link');
  return -1;
}

/** Reads the ethertype at `at` and walks 802.1Q / 802.1ad tags. */
function vlanWalk(v: PacketView, d: Uint8Array, at: number, end: number): number {
  v.etherType = (d[at]! << 8) | d[at + 1]!;
  return vlanTags(v, d, at + 2, end);
}

function vlanTags(v: PacketView, d: Uint8Array, off: number, end: number): number {
  while (v.etherType === ETH_VLAN || v.etherType === ETH_QINQ || v.etherType === ETH_QINQ_OLD) {
    if (off + 4 > end) return fail(v);
    v.vlans.push(((d[off]! << 8) | d[off + 1]!) & 0x0fff);
    v.etherType = (d[off + 2]! << 8) | d[off + 3]!;
    off += 4;
  }
  return off;
}
