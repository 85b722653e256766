// What the policy maps must hold for an inventory (pure: no kernel). ipcache maps every
// known address to its identity; addresses outside the cluster are world (2) unless a
// policy names a CIDR: then each CIDR (and except) prefix gets a local identity of its own,
// so the LPM lookup of an address lands on the most specific prefix and its selector bits.
import type { SelectorIR } from '../../codegen/ir/types.ts';
import { selectorMatchesPeer } from '../../codegen/ir/eval.ts';
import { RESERVED_IDENTITY, type Inventory } from '../endpoints/types.ts';
import { parseCidr, type Cidr } from '../policy/cidr.ts';
import type { PeerRef } from '../verdict/peers.ts';

export interface IpcacheEntry {
  /** "10.0.0.1", "10.0.0.0/8", "fd00::/64" */
  readonly cidr: string;
  readonly identity: number;
}

export interface SelectorBits {
  readonly identity: number;
  /** selector indices (manifest order) the identity matches */
  readonly selectors: readonly number[];
}

/** Cilium's local identity scope (CIDR identities are allocated from 1 << 24). */
export const CIDR_IDENTITY_BASE = 1 << 24;

export interface MapPlan {
  readonly ipcache: readonly IpcacheEntry[];
  readonly selectors: readonly SelectorBits[];
}

function bits(selectors: readonly SelectorIR[], peer: PeerRef): number[] {
  return selectors.filter((s) => selectorMatchesPeer(s, peer)).map((s) => s.index);
}

export function planMaps(selectors: readonly SelectorIR[], inv: Inventory): MapPlan {
  const ipcache: IpcacheEntry[] = [];
  const ids = new Map<number, number[]>();
  for (const endpoint of inv.endpoints) {
    for (const ip of endpoint.ips) ipcache.push({ cidr: ip.text, identity: endpoint.identity });
    ids.set(endpoint.identity, bits(selectors, { kind: 'endpoint', endpoint, ip: endpoint.ips[0] ?? null }));
  }
  for (const r of inv.reserved) {
    const identity = RESERVED_IDENTITY[r.entity];
    for (const ip of r.ips) ipcache.push({ cidr: ip.text, identity });
    ids.set(identity, bits(selectors, { kind: 'reserved', entity: r.entity, ip: r.ips[0] ?? null }));
  }
  ids.set(RESERVED_IDENTITY.world, bits(selectors, { kind: 'world', ip: null }));
  cidrPrefixes(selectors).forEach((prefix, i) => {
    const identity = CIDR_IDENTITY_BASE + i;
    ipcache.push({ cidr: prefix.text, identity });
    ids.set(identity, [...bits(selectors, { kind: 'world', ip: null }), ...cidrBits(selectors, prefix)].sort((a, b) => a - b));
  });
  return { ipcache, selectors: [...ids].map(([identity, s]) => ({ identity, selectors: s })) };
}

/** Every CIDR and except prefix that policies name, deduplicated, in first-use order. */
function cidrPrefixes(selectors: readonly SelectorIR[]): Cidr[] {
  const out = new Map<string, Cidr>();
  for (const s of selectors) {
    if (s.match.kind !== 'cidr') continue;
    for (const text of [s.match.cidr, ...s.match.except]) {
      const c = parseCidr(text);
      if (c && !out.has(c.text)) out.set(c.text, c);
    }
  }
  return [...out.values()];
}

/** CIDR selectors that hold every address of `p` (p inside the cidr, not inside an except). */
function cidrBits(selectors: readonly SelectorIR[], p: Cidr): number[] {
  return selectors.filter((s) => s.match.kind === 'cidr' && within(p, s.match.cidr) && !s.match.except.some((e) => within(p, e))).map((s) => s.index);
}

function within(p: Cidr, outerText: string): boolean {
  const outer = parseCidr(outerText);
  if (!outer || outer.addr.bytes.length !== p.addr.bytes.length || outer.prefix > p.prefix) return false;
  for (let bit = 0; bit < outer.prefix; bit++) {
    const mask = 0x80 >> (bit & 7);
    if (((outer.addr.bytes[bit >> 3] ?? 0) & mask) !== ((p.addr.bytes[bit >> 3] ?? 0) & mask)) return false;
  }
  return true;
}
