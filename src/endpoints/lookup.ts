// Finding endpoints by `name`, `namespace/name` or address; Services and nodes by name.
import type { IpAddr } from '../net/ip.ts';
import type { Endpoint, Inventory, NodeInfo, Service } from './types.ts';

export function findEndpoint(inv: Inventory, ref: string): Endpoint | null {
  const slash = ref.indexOf('/');
  const ns = slash < 0 ? null : ref.slice(0, slash);
  const name = slash < 0 ? ref : ref.slice(slash + 1);
  const found = inv.endpoints.filter((e) => e.name === name && (ns === null || e.namespace === ns));
  if (found.length > 1) throw new Error(`"${ref}" is ambiguous: ${found.map((e) => `${e.namespace}/${e.name}`).join(', ')}; write namespace/name`);
  return found[0] ?? null;
}

// address -> endpoint, built once per inventory (replay looks up every connection)
const byAddress = new WeakMap<Inventory, Map<string, Endpoint>>();

export function endpointByIp(inv: Inventory, ip: IpAddr): Endpoint | null {
  let index = byAddress.get(inv);
  if (!index) {
    index = new Map();
    for (const e of inv.endpoints) for (const a of e.ips) if (!index.has(a.text)) index.set(a.text, e);
    byAddress.set(inv, index);
  }
  return index.get(ip.text) ?? null;
}

/** A Service by `name` or `namespace/name` (null when none; ambiguous names throw, as pods). */
export function findService(inv: Inventory, ref: string): Service | null {
  const slash = ref.indexOf('/');
  const ns = slash < 0 ? null : ref.slice(0, slash);
  const name = slash < 0 ? ref : ref.slice(slash + 1);
  const found = (inv.services ?? []).filter((s) => s.name === name && (ns === null || s.namespace === ns));
  if (found.length > 1) throw new Error(`service "${ref}" is ambiguous: ${found.map((s) => `${s.namespace}/${s.name}`).join(', ')}; write namespace/name`);
  return found[0] ?? null;
}

/** The Service whose cluster IP this is. */
export function serviceByClusterIp(inv: Inventory, ip: IpAddr): Service | null {
  return (inv.services ?? []).find((s) => s.clusterIps.some((a) => a.text === ip.text)) ?? null;
}

/** Pods a Service sends to: its namespace's pods whose labels hold every selector label. */
export function serviceBackends(inv: Inventory, s: Service): Endpoint[] {
  const sel = s.selector;
  if (sel === null) return [];
  return inv.endpoints.filter((e) => e.namespace === s.namespace && Object.entries(sel).every(([k, v]) => e.labels[k] === v));
}

/** A node by name. */
export function findNode(inv: Inventory, name: string): NodeInfo | null {
  return (inv.nodes ?? []).find((n) => n.name === name) ?? null;
}
