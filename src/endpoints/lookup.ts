// Finding endpoints by `name`, `namespace/name` or address.
import type { IpAddr } from '../net/ip.ts';
import type { Endpoint, Inventory } from './types.ts';

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
