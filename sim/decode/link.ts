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

/** Sets v.etherType and returns the L3 offset, or -1 after v.fail(). */
export function decodeLink(v: PacketView, linkType: number, d: Uint8Array): number {
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      if (d.length < 14) return fail(v);
      return vlanWalk(v, d, 12);
    case LINKTYPE.NULL:
    case LINKTYPE.LOOP: {
      if (d.length < 4) return fail(v);
      // the family is in the capturing host's byte order (NULL) or network order (LOOP): accept both
      const le = d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24);
      const be = (d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!;
      v.etherType = familyToEtherType(le) || familyToEtherType(be);
      return 4;
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_12:
    case LINKTYPE.RAW_14:
      if (d.length < 1) return fail(v);
      v.etherType = d[0]! >> 4 === 4 ? ETH_IPV4 : d[0]! >> 4 === 6 ? ETH_IPV6 : 0;
      return 0;
    case LINKTYPE.IPV4:
      v.etherType = ETH_IPV4;
      return 0;
    case LINKTYPE.IPV6:
      v.etherType = ETH_IPV6;
      return 0;
    case LINKTYPE.LINUX_SLL:
      if (d.length < 16) return fail(v);
      return vlanWalk(v, d, 14);
    case LINKTYPE.LINUX_SLL2:
      if (d.length < 20) return fail(v);
      v.etherType = (d[0]! << 8) | d[1]!;
      return vlanTags(v, d, 20);
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
function vlanWalk(v: PacketView, d: Uint8Array, at: number): number {
  v.etherType = (d[at]! << 8) | d[at + 1]!;
  return vlanTags(v, d, at + 2);
}

function vlanTags(v: PacketView, d: Uint8Array, off: number): number {
  while (v.etherType === ETH_VLAN || v.etherType === ETH_QINQ || v.etherType === ETH_QINQ_OLD) {
    if (off + 4 > d.length) return fail(v);
    v.vlans.push(((d[off]! << 8) | d[off + 1]!) & 0x0fff);
    v.etherType = (d[off + 2]! << 8) | d[off + 3]!;
    off += 4;
  }
  return off;
}
