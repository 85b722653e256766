// check warns when a policy set cannot be compiled for the kernel or nears a DFA limit.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from '../../src/policy/index.ts';
import { lintPolicies } from '../../src/check/lint.ts';

const policy = (paths: string[], port = '8080') => `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - toPorts:
        - ports: [{port: "${port}", protocol: TCP}]
          rules:
            http: [${paths.map((p) => `{path: "${p}"}`).join(', ')}]
`;

const codes = (yaml: string) => lintPolicies(parsePolicies(yaml, 'p.yaml').policies).map((d) => d.code);

it('a small policy fits', () => assert.deepEqual(codes(policy(['/a', '/b/.*'])), []));

it('named ports cannot be compiled without the inventory', () => {
  assert.deepEqual(codes(policy(['/a'], 'http')), ['not-compilable']);
});

it('DFAs near the state limit are reported', () => {
  // ".*x.{n}" needs about 2^(n+1) states; with ".*y." the path DFA has 3841 of 4096
  assert.deepEqual(codes(policy(['.*x.{8}', '.*y.'])), ['dfa-size']);
  assert.deepEqual(codes(policy(['.*x.{12}'])), ['not-compilable']);
});

it('datapath count limits are reported too (65 header requirements > 64)', () => {
  const headers = Array.from({ length: 65 }, (_, i) => `"X-H${i}: v"`).join(', ');
  const yaml = policy(['/a']).replace('{path: "/a"}', `{path: "/a", headers: [${headers}]}`);
  assert.deepEqual(codes(yaml), ['not-compilable']);
});
