// Who is on each side of a flow, and whether a policy peer (selector, entity, CIDR) matches it.
import type { Endpoint, Inventory, ReservedEntity } from '../endpoints/types.ts';
import { endpointByIp } from '../endpoints/lookup.ts';
import { parseIp, type IpAddr } from '../net/ip.ts';
import { cidrContains, parseCidr } from '../policy/cidr.ts';
import type { CidrRule, Entity, Peer, SelectorSpec } from '../policy/types.ts';

export type PeerRef =
  | { readonly kind: 'endpoint'; readonly endpoint: Endpoint; readonly ip: IpAddr | null }
  | { readonly kind: 'reserved'; readonly entity: ReservedEntity; readonly ip: IpAddr | null }
  | { readonly kind: 'world'; readonly ip: IpAddr | null };

export function resolveIp(inv: Inventory, ip: IpAddr | string): PeerRef {
  const addr = typeof ip === 'string' ? parseIp(ip) : ip;
  if (!addr) throw new Error(`invalid IP address "${String(ip)}"`);
  const ep = endpointByIp(inv, addr);
  if (ep) return { kind: 'endpoint', endpoint: ep, ip: addr };
  const r = inv.reserved.find((x) => x.ips.some((a) => a.text === addr.text));
  return r ? { kind: 'reserved', entity: r.entity, ip: addr } : { kind: 'world', ip: addr };
}

export function describePeer(p: PeerRef): string {
  switch (p.kind) {
    case 'endpoint':
      return `${p.endpoint.namespace}/${p.endpoint.name}`;
    case 'reserved':
      return `reserved:${p.entity}${p.ip ? ` (${p.ip.text})` : ''}`;
    case 'world':
      return `world${p.ip ? ` (${p.ip.text})` : ''}`;
  }
}

export function selectorMatches(s: SelectorSpec, labels: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(s.matchLabels)) if (labels[k] !== v) return false;
  for (const e of s.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    const ok =
      e.operator === 'Exists' ? has
      : e.operator === 'DoesNotExist' ? !has
      : e.operator === 'In' ? has && e.values.includes(value ?? '')
      : !has || !e.values.includes(value ?? '');
    if (!ok) return false;
  }
  return true;
}

export function entityMatches(e: Entity, p: PeerRef): boolean {
  switch (e) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'world':
      return p.kind === 'world';
    case 'cluster':
      return p.kind !== 'world';
    default:
      return p.kind === 'reserved' && p.entity === e;
  }
}

/** CIDR peers select addresses outside the cluster (Cilium gives pods their own identities). */
export function cidrMatches(c: CidrRule, p: PeerRef): boolean {
  if (p.kind !== 'world' || !p.ip) return false;
  const within = (text: string) => {
    const parsed = parseCidr(text);
    return parsed !== null && cidrContains(parsed, p.ip as IpAddr);
  };
  return within(c.cidr) && !c.except.some(within);
}

export function peerMatches(peer: Peer, p: PeerRef): boolean {
  switch (peer.kind) {
    case 'any':
      return true;
    case 'none':
      return false;
    case 'endpoints':
      return p.kind === 'endpoint' && peer.selectors.some((s) => selectorMatches(s, p.endpoint.labels));
    case 'entities':
      return peer.entities.some((e) => entityMatches(e, p));
    case 'cidr':
      return peer.cidrs.some((c) => cidrMatches(c, p));
  }
}
