// The library entry (src/api.ts): the CLI's calls without the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compile, decide, loadInventory, loadPolicies, replayCapture, verify } from '../../src/api.ts';
import { compareExpectations, readExpectations } from '../../src/replay/expect.ts';
import { resolveIp } from '../../src/verdict/index.ts';
import { kernelSkip } from '../helpers/kernel.ts';

const skip = kernelSkip();
const POLICY = 'examples/seed/seed-policy.yaml';

test('compile writes the object, its header, manifest.json and the policy sources; verify loads it', { skip }, () => {
  const out = mkdtempSync(join(tmpdir(), 'l7bpf-api-'));
  try {
    const r = compile([POLICY], out);
    for (const f of [r.objectPath, r.headerPath, r.manifestPath, join(out, 'policies', '00-seed-policy.yaml')]) assert.ok(existsSync(f), f);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'policies', 'index.json'), 'utf8')), [{ saved: '00-seed-policy.yaml', source: POLICY }]);
    const v = verify(out);
    assert.deepEqual(v.programs.map((p) => p.name).sort(), ['l7_from_pod', 'l7_to_pod']);
    assert.ok(v.maps.every((m) => m.manifestMatches !== false));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('decide: the seed policy protects frontend: nothing from outside the cluster on a port no rule names', () => {
  const policies = loadPolicies([POLICY]);
  const inv = loadInventory('examples/seed/endpoints.yaml');
  const frontend = inv.endpoints.find((e) => e.name === 'frontend-1')!;
  const v = decide(policies, { src: resolveIp(inv, '192.0.2.99'), dst: { kind: 'endpoint', endpoint: frontend, ip: frontend.ips[0] ?? null }, dstPort: 9, protocol: 'TCP' });
  assert.equal(v.allowed, false);
});

test('replayCapture: the seed capture under the corrected policy gives the expected verdicts, and a flow line per event', () => {
  const lines: string[] = [];
  const run = replayCapture('examples/seed/seed-traffic.pcap', {
    policies: loadPolicies(['examples/seed/corrected-policy.yaml']),
    inventory: loadInventory('examples/seed/endpoints.yaml'),
    onFlowLine: (l) => lines.push(l),
  });
  assert.deepEqual(compareExpectations(readExpectations('examples/seed/expected-verdicts.txt'), run.rows), []);
  assert.equal(run.errors.length, 0);
  assert.ok(run.packets > 0 && run.connections > 0 && run.kernel === null);
  assert.ok(lines.length >= run.rows.length && lines.every((l) => JSON.parse(l).flow));
});
