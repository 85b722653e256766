// What the inventory readers collect before identities, nodes and duplicates are settled
// (src/endpoints/assemble.ts): each item keeps where it was written, for file:line:col.
import type { SourcePos } from '../source/diagnostics.ts';
import type { IpAddr } from '../net/ip.ts';
import type { Endpoint, HostPod, Inventory, Service } from './types.ts';

export type PodDraft = Omit<Endpoint, 'identity'> & { readonly pos: SourcePos };
export type HostPodDraft = HostPod & { readonly pos: SourcePos };
export interface NodeDraft {
  readonly name: string;
  readonly ips: readonly IpAddr[];
  readonly pos: SourcePos;
}
export type ServiceDraft = Service & { readonly pos: SourcePos };

export interface Drafts {
  readonly pods: PodDraft[];
  readonly hostPods: HostPodDraft[];
  readonly nodes: NodeDraft[];
  readonly services: ServiceDraft[];
  readonly reserved: Inventory['reserved'][number][];
}

export const emptyDrafts = (): Drafts => ({ pods: [], hostPods: [], nodes: [], services: [], reserved: [] });
