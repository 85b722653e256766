// Deploy logic against the in-memory libbpf: attach, swap in place, rollback, undeploy,
// status. No root, no kernel.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeLibbpf, type FakeObjectSpec, TC_EGRESS, TC_INGRESS, VerifierError } from '../../src/loader/index.ts';
import { deploy, type DeployEnv } from '../../src/deploy/deploy.ts';
import { undeploy } from '../../src/deploy/undeploy.ts';
import { allStatus } from '../../src/deploy/status.ts';
import { readState } from '../../src/deploy/state.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import { AttachError } from '../../src/deploy/attach.ts';
import { requestFromLine, tcpFlagsOf } from '../../src/replay/observe-flow.ts';

const spec = (flowsValue = 88): FakeObjectSpec => ({
  programs: ['l7_from_pod', 'l7_to_pod'],
  maps: [
    { name: 'ipcache', type: 11, keySize: 20, valueSize: 8, maxEntries: 65536 },
    { name: 'selectors', type: 1, keySize: 4, valueSize: 8, maxEntries: 65536 },
    { name: 'flows', type: 9, keySize: 38, valueSize: flowsValue, maxEntries: 65536 },
    { name: 'events', type: 27, keySize: 0, valueSize: 0, maxEntries: 262144 },
  ],
});

const INVENTORY = `endpoints:
  - {name: frontend, labels: {app: frontend}, ips: [10.0.0.1], iface: lxcfe}
  - {name: backend, labels: {app: backend}, ips: [10.0.0.2, "fd00::2"], iface: lxcbe}
  - {name: remote, labels: {app: remote}, ips: [10.0.9.9]}
`;
const MANIFEST = {
  object: 'l7bpf.o',
  selectors: [
    { index: 0, description: 'app=backend', match: { kind: 'labels', selector: { matchLabels: { app: 'backend' }, matchExpressions: [] } } },
    { index: 1, description: 'app=frontend', match: { kind: 'labels', selector: { matchLabels: { app: 'frontend' }, matchExpressions: [] } } },
  ],
  rules: [{ index: 0, policy: 'p', namespace: 'default', section: 'ingress', source: 'p.yaml:12' }],
  httpRules: [{ index: 0, rule: 0, method: 'GET', path: '/x', host: null }],
};

