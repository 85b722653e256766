// Inventory files -> endpoints. Two shapes:
//  - ours:  endpoints: [{name, namespace, labels, ips, namedPorts?, iface?}], reserved: [{entity, ips}]
//  - `kubectl get pods -A -o json`: a List of Pods (labels, podIPs, container port names)
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Node } from 'yaml';
import { Reader, yamlMessage, type YNode } from '../source/yaml-reader.ts';
import { hasErrors, PolicyError, type Diagnostic } from '../source/diagnostics.ts';
import { NAMESPACE_LABEL } from '../policy/types.ts';
import { parseIp, type IpAddr } from '../net/ip.ts';
import { allocateIdentities, labelKey } from './identity.ts';
import { RESERVED_IDENTITY, type Endpoint, type Inventory, type ReservedEntity } from './types.ts';

type Draft = Omit<Endpoint, 'identity'>;

export function parseInventory(text: string, file: string): { inventory: Inventory; diagnostics: readonly Diagnostic[] } {
  const lines = new LineCounter();
  const r = new Reader(file, lines);
  const doc = parseDocument(text, { lineCounter: lines });
  for (const e of doc.errors) r.error(null, `YAML: ${yamlMessage(e.message)}`, undefined, r.posAt(e.pos[0]));
  const root = doc.contents as YNode;
  const isKubectl = !!(root as { has?: (k: string) => boolean } | null)?.has?.('items');
  const { drafts, reserved } = isKubectl ? { drafts: parseKubectl(r, root), reserved: [] } : parseOurs(r, root);
  return { inventory: { endpoints: withIdentities(drafts), reserved }, diagnostics: r.diagnostics };
}

export function loadInventory(file: string): Inventory {
  const { inventory, diagnostics } = parseInventory(readFileSync(file, 'utf8'), file);
  if (hasErrors(diagnostics)) throw new PolicyError(diagnostics);
  return inventory;
}

function withIdentities(drafts: readonly Draft[]): Endpoint[] {
  const ids = allocateIdentities(drafts.map((d) => labelKey(d.labels)));
  return drafts.map((d) => ({ ...d, identity: ids.get(labelKey(d.labels)) ?? 0 }));
}

function parseOurs(r: Reader, root: YNode): { drafts: Draft[]; reserved: Inventory['reserved'] } {
  const m = r.map(root, 'inventory', ['endpoints', 'reserved']);
  const drafts = (m?.has('endpoints') ? r.seq(m.get('endpoints'), 'endpoints') ?? [] : []).map((n) => parseEndpoint(r, n));
  const reserved = (m?.has('reserved') ? r.seq(m.get('reserved'), 'reserved') ?? [] : []).map((n) => parseReserved(r, n));
  return {
    drafts: drafts.filter((d): d is Draft => d !== null),
    reserved: reserved.filter((x): x is Inventory['reserved'][number] => x !== null),
  };
}

function parseEndpoint(r: Reader, node: Node): Draft | null {
  const m = r.map(node, 'endpoint', ['name', 'namespace', 'labels', 'ips', 'namedPorts', 'iface']);
  if (!m) return null;
  const name = r.string(m.get('name'), 'endpoint name');
  const namespace = m.has('namespace') ? r.string(m.get('namespace'), 'namespace') ?? 'default' : 'default';
  const labels = m.has('labels') ? r.stringMap(m.get('labels'), 'labels') ?? {} : {};
  const ips = parseIps(r, m.get('ips'));
  const namedPorts: Record<string, number> = {};
  for (const [k, v] of Object.entries(m.has('namedPorts') ? r.stringMap(m.get('namedPorts'), 'namedPorts') ?? {} : {})) {
    namedPorts[k] = Number(v);
  }
  const iface = m.has('iface') ? r.string(m.get('iface'), 'iface') : null;
  if (name === null) return null;
  return { name, namespace, labels: { ...labels, [NAMESPACE_LABEL]: namespace }, ips, namedPorts, iface };
}

function parseReserved(r: Reader, node: Node): Inventory['reserved'][number] | null {
  const m = r.map(node, 'reserved', ['entity', 'ips']);
  const entity = m ? r.string(m.get('entity'), 'entity') : null;
  if (!m || entity === null) return null;
  if (!(entity in RESERVED_IDENTITY) || entity === 'world') {
    r.error(m.get('entity'), `"${entity}" is not a reserved entity with addresses`, 'use host, remote-node, kube-apiserver, health, ingress');
    return null;
  }
  return { entity: entity as ReservedEntity, ips: parseIps(r, m.get('ips')) };
}

function parseIps(r: Reader, node: YNode): IpAddr[] {
  if (node === undefined) return [];
  const out: IpAddr[] = [];
  for (const item of r.seq(node, 'ips') ?? []) {
    const s = r.string(item, 'ip');
    const ip = s === null ? null : parseIp(s);
    if (ip) out.push(ip);
    else if (s !== null) r.error(item, `invalid IP address "${s}"`);
  }
  return out;
}

/** Pods from `kubectl get pods -A -o json`; host-network pods are the host, not endpoints. */
function parseKubectl(r: Reader, root: YNode): Draft[] {
  const json = (root as { toJSON?: () => unknown } | null)?.toJSON?.() as { items?: unknown[] } | undefined;
  const out: Draft[] = [];
  (json?.items ?? []).forEach((item, i) => {
    const pod = item as KubePod;
    if (pod?.kind !== undefined && pod.kind !== 'Pod') return;
    if (pod?.spec?.hostNetwork) return;
    const name = pod?.metadata?.name;
    if (typeof name !== 'string') {
      r.error(root, `items[${i}]: pod without metadata.name`);
      return;
    }
    out.push(podDraft(pod, name));
  });
  return out;
}

interface KubePod {
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  spec?: { hostNetwork?: boolean; serviceAccountName?: string; containers?: { ports?: { name?: string; containerPort?: number }[] }[] };
  status?: { podIP?: string; podIPs?: { ip: string }[] };
}

/** Labels Cilium leaves out of identities by default (they differ per pod or per rollout). */
const NON_IDENTITY_LABELS = /^(pod-template-hash|pod-template-generation|controller-revision-hash|controller-uid|job-name|batch\.kubernetes\.io\/.*|statefulset\.kubernetes\.io\/pod-name|apps\.kubernetes\.io\/pod-index)$/;

function podDraft(pod: KubePod, name: string): Draft {
  const namespace = pod.metadata?.namespace ?? 'default';
  const own = Object.entries(pod.metadata?.labels ?? {}).filter(([k]) => !NON_IDENTITY_LABELS.test(k));
  const labels: Record<string, string> = { ...Object.fromEntries(own), [NAMESPACE_LABEL]: namespace };
  if (pod.spec?.serviceAccountName) labels['io.cilium.k8s.policy.serviceaccount'] = pod.spec.serviceAccountName;
  const ipTexts = pod.status?.podIPs?.map((p) => p.ip) ?? (pod.status?.podIP ? [pod.status.podIP] : []);
  const ips = ipTexts.map(parseIp).filter((x): x is IpAddr => x !== null);
  const namedPorts: Record<string, number> = {};
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name && p.containerPort) namedPorts[p.name] = p.containerPort;
  }
  return { name, namespace, labels, ips, namedPorts, iface: null };
}
