// Generators for oracle properties: policies as plain objects over a small universe of
// labels, ports, methods and paths, turned into YAML (JSON is YAML) and parsed by the real
// parser, so every generated policy is one a user could write.
import fc from 'fast-check';
import { parsePolicies, hasErrors, formatDiagnostic, type Policy } from '../../src/policy/index.ts';
import { parseInventory, type Inventory } from '../../src/endpoints/index.ts';
import { parseRequestHead, resolveIp, type Flow, type L7Input, type PeerRef } from '../../src/verdict/index.ts';

export const SEED = 7_240_611;

export const INVENTORY_YAML = `
endpoints:
  - {name: a1, namespace: ns1, labels: {app: a}, ips: [10.1.0.1], namedPorts: {web: 80}}
  - {name: a2, namespace: ns2, labels: {app: a}, ips: [10.1.0.2]}
  - {name: b1, namespace: ns1, labels: {app: b, tier: x}, ips: [10.1.0.3]}
  - {name: c1, namespace: ns2, labels: {app: c, tier: y}, ips: [10.1.0.4]}
reserved:
  - {entity: host, ips: [10.0.255.1]}
  - {entity: remote-node, ips: [10.0.255.2]}
`;

export const inventory: Inventory = parseInventory(INVENTORY_YAML, 'property-inventory.yaml').inventory;
const PEER_IPS = ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.4', '8.8.8.8', '192.168.1.1', '10.0.255.1', '10.0.255.2'];

type Obj = Record<string, unknown>;
export type Dir = 'ingress' | 'egress';

const selector = fc.constantFrom<Obj>(
  {},
  { matchLabels: { app: 'a' } },
  { matchLabels: { app: 'b' } },
  { matchLabels: { tier: 'x' } },
  { matchExpressions: [{ key: 'tier', operator: 'Exists' }] },
  { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['a'] }] },
  { matchLabels: { app: 'a', 'io.kubernetes.pod.namespace': 'ns2' } },
);

function peer(dir: Dir): fc.Arbitrary<Obj> {
  const p = dir === 'ingress' ? 'from' : 'to';
  return fc.oneof(
    fc.constant({}),
    selector.map((s) => ({ [`${p}Endpoints`]: [s] })),
    fc.constant({ [`${p}Endpoints`]: [] }),
    fc.constantFrom('world', 'cluster', 'all', 'host', 'remote-node').map((e) => ({ [`${p}Entities`]: [e] })),
    fc.constantFrom('8.8.8.0/24', '0.0.0.0/0', '192.168.0.0/16').map((c) => ({ [`${p}CIDR`]: [c] })),
  );
}

const httpRule = fc
  .record(
    {
      method: fc.constantFrom('GET', 'POST', 'GET|HEAD'),
      path: fc.constantFrom('/', '/a', '/a/.*', '/b', '/a\\?x=1'),
      headers: fc.constantFrom(['X-K: 1'], ['X-K']),
    },
    { requiredKeys: [] },
  );

const l4Port = fc.oneof(
  fc.constantFrom('80', '8080', 'web').map((port) => ({ port, protocol: 'TCP' })),
  fc.constantFrom('TCP', 'UDP').map((protocol) => ({ port: '8000', endPort: 8090, protocol })),
  fc.constant({ port: '80' }),
);

/** toPorts entries; L7 rules only in allow sections and only on TCP ports. */
function portRules(deny: boolean): fc.Arbitrary<Obj[]> {
  const l4 = fc.array(l4Port, { minLength: 1, maxLength: 2 }).map((ports) => ({ ports }));
  const l7 = fc.tuple(fc.constantFrom('80', '8080'), fc.array(httpRule, { minLength: 1, maxLength: 3 })).map(([port, http]) => ({
    ports: [{ port, protocol: 'TCP' }],
    rules: { http },
  }));
  return fc.array(deny ? l4 : fc.oneof(l4, l7), { minLength: 1, maxLength: 2 });
}

