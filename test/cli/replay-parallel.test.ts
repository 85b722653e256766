// `l7bpf replay --workers N`: worker threads by flow hash give the single-threaded output (the
// table identical, jsonpb the same lines once sorted by time), from the sources and from the
// bundle; rate limits shared by connections and --kernel keep the replay on one thread.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { l7bpf } from '../helpers/cli.ts';
import { generateTraffic, generatedTrafficPolicy, GENERATED_TRAFFIC_ENDPOINTS } from '../../sim/builder/traffic.ts';
import { workerPlan } from '../../src/cli/replay.ts';
import { parsePolicies } from '../../src/policy/index.ts';

mkdirSync('.tmp', { recursive: true });
const dir = mkdtempSync(join('.tmp', 'replay-par-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const capture = join(dir, 'cap.pcap');
generateTraffic(capture, { targetBytes: Infinity, targetPackets: 10_000, concurrency: 12, requestsPerConn: 6, maxResponseBytes: 1500, distinctDenied: 0.1, seed: 11 });
const endpoints = join(dir, 'endpoints.yaml');
writeFileSync(endpoints, GENERATED_TRAFFIC_ENDPOINTS);
const policyText = (limit = '') => generatedTrafficPolicy([`{method: GET, path: "/api/v1/.*"${limit}}`, '{method: "GET|POST", path: "/(static/.*|healthz|index\\\\.html)"}']);
const policyFile = (name: string, limit?: string) => {
  const f = join(dir, name);
  writeFileSync(f, policyText(limit));
  return f;
};
const policy = policyFile('policy.yaml');
const args = (p: string, ...more: string[]) => ['replay', capture, '--policy', p, '--endpoints', endpoints, ...more];

// most runs take the bundle (it starts in a fraction of tsx's time); one runs from the sources
const bundle = join(dir, 'bundle', 'l7bpf.mjs');
execFileSync(process.execPath, ['scripts/build.mjs', bundle]);
function bundled(a: readonly string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [bundle, ...a], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** jsonpb lines in time order (ties by text): workers interleave their batches */
const byTime = (out: string) => out.split('\n').filter(Boolean)
  .map((l) => [(JSON.parse(l) as { time: string }).time, l] as const)
  .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
  .map(([, l]) => l).join('\n');

test('2 workers print the single-threaded table and, sorted by time, the same jsonpb lines', () => {
  const one = bundled(args(policy, '--workers', '1'));
  const two = bundled(args(policy, '--workers', '2'));
  assert.equal(one.err, '');
  assert.equal(two.err, '');
  assert.match(one.out, /top denied requests:/);
  assert.equal(two.out, one.out);
  assert.equal(two.code, one.code);
  const j1 = bundled(args(policy, '--workers', '1', '--output', 'jsonpb'));
  const j2 = bundled(args(policy, '--workers', '2', '--output', 'jsonpb'));
  assert.ok(j1.out.split('\n').length > 1000, 'a flow per connection and request');
  assert.equal(byTime(j2.out), byTime(j1.out));
});

test('from the sources, the workers load the TypeScript worker', () => {
  const two = l7bpf(args(policy, '--workers', '2'));
  assert.equal(two.err, '');
  assert.equal(two.out, bundled(args(policy, '--workers', '1')).out);
});

test('rate limits per source or per rule keep the replay on one thread; per connection they shard', () => {
  const perSource = policyFile('per-source.yaml', ', rateLimit: {requestsPerSecond: 50, burst: 5, per: source}');
  const one = bundled(args(perSource, '--workers', '1'));
  const two = bundled(args(perSource, '--workers', '2'));
  assert.match(two.err, /one thread, not 2: rate limits per source or per rule keep buckets across connections/);
  assert.match(one.out, /rate-limited/, 'the limit denies some requests');
  assert.equal(two.out, one.out);
  const perConn = policyFile('per-conn.yaml', ', rateLimit: {requestsPerSecond: 50, burst: 5, per: connection}');
  const c1 = bundled(args(perConn, '--workers', '1'));
  const c2 = bundled(args(perConn, '--workers', '2'));
  assert.equal(c2.err, '');
  assert.equal(c2.out, c1.out);
});

test('workerPlan: --kernel stays on one thread; small captures too unless --workers says', () => {
  const policies = parsePolicies(policyText(), 'p.yaml').policies;
  assert.deepEqual(workerPlan(capture, { endpoints, kernel: 'obj', workers: 2 }, policies), { workers: 1, threads: false, note: 'one thread, not 2: --kernel runs every packet through one object in capture order' });
  assert.deepEqual(workerPlan(capture, { endpoints }, policies), { workers: 1, threads: false });
  assert.deepEqual(workerPlan(capture, { endpoints, workers: 3 }, policies), { workers: 3, threads: true });
});