describe('deploy (fake libbpf)', () => {
  let work: string;
  let env: DeployEnv;
  let lib: FakeLibbpf;
  const inventory = parseInventory(INVENTORY, 'inv.yaml').inventory;
  const objDir = (name: string) => {
    const d = join(work, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'l7bpf.o'), name);
    writeFileSync(join(d, 'manifest.json'), JSON.stringify(MANIFEST));
    return d;
  };
  const filtersOn = (ifindex: number) => [TC_INGRESS, TC_EGRESS].map((p) => lib.filters.get(`${ifindex}/${p}/379/1`));

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'l7bpf-deploy-'));
    env = { pinRoot: join(work, 'pins'), stateDir: join(work, 'state') };
    lib = new FakeLibbpf(spec());
    lib.interfaces.set('lxcfe', 7).set('lxcbe', 8);
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it('attaches both programs on every endpoint with an iface and fills the maps', () => {
    const r = deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env);
    assert.equal(r.swapped, false);
    assert.deepEqual(r.state.ifaces.map((i) => [i.iface, i.ifindex, i.createdClsact]), [['lxcfe', 7, true], ['lxcbe', 8, true]]);
    for (const ifindex of [7, 8]) assert.ok(filtersOn(ifindex).every((fd) => fd !== undefined), `ifindex ${ifindex} has both filters`);
    const ipcacheFd = [...lib.store.entries()].find(([, m]) => [...m.keys()].some((k) => k.endsWith('ffff0a000909')))?.[0];
    assert.ok(ipcacheFd !== undefined, 'remote endpoint (no iface) is still in the ipcache');
  });

  it('swaps in place: same filters replaced, flows reused, old generation unpinned', () => {
    deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env);
    const before = filtersOn(8);
    const flowsPin = lib.pins.get(join(env.pinRoot, 'd', 'flows'));
    const r = deploy(lib, { dir: objDir('b'), inventory, name: 'd' }, env);
    assert.equal(r.swapped, true);
    assert.equal(r.state.generation, 2);
    assert.deepEqual(r.reused, ['flows', 'events']);
    assert.notDeepEqual(filtersOn(8), before, 'new programs on the hooks');
    assert.equal(lib.pins.get(join(env.pinRoot, 'd', 'flows')), flowsPin, 'same flows map');
    assert.ok(r.state.ifaces.every((i) => i.createdClsact), 'qdisc ownership carried over');
  });

  it('does not reuse flows when the value layout changed', () => {
    deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env);
    lib.setSpec(spec(96));
    const r = deploy(lib, { dir: objDir('b'), inventory, name: 'd' }, env);
    assert.deepEqual(r.reused, ['events']);
    assert.match(r.fresh.join(), /flows \(value 88 -> 96 B\)/);
  });

  it('a verifier failure changes nothing', () => {
    deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env);
    const before = [...lib.filters];
    lib.setSpec({ ...spec(), failProgram: { name: 'l7_to_pod', log: '0: R1 invalid mem access\nprocessed 3 insns' } });
    assert.throws(() => deploy(lib, { dir: objDir('bad'), inventory, name: 'd' }, env), (e: unknown) => e instanceof VerifierError && /invalid mem access/.test(e.message));
    assert.deepEqual([...lib.filters], before);
    assert.equal(readState('d', env.stateDir)?.generation, 1);
  });

  it('an attach failure mid-swap puts the old programs back', () => {
    deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env);
    const before = [...lib.filters];
    lib.tcAttachFail = (s) => (s.ifindex === 8 && s.point === TC_EGRESS ? -16 : 0);
    assert.throws(() => deploy(lib, { dir: objDir('b'), inventory, name: 'd' }, env), AttachError);
    assert.deepEqual([...lib.filters], before, 'every hook has its old program');
    assert.equal(readState('d', env.stateDir)?.generation, 1);
  });

  it('a failed first deploy leaves nothing attached', () => {
    lib.tcAttachFail = (s) => (s.ifindex === 8 ? -1 : 0);
    assert.throws(() => deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env), AttachError);
    assert.equal(lib.filters.size, 0);
    assert.equal(lib.hooks.size, 0);
    assert.equal(readState('d', env.stateDir), null);
  });

  it('refuses unknown interfaces and --iface-of names with hints', () => {
    lib.interfaces.delete('lxcbe');
    assert.throws(() => deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env), /no interface lxcbe .*nsenter/);
    lib.interfaces.set('lxcbe', 8);
    assert.throws(() => deploy(lib, { dir: objDir('a'), inventory, ifaceOf: { nobody: 'x' }, name: 'd' }, env), /unknown endpoint\(s\): nobody/);
  });

  it('keeps a clsact it did not create; undeploy removes only ours', () => {
    lib.hooks.add(7); // someone else's qdisc on the frontend veth
    deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env);
    const r = undeploy(lib, 'd', env);
    assert.deepEqual(r.removedQdiscs, ['lxcbe']);
    assert.ok(lib.hooks.has(7) && !lib.hooks.has(8));
    assert.equal(lib.filters.size, 0);
    assert.equal(readState('d', env.stateDir), null);
  });

  it('status compares the hooks with the pinned programs', () => {
    deploy(lib, { dir: objDir('a'), inventory, name: 'd' }, env);
    let [s] = allStatus(lib, env);
    assert.ok(s?.hooks.length === 4 && s.hooks.every((h) => h.ours));
    lib.filters.set('8/2/379/1', 9999); // another program replaced ours
    [s] = allStatus(lib, env);
    assert.deepEqual(s?.hooks.filter((h) => !h.ours).map((h) => `${h.iface} ${h.hook}`), ['lxcbe egress']);
  });
});

describe('observe rendering helpers', () => {
  it('reads method and target from the captured request line', () => {
    const line = Buffer.alloc(64);
    line.write('GET /api/v1/users?x=1 HTTP/1.1\r\nHost: b');
    assert.deepEqual(requestFromLine(line, 40), { method: 'GET', target: '/api/v1/users?x=1', version: 'HTTP/1.1', headers: [] });
    assert.equal(requestFromLine(line, 0), undefined);
    // an HTTP/2 stream's event: ":method :path", version 2
    const h2 = Buffer.alloc(64);
    h2.write('POST /demo.v1.UserService/GetUsers');
    assert.deepEqual(requestFromLine(h2, 34, 2), { method: 'POST', target: '/demo.v1.UserService/GetUsers', version: 'HTTP/2', headers: [] });
  });
  it('names tcp flags as Hubble does', () => {
    assert.deepEqual(tcpFlagsOf(0x12), { SYN: true, ACK: true });
  });
});
