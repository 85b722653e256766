// Endpoints (pods) with Cilium-style labels and numeric security identities.
import type { IpAddr } from '../net/ip.ts';

export interface Endpoint {
  readonly name: string;
  readonly namespace: string;
  /** labels as Cilium sees them, including io.kubernetes.pod.namespace */
  readonly labels: Readonly<Record<string, string>>;
  readonly ips: readonly IpAddr[];
  readonly identity: number;
  /** container port names -> numbers, for named ports in policies */
  readonly namedPorts: Readonly<Record<string, number>>;
  /** host-side interface, when the inventory names it */
  readonly iface: string | null;
}

/** Cilium's reserved identities (pkg/identity/numericidentity.go). */
export const RESERVED_IDENTITY = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
  'kube-apiserver': 7,
  ingress: 8,
} as const;
export type ReservedEntity = keyof typeof RESERVED_IDENTITY;

/** First identity number allocated for label sets (Cilium's cluster-local range starts at 256). */
export const MIN_ALLOCATED_IDENTITY = 256;
export const MAX_ALLOCATED_IDENTITY = 65535;

export interface Inventory {
  readonly endpoints: readonly Endpoint[];
  /** extra addresses with a reserved identity (host, remote-node, kube-apiserver) */
  readonly reserved: readonly { readonly entity: ReservedEntity; readonly ips: readonly IpAddr[] }[];
}
