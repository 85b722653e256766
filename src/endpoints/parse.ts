// Inventory files -> endpoints, nodes and Services. Two shapes:
//  - ours:  endpoints: [{name, namespace, labels, ips, namedPorts?, iface?, hostNetwork?, node?}],
//           reserved: [{entity, ips}], nodes: [{name, addresses}],
//           services: [{name, namespace, selector, ports: [{port, targetPort?, name?, protocol?}], clusterIP?}]
//  - `kubectl get pods,nodes,services -A -o json` (src/endpoints/kubectl.ts)
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Node } from 'yaml';
import { Reader, yamlMessage, type YNode } from '../source/yaml-reader.ts';
import { hasErrors, PolicyError, type Diagnostic } from '../source/diagnostics.ts';
import { NAMESPACE_LABEL } from '../policy/types.ts';
import { parseIp, type IpAddr } from '../net/ip.ts';
import { RESERVED_IDENTITY, type Inventory, type ReservedEntity, type ServicePort } from './types.ts';
import { emptyDrafts, type Drafts } from './drafts.ts';
import { parseKubectl } from './kubectl.ts';
import { assemble, type InventoryOptions } from './assemble.ts';

export type { InventoryOptions } from './assemble.ts';

export function parseInventory(text: string, file: string, opts: InventoryOptions = {}): { inventory: Inventory; diagnostics: readonly Diagnostic[] } {
  const lines = new LineCounter();
  const r = new Reader(file, lines);
  const doc = parseDocument(text, { lineCounter: lines });
  for (const e of doc.errors) r.error(null, `YAML: ${yamlMessage(e.message)}`, undefined, r.posAt(e.pos[0]));
  const root = doc.contents as YNode;
  const isKubectl = !!(root as { has?: (k: string) => boolean } | null)?.has?.('items');
  const drafts = isKubectl ? parseKubectl(r, root) : parseOurs(r, root);
  return { inventory: assemble(r, drafts, opts), diagnostics: r.diagnostics };
}

export function loadInventory(file: string, opts: InventoryOptions = {}): Inventory {
  const { inventory, diagnostics } = parseInventory(readFileSync(file, 'utf8'), file, opts);
  if (hasErrors(diagnostics)) throw new PolicyError(diagnostics);
  return inventory;
}

const nonNull = <T>(x: T | null): x is T => x !== null;

function parseOurs(r: Reader, root: YNode): Drafts {
  const out = emptyDrafts();
  const m = r.map(root, 'inventory', ['endpoints', 'reserved', 'nodes', 'services']);
  const list = (key: string) => (m?.has(key) ? r.seq(m.get(key), key) ?? [] : []);
  for (const n of list('endpoints')) parseEndpoint(r, n, out);
  out.reserved.push(...list('reserved').map((n) => parseReserved(r, n)).filter(nonNull));
  out.nodes.push(...list('nodes').map((n) => parseNode(r, n)).filter(nonNull));
  out.services.push(...list('services').map((n) => parseService(r, n)).filter(nonNull));
  return out;
}

function parseEndpoint(r: Reader, node: Node, out: Drafts): void {
  const m = r.map(node, 'endpoint', ['name', 'namespace', 'labels', 'ips', 'namedPorts', 'iface', 'hostNetwork', 'node']);
  if (!m) return;
  const name = r.string(m.get('name'), 'endpoint name');
  const namespace = m.has('namespace') ? r.string(m.get('namespace'), 'namespace') ?? 'default' : 'default';
  const labels = m.has('labels') ? r.stringMap(m.get('labels'), 'labels') ?? {} : {};
  const ips = parseIps(r, m.get('ips'));
  const namedPorts: Record<string, number> = {};
  for (const [k, v] of Object.entries(m.has('namedPorts') ? r.stringMap(m.get('namedPorts'), 'namedPorts') ?? {} : {})) {
    namedPorts[k] = Number(v);
  }
  const iface = m.has('iface') ? r.string(m.get('iface'), 'iface') : null;
  const nodeName = m.has('node') ? r.string(m.get('node'), 'node') : null;
  if (name === null) return;
  const pos = r.pos(node);
  // as in kubectl's output: a host-network pod is its node, not an endpoint
  if (m.has('hostNetwork') && r.bool(m.get('hostNetwork'), 'hostNetwork')) {
    out.hostPods.push({ name, namespace, node: nodeName, ips, pos });
    return;
  }
  out.pods.push({ name, namespace, labels: { ...labels, [NAMESPACE_LABEL]: namespace }, ips, namedPorts, iface, pos });
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

function parseNode(r: Reader, node: Node): Drafts['nodes'][number] | null {
  const m = r.map(node, 'node', ['name', 'addresses']);
  const name = m ? r.string(m.get('name'), 'node name') : null;
  if (!m || name === null) return null;
  return { name, ips: parseIps(r, m.get('addresses')), pos: r.pos(node) };
}

function parseService(r: Reader, node: Node): Drafts['services'][number] | null {
  const m = r.map(node, 'service', ['name', 'namespace', 'selector', 'ports', 'clusterIP']);
  const name = m ? r.string(m.get('name'), 'service name') : null;
  if (!m || name === null) return null;
  const namespace = m.has('namespace') ? r.string(m.get('namespace'), 'namespace') ?? 'default' : 'default';
  const selector = m.has('selector') ? r.stringMap(m.get('selector'), 'selector') : null;
  const ports = (m.has('ports') ? r.seq(m.get('ports'), 'ports') ?? [] : []).map((p) => parseServicePort(r, p)).filter(nonNull);
  const clusterIp = m.has('clusterIP') ? parseOneIp(r, m.get('clusterIP')) : null;
  return { name, namespace, selector, ports, clusterIps: clusterIp ? [clusterIp] : [], pos: r.pos(node) };
}

function parseServicePort(r: Reader, node: Node): ServicePort | null {
  const m = r.map(node, 'service port', ['name', 'port', 'targetPort', 'protocol']);
  if (!m) return null;
  const port = portNumber(r, m.get('port'), 'port');
  const target = m.has('targetPort') ? r.string(m.get('targetPort'), 'targetPort') : null;
  const protocol = (m.has('protocol') ? r.string(m.get('protocol'), 'protocol') : 'TCP') ?? 'TCP';
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') {
    r.error(m.get('protocol'), `protocol "${protocol}" is not TCP, UDP or SCTP`);
    return null;
  }
  if (port === null) return null;
  // a number is a container port; anything else names a port of the selected pods
  const targetPort = target === null ? port : /^\d+$/.test(target) ? Number(target) : target;
  return { name: m.has('name') ? r.string(m.get('name'), 'port name') : null, port, targetPort, protocol };
}

function portNumber(r: Reader, node: YNode, what: string): number | null {
  const s = r.string(node, what);
  if (s === null) return null;
  const n = Number(s);
  if (/^\d+$/.test(s) && n >= 1 && n <= 65535) return n;
  r.error(node, `${what} "${s}" is not a port number (1..65535)`);
  return null;
}

function parseIps(r: Reader, node: YNode): IpAddr[] {
  if (node === undefined) return [];
  return (r.seq(node, 'ips') ?? []).map((item) => parseOneIp(r, item)).filter(nonNull);
}

function parseOneIp(r: Reader, node: YNode): IpAddr | null {
  const s = r.string(node, 'ip');
  const ip = s === null ? null : parseIp(s);
  if (!ip && s !== null) r.error(node, `invalid IP address "${s}"`);
  return ip;
}
