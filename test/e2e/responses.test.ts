// RESPONSE flows in `l7bpf observe` (issue 15): curl in the frontend pod against a Node server
// in the backend pod that answers /status/<code> after ?delay=<ms>, the object deployed by
// `l7bpf deploy` (answers on, so the kernel follows the responses). `observe --output jsonpb`
// shows one RESPONSE flow per final response (none for the 100 Continue and 103 Early Hints
// before it), with the server's code, the request's method and URL, and a latency no shorter
// than the server's delay.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, FIXTURES, inventoryYaml, Topology, waitForLine } from '../helpers/netns.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping e2e responses: ${skip}`);

interface Flow {
  verdict: string;
  is_reply?: boolean;
  Summary?: string;
  l7?: { type: string; latency_ns?: string; http?: { code?: number; method?: string; url?: string } };
}

describe('e2e: RESPONSE flows in observe', { skip: skip || undefined, timeout: 60_000 }, () => {
  let t: Topology;
  let dir: string;

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1', v6: 'fd00::1' }, { name: 'backend', v4: '10.0.0.2', v6: 'fd00::2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-responses-'));
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    await compilePolicies([join(FIXTURES, 'responses-policy.yaml')], join(dir, 'obj'));
    await waitForLine(t.spawnIn(t.pod('backend').netns, process.execPath, [join(FIXTURES, 'status-server.mjs'), '8080']), 'ready', 10_000);
    t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'responses']);
  });

  after(() => {
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** curl in the frontend pod; one connection for all the URLs; the codes it got */
  const curl = (args: readonly string[]) => {
    const r = spawnSync('ip', ['netns', 'exec', t.pod('frontend').netns, 'curl', '-s', '-m', '5', '-w', '%{http_code}\n', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n');
  };
  const flows = (): Flow[] => t.cli(['observe', '--output', 'jsonpb', '--pod', 'backend']).stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).flow as Flow);

  it('one RESPONSE flow per final response: the code, the request, a latency no shorter than the server took', () => {
    const url = (p: string, v6 = false) => `http://${v6 ? '[fd00::2]' : '10.0.0.2'}:8080${p}`;
    const sent = [url('/status/200?delay=40'), url('/status/404'), url('/status/503?delay=5')];
    assert.deepEqual(curl(sent.flatMap((u) => ['-o', '/dev/null', u])), ['200', '404', '503']);
    // interim heads first (curl -D prints them): 103 Early Hints; 100 Continue to a POST that waits for it
    const hinted = curl(['-o', '/dev/null', '-D', '-', url('/status/200?hints=1')]).join('\n');
    assert.match(hinted, /^HTTP\/1\.1 103 Early Hints/m, hinted);
    const continued = curl(['-o', '/dev/null', '-D', '-', '-H', 'Expect: 100-continue', '--data-binary', 'x'.repeat(100), url('/status/201')]).join('\n');
    assert.match(continued, /^HTTP\/1\.1 100 Continue/m, continued);
    assert.deepEqual(curl(['-o', '/dev/null', url('/status/202', true)]), ['202']);

    const all = flows();
    const responses = all.filter((f) => f.l7?.type === 'RESPONSE');
    const requests = all.filter((f) => f.l7?.type === 'REQUEST');
    const got = responses.map((f) => `${f.l7!.http!.code} ${f.l7!.http!.method} ${new URL(f.l7!.http!.url!).pathname}`);
    assert.deepEqual(got, ['200 GET /status/200', '404 GET /status/404', '503 GET /status/503', '200 GET /status/200', '201 POST /status/201', '202 GET /status/202'],
      `no 100 or 103, one per request; L7 flows: ${all.filter((f) => f.l7).map((f) => f.Summary).join('; ')}`);
    assert.equal(requests.length, 6, 'each request has its own REQUEST flow');
    assert.ok(responses.every((f) => f.verdict === 'FORWARDED' && f.is_reply === true), JSON.stringify(responses));
    const latency = responses.map((f) => Number(f.l7!.latency_ns ?? 0) / 1e6);
    console.log(`# latencies (ms): ${latency.map((x) => x.toFixed(2)).join(', ')}`);
    // the server held the first answer 40 ms: the kernel saw the response at least that late
    assert.ok(latency[0]! >= 40, `latency ${latency[0]} ms (the server waited 40 ms)`);
    assert.ok(latency.every((x) => x > 0 && x < 10_000), `latencies ${latency.join(', ')} ms`);
  });
});
