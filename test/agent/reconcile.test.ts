// The reconciler with a fake kernel side: what it compiles, reuses, deploys, keeps and reports;
// and the directory source that feeds it (real fs.watch on a temporary directory).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Reconciler, findObject, type Applier, type ApplyRequest, type ReconcileSettings } from '../../src/agent/reconcile.ts';
import { DirectorySource, readDirectory } from '../../src/agent/dir-source.ts';
import { parseListen } from '../../src/agent/http.ts';
import { mergeConfig } from '../../src/cli/agent.ts';
import type { Snapshot } from '../../src/agent/types.ts';

const USERS = readFileSync('examples/seed/corrected-policy.yaml', 'utf8');
const PRODUCTS = USERS.replace('path: "/api/v1/users"', 'path: "/api/v1/products"');
const INVENTORY = `endpoints:
  - name: frontend
    namespace: default
    labels: {app: frontend}
    ips: [10.0.0.1]
    iface: lxc0
  - name: backend
    namespace: default
    labels: {app: backend}
    ips: [10.0.0.2]
    iface: lxc1
`;

/** A kernel side that records what it was asked; `failDeploy` makes the next deploys throw. */
class FakeApplier implements Applier {
  compiles: string[] = [];
  deploys: ApplyRequest[] = [];
  undeploys = 0;
  generation = 0;
  failDeploy: string | null = null;

  async compile(_ir: unknown, outDir: string): Promise<void> {
    this.compiles.push(outDir);
    mkdirSync(outDir, { recursive: true });
    const hash = /([0-9a-f]{64})\.tmp-/.exec(outDir)?.[1];
    writeFileSync(join(outDir, 'manifest.json'), JSON.stringify({ sha256: { input: hash } }));
  }

  deploy(req: ApplyRequest) {
    if (this.failDeploy) throw new Error(this.failDeploy);
    this.deploys.push(req);
    return { generation: ++this.generation };
  }

  undeploy(): void {
    this.undeploys++;
    this.generation = 0;
  }

  deployed(): boolean {
    return this.generation > 0;
  }
}

function setup(extra: Partial<ReconcileSettings> = {}) {
  const cacheDir = mkdtempSync(join(tmpdir(), 'l7bpf-reconcile-'));
  const fake = new FakeApplier();
  const failures: string[] = [];
  const r = new Reconciler(fake, { nodeName: 'node-a', cacheDir, debounceMs: 5, deploySettings: '', ...extra }, { failed: (m) => failures.push(m) });
  const snap = (policies: string[], inventory: string | null = INVENTORY, ifaceOf: Record<string, string> = {}): Snapshot => ({
    policies: policies.map((text, i) => ({ name: `p${i}.yaml`, text })), inventory: inventory === null ? null : { name: 'endpoints.yaml', text: inventory }, ifaceOf, describe: 'test',
  });
  const apply = async (s: Snapshot) => {
    r.offer(s);
    await r.idle();
  };
  return { r, fake, failures, snap, apply, cacheDir, done: () => rmSync(cacheDir, { recursive: true, force: true }) };
}

