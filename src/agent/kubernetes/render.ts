// The informers' objects -> the Snapshot's texts. Policies: one JSON document each, as
// parsePolicies reads them (src/policy/parse.ts accepts a fixed set of top-level and metadata
// fields: the API server's bookkeeping is left out, the spec goes through untouched so that a
// field l7bpf does not support is still an error). Inventory: one `kind: List` of Pods, Nodes
// and Services, cut down to what src/endpoints/kubectl.ts reads (extend both together): the
// status churn of a busy cluster (heartbeats, restarts, conditions) then renders to the same
// text and does not make a new Snapshot.
import type { SourceText } from '../types.ts';
import { keyOf, NODE, POD, SERVICE, type KindDef, type KubeObject } from './kinds.ts';

/** metadata the policy parser accepts and that means something to a reader of diagnostics;
 * resourceVersion is left out: it changes on every status write, the policy does not */
const POLICY_META = ['name', 'namespace', 'uid', 'generation', 'labels', 'annotations'] as const;
/** kubectl apply's copy of the whole object: noise in every diagnostic */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function policyText(def: KindDef, o: KubeObject): SourceText {
  const { apiVersion: _v, kind: _k, metadata, status: _s, ...rest } = o;
  const meta = pick(metadata ?? {}, POLICY_META);
  if (meta.annotations) meta.annotations = withoutKey(meta.annotations as Record<string, string>, LAST_APPLIED);
  if (meta.annotations && Object.keys(meta.annotations).length === 0) delete meta.annotations;
  const doc = { apiVersion: def.apiVersion, kind: def.kind, metadata: meta, ...rest };
  return { name: `kubernetes:${def.kind}/${keyOf(o)}`, text: json(doc) };
}

export interface InventoryObjects {
  readonly pods: readonly KubeObject[];
  readonly nodes: readonly KubeObject[];
  readonly services: readonly KubeObject[];
}

export function inventoryText(objs: InventoryObjects): SourceText {
  const items = [
    ...sorted(objs.pods).map((o) => ({ apiVersion: POD.apiVersion, kind: POD.kind, ...podView(o) })),
    ...sorted(objs.nodes).map((o) => ({ apiVersion: NODE.apiVersion, kind: NODE.kind, ...nodeView(o) })),
    ...sorted(objs.services).map((o) => ({ apiVersion: SERVICE.apiVersion, kind: SERVICE.kind, ...serviceView(o) })),
  ];
  return { name: 'kubernetes:List/pods,nodes,services', text: json({ apiVersion: 'v1', kind: 'List', items }) };
}

export function sorted(objs: readonly KubeObject[]): KubeObject[] {
  return [...objs].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}

function podView(o: KubeObject): object {
  const spec = (o.spec ?? {}) as { containers?: { name?: string; ports?: unknown }[] };
  return {
    metadata: pick(o.metadata ?? {}, ['name', 'namespace', 'labels']),
    spec: {
      ...pick(spec, ['nodeName', 'hostNetwork', 'serviceAccountName']),
      containers: (spec.containers ?? []).map((c) => pick(c, ['name', 'ports'])),
    },
    status: pick((o.status ?? {}) as object, ['phase', 'podIP', 'podIPs']),
  };
}

function nodeView(o: KubeObject): object {
  return { metadata: pick(o.metadata ?? {}, ['name', 'labels']), status: pick((o.status ?? {}) as object, ['addresses']) };
}

function serviceView(o: KubeObject): object {
  return { metadata: pick(o.metadata ?? {}, ['name', 'namespace', 'labels']), spec: pick((o.spec ?? {}) as object, ['selector', 'clusterIP', 'clusterIPs', 'ports']) };
}

function pick(o: object, keys: readonly string[]): Record<string, unknown> {
  const src = o as Record<string, unknown>;
  return Object.fromEntries(keys.filter((k) => src[k] !== undefined).map((k) => [k, src[k]]));
}

function withoutKey(o: Readonly<Record<string, string>>, key: string): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
}

/** indented, so that a diagnostic's line:col points at one field */
function json(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + '\n';
}