export function rule(dir: Dir, deny: boolean): fc.Arbitrary<Obj> {
  return fc.tuple(peer(dir), fc.option(portRules(deny), { nil: undefined })).map(([p, ports]) => (ports ? { ...p, toPorts: ports } : p));
}

const SECTIONS = ['ingress', 'egress', 'ingressDeny', 'egressDeny'] as const;

const spec = fc
  .record({
    endpointSelector: selector,
    ingress: fc.array(rule('ingress', false), { minLength: 1, maxLength: 3 }),
    egress: fc.array(rule('egress', false), { minLength: 1, maxLength: 3 }),
    ingressDeny: fc.array(rule('ingress', true), { minLength: 1, maxLength: 2 }),
    egressDeny: fc.array(rule('egress', true), { minLength: 1, maxLength: 2 }),
    enableDefaultDeny: fc.constantFrom({ ingress: false }, { egress: false }),
  }, { requiredKeys: ['endpointSelector'] })
  .filter((s) => SECTIONS.some((k) => k in s));

export const policyObj: fc.Arbitrary<Obj> = fc
  .tuple(fc.constantFrom('ns1', 'ns2', null), spec, fc.nat(999))
  .map(([ns, s, n]) => ({
    apiVersion: 'cilium.io/v2',
    kind: ns === null ? 'CiliumClusterwideNetworkPolicy' : 'CiliumNetworkPolicy',
    metadata: ns === null ? { name: `p${n}` } : { name: `p${n}`, namespace: ns },
    spec: s,
  }));

export const policySet = fc.array(policyObj, { minLength: 0, maxLength: 4 });

/** Parses generated policy objects; a generator bug shows as a thrown error, not a skip. */
export function parse(objs: readonly Obj[]): Policy[] {
  const text = objs.map((o) => JSON.stringify(o)).join('\n---\n');
  const r = parsePolicies(text, 'generated.yaml');
  if (hasErrors(r.diagnostics)) throw new Error(`generated policy rejected:\n${r.diagnostics.map(formatDiagnostic).join('\n')}\n${text}`);
  return [...r.policies];
}

export function peerRef(ip: string): PeerRef {
  return resolveIp(inventory, ip);
}

export const flow: fc.Arbitrary<Flow> = fc
  .record({ src: fc.constantFrom(...PEER_IPS), dst: fc.constantFrom(...PEER_IPS), port: fc.constantFrom(80, 8080, 8085, 9090), udp: fc.boolean() })
  .filter((f) => f.src !== f.dst)
  .map((f) => ({ src: peerRef(f.src), dst: peerRef(f.dst), dstPort: f.port, protocol: f.udp ? 'UDP' : 'TCP' }));

export interface GenRequest {
  readonly text: string;
  readonly input: L7Input | undefined;
}

export const request: fc.Arbitrary<GenRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'POST', 'HEAD', 'DELETE'),
    target: fc.constantFrom('/', '/a', '/a/b', '/b', '/a?x=1', '/a/../b'),
    k: fc.constantFrom(null, '1', '2'),
    none: fc.boolean(),
  })
  .map(({ method, target, k, none }) => {
    if (none) return { text: 'connection', input: undefined };
    const head = `${method} ${target} HTTP/1.1\r\nHost: h\r\n${k ? `X-K: ${k}\r\n` : ''}\r\n`;
    const r = parseRequestHead(Buffer.from(head, 'latin1'));
    if (r.kind === 'incomplete') throw new Error('generated an incomplete head');
    const input: L7Input = r.kind === 'ok' ? { kind: 'request', request: r.request } : { kind: 'violation', violation: r.violation };
    return { text: `${method} ${target}${k ? ` [X-K: ${k}]` : ''}`, input };
  });

export const traffic = fc.array(fc.tuple(flow, request), { minLength: 1, maxLength: 6 });

export { SECTIONS };