describe('agent reconciler', () => {
  it('compiles once per policy set, redeploys without compiling when only endpoints change', async () => {
    const { r, fake, snap, apply, done } = setup();
    await apply(snap([USERS]));
    assert.equal(fake.compiles.length, 1);
    assert.equal(fake.deploys.length, 1);
    assert.equal(r.status.ready, true);
    assert.match(r.status.reason, /enforcing generation 1 .*compiled\)/);
    await apply(snap([USERS]));
    assert.equal(fake.deploys.length, 1, 'the same snapshot changes nothing');
    await apply(snap([USERS], INVENTORY.replace('10.0.0.2', '10.0.0.3')));
    assert.equal(fake.compiles.length, 1, 'an endpoint change reuses the object');
    assert.equal(fake.deploys.length, 2);
    assert.match(r.status.reason, /generation 2 .*compiled before/);
    await apply(snap([PRODUCTS], INVENTORY.replace('10.0.0.2', '10.0.0.3')));
    assert.equal(fake.compiles.length, 2, 'a policy change compiles');
    done();
  });

  it('debounces a burst of snapshots into one run', async () => {
    const { r, fake, snap, done } = setup({ debounceMs: 30 });
    for (let i = 0; i < 5; i++) r.offer(snap([i % 2 ? USERS : PRODUCTS]));
    await r.idle();
    assert.equal(fake.deploys.length, 1);
    assert.equal(fake.compiles.length, 1, 'only the last snapshot');
    done();
  });

  it('keeps the running generation on a policy error, a failed deploy or a source problem, and says why', async () => {
    const { r, fake, failures, snap, apply, done } = setup();
    await apply(snap([USERS]));
    await apply(snap([USERS.replace('path: "/api/v1/users"', 'path: "/api/v1/(users"')]));
    assert.equal(r.status.ready, false);
    assert.match(r.status.reason, /^not applied: p0\.yaml:\d+:\d+: error: invalid RE2 regex/);
    assert.match(r.status.reason, /generation 1 stays in place/);
    assert.equal(fake.deploys.length, 1);
    fake.failDeploy = 'load: verifier: R1 invalid mem access';
    await apply(snap([PRODUCTS]));
    assert.match(r.status.reason, /verifier: R1 invalid mem access/);
    fake.failDeploy = null;
    await apply(snap([USERS]));
    assert.equal(r.status.ready, true, 'back to what runs: ready without a deploy');
    assert.equal(fake.deploys.length, 1);
    r.sourceProblem('watch: connection refused');
    assert.match(r.status.reason, /source: watch: connection refused/);
    assert.equal(failures.length, 3);
    done();
  });

  it('reuses a CI-built object whose manifest matches the policies', async () => {
    const objects = mkdtempSync(join(tmpdir(), 'l7bpf-objects-'));
    const { r, fake, snap, apply, done } = setup({ objectsDir: objects });
    await apply(snap([USERS]));
    const hash = /object ([0-9a-f]{12})/.exec(r.status.reason)?.[1];
    assert.ok(hash);
    const full = fake.compiles[0]!.match(/([0-9a-f]{64})/)![1]!;
    mkdirSync(join(objects, 'ci-build'));
    writeFileSync(join(objects, 'ci-build', 'manifest.json'), JSON.stringify({ sha256: { input: full } }));
    assert.equal(findObject(objects, full), join(objects, 'ci-build'));
    writeFileSync(join(objects, 'ci-build', 'manifest.json'), JSON.stringify({ sha256: { input: full }, limits: { testClock: true } }));
    assert.equal(findObject(objects, full), null, 'a --test-clock object is never deployed');
    writeFileSync(join(objects, 'ci-build', 'manifest.json'), JSON.stringify({ sha256: { input: full } }));
    await apply(snap([USERS], INVENTORY.replace('10.0.0.2', '10.0.0.9')));
    assert.match(r.status.reason, /CI-built/);
    assert.equal(fake.deploys.at(-1)?.dir, join(objects, 'ci-build'));
    rmSync(objects, { recursive: true, force: true });
    done();
  });

  it('undeploys when nothing is left to enforce', async () => {
    const { r, fake, snap, apply, done } = setup();
    await apply(snap([USERS]));
    await apply(snap([]));
    assert.equal(fake.undeploys, 1);
    assert.equal(r.status.ready, true);
    assert.match(r.status.reason, /nothing to enforce: no policies/);
    await apply(snap([USERS], INVENTORY.replace(/\n {4}iface: lxc\d/g, '')));
    assert.match(r.status.reason, /no endpoint of this node has a host-side interface/);
    await apply(snap([USERS], INVENTORY.replace(/\n {4}iface: lxc\d/g, ''), { 'default/backend': 'lxc9' }));
    assert.deepEqual(fake.deploys.at(-1)?.ifaceOf, { 'default/backend': 'lxc9' });
    done();
  });

  it('hands on the inventory of a snapshot that parses, never of one that does not', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'l7bpf-reconcile-'));
    const seen: string[][] = [];
    const r = new Reconciler(new FakeApplier(), { nodeName: 'node-a', cacheDir, debounceMs: 1, deploySettings: '' }, { inventory: (inv) => seen.push(inv.endpoints.map((e) => e.name)) });
    const offer = async (inventory: string) => {
      r.offer({ policies: [{ name: 'p.yaml', text: USERS }], inventory: { name: 'endpoints.yaml', text: inventory }, ifaceOf: {}, describe: '' });
      await r.idle();
    };
    await offer(INVENTORY);
    await offer(INVENTORY.replace('ips: [10.0.0.2]', 'ips: [not-an-ip]'));
    assert.deepEqual(seen, [['frontend', 'backend']]);
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('says when policies come before any inventory', async () => {
    const { r, snap, apply, done } = setup();
    await apply(snap([USERS], null));
    assert.match(r.status.reason, /no inventory yet/);
    done();
  });
});

