// `l7bpf replay` as CI uses it: Hubble jsonpb lines, --fail-on-deny, --expect, bad captures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv } from '../helpers/cli.ts';

const seed = 'examples/seed';
const base = ['--endpoints', `${seed}/endpoints.yaml`];

function l7bpf(...args: string[]) {
  const r = spawnSync(process.execPath, [...cliArgv(), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('l7bpf replay', () => {
  it('prints Hubble jsonpb lines with proto field names and enum names', () => {
    const r = l7bpf('replay', `${seed}/seed-traffic.pcap`, '--policy', `${seed}/corrected-policy.yaml`, ...base, '--output', 'jsonpb', '--node-name', 'node-a');
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { flow: Record<string, any>; node_name: string; time: string });
    const requests = lines.filter((l) => l.flow['l7']?.type === 'REQUEST');
    assert.deepEqual(requests.map((l) => [l.flow['verdict'], l.flow['l7'].http.method, l.flow['l7'].http.url]), [
      ['FORWARDED', 'GET', 'http://backend:8080/api/v1/users'],
      ['DROPPED', 'POST', 'http://backend:8080/api/v1/users'],
      ['DROPPED', 'GET', 'http://backend:8080/api/v1/products'],
    ]);
    const denied = requests[1]!.flow;
    // Hubble's L7 flows carry no drop reason and requests no code (issue 15)
    assert.equal(denied['drop_reason_desc'], undefined);
    assert.equal(denied['l7'].http.code, undefined);
    assert.equal(denied['Type'], 'L7');
    assert.equal(denied['event_type'].type, 129);
    assert.equal(denied['traffic_direction'], 'INGRESS');
    assert.equal(denied['destination'].pod_name, 'backend-1');
    assert.deepEqual(denied['ingress_denied_by'], [{ name: 'backend-allow-frontend-users', namespace: 'default', kind: 'CiliumNetworkPolicy' }]);
    assert.equal(lines[0]!.node_name, 'node-a');
    const responses = lines.filter((l) => l.flow['l7']?.type === 'RESPONSE');
    assert.equal(responses[0]!.flow['l7'].http.code, 200);
    assert.equal(responses[0]!.flow['is_reply'], true);
    assert.equal(responses[0]!.flow['source'].pod_name, 'backend-1', 'a reply has the server as source');
    assert.match(responses[0]!.flow['l7'].latency_ns, /^\d+$/, 'uint64 as a string');
  });

  it('--fail-on-deny exits 1 when something is denied, 0 when nothing is', () => {
    assert.equal(l7bpf('replay', `${seed}/seed-traffic.pcap`, '--policy', `${seed}/corrected-policy.yaml`, ...base, '--fail-on-deny').code, 1);
    assert.equal(l7bpf('replay', `${seed}/seed-traffic.pcap`, '--policy', `${seed}/seed-policy.yaml`, ...base, '--fail-on-deny').code, 0);
  });

  it('--expect exits 1 with a sentence per difference', () => {
    const dir = mkdtempSync(join(tmpdir(), 'l7bpf-expect-'));
    try {
      const file = join(dir, 'expect.txt');
      writeFileSync(file, 'allowed GET /api/v1/users\nallowed POST /api/v1/users\ndenied GET /api/v1/products\n');
      const r = l7bpf('replay', `${seed}/seed-traffic.pcap`, '--policy', `${seed}/corrected-policy.yaml`, ...base, '--expect', file);
      assert.equal(r.code, 1);
      assert.match(r.err, /expected 1 x "allowed POST \/api\/v1\/users", got 0/);
      assert.match(r.err, /expected 0 x "denied POST \/api\/v1\/users", got 1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a truncated capture is reported with its byte offset and the rest is still replayed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'l7bpf-trunc-'));
    try {
      const bytes = readFileSync(`${seed}/seed-traffic.pcap`);
      const file = join(dir, 'cut.pcap');
      writeFileSync(file, bytes.subarray(0, bytes.length - 10));
      const r = l7bpf('replay', file, '--policy', `${seed}/corrected-policy.yaml`, ...base);
      assert.equal(r.code, 2);
      assert.match(r.err, /cut\.pcap: capture offset \d+: truncated-record/);
      assert.match(r.out, /3 request\(s\): 1 allowed, 2 denied/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('policy errors name file:line:col and exit 2 (bad input)', () => {
    const r = l7bpf('replay', `${seed}/seed-traffic.pcap`, '--policy', 'test/fixtures/policies/bad/many-errors.yaml', ...base);
    assert.equal(r.code, 2);
    assert.match(r.err, /many-errors\.yaml:\d+:\d+: error: /);
  });
});
