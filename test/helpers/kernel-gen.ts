// Random policies and requests in a small universe (apps a, b, c and one world address;
// ports 80 and 8080) for the kernel == simulator == oracle differential test. Requests are
// built as wire bytes: mostly valid, many breaking one strict rule, some breaking several.
import fc from 'fast-check';
import { hasErrors, formatDiagnostic, type Policy } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import { decideConnection, verdictFor, resolveIp } from '../../src/verdict/index.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';

export const DIFF_ENDPOINTS = `endpoints:
  - {name: a-1, namespace: default, labels: {app: a}, ips: [10.0.0.1, "fd00::1"]}
  - {name: b-1, namespace: default, labels: {app: b}, ips: [10.0.0.2, "fd00::2"]}
  - {name: c-1, namespace: default, labels: {app: c}, ips: [10.0.0.3, "fd00::3"]}
reserved: []`;

export const WORLD_V4 = '192.0.2.10';
export const WORLD_V6 = '2001:db8::10';
export const PEERS = ['a-1', 'b-1', 'c-1', 'world'] as const;
export type PeerName = (typeof PEERS)[number];

const APPS = ['a', 'b', 'c'] as const;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'GET|HEAD', 'P.*', 'OPTIONS'];
const PATHS = ['/api/v[0-9]+/.*', '/api/v1/users', '/public/.*', '/', '/admin(/.*)?', '/api/.*\\?x=1', '\\*', '/[a-z]+'];
const HOSTS = ['backend', 'api\\.example\\.com(:8080)?', '.*\\.example\\.com', 'b-1:8080'];
const HEADERS = ['X-Token: abc', 'X-Token', 'x-mode: fast', 'X-Empty'];

const jsonList = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

