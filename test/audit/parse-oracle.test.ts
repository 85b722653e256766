// Audit mode in the policy reader and the oracle: the annotation's values and positions, which
// endpoint-direction is audited (every selecting policy audited, or the deployment), audited
// and enforced policies together (the enforced decide alone), and what an audited denial is.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies, formatDiagnostic } from '../../src/policy/index.ts';
import { decide, parseRequestHead, type L7Input } from '../../src/verdict/index.ts';
import { lintPolicies } from '../../src/check/lint.ts';
import { auditPolicyYaml, parseAll, peer, auditInventory, FRONTEND, OTHER, BACKEND } from '../helpers/audit-world.ts';

const request = (line: string): L7Input => {
  const h = parseRequestHead(Buffer.from(`${line}\r\nHost: backend\r\n\r\n`, 'latin1'));
  if (h.kind === 'ok') return { kind: 'request', request: h.request };
  if (h.kind === 'violation') return { kind: 'violation', violation: h.violation };
  throw new Error('incomplete head');
};
const flow = (from: string, port = 80) => ({ src: peer(from), dst: peer(BACKEND), dstPort: port, protocol: 'TCP' as const });

describe('audit annotation', () => {
  it('"true" audits, "false" and no annotation enforce', () => {
    assert.equal(parseAll(auditPolicyYaml('a', 'true'))[0]!.audit, true);
    assert.equal(parseAll(auditPolicyYaml('a', 'false'))[0]!.audit, false);
    assert.equal(parseAll(auditPolicyYaml('a', null))[0]!.audit, false);
  });

  it('any other value is an error at the value, file:line:col', () => {
    const r = parsePolicies(auditPolicyYaml('a', 'yes'), 'p.yaml');
    const errors = r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
    assert.deepEqual(errors.map((e) => e.split(': error')[0]), ['p.yaml:6:33']);
    assert.match(errors[0]!, /annotation l7bpf\.io\/audit must be "true" or "false", got "yes"/);
    assert.equal(r.policies.length, 0, 'a policy with errors is left out');
  });

  it('an unquoted true (a YAML boolean) is an error with a hint to quote it', () => {
    const r = parsePolicies(auditPolicyYaml('a', 'true').replace('"true"', 'true'), 'p.yaml');
    const e = r.diagnostics.find((d) => d.severity === 'error')!;
    assert.equal(`${e.pos.line}:${e.pos.col}`, '6:33');
    assert.match(e.hint ?? '', /quote it: l7bpf\.io\/audit: "true"/);
  });

  it('other annotations are left alone', () => {
    const yaml = auditPolicyYaml('a', null).replace('namespace: default', 'namespace: default\n  annotations: {team: shop, note: "x"}');
    assert.equal(parseAll(yaml)[0]!.audit, false);
  });
});

describe('oracle in audit mode', () => {
  const audited = parseAll(auditPolicyYaml('audited', 'true'));
  it('a request no rule allows passes, reported as the denial it would be', () => {
    const v = decide(audited, flow(FRONTEND), request('POST /api/x HTTP/1.1'));
    assert.equal(v.allowed, true);
    assert.equal(v.audit, true);
    assert.equal(v.reason, 'l7-denied');
    assert.equal(v.deniedBy, 'ingress');
    assert.match(v.summary, /^denied: POST \/api\/x matched no http rule/);
    assert.equal(decide(audited, flow(FRONTEND), request('GET /api/x HTTP/1.1')).audit, false, 'an allowed request is not audited');
  });

  it('an L3/L4 denial passes, reported', () => {
    const v = decide(audited, flow(OTHER));
    assert.deepEqual([v.allowed, v.audit, v.reason], [true, true, 'default-deny']);
  });

  it('a strict violation passes, reported with its rule', () => {
    const v = decide(audited, flow(FRONTEND), request('GET /api//x HTTP/1.1'));
    assert.deepEqual([v.allowed, v.audit, v.reason, v.violation?.rule], [true, true, 'strict', 'path-not-canonical']);
  });

  it('the deployment audits enforced policies too (--audit)', () => {
    const enforced = parseAll(auditPolicyYaml('enforced', null));
    const v = decide(enforced, flow(FRONTEND), request('POST /api/x HTTP/1.1'), { audit: true });
    assert.deepEqual([v.allowed, v.audit, v.reason], [true, true, 'l7-denied']);
    assert.equal(decide(enforced, flow(FRONTEND), request('POST /api/x HTTP/1.1')).allowed, false);
  });

  it('audited and enforced together: the enforced decide alone, the audited rules are left out', () => {
    // the audited policy would allow /admin/.* too: a union would loosen the enforced one
    const both = parseAll(auditPolicyYaml('enforced', null) + '---\n' + auditPolicyYaml('wider', 'true', '/admin/.*'));
    const v = decide(both, flow(FRONTEND), request('GET /admin/x HTTP/1.1'));
    assert.deepEqual([v.allowed, v.audit, v.reason], [false, false, 'l7-denied']);
    assert.ok(v.chain.some((c) => /audited default\/wider left out/.test(c)), v.chain.join('\n'));
    assert.equal(decide(both, flow(FRONTEND), request('GET /api/x HTTP/1.1')).allowed, true);
    // and from another peer: the audited policy is left out, the enforced one denies
    assert.deepEqual([decide(both, flow(OTHER)).allowed, decide(both, flow(OTHER)).audit], [false, false]);
  });

  it('check warns at the audited policy, naming its selector and the enforcing policy', () => {
    const both = parseAll(auditPolicyYaml('enforced', null) + '---\n' + auditPolicyYaml('wider', 'true', '/admin/.*'));
    for (const endpoints of [undefined, auditInventory.endpoints]) {
      const w = lintPolicies(both, endpoints).filter((d) => d.code === 'audit-overridden');
      assert.equal(w.length, 1);
      assert.match(w[0]!.message, /audited policy default\/wider selects app=backend.* for ingress, and so does enforced policy default\/enforced/);
    }
    assert.equal(lintPolicies(audited).filter((d) => d.code === 'audit-overridden').length, 0);
  });
});
