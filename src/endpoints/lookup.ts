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

export function endpointByIp(inv: Inventory, ip: IpAddr): Endpoint | null {
  return inv.endpoints.find((e) => e.ips.some((a) => a.text === ip.text)) ?? null;
}