const httpRule = fc
  .record(
    {
      method: fc.constantFrom(...METHODS),
      path: fc.constantFrom(...PATHS),
      host: fc.constantFrom(...HOSTS),
      headers: fc.uniqueArray(fc.constantFrom(...HEADERS), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((r) => {
    const parts = [
      r.method !== undefined ? `method: ${JSON.stringify(r.method)}` : '',
      r.path !== undefined ? `path: ${JSON.stringify(r.path)}` : '',
      r.host !== undefined ? `host: ${JSON.stringify(r.host)}` : '',
      r.headers?.length ? `headers: ${jsonList(r.headers)}` : '',
    ].filter(Boolean);
    return `{${parts.join(', ')}}`;
  });

const portsRule = fc.record({
  ports: fc.uniqueArray(fc.constantFrom('80', '8080'), { minLength: 1, maxLength: 2 }),
  http: fc.option(fc.array(httpRule, { minLength: 1, maxLength: 3 }), { freq: 4 }),
});

function peerLines(dir: 'ingress' | 'egress', peer: string | null): string {
  if (peer === null) return '';
  if (peer === 'world') return `${dir === 'ingress' ? 'fromEntities' : 'toEntities'}: [world]`;
  return `${dir === 'ingress' ? 'fromEndpoints' : 'toEndpoints'}: [{matchLabels: {app: ${peer}}}]`;
}

const ruleArb = (dir: 'ingress' | 'egress') =>
  fc.record({ peer: fc.option(fc.constantFrom<string>(...APPS, 'world'), { freq: 5 }), ports: fc.option(portsRule, { freq: 8 }) }).map(({ peer, ports }) => {
    const head = peerLines(dir, peer);
    const lines: string[] = [];
    if (ports) {
      const p = ports.ports.map((n) => `{port: "${n}", protocol: TCP}`).join(', ');
      lines.push(`toPorts:`, `  - ports: [${p}]`);
      if (ports.http) lines.push(`    rules:`, `      http:`, ...ports.http.map((h) => `        - ${h}`));
    }
    if (!head && !lines.length) return `    - {}`;
    const all = head ? [head, ...lines] : lines;
    return all.map((l, i) => `${i === 0 ? '    - ' : '      '}${l}`).join('\n');
  });

const denyArb = (dir: 'ingress' | 'egress') =>
  fc.record({ peer: fc.constantFrom<string>(...APPS, 'world'), port: fc.constantFrom('80', '8080') }).map(
    ({ peer, port }) => `    - ${peerLines(dir, peer)}\n      toPorts: [{ports: [{port: "${port}", protocol: TCP}]}]`,
  );

const specArb = fc.record({
    app: fc.constantFrom(...APPS),
    ingress: fc.option(fc.array(ruleArb('ingress'), { minLength: 1, maxLength: 3 }), { freq: 5 }),
    egress: fc.option(fc.array(ruleArb('egress'), { minLength: 1, maxLength: 2 }), { freq: 3 }),
    ingressDeny: fc.option(denyArb('ingress'), { freq: 6 }),
  observeOnly: fc.option(fc.constantFrom('ingress', 'egress'), { freq: 5 }),
});

/** A multi-document policy YAML (1-3 CNPs). */
export const policyYaml = fc.array(specArb, { minLength: 1, maxLength: 3 }).map((specs) =>
  specs
    .map((s, i) => {
      const lines = [
        'apiVersion: cilium.io/v2',
        'kind: CiliumNetworkPolicy',
        `metadata: {name: p${i}, namespace: default}`,
        'spec:',
        `  endpointSelector: {matchLabels: {app: ${s.app}}}`,
      ];
      if (s.observeOnly) lines.push(`  enableDefaultDeny: {${s.observeOnly}: false}`);
      if (s.ingress) lines.push('  ingress:', ...s.ingress);
      if (s.egress) lines.push('  egress:', ...s.egress);
      if (s.ingressDeny) lines.push('  ingressDeny:', s.ingressDeny);
      if (!s.ingress && !s.egress && !s.ingressDeny) lines.push('  ingress:', '    - {}');
      return lines.join('\n');
    })
    .join('\n---\n'),
);

const TARGETS = [
  '/api/v1/users', '/api/v2/items?x=1', '/api/v10/a/b', '/public/app.css', '/', '/admin', '/admin/x', '/api/?x=1', '/abc', '*',
  // strict-rule breakers
  '/api//v1', '/api/./v1', '/api/v1/..', '/api/%2e%2e/x', '/api/%41', '/api\\v1', '/api/%zz', '/api/v1?q=%z', 'http://b/api/v1',
  '/api/<x>', '/api/v1#f', '/a\u00e9', '*x', '', '/api/v1?a=/../',
];
const REQ_METHODS = ['GET', 'GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'FOO', 'get', 'G@T', 'M-SEARCH'];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.12', 'http/1.1'];
const HOST_VALUES = ['backend', 'api.example.com', 'api.example.com:8080', 'x.example.com', 'b-1:8080', '', ' backend '];
const EXTRA_HEADERS = [
  'X-Token: abc', 'X-Token: abc', 'X-Token: def', 'x-token:abc  ', 'x-mode: fast', 'X-Mode: slow', 'X-Empty:', 'Accept: */*',
  'Content-Length: 3', 'Content-Length: 0', 'Content-Length: x', 'Content-Length: 1 2', 'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip', 'Upgrade: websocket', 'X-A : b', ' folded', 'X@Y: z', 'X-Ctl: a\u0001b', 'NoColon',
];

/** Raw edits that break framing: a bare CR or LF, or a doubled line ending. */
const MUTATIONS = ['none', 'none', 'none', 'bare-lf', 'bare-cr', 'lead-crlf', 'lead-space'] as const;

export interface GenRequest {
  readonly bytes: Uint8Array;
  readonly splitAt: readonly number[];
}

function body(headers: readonly string[]): string {
  const cl = headers.filter((h) => /^content-length:/i.test(h));
  const te = headers.filter((h) => /^transfer-encoding:/i.test(h));
  if (te.length === 1 && cl.length === 0 && /chunked$/.test(te[0]!)) return '3\r\nabc\r\n0\r\n\r\n';
  if (cl.length === 1 && te.length === 0 && /: 3$/.test(cl[0]!)) return 'abc';
  return '';
}

function mutate(head: string, m: (typeof MUTATIONS)[number], at: number): string {
  const lines = [...head.matchAll(/\r\n/g)].map((x) => x.index);
  const pick = lines[Math.floor(at * lines.length)] ?? 0;
  switch (m) {
    case 'none':
      return head;
    case 'bare-lf':
      return head.slice(0, pick) + head.slice(pick + 1);
    case 'bare-cr':
      return head.slice(0, pick + 1) + 'x' + head.slice(pick + 1);
    case 'lead-crlf':
      return '\r\n' + head;
    case 'lead-space':
      return ' ' + head;
  }
}

export const requestArb: fc.Arbitrary<GenRequest> = fc
  .record({
    method: fc.constantFrom(...REQ_METHODS),
    target: fc.constantFrom(...TARGETS),
    version: fc.constantFrom(...VERSIONS),
    hosts: fc.array(fc.constantFrom(...HOST_VALUES), { maxLength: 2 }),
    headers: fc.array(fc.constantFrom(...EXTRA_HEADERS), { maxLength: 3 }),
    mutation: fc.constantFrom(...MUTATIONS),
    at: fc.double({ min: 0, max: 0.999, noNaN: true }),
    cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 4 }),
  })
  .map((r) => {
    const hs = [...r.hosts.map((h) => `Host: ${h}`), ...r.headers];
    const head = mutate([`${r.method} ${r.target} ${r.version}`, ...hs].join('\r\n') + '\r\n\r\n', r.mutation, r.at);
    const text = head + body(hs);
    const bytes = Buffer.from(text, 'latin1');
    const splitAt = [...new Set(r.cuts.map((x) => Math.floor(x * bytes.length)).filter((x) => x > 0 && x < bytes.length))].sort((a, b) => a - b);
    return { bytes, splitAt };
  });

export const connArb = fc
  .record({ client: fc.constantFrom(...PEERS), server: fc.constantFrom(...PEERS), port: fc.constantFrom(80, 8080), v6: fc.boolean() })
  .filter((c) => c.client !== c.server && !(c.client === 'world' && c.server === 'world'));

/** The universe's inventory (DIFF_ENDPOINTS), parsed. */
export const diffInventory = (() => {
  const r = parseInventory(DIFF_ENDPOINTS, 'differential(endpoints)');
  if (hasErrors(r.diagnostics)) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.inventory;
})();

export function peerOf(name: PeerName, v6: boolean): PeerRef {
  const inv = diffInventory;
  if (name === 'world') return resolveIp(inv, v6 ? WORLD_V6 : WORLD_V4);
  const ep = inv.endpoints.find((e) => e.name === name)!;
  return { kind: 'endpoint', endpoint: ep, ip: ep.ips.find((a) => a.text.includes(':') === v6) ?? null };
}

export type Conn = { client: PeerName; server: PeerName; port: number; v6: boolean };

/** Connections the policy inspects get three quarters of the cases: that is where the framer is tested. */
export function connsFor(policies: readonly Policy[]): fc.Arbitrary<Conn> {
  const inspected: Conn[] = [];
  for (const client of PEERS) for (const server of PEERS) for (const port of [80, 8080]) {
    if (client === server || (client === 'world' && server === 'world')) continue;
    const flow = { src: peerOf(client, false), dst: peerOf(server, false), dstPort: port, protocol: 'TCP' as const };
    const v = verdictFor(flow, decideConnection(policies, flow));
    if (v.allowed && v.inspected) inspected.push({ client, server, port, v6: false }, { client, server, port, v6: true });
  }
  return inspected.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...inspected) }, { weight: 1, arbitrary: connArb }) : connArb;
}

