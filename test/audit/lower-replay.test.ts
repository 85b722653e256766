// Audit mode past the oracle: lower() marks audited entries and selectors, the IR interpreter
// (the kernel's procedure) agrees with the oracle on mixed audit/enforced endpoint-directions,
// replay's flows carry Hubble's AUDIT and its table counts audited requests apart, and explain
// says AUDIT (would be denied: ...).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lower } from '../../codegen/ir/lower.ts';
import { decide, parseRequestHead, type L7Input } from '../../src/verdict/index.ts';
import { irOutcome } from '../helpers/ir-verdict.ts';
import { replayCapture } from '../../src/replay/run.ts';
import { tcpConn } from '../../sim/index.ts';
import { l7bpf } from '../helpers/cli.ts';
import { auditPolicyYaml, parseAll, peer, auditInventory, AUDIT_INVENTORY, FRONTEND, OTHER, BACKEND } from '../helpers/audit-world.ts';

const dir = mkdtempSync(join(tmpdir(), 'l7bpf-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const MIXED = auditPolicyYaml('enforced', null) + '---\n' + auditPolicyYaml('wider', 'true', '/admin/.*', 'other');
const input = (line: string): L7Input => {
  const h = parseRequestHead(Buffer.from(`${line}\r\nHost: backend\r\n\r\n`, 'latin1'));
  return h.kind === 'ok' ? { kind: 'request', request: h.request } : h.kind === 'violation' ? { kind: 'violation', violation: h.violation } : assert.fail('incomplete');
};

describe('lower in audit mode', () => {
  it('marks the audited policy\'s entries and selectors; enforced policies\' specs are strict', () => {
    assert.deepEqual(lower(parseAll(MIXED)).ingress.entries.map((e) => e.audit === true), [false, true]);
    const audited = lower(parseAll(auditPolicyYaml('enforced', null) + '---\n' + auditPolicyYaml('wider', 'true', '/admin/.*'))).ingress;
    assert.deepEqual(audited.entries.map((e) => e.audit === true), [false, true]);
    // one selector (app=backend) for both: it is strict, and audited, and turns default deny on
    assert.deepEqual(audited.audit, { selectors: [0], enforced: [0], strict: [0] });
    assert.deepEqual(audited.enforced, [0]);
    assert.equal(lower(parseAll(auditPolicyYaml('enforced', null))).ingress.audit, undefined, 'no audited policy: nothing to test at run time');
  });

  it('the IR interpreter agrees with the oracle, audited / mixed / deployment-wide', () => {
    const sets = [auditPolicyYaml('audited', 'true'), MIXED, auditPolicyYaml('enforced', null) + '---\n' + auditPolicyYaml('wider', 'true', '/admin/.*')];
    const lines = ['GET /api/x HTTP/1.1', 'GET /admin/x HTTP/1.1', 'POST /api/x HTTP/1.1', 'GET /a//b HTTP/1.1'];
    for (const yaml of sets) {
      const policies = parseAll(yaml);
      const ir = lower(policies);
      for (const deployAudit of [false, true]) for (const from of [FRONTEND, OTHER]) for (const line of [null, ...lines]) {
        const f = { src: peer(from), dst: peer(BACKEND), dstPort: 80, protocol: 'TCP' as const };
        const i = line === null ? undefined : input(line);
        const v = decide(policies, f, i, { audit: deployAudit });
        const want = !v.allowed ? 'denied' : v.audit ? 'audit' : 'allowed';
        assert.equal(irOutcome(ir, f, i, deployAudit), want, `${from} ${line} --audit=${deployAudit}: ${v.summary}\n${yaml}`);
      }
    }
  });
});

/** One keep-alive connection frontend -> backend:80: an allowed GET, then a POST no rule allows. */
function capture(): string {
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const c = tcpConn({ client: `${FRONTEND}:40000`, server: `${BACKEND}:80` }).handshake();
  c.send('GET /api/x HTTP/1.1\r\nHost: backend\r\n\r\n').recv(ok).ackOnly('client');
  c.send('POST /api/x HTTP/1.1\r\nHost: backend\r\nContent-Length: 0\r\n\r\n').recv(ok).ackOnly('client');
  const path = join(dir, 'audit.pcap');
  writeFileSync(path, c.close().pcap());
  return path;
}

describe('replay and explain in audit mode', () => {
  const cap = capture();
  const run = (yaml: string, audit = false) => {
    const lines: string[] = [];
    const r = replayCapture(cap, { policies: parseAll(yaml), inventory: auditInventory, onFlowLine: (l) => lines.push(l), ...(audit ? { audit } : {}) });
    const requests = lines.map((l) => JSON.parse(l).flow).filter((f) => f.l7?.type === 'REQUEST');
    return { r, requests };
  };

  it('the denied request passes (the server answers it) and its flow is AUDIT, as the denial', () => {
    const { r, requests } = run(auditPolicyYaml('audited', 'true'));
    assert.deepEqual(requests.map((f) => f.verdict), ['FORWARDED', 'AUDIT']);
    assert.deepEqual(requests[1].ingress_denied_by, [{ name: 'audited', namespace: 'default', kind: 'CiliumNetworkPolicy' }]);
    const responses = r.rows.map((x) => `${x.line} ${x.allowed} ${x.audit === true} ${x.reason}`);
    assert.deepEqual(responses, ['GET /api/x true false allowed', 'POST /api/x true true l7-no-rule']);
    const table = r.summary.render();
    assert.match(table, /RULE\s+ALLOWED\s+DENIED\s+AUDIT/);
    assert.match(table, /2 request\(s\): 1 allowed, 0 denied; 0 connection\(s\) denied at L3\/L4; audit mode let 1 request\(s\) and 0 connection\(s\) pass/);
    assert.match(table, /POST \/api\/x .* AUDIT l7-no-rule/);
  });

  it('replay --audit audits an enforced policy; without it the request is denied', () => {
    assert.deepEqual(run(auditPolicyYaml('enforced', null), true).requests.map((f) => f.verdict), ['FORWARDED', 'AUDIT']);
    assert.deepEqual(run(auditPolicyYaml('enforced', null)).requests.map((f) => f.verdict), ['FORWARDED', 'DROPPED']);
  });

  it('an L3/L4 denial in audit mode: a policy-verdict flow with verdict AUDIT', () => {
    const c = tcpConn({ client: `${OTHER}:40000`, server: `${BACKEND}:80` }).handshake();
    const path = join(dir, 'l4.pcap');
    writeFileSync(path, c.close().pcap());
    const lines: string[] = [];
    replayCapture(path, { policies: parseAll(auditPolicyYaml('audited', 'true')), inventory: auditInventory, onFlowLine: (l) => lines.push(l) });
    const f = JSON.parse(lines[0]!).flow;
    assert.deepEqual([f.verdict, f.event_type.type, f.drop_reason_desc, f.ingress_denied_by?.[0]?.name], ['AUDIT', 5, 'POLICY_DENIED', 'audited']);
  });

  it('explain: AUDIT (would be denied: ...), exit 0; --audit on an enforced policy', () => {
    const pol = join(dir, 'audited.yaml');
    const enf = join(dir, 'enforced.yaml');
    const inv = join(dir, 'inv.yaml');
    writeFileSync(pol, auditPolicyYaml('audited', 'true'));
    writeFileSync(enf, auditPolicyYaml('enforced', null));
    writeFileSync(inv, AUDIT_INVENTORY);
    const args = ['explain', '--endpoints', inv, '--from', 'frontend', '--to', 'backend:80', '--method', 'POST', '--path', '/api/x'];
    const a = l7bpf([...args, '--policy', pol]);
    assert.equal(a.code, 0, a.err);
    assert.match(a.out.split('\n')[0]!, /^AUDIT \(would be denied: POST \/api\/x matched no http rule \(ingress of default\/backend\)\): passes, reported with Hubble verdict AUDIT$/);
    assert.match(l7bpf([...args, '--policy', enf, '--audit']).out, /^AUDIT \(would be denied: POST/);
    assert.equal(l7bpf([...args, '--policy', enf]).code, 1);
  });
});
