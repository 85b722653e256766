// Issue 15, `check` hints that pointed the wrong way: icmps and authentication are not peers,
// a DNS rule is not an HTTP rule missing TCP, podSelector comes from Kubernetes
// NetworkPolicy (not a typo of nodeSelector); and two policies with one name in one namespace.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies, formatDiagnostic } from '../../src/policy/index.ts';
import { lintPolicies } from '../../src/check/lint.ts';

const doc = (name: string, spec: string, ns = 'default') => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec}`;

const errors = (yaml: string) => parsePolicies(yaml, 'p.yaml').diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);

describe('check hints', () => {
  it('icmps: not a peer; says ICMP types are not matched and how a rule allows ICMP', () => {
    const e = errors(doc('p', '  endpointSelector: {}\n  ingress:\n    - fromEntities: [cluster]\n      icmps: [{fields: [{type: 8}]}]\n'));
    assert.equal(e.length, 1);
    assert.match(e[0]!, /"icmps" is not supported by l7bpf: it does not match ICMP types/);
    assert.doesNotMatch(e[0]!, /express the peer/);
  });

  it('authentication: not a peer; says there is no authentication handshake', () => {
    const e = errors(doc('p', '  endpointSelector: {}\n  ingress:\n    - fromEntities: [cluster]\n      authentication: {mode: required}\n'));
    assert.equal(e.length, 1);
    assert.match(e[0]!, /"authentication" \(mutual authentication\) is not supported by l7bpf: it has no authentication handshake/);
    assert.doesNotMatch(e[0]!, /express the peer/);
  });

  it('a DNS rule on UDP/53 is told dns rules are not enforced, not to add protocol TCP', () => {
    const spec = '  endpointSelector: {}\n  egress:\n    - toEntities: [cluster]\n      toPorts:\n        - ports: [{port: "53", protocol: UDP}]\n          rules:\n            dns: [{matchPattern: "*"}]\n';
    const e = errors(doc('p', spec));
    assert.deepEqual(e.length, 1, e.join('\n'));
    assert.match(e[0]!, /^p\.yaml:11:18: error: rules\.dns is not enforced by l7bpf: it judges HTTP and gRPC requests, not DNS queries/);
    assert.doesNotMatch(e[0]!, /protocol: TCP\)$/);
    assert.match(e[0]!, /hint: to allow DNS, keep toPorts .*without rules/);
  });

  it('podSelector: Kubernetes NetworkPolicy\'s field, endpointSelector in Cilium; never "did you mean nodeSelector"', () => {
    const e = errors(doc('p', '  podSelector: {matchLabels: {app: web}}\n  ingress: [{fromEntities: [world]}]\n'));
    const hint = e.find((x) => x.includes('"podSelector"'));
    assert.ok(hint, e.join('\n'));
    assert.match(hint, /Kubernetes NetworkPolicy's field; a CiliumNetworkPolicy selects its pods with endpointSelector/);
    assert.doesNotMatch(hint, /nodeSelector/);
  });
});

describe('duplicate policy names (check)', () => {
  const spec = '  endpointSelector: {}\n  ingress: [{fromEntities: [world]}]\n';
  const lint = (yaml: string) => {
    const r = parsePolicies(yaml, 'p.yaml');
    assert.deepEqual(r.diagnostics, []);
    return lintPolicies(r.policies).filter((d) => d.code === 'duplicate-policy').map(formatDiagnostic);
  };

  it('two CiliumNetworkPolicies with one name in one namespace: an error at the second, naming the first', () => {
    assert.deepEqual(lint(`${doc('a', spec)}---\n${doc('a', spec)}`), [
      'p.yaml:8:1: error: CiliumNetworkPolicy default/a is also defined at p.yaml:1:1; Kubernetes keeps only the one applied last, l7bpf would enforce both (hint: rename one of them, or merge their rules into one policy)',
    ]);
  });

  it('the same name in another namespace, or another name, is fine', () => {
    assert.deepEqual(lint(`${doc('a', spec)}---\n${doc('a', spec, 'other')}---\n${doc('b', spec)}`), []);
  });
});
