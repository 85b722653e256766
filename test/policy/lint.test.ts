// `l7bpf check` lints: valid policies that rarely mean what their author meant.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies, formatDiagnostic, type Diagnostic } from '../../src/policy/index.ts';
import { lintPolicies } from '../../src/check/lint.ts';
import { fullMatch } from '../../src/policy/regex.ts';
import { parseInventory } from '../../src/endpoints/index.ts';

function policy(ingress: string, selector = '{matchLabels: {app: backend}}'): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: default}
spec:
  endpointSelector: ${selector}
  ingress:
${ingress}
`;
}

function lint(yaml: string, endpointsYaml?: string): Diagnostic[] {
  const r = parsePolicies(yaml, 'p.yaml');
  assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  const eps = endpointsYaml ? parseInventory(endpointsYaml, 'e.yaml').inventory.endpoints : undefined;
  return lintPolicies(r.policies, eps);
}

const codes = (ds: readonly Diagnostic[]) => ds.map((d) => d.code);
const http = (rule: string, from = '{matchLabels: {app: frontend}}', port = '8080') =>
  `    - fromEndpoints: [${from}]\n      toPorts:\n        - ports: [{port: "${port}", protocol: TCP}]\n          rules: {http: [${rule}]}`;
const l4 = (from = '{matchLabels: {app: frontend}}', port = '8080') => `    - fromEndpoints: [${from}]\n      toPorts: [{ports: [{port: "${port}", protocol: TCP}]}]`;

describe('lints', () => {
  it('glob-regex: "/api/v1/*" is a regex that matches "/api/v1///", not "/api/v1/users"', () => {
    assert.ok(fullMatch('/api/v1/*', '/api/v1///'));
    assert.ok(!fullMatch('/api/v1/*', '/api/v1/users'));
    const ds = lint(policy(http('{path: "/api/v1/*"}')));
    assert.deepEqual(codes(ds), ['glob-regex']);
    assert.match(formatDiagnostic(ds[0]!), /^p\.yaml:\d+:\d+: warning: path "\/api\/v1\/\*" is a regex, not a glob.*\(hint: write "\/api\/v1\/\.\*"\)$/);
  });

  it('glob-regex stays quiet for real regexes', () => {
    assert.deepEqual(lint(policy(http('{path: "/api/v1/.*"}'))), []);
    assert.deepEqual(lint(policy(http('{path: "/api/v[12]/users"}'))), []);
  });

  it('host-dot: an unescaped dot in host matches any character', () => {
    const ds = lint(policy(http('{host: "api.example.com"}')));
    assert.deepEqual(codes(ds), ['host-dot']);
    assert.match(ds[0]!.hint ?? '', /api\\\.example\\\.com/);
    assert.deepEqual(lint(policy(http(String.raw`{host: 'api\.example\.com'}`))), []);
    assert.deepEqual(lint(policy(http(String.raw`{host: '.*\.example\.com'}`))), []);
    assert.deepEqual(lint(policy(http(String.raw`{host: 'api[.]example[.]com'}`))), []);
  });

  it('shadowed: http rules under an L4-only rule for the same peer and port', () => {
    const ds = lint(policy(`${http('{method: GET}')}\n${l4()}`));
    assert.deepEqual(codes(ds), ['shadowed']);
    assert.match(ds[0]!.message, /p\.yaml:\d+/);
  });

  it('shadowed also across policies selecting the same endpoints, and by an L3-only rule', () => {
    const other = policy('    - fromEndpoints: [{matchLabels: {app: frontend}}]').replace('name: p,', 'name: q,');
    assert.deepEqual(codes(lint(`${policy(http('{method: GET}'))}---\n${other}`)), ['shadowed']);
  });

  it('not shadowed by another port, another peer, or UDP', () => {
    assert.deepEqual(lint(policy(`${http('{method: GET}')}\n${l4(undefined, '9090')}`)), []);
    assert.deepEqual(lint(policy(`${http('{method: GET}')}\n${l4('{matchLabels: {app: db}}')}`)), []);
    const udp = `    - fromEndpoints: [{matchLabels: {app: frontend}}]\n      toPorts: [{ports: [{port: "8080", protocol: UDP}]}]`;
    assert.deepEqual(lint(policy(`${http('{method: GET}')}\n${udp}`)), []);
  });

  it('no-endpoint: selectors that match no known endpoint (only with an inventory)', () => {
    const eps = 'endpoints: [{name: b, labels: {app: backend}, ips: [10.0.0.2]}, {name: f, labels: {app: frontend}, ips: [10.0.0.1]}]';
    assert.deepEqual(lint(policy(l4()), eps), []);
    const ds = lint(policy(l4('{matchLabels: {app: fronted}}'), '{matchLabels: {app: backnd}}'), eps);
    assert.deepEqual(codes(ds), ['no-endpoint', 'no-endpoint']);
    assert.match(ds.map((d) => d.message).join('\n'), /endpointSelector app=backnd,io\.kubernetes\.pod\.namespace=default selects no known endpoint/);
    assert.match(ds.map((d) => d.message).join('\n'), /peer selector app=fronted,io\.kubernetes\.pod\.namespace=default selects no known endpoint/);
    assert.deepEqual(lint(policy(l4('{matchLabels: {app: fronted}}'), '{matchLabels: {app: backnd}}')), []);
  });
});
