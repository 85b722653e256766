// What deploy writes into `ipcache` and `selectors`, computed from the inventory and the
// manifest's selectors (pure: no kernel). The object is endpoint-agnostic; this is where
// endpoints meet it.
//
// Identities in the ipcache:
//  - every endpoint address -> the endpoint's identity (one host prefix per address);
//  - reserved addresses (host, remote-node, ...) -> Cilium's reserved numbers;
//  - every CIDR named by a cidr selector (and its `except` prefixes) -> a local CIDR identity
//    (Cilium's local scope starts at 1 << 24). The kernel finds the longest prefix, so an
//    address gets the identity of the most specific listed prefix containing it, and that
//    prefix's selector bits say which cidr selectors (minus excepts) hold for it. Addresses
//    in no prefix fall back to world (2) in the datapath.
import type { Endpoint, Inventory } from '../endpoints/types.ts';
import { RESERVED_IDENTITY, type ReservedEntity } from '../endpoints/types.ts';
import type { SelectorIR } from '../../codegen/ir/types.ts';
import { selectorMatchesPeer } from '../../codegen/ir/eval.ts';
import type { PeerRef } from '../verdict/peers.ts';
import { parseCidr, type Cidr } from '../policy/cidr.ts';
import type { IpcacheEntry, SelectorBits } from './maps.ts';

/** First local (CIDR) identity, as Cilium's identity.LocalIdentityFlag. */
export const CIDR_IDENTITY_BASE = 1 << 24;

export interface PolicyMaps {
  readonly ipcache: readonly IpcacheEntry[];
  readonly selectors: readonly SelectorBits[];
}

/** Everything deploy writes into the two policy maps. */
export function policyMaps(inv: Inventory, selectors: readonly SelectorIR[]): PolicyMaps {
  const cidrs = cidrPrefixes(selectors);
  const ipcache = [...endpointEntries(inv.endpoints), ...reservedEntries(inv), ...cidrs.map((c, i) => ({ cidr: c.text, identity: CIDR_IDENTITY_BASE + i }))];
  const bits = [
    ...identityPeers(inv).map(({ identity, peer }) => ({ identity, selectors: matching(selectors, peer) })),
    ...cidrs.map((c, i) => ({ identity: CIDR_IDENTITY_BASE + i, selectors: cidrBits(selectors, c) })),
  ];
  return { ipcache, selectors: bits };
}

function endpointEntries(endpoints: readonly Endpoint[]): IpcacheEntry[] {
  return endpoints.flatMap((e) => e.ips.map((ip) => ({ cidr: ip.text, identity: e.identity })));
}

function reservedEntries(inv: Inventory): IpcacheEntry[] {
  return inv.reserved.flatMap((r) => r.ips.map((ip) => ({ cidr: ip.text, identity: RESERVED_IDENTITY[r.entity] })));
}

/** One peer per identity: endpoints (same labels = same identity = same bits) and reserved entities. */
function identityPeers(inv: Inventory): { identity: number; peer: PeerRef }[] {
  const out = new Map<number, PeerRef>();
  for (const e of inv.endpoints) if (!out.has(e.identity)) out.set(e.identity, { kind: 'endpoint', endpoint: e, ip: null });
  for (const [entity, id] of Object.entries(RESERVED_IDENTITY)) {
    out.set(id, entity === 'world' ? { kind: 'world', ip: null } : { kind: 'reserved', entity: entity as ReservedEntity, ip: null });
  }
  return [...out].map(([identity, peer]) => ({ identity, peer }));
}

const matching = (selectors: readonly SelectorIR[], peer: PeerRef): number[] =>
  selectors.filter((s) => selectorMatchesPeer(s, peer)).map((s) => s.index);

/** Every distinct prefix a cidr selector names (its CIDR and excepts), in first-seen order. */
export function cidrPrefixes(selectors: readonly SelectorIR[]): Cidr[] {
  const seen = new Map<string, Cidr>();
  for (const s of selectors) {
    if (s.match.kind !== 'cidr') continue;
    for (const text of [s.match.cidr, ...s.match.except]) {
      const c = parseCidr(text);
      if (c && !seen.has(canonical(c))) seen.set(canonical(c), c);
    }
  }
  return [...seen.values()];
}

/** `10.1.2.3/8` and `10.0.0.0/8` are one prefix. */
function canonical(c: Cidr): string {
  const bytes = Uint8Array.from(c.addr.bytes);
  for (let bit = c.prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
  return `${Buffer.from(bytes).toString('hex')}/${c.prefix}`;
}

/** p is inside q (every address of p is in q). */
export function prefixWithin(p: Cidr, q: Cidr): boolean {
  if (p.addr.bytes.length !== q.addr.bytes.length || p.prefix < q.prefix) return false;
  for (let bit = 0; bit < q.prefix; bit++) {
    const m = 0x80 >> (bit & 7);
    if (((p.addr.bytes[bit >> 3] ?? 0) & m) !== ((q.addr.bytes[bit >> 3] ?? 0) & m)) return false;
  }
  return true;
}

/** Bits of the identity of prefix p: cidr selectors containing p and not excepting it, plus world-matching ones. */
export function cidrBits(selectors: readonly SelectorIR[], p: Cidr): number[] {
  const world: PeerRef = { kind: 'world', ip: null };
  return selectors
    .filter((s) => {
      if (s.match.kind !== 'cidr') return selectorMatchesPeer(s, world);
      const c = parseCidr(s.match.cidr);
      const excepted = s.match.except.some((e) => {
        const x = parseCidr(e);
        return x !== null && prefixWithin(p, x);
      });
      return c !== null && prefixWithin(p, c) && !excepted;
    })
    .map((s) => s.index);
}