describe('agent directory source', () => {
  it('reads policies/, endpoints.yaml and interfaces.yaml, and sees a change through fs.watch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'l7bpf-dir-'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'endpoints.yaml'), INVENTORY);
    writeFileSync(join(dir, 'interfaces.yaml'), 'default/backend: lxc7\n');
    writeFileSync(join(dir, 'policies', 'b.yaml'), USERS);
    writeFileSync(join(dir, 'policies', 'notes.txt'), 'not a policy');
    const s = readDirectory(dir);
    assert.deepEqual(s.policies.map((p) => p.name), [join(dir, 'policies', 'b.yaml')]);
    assert.deepEqual(s.ifaceOf, { 'default/backend': 'lxc7' });
    const seen: Snapshot[] = [];
    // the rescan is an hour: only fs.watch can report the change in time
    const src = new DirectorySource(dir, 3_600_000);
    await src.start((x) => seen.push(x), (m) => assert.fail(m));
    assert.equal(seen.length, 1);
    writeFileSync(join(dir, 'policies', 'a.yaml'), PRODUCTS);
    const end = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(seen.at(-1)?.policies.length, 2, 'the new file, seen by fs.watch');
    writeFileSync(join(dir, 'interfaces.yaml'), '- lxc1\n');
    const problems: string[] = [];
    await src.stop();
    const again = new DirectorySource(dir, 3_600_000);
    await again.start(() => {}, (m) => problems.push(m));
    assert.match(problems[0] ?? '', /interfaces\.yaml: expected a map of pod/);
    await again.stop();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('agent settings', () => {
  it('parses listen addresses', () => {
    assert.deepEqual(parseListen('0.0.0.0:9962'), { host: '0.0.0.0', port: 9962 });
    assert.deepEqual(parseListen(':9962'), { host: undefined, port: 9962 });
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen('4244'), { host: undefined, port: 4244 });
    for (const bad of ['', 'host', 'h:99999', 'h:-1']) assert.throws(() => parseListen(bad), /listen address/);
    fc.assert(fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), (h, p) => parseListen(`${h}:${p}`).port === p));
  });

  it('takes --config settings under the command line, and rejects unknown ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'l7bpf-config-'));
    const file = join(dir, 'agent.yaml');
    writeFileSync(file, 'audit: true\ndebounce: 1s\nmetrics: 127.0.0.1:9000\n');
    assert.deepEqual(mergeConfig({ config: file, metrics: ':1', dir: '/x' }), { audit: true, debounce: '1s', metrics: ':1', dir: '/x', config: file });
    writeFileSync(file, 'audti: true\n');
    assert.throws(() => mergeConfig({ config: file }), /unknown setting\(s\) audti/);
    rmSync(dir, { recursive: true, force: true });
  });
});
