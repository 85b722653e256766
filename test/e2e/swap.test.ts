// Policy swap under load (no failed allowed request, verdicts before and after) and rollback
// when the new object does not verify (the old programs stay attached, the verifier's reason
// is reported).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, inventoryYaml, run, Topology, waitForLine, lastJsonLine, FIXTURES } from '../helpers/netns.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping e2e swap: ${skip}`);

interface Res {
  status?: number;
  error?: string;
}

const USERS_AND_PRODUCTS = readFileSync('examples/seed/corrected-policy.yaml', 'utf8').replace(
  '                path: "/api/v1/users"',
  '                path: "/api/v1/users"\n              - method: "GET"\n                path: "/api/v1/products"',
);

// rejected by the verifier: reads packet data without a bounds check
const UNVERIFIABLE_C = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tc") int l7_from_pod(struct __sk_buff *skb) { return *(volatile __u32 *)(long)skb->data; }
SEC("tc") int l7_to_pod(struct __sk_buff *skb) { return 0; }
char LICENSE[] SEC("license") = "GPL";
`;

describe('e2e: policy swap and rollback', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  const inv = () => join(dir, 'inventory.yaml');
  const each = (requests: object[]) => t.client<Res[]>('frontend', { op: 'each', host: '10.0.0.2', port: 8080, timeoutMs: 2000, requests });
  const products = { method: 'GET', path: '/api/v1/products' };
  const users = { method: 'GET', path: '/api/v1/users' };
  const generation = () => Number(/generation (\d+)/.exec(t.cli(['status']).stdout)?.[1]);

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1' }, { name: 'backend', v4: '10.0.0.2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-swap-'));
    writeFileSync(inv(), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    writeFileSync(join(dir, 'b.yaml'), USERS_AND_PRODUCTS);
    await compilePolicies(['examples/seed/corrected-policy.yaml'], join(dir, 'a'));
    await compilePolicies([join(dir, 'b.yaml')], join(dir, 'b'));
    await t.server('backend');
    t.cli(['deploy', join(dir, 'a'), '--endpoints', inv()]);
  });

  after(() => {
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('swaps under continuous load with zero failed allowed requests', async () => {
    assert.deepEqual((await each([users, products])).map((r) => r.status ?? r.error), [200, 403], 'policy A: products denied');
    const load = t.spawnIn(t.pod('frontend').netns, process.execPath, [join(FIXTURES, 'http-client.mjs'), JSON.stringify({
      op: 'load', host: '10.0.0.2', port: 8080, path: '/api/v1/users', connections: 4, count: 400, durationMs: 6000, pauseMs: 2, timeoutMs: 2000,
    })]);
    const result = lastJsonLine<{ ok: number; failures: string[] }>(load, 30_000);
    await waitForLine(load, 'started', 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const out = t.cli(['deploy', join(dir, 'b'), '--endpoints', inv()]).stdout;
    assert.match(out, /swapped default generation 2/);
    assert.match(out, /kept: flows, l7flows, rings, events/);
    const { ok, failures } = await result;
    assert.deepEqual(failures, [], 'allowed requests that failed during the swap');
    assert.ok(ok > 100, `only ${ok} requests completed`);
    assert.deepEqual((await each([users, products, { method: 'POST', path: '/api/v1/users', body: '{}' }])).map((r) => r.status ?? r.error), [200, 200, 403], 'policy B: products allowed, POST denied');
  });

  it('keeps the old programs when the new object does not verify, and says why', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'bad.c'), UNVERIFIABLE_C);
    const arch = run('uname', ['-m']).trim();
    run('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${arch}-linux-gnu`, '-c', join(bad, 'bad.c'), '-o', join(bad, 'l7bpf.o')]);
    copyFileSync(join(dir, 'b', 'manifest.json'), join(bad, 'manifest.json'));
    const before = t.cli(['status']).stdout;
    const r = t.cli(['deploy', bad, '--endpoints', inv()], true);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /verifier rejected program l7_from_pod/);
    assert.match(r.stderr, /invalid access to packet|R\d+ invalid mem access|outside of the packet/, r.stderr);
    assert.match(r.stderr, /nothing changed/);
    assert.equal(t.cli(['status']).stdout.replace(/flows.*|events.*/g, ''), before.replace(/flows.*|events.*/g, ''), 'same object, same programs attached');
    assert.equal(generation(), 2);
    assert.deepEqual((await each([products])).map((r) => r.status ?? r.error), [200], 'policy B still enforced');
  });

  it('undeploy leaves no filter, qdisc or pin behind', () => {
    t.cli(['undeploy']);
    for (const p of t.pods.values()) {
      assert.equal(run('ip', ['netns', 'exec', t.node, 'tc', 'filter', 'show', 'dev', p.hostIf, 'ingress']).trim(), '');
      assert.doesNotMatch(run('ip', ['netns', 'exec', t.node, 'tc', 'qdisc', 'show', 'dev', p.hostIf]), /clsact/);
    }
    assert.equal(run('ls', ['-A', t.pinRoot]).trim(), '');
  });
});
