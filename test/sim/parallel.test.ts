// replayParallel == replaySync on the same capture: worker threads by flow hash change nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTraffic } from '../../sim/builder/traffic.ts';
import { readCapture } from '../../sim/capture/read.ts';
import { replayParallel, replaySync } from '../../sim/replay/index.ts';
import { denyTargets } from './helpers.ts';

test('2 and 3 workers give the single-threaded summary, with a judge built in each worker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-par-'));
  try {
    const file = join(dir, 'cap.pcap');
    generateTraffic(file, { targetBytes: 1.5e6, seed: 7, concurrency: 8, requestsPerConn: 20 });
    const deny = /orders|healthz/;
    let allowed = 0;
    const one = replaySync(readCapture(file, { view: true }), { judge: denyTargets(deny), onRequest: (r) => { if (r.verdict.allowed) allowed++; } });
    assert.ok(one.denied > 0 && allowed > 0, 'the judge denies some requests and allows others');
    for (const workers of [2, 3]) {
      const par = await replayParallel(file, { workers, judge: { module: new URL('./helpers.ts', import.meta.url), exportName: 'denyTargets', args: [deny] } });
      const { allowed: a, captureErrors, ...summary } = par;
      assert.deepEqual(captureErrors, []);
      assert.equal(a, allowed, `${workers} workers: allowed requests`);
      assert.deepEqual(summary, one, `${workers} workers: summary`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing judge export is an error naming the module', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-par-'));
  try {
    const file = join(dir, 'cap.pcap');
    generateTraffic(file, { targetBytes: 2e4, seed: 1 });
    await assert.rejects(replayParallel(file, { workers: 1, judge: { module: new URL('./helpers.ts', import.meta.url), exportName: 'nope' } }), /no function export nope/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
