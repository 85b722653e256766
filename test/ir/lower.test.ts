// lower() + the IR interpreter agree with the oracle on every spec case.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { lower } from '../../codegen/ir/lower.ts';
import { LowerError } from '../../codegen/ir/limits.ts';
import { parsePolicies } from '../../src/policy/index.ts';
import { readSpecFile } from '../helpers/spec-format.ts';
import { caseFlow, caseRequest, evaluateCase, l7Inputs } from '../helpers/spec-eval.ts';
import { irAllowed } from '../helpers/ir-verdict.ts';

const specDir = join(import.meta.dirname, '..', 'spec');

describe('lower(): the IR decides like the oracle on every spec case', () => {
  for (const f of readdirSync(specDir).filter((x) => x.endsWith('.md')).sort()) {
    it(f, () => {
      const spec = readSpecFile(join(specDir, f));
      let ir;
      try {
        ir = lower(spec.policies);
      } catch (e) {
        // named ports cannot be compiled without the inventory: the oracle alone covers them
        if (e instanceof LowerError && /named port/.test(e.message)) return;
        throw e;
      }
      for (const c of spec.cases) {
        const flow = caseFlow(spec, c);
        const oracle = evaluateCase(spec, c);
        const inputs = l7Inputs(caseRequest(c));
        const kernelModel: boolean = inputs.length === 0 ? irAllowed(ir, flow, undefined) : inputs.every((input) => irAllowed(ir, flow, input));
        assert.equal(kernelModel, oracle.allowed, `${c.file}:${c.line}: ${c.request || 'connection'} from ${c.from} to ${c.to}: IR says ${kernelModel ? 'allowed' : 'denied'}, oracle ${oracle.allowed ? 'allowed' : 'denied'} (${oracle.reason})`);
      }
    });
  }
});

describe('lower(): structure', () => {
  const yaml = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET, path: /a, headers: ["X-A: 1"]}, {method: POST}]}}]
    - fromEntities: [world]
  ingressDeny:
    - fromCIDRSet: [{cidr: 10.9.0.0/16, except: [10.9.1.0/24]}]
      toPorts: [{ports: [{port: "22", protocol: TCP}]}]
`;
  const ir = lower(parsePolicies(yaml, 'p.yaml').policies);

  it('numbers selectors in first-use order and marks the local selector enforced', () => {
    assert.deepEqual(ir.selectors.map((s) => s.description), [
      'app=backend,io.kubernetes.pod.namespace=default',
      'app=frontend,io.kubernetes.pod.namespace=default',
      'entity:world',
      'cidr:10.9.0.0/16 except 10.9.1.0/24',
    ]);
    assert.deepEqual(ir.ingress.enforced, [0]);
    assert.deepEqual(ir.egress.enforced, []);
  });

  it('emits one row per peer x port with the right action', () => {
    assert.deepEqual(ir.ingress.entries.map((e) => [e.local, e.peer, e.portLo, e.portHi, e.proto, e.action.kind]), [
      [0, 1, 8080, 8080, 'TCP', 'l7'],
      [0, 2, 0, 65535, 'ANY', 'allow'],
      [0, 3, 22, 22, 'TCP', 'deny'],
    ]);
  });

  it('compiles one pattern per http rule into each field DFA', () => {
    assert.equal(ir.httpRules.length, 2);
    assert.equal(ir.matchers.method.patterns, 2);
    assert.equal(ir.matchers.headerName.patterns, 1);
    assert.deepEqual(ir.headerReqs, [{ index: 0, name: 'x-a', value: '1' }]);
  });

  it('is deterministic', () => {
    const again = lower(parsePolicies(yaml, 'p.yaml').policies);
    assert.deepEqual(again, ir);
  });

  it('rejects named ports with a typed error', () => {
    const named = yaml.replace('port: "8080"', 'port: http');
    assert.throws(() => lower(parsePolicies(named, 'p.yaml').policies), LowerError);
  });
});
