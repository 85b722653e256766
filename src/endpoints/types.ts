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
  /**
   * addresses with a reserved identity (host, remote-node, kube-apiserver): the `reserved:`
   * list, then the nodes' addresses (the local node's as host, the others' as remote-node)
   */
  readonly reserved: readonly { readonly entity: ReservedEntity; readonly ips: readonly IpAddr[] }[];
  /** nodes, from `nodes:`, kubectl Node objects and host-network pods (absent: none known) */
  readonly nodes?: readonly NodeInfo[];
  /** pods with hostNetwork: true; their addresses are their node's */
  readonly hostPods?: readonly HostPod[];
  readonly services?: readonly Service[];
}

export interface NodeInfo {
  readonly name: string;
  readonly ips: readonly IpAddr[];
  /** the node l7bpf runs on (its addresses are `host`; every other node's are `remote-node`) */
  readonly local: boolean;
}

export interface HostPod {
  readonly name: string;
  readonly namespace: string;
  /** spec.nodeName; null when the pod names none */
  readonly node: string | null;
  readonly ips: readonly IpAddr[];
}

export interface ServicePort {
  readonly name: string | null;
  readonly port: number;
  /** a container port number, or a named port of the selected pods */
  readonly targetPort: number | string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

export interface Service {
  readonly name: string;
  readonly namespace: string;
  /** spec.selector; null: a Service without selector (its Endpoints are not read) */
  readonly selector: Readonly<Record<string, string>> | null;
  readonly ports: readonly ServicePort[];
  readonly clusterIps: readonly IpAddr[];
}
