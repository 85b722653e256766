// `explain --from/--to` names: a pod (`name`, `namespace/name`), a host-network pod or a node
// (`node:NAME`: the node's entity, host or remote-node), an IP address, and for --to a Service
// (`svc:NAME` or `svc:NAMESPACE/NAME`, or its cluster IP): the Service's selected pods on its
// targetPort, as kube-proxy or Cilium's service translation would send the request.
import { findEndpoint, findNode, findService, serviceBackends, serviceByClusterIp, type Inventory, type Service, type ServicePort } from '../endpoints/index.ts';
import { closest } from '../source/yaml-reader.ts';
import { parseIp } from '../net/ip.ts';
import { resolveIp, type PeerRef } from '../verdict/index.ts';
import { BadInputError } from './exit.ts';

export interface Target {
  readonly dst: PeerRef;
  readonly port: number;
}

export interface ServiceTarget {
  readonly service: Service;
  readonly port: ServicePort;
  /** one per selected pod that has the target port */
  readonly backends: readonly Target[];
}

export function resolvePeer(inv: Inventory, ref: string): PeerRef {
  if (ref.startsWith('node:')) return nodePeer(inv, ref.slice('node:'.length));
  const ep = findEndpoint(inv, ref);
  if (ep) return { kind: 'endpoint', endpoint: ep, ip: ep.ips[0] ?? null };
  const hostPod = (inv.hostPods ?? []).find((p) => p.name === ref || `${p.namespace}/${p.name}` === ref);
  if (hostPod) return { kind: 'reserved', entity: hostPod.node && findNode(inv, hostPod.node)?.local ? 'host' : 'remote-node', ip: hostPod.ips[0] ?? null };
  if (parseIp(ref)) return resolveIp(inv, ref);
  throw new BadInputError(`unknown endpoint "${ref}" (not in the inventory, not an IP address)${suggestPod(inv, ref)}`);
}

function nodePeer(inv: Inventory, name: string): PeerRef {
  const n = findNode(inv, name);
  if (!n) {
    const near = closest(name, (inv.nodes ?? []).map((x) => x.name));
    throw new BadInputError(`unknown node "${name}"${near ? ` (hint: did you mean node:${near}?)` : (inv.nodes ?? []).length ? '' : ' (the inventory lists no node)'}`);
  }
  return { kind: 'reserved', entity: n.local ? 'host' : 'remote-node', ip: n.ips[0] ?? null };
}

function suggestPod(inv: Inventory, ref: string): string {
  if (findService(inv, ref)) return ` (hint: "${ref}" is a Service: write svc:${ref})`;
  const names = [...inv.endpoints, ...(inv.hostPods ?? [])].flatMap((e) => [e.name, `${e.namespace}/${e.name}`]);
  const near = closest(ref, names);
  return near ? ` (hint: did you mean "${near}"?)` : '';
}

/** `--to REF:PORT`: one destination, or the backends of a Service. */
export function resolveTo(inv: Inventory, to: string, protocol: string): { readonly service: ServiceTarget | null; readonly targets: readonly Target[] } {
  const { ref, port } = splitPort(to);
  const ip = parseIp(ref);
  const byIp = ip ? serviceByClusterIp(inv, ip) : null;
  if (ref.startsWith('svc:') || byIp) {
    const service = serviceTarget(inv, byIp ?? serviceNamed(inv, ref.slice('svc:'.length)), port, protocol);
    return { service, targets: service.backends };
  }
  return { service: null, targets: [{ dst: resolvePeer(inv, ref), port }] };
}

export function splitPort(to: string): { ref: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(to);
  if (!m?.[1] || !m[2]) throw new BadInputError(`--to must be POD:PORT, svc:SERVICE:PORT or IP:PORT, got "${to}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new BadInputError(`--to "${to}": port ${m[2]} is not in 1..65535`);
  return { ref: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function serviceNamed(inv: Inventory, ref: string): Service {
  const s = findService(inv, ref);
  if (s) return s;
  const all = inv.services ?? [];
  // `web.shop` is how DNS names it; explain names it as pods are named: shop/web
  const dns = all.find((x) => ref === `${x.name}.${x.namespace}` || ref.startsWith(`${x.name}.${x.namespace}.svc`));
  const near = dns ? `${dns.namespace}/${dns.name}` : closest(ref, all.flatMap((x) => [x.name, `${x.namespace}/${x.name}`]));
  const hint = near ? ` (hint: did you mean svc:${near}?)` : all.length ? '' : ' (the inventory lists no Service; hint: kubectl get pods,nodes,services -A -o json)';
  throw new BadInputError(`unknown service "${ref}"${hint}`);
}

function serviceTarget(inv: Inventory, s: Service, port: number, protocol: string): ServiceTarget {
  const name = `${s.namespace}/${s.name}`;
  const sp = s.ports.find((p) => p.port === port && p.protocol === protocol);
  if (!sp) throw new BadInputError(`service ${name} has no port ${port}/${protocol} (its ports: ${s.ports.map((p) => `${p.port}/${p.protocol}`).join(', ') || 'none'})`);
  if (s.selector === null) throw new BadInputError(`service ${name} has no selector: its backends are Endpoints objects l7bpf does not read (hint: --to a backend pod or IP)`);
  const backends = serviceBackends(inv, s).flatMap((e): Target[] => {
    // a named targetPort is each pod's own container port of that name; a pod without it is no backend
    const target = typeof sp.targetPort === 'number' ? sp.targetPort : e.namedPorts[sp.targetPort];
    return target === undefined ? [] : [{ dst: { kind: 'endpoint', endpoint: e, ip: e.ips[0] ?? null }, port: target }];
  });
  if (backends.length === 0) throw new BadInputError(`service ${name} port ${port} has no backend pod in the inventory (selector ${JSON.stringify(s.selector)}, targetPort ${sp.targetPort})`);
  return { service: s, port: sp, backends };
}
