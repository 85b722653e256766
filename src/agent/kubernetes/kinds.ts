// The five collections the Kubernetes source lists and watches, across all namespaces.
// RBAC needs get/list/watch on each (docs/agent-kubernetes.md).

export type KindName = 'Pod' | 'Node' | 'Service' | 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';

export interface KindDef {
  readonly kind: KindName;
  readonly apiVersion: string;
  /** the collection's path; list and watch both use it */
  readonly path: string;
}

export const POD: KindDef = { kind: 'Pod', apiVersion: 'v1', path: '/api/v1/pods' };
export const NODE: KindDef = { kind: 'Node', apiVersion: 'v1', path: '/api/v1/nodes' };
export const SERVICE: KindDef = { kind: 'Service', apiVersion: 'v1', path: '/api/v1/services' };
export const CNP: KindDef = { kind: 'CiliumNetworkPolicy', apiVersion: 'cilium.io/v2', path: '/apis/cilium.io/v2/ciliumnetworkpolicies' };
export const CCNP: KindDef = { kind: 'CiliumClusterwideNetworkPolicy', apiVersion: 'cilium.io/v2', path: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies' };

export const ALL_KINDS: readonly KindDef[] = [CNP, CCNP, POD, NODE, SERVICE];

/** An object as the API server sends it (JSON), read loosely: every field may be missing. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** "namespace/name", or "name" for cluster-scoped objects */
export function keyOf(o: KubeObject): string {
  const ns = o.metadata?.namespace;
  return ns ? `${ns}/${o.metadata?.name ?? ''}` : o.metadata?.name ?? '';
}
