// `kubectl get pods,nodes,services -A -o json`: a List of Pods, Nodes and Services (any
// subset; `kubectl get pods -A -o json` alone is the common case).
import { isSeq, type Node } from 'yaml';
import type { Reader, YNode } from '../source/yaml-reader.ts';
import { NAMESPACE_LABEL } from '../policy/types.ts';
import { parseIp, type IpAddr } from '../net/ip.ts';
import type { ServicePort } from './types.ts';
import { emptyDrafts, type Drafts } from './drafts.ts';

interface KubeMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

interface KubePod {
  kind?: string;
  metadata?: KubeMeta;
  spec?: { hostNetwork?: boolean; nodeName?: string; serviceAccountName?: string; containers?: { ports?: { name?: string; containerPort?: number }[] }[] };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[] };
}

interface KubeNode {
  metadata?: KubeMeta;
  status?: { addresses?: { type?: string; address?: string }[] };
}

interface KubeService {
  metadata?: KubeMeta;
  spec?: {
    selector?: Record<string, string>;
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: { name?: string; port?: number; targetPort?: number | string; protocol?: string }[];
  };
}

export function parseKubectl(r: Reader, root: YNode): Drafts {
  const out = emptyDrafts();
  const itemsNode = (root as { get?: (k: string, keep: boolean) => unknown } | null)?.get?.('items', true) as YNode;
  const items: readonly Node[] = isSeq(itemsNode) ? (itemsNode.items as Node[]) : [];
  items.forEach((node, i) => {
    const item = (node as { toJSON?: () => unknown }).toJSON?.() as { kind?: string; metadata?: KubeMeta } | undefined;
    const kind = item?.kind ?? 'Pod';
    if (!['Pod', 'Node', 'Service'].includes(kind)) return;
    if (typeof item?.metadata?.name !== 'string') {
      r.error(node, `items[${i}]: ${kind.toLowerCase()} without metadata.name`);
      return;
    }
    if (kind === 'Pod') addPod(r, node, item as KubePod, out);
    else if (kind === 'Node') addNode(r, node, item as KubeNode, out);
    else addService(r, node, item as KubeService, out);
  });
  return out;
}

const ipsOf = (texts: readonly (string | undefined)[]): IpAddr[] => texts.map((t) => (t ? parseIp(t) : null)).filter((x): x is IpAddr => x !== null);

/** Labels Cilium leaves out of identities by default (they differ per pod or per rollout). */
const NON_IDENTITY_LABELS = /^(pod-template-hash|pod-template-generation|controller-revision-hash|controller-uid|job-name|batch\.kubernetes\.io\/.*|statefulset\.kubernetes\.io\/pod-name|apps\.kubernetes\.io\/pod-index)$/;

function addPod(r: Reader, node: Node, pod: KubePod, out: Drafts): void {
  // a finished pod's address is released, and may already be another pod's
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
  const name = pod.metadata?.name ?? '';
  const namespace = pod.metadata?.namespace ?? 'default';
  const ips = ipsOf(pod.status?.podIPs?.map((p) => p.ip) ?? [pod.status?.podIP]);
  const pos = r.pos(node);
  // a host-network pod has its node's addresses: it is the node (host or remote-node), not an endpoint
  if (pod.spec?.hostNetwork) {
    out.hostPods.push({ name, namespace, node: pod.spec.nodeName ?? null, ips, pos });
    return;
  }
  const own = Object.entries(pod.metadata?.labels ?? {}).filter(([k]) => !NON_IDENTITY_LABELS.test(k));
  const labels: Record<string, string> = { ...Object.fromEntries(own), [NAMESPACE_LABEL]: namespace };
  if (pod.spec?.serviceAccountName) labels['io.cilium.k8s.policy.serviceaccount'] = pod.spec.serviceAccountName;
  const namedPorts: Record<string, number> = {};
  for (const c of pod.spec?.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name && p.containerPort) namedPorts[p.name] = p.containerPort;
  }
  out.pods.push({ name, namespace, labels, ips, namedPorts, iface: null, pos });
}

/** Every address of the node that is an IP (InternalIP, ExternalIP): Cilium gives them all the node's identity. */
function addNode(r: Reader, node: Node, n: KubeNode, out: Drafts): void {
  out.nodes.push({ name: n.metadata?.name ?? '', ips: ipsOf((n.status?.addresses ?? []).map((a) => a.address)), pos: r.pos(node) });
}

function addService(r: Reader, node: Node, s: KubeService, out: Drafts): void {
  const ports: ServicePort[] = (s.spec?.ports ?? []).flatMap((p) => {
    if (typeof p.port !== 'number') return [];
    const protocol = (['TCP', 'UDP', 'SCTP'] as const).find((x) => x === (p.protocol ?? 'TCP'));
    return protocol ? [{ name: p.name ?? null, port: p.port, targetPort: p.targetPort ?? p.port, protocol }] : [];
  });
  const clusterIps = ipsOf(s.spec?.clusterIPs ?? [s.spec?.clusterIP]);
  const selector = s.spec?.selector && Object.keys(s.spec.selector).length ? { ...s.spec.selector } : null;
  out.services.push({ name: s.metadata?.name ?? '', namespace: s.metadata?.namespace ?? 'default', selector, ports, clusterIps, pos: r.pos(node) });
}
