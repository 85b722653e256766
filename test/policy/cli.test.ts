// The CLI as users run it: `l7bpf check` and `l7bpf explain`, spawned, exit codes included.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cliArgv } from '../helpers/cli.ts';

const FIX = 'test/fixtures/policies';
const SEED = 'examples/seed';

function l7bpf(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cliArgv(), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function explainJson(...args: string[]): { allowed: boolean; reason: string; rules: { source: string; policy: string }[] } {
  const r = l7bpf('explain', '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`, ...args, '--output', 'json');
  const v = JSON.parse(r.stdout) as ReturnType<typeof explainJson>;
  assert.equal(r.code, v.allowed ? 0 : 1, r.stderr);
  return v;
}

describe('l7bpf check', () => {
  it('exits 0 on valid policies and prints warnings with positions', () => {
    const r = l7bpf('check', `${SEED}/seed-policy.yaml`, `${SEED}/corrected-policy.yaml`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^2 file\(s\), 2 valid policies, 0 error\(s\), 1 warning\(s\)$/m);
    assert.match(r.stderr, /^examples\/seed\/seed-policy\.yaml:\d+:\d+: warning: "number" is not a Cilium field/m);
  });

  it('exits 1 on errors, printing exactly the golden diagnostics', () => {
    const r = l7bpf('check', `${FIX}/bad/many-errors.yaml`);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, readFileSync(`${FIX}/bad/many-errors.expected.txt`, 'utf8'));
  });

  it('--endpoints warns about selectors that match no endpoint', () => {
    const r = l7bpf('check', '--endpoints', `${FIX}/inventory/kubectl-pods.json`, `${SEED}/corrected-policy.yaml`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: endpointSelector .*app=backend.* selects no known endpoint/);
  });

  it('a missing file is an error with the path', () => {
    const r = l7bpf('check', `${FIX}/bad/does-not-exist.yaml`);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^test\/fixtures\/policies\/bad\/does-not-exist\.yaml:1:1: error: cannot read/m);
  });
});

describe('l7bpf explain', () => {
  it('--output json: an allowed request names the http rule that allows it', () => {
    const v = explainJson('--from', 'frontend-1', '--to', 'backend-1:8080', '--method', 'GET', '--path', '/api/v1/users');
    assert.equal(v.allowed, true);
    assert.equal(v.reason, 'l7-allowed');
    assert.ok(v.rules.some((r) => r.source === `${SEED}/corrected-policy.yaml:21` && r.policy === 'backend-allow-frontend-users'), JSON.stringify(v.rules));
  });

  it('--output json: a denied request and a denied port say why', () => {
    const post = explainJson('--from', 'frontend-1', '--to', 'backend-1:8080', '--method', 'POST', '--path', '/api/v1/users');
    assert.deepEqual([post.allowed, post.reason], [false, 'l7-denied']);
    const port = explainJson('--from', 'frontend-1', '--to', 'backend-1:9090');
    assert.deepEqual([port.allowed, port.reason], [false, 'default-deny']);
    const strict = explainJson('--from', 'frontend-1', '--to', 'backend-1:8080', '--path', '/api/v1/../admin');
    assert.deepEqual([strict.allowed, strict.reason], [false, 'strict']);
  });

  it('text output starts with the verdict and lists the chain and rules', () => {
    const r = l7bpf('explain', '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`, '--from', '10.0.0.1', '--to', 'backend-1:8080', '--method', 'DELETE', '--path', '/api/v1/users');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^DENIED: DELETE \/api\/v1\/users matched no http rule/, "the verdict word once");
    assert.match(r.stdout, /corrected-policy\.yaml:21/);
  });

  it('works with a kubectl inventory, named ports and gRPC', () => {
    const base = ['explain', '--policy', `${FIX}/inventory/shop-policy.yaml`, '--endpoints', `${FIX}/inventory/kubectl-pods.json`, '--from', 'shop/frontend-7d9f8c6b5-abcde', '--to', 'backend-0:9000', '--output', 'json'];
    const ok = l7bpf(...base, '--grpc', 'shop.Cart/Get');
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(pick(ok.stdout), [true, 'l7-allowed']);
    const no = l7bpf(...base, '--grpc', 'shop.Cart/Delete');
    assert.deepEqual(pick(no.stdout), [false, 'l7-denied']);
  });

  it('an unknown endpoint or an invalid policy exits 2 (bad input) with a message', () => {
    const r = l7bpf('explain', '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`, '--from', 'nobody', '--to', 'backend-1:8080');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /l7bpf: error: unknown endpoint "nobody"/);
    const bad = l7bpf('explain', '--policy', `${FIX}/bad/invalid-cidr.yaml`, '--endpoints', `${SEED}/endpoints.yaml`, '--from', 'frontend-1', '--to', 'backend-1:8080');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid-cidr\.yaml:8:18: error: invalid CIDR "10\.0\.0\.0\/33"/);
  });
});

function pick(json: string): [boolean, string] {
  const v = JSON.parse(json) as { allowed: boolean; reason: string };
  return [v.allowed, v.reason];
}
