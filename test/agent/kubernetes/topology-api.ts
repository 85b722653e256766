// What a Kubernetes API server would hold for a test Topology (test/helpers/netns.ts): its pods
// as Running Pods of one node, that Node, and CiliumNetworkPolicies with the server's
// bookkeeping (uid, resourceVersion, generation), as lists and WatchEvent lines for a
// ReplayServer. Written by hand in the shape of the fixtures (fixtures/README.md).
import type { Topology } from '../../helpers/netns.ts';

export type KubeObject = Record<string, unknown> & { metadata: Record<string, unknown> };

export const list = (kind: string, apiVersion: string, resourceVersion: number, items: readonly unknown[]) => ({
  kind, apiVersion, metadata: { resourceVersion: String(resourceVersion) }, items,
});

export const watchEvent = (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: KubeObject): string => JSON.stringify({ type, object });

/** The topology's pods, all on `nodeName` in namespace default, labelled app=<pod name>, serving on 8080. */
export function podsOf(t: Topology, nodeName: string, hostIP: string): KubeObject[] {
  return [...t.pods.values()].map((p, i) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: 'default', uid: `pod-${p.name}`, resourceVersion: String(10 + i), labels: { app: p.name } },
    spec: { nodeName, serviceAccountName: 'default', containers: [{ name: p.name, image: `example/${p.name}:1`, ports: [{ containerPort: 8080, protocol: 'TCP' }] }] },
    status: { phase: 'Running', hostIP, podIP: p.v4, podIPs: [{ ip: p.v4 }, ...(p.v6 ? [{ ip: p.v6 }] : [])] },
  }));
}

export function nodeObject(name: string, address: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, uid: `node-${name}`, resourceVersion: '5', labels: { 'kubernetes.io/hostname': name } },
    status: { addresses: [{ type: 'InternalIP', address }, { type: 'Hostname', address: name }] },
  };
}

/** A policy document (as in a YAML file) as the API server stores it. */
export function cnpObject(doc: { metadata: { name: string; namespace: string } } & Record<string, unknown>, resourceVersion: number, generation: number): KubeObject {
  const { metadata, ...rest } = doc;
  return { ...rest, metadata: { ...metadata, uid: `cnp-${metadata.name}`, resourceVersion: String(resourceVersion), generation, creationTimestamp: '2024-05-01T12:00:00Z' } };
}
