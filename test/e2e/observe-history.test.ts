// observe's history through the kernel: the seed policy deployed, real requests from frontend
// to backend (some allowed, some denied); every observe run sees the same flows, Hubble's
// filters select the expected ones, a follower drains while others read, a redeploy leaves
// the past as it was, status shows the history and undeploy removes it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { compilePolicies, e2eSkip, inventoryYaml, Topology } from '../helpers/netns.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping e2e observe history: ${skip}`);

const NAME = 'hist';
const POLICY = 'examples/seed/corrected-policy.yaml';
const req = (method: string, path: string) => ({ method, path });

interface Flow {
  time: string;
  verdict?: string;
  Type?: string;
  is_reply?: boolean;
  source?: { pod_name?: string; labels?: string[] };
  destination?: { pod_name?: string; labels?: string[] };
  l7?: { type?: string; http?: { code?: number; method?: string; url?: string } };
}

const flowsOf = (jsonpb: string): Flow[] => jsonpb.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { flow: Flow }).flow);
/** "GET /path" of the L7 flows to port 8080, requests only */
const requests = (flows: Flow[]) => flows.filter((f) => f.Type === 'L7' && f.l7?.type === 'REQUEST').map((f) => `${f.verdict} ${f.l7?.http?.method} ${new URL(f.l7?.http?.url ?? 'http://x/').pathname}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('e2e: observe history and filters', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  let follower: ChildProcess | undefined;
  const observe = (...args: string[]) => t.cli(['observe', '--name', NAME, ...args]).stdout;
  /** observe in the background: its stdout once it exited 0 */
  const observeAsync = (...args: string[]) => new Promise<string>((resolve, reject) => {
    const child = t.spawnCli(['observe', '--name', NAME, ...args]);
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`observe ${args.join(' ')} exited ${code}: ${err}`))));
  });

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1' }, { name: 'backend', v4: '10.0.0.2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-history-'));
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    await compilePolicies([POLICY], join(dir, 'obj'));
    await t.server('backend');
    t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', NAME, '--history-size', '256KiB']);
  });

  after(() => {
    follower?.kill('SIGKILL');
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const send = (requests: { method: string; path: string }[]) =>
    t.client<{ status?: number; error?: string }[]>('frontend', { op: 'each', host: '10.0.0.2', port: 8080, timeoutMs: 2000, requests });

  let first = '';
  it('two observe runs print the same flows, every request among them', async () => {
    const res = await send([req('GET', '/api/v1/users'), req('GET', '/api/v1/products'), req('GET', '/api/v1/users'), req('POST', '/api/v1/users'), req('GET', '/api/v1/users')]);
    assert.deepEqual(res.map((r) => r.status ?? r.error), [200, 403, 200, 403, 200]);
    first = observe();
    const second = observe();
    assert.ok(first.length > 0, 'observe printed nothing');
    assert.equal(second, first, 'the second observe prints what the first did');
    assert.deepEqual(requests(flowsOf(first)), ['FORWARDED GET /api/v1/users', 'DROPPED GET /api/v1/products', 'FORWARDED GET /api/v1/users', 'DROPPED POST /api/v1/users', 'FORWARDED GET /api/v1/users']);
  });

  it("Hubble's filters select the expected flows (the observe runs at once: readers side by side)", async () => {
    const runs = [
      ['--verdict', 'DROPPED', '--type', 'l7'],
      ['--http-status', '4+'],
      ['--method', 'post'], // the older name of --http-method
      ['--http-path', 'products$'],
      ['--from-pod', 'frontend', '--to-pod', 'default/backend', '--verdict', 'FORWARDED', '--type', 'l7'],
      ['--last', '2'],
    ];
    const [dropped, answers, posts, products, allowed, last2] = (await Promise.all(runs.map((args) => observeAsync(...args)))).map(flowsOf);
    assert.deepEqual(requests(dropped!), ['DROPPED GET /api/v1/products', 'DROPPED POST /api/v1/users']);
    assert.deepEqual(answers!.map((f) => [f.l7?.type, f.l7?.http?.code, f.source?.pod_name]), [['RESPONSE', 403, 'backend'], ['RESPONSE', 403, 'backend']], 'the two 403 answers, from the server');
    assert.ok(posts!.length >= 1 && posts!.every((f) => f.l7?.http?.method === 'POST'), JSON.stringify(posts));
    assert.deepEqual(requests(products!), ['DROPPED GET /api/v1/products']);
    assert.deepEqual(requests(allowed!), ['FORWARDED GET /api/v1/users', 'FORWARDED GET /api/v1/users', 'FORWARDED GET /api/v1/users']);
    assert.deepEqual(last2, flowsOf(first).slice(-2));
  });

  it('--since a time: only what came after it', async () => {
    await sleep(50);
    const t0 = new Date().toISOString();
    await sleep(50);
    await send([req('GET', '/api/v1/users'), req('DELETE', '/api/v1/users')]);
    assert.deepEqual(requests(flowsOf(observe('--since', t0))), ['FORWARDED GET /api/v1/users', 'DROPPED DELETE /api/v1/users']);
  });

  it('a follower drains while another observe reads its appends; its exit releases the lock', async () => {
    const lock = join(t.stateDir, `${NAME}.history`, 'drain.lock');
    follower = t.spawnCli(['observe', '--name', NAME, '--follow', '--http-path', 'followed']);
    let out = '';
    follower.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    for (let i = 0; i < 100 && !existsSync(lock); i++) await sleep(100);
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, follower.pid, 'the follower holds the drain lock');
    await send([req('GET', '/api/v1/followed')]);
    let read: string[] = [];
    for (let i = 0; i < 50 && read.length === 0; i++, await sleep(100)) read = requests(flowsOf(observe('--http-path', 'followed')));
    assert.deepEqual(read, ['DROPPED GET /api/v1/followed'], 'read from the history the follower wrote');
    assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, follower.pid, 'the reader did not take the lock');
    for (let i = 0; i < 50 && !out.includes('/api/v1/followed'); i++) await sleep(100);
    assert.deepEqual(requests(flowsOf(out)), ['DROPPED GET /api/v1/followed'], 'the follower printed the new flow');
    const exited = new Promise((r) => follower!.once('exit', r));
    follower.kill('SIGINT');
    await exited;
    assert.equal(existsSync(lock), false, 'released at exit');
  });

  it('a redeploy with other labels does not rewrite the past; status shows the history; undeploy removes it', () => {
    writeFileSync(join(dir, 'inventory2.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend', tier: 'api' } }));
    t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory2.yaml'), '--name', NAME]);
    assert.ok(observe().startsWith(first), 'the first flows are still there, with the labels they had');
    const status = t.cli(['status', '--name', NAME]).stdout;
    // the swap kept the budget given at the first deploy
    const shown = /history (\d+) entries, [\d.]+ KiB of 256 KiB, \d{4}-\d\d-\d\dT[\d:.]+Z \.\. \d{4}-\d\d-\d\dT[\d:.]+Z/.exec(status);
    assert.ok(shown && Number(shown[1]) >= 8, status);
    t.cli(['undeploy', '--name', NAME]);
    assert.equal(existsSync(join(t.stateDir, `${NAME}.history`)), false, 'undeploy removed the history');
  });
});
