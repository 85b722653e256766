// Issue 15, deploy under `ip netns exec` (a private mount namespace with its own /sys): the pins
// land in the host's bpffs, so status and undeploy run from the root namespace find the
// deployment (status lists every network namespace's and names it); and the nodes of the
// inventory are enforced in the kernel: the local node's address is `host` (identity 1),
// another node's `remote-node` (6), so `fromEntities: [host]` admits only the first.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, inventoryYaml, REPO, run, Topology } from '../helpers/netns.ts';
import { cliArgv } from '../helpers/cli.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping e2e netns-deploy: ${skip}`);

const HOST_ADDR = '10.0.254.1';
const OTHER_NODE_ADDR = '10.0.254.2';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend-from-host, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEntities: [host]
      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
`;

/** One GET from the node namespace with the given source address: the status, or the error. */
function getFrom(t: Topology, source: string): string {
  const script = `const r = require('node:http').get({ host: '10.0.0.2', port: 8080, path: '/', localAddress: '${source}', timeout: 1500 }, (res) => { console.log(res.statusCode); res.resume(); });
r.on('timeout', () => { console.log('timeout'); r.destroy(); }); r.on('error', (e) => { if (e.code !== 'ECONNRESET' || !r.destroyed) console.log(e.code ?? e.message); });`;
  return run('ip', ['netns', 'exec', t.node, process.execPath, '-e', script]).trim().split('\n')[0] ?? '';
}

/** The CLI in this (root) network namespace, with the topology's pin root and state dir. */
function here(t: Topology, args: readonly string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...cliArgv(), ...args], { encoding: 'utf8', cwd: REPO, env: t.env(), timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('e2e: deploy under ip netns exec, status and undeploy from the root namespace', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  let record = '';

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1' }, { name: 'backend', v4: '10.0.0.2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-netns-'));
    // the node namespace gets its own address and one that stands for another node's
    for (const a of [HOST_ADDR, OTHER_NODE_ADDR]) run('ip', ['-n', t.node, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
    const nodes = `nodes:\n  - {name: node-local, addresses: [${HOST_ADDR}]}\n  - {name: node-other, addresses: [${OTHER_NODE_ADDR}]}\n`;
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }) + nodes);
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    await compilePolicies([join(dir, 'policy.yaml')], join(dir, 'obj'));
    await t.server('backend');
  });

  after(() => {
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('deploy under ip netns exec pins in the host bpffs and records the namespace', () => {
    const r = spawnSync('ip', ['netns', 'exec', t.node, process.execPath, ...cliArgv(), 'deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--node-name', 'node-local'], { encoding: 'utf8', cwd: REPO, env: t.env(), timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, new RegExp(`network namespace: ${t.node} \\[net:\\d+\\]`));
    // seen from here, after the deploying process (and its mount namespace) is gone
    for (const pin of ['flows', 'events', 'g1/l7_from_pod', 'g1/l7_to_pod', 'g1/ipcache']) assert.ok(existsSync(join(t.pinRoot, 'default', pin)), `${pin} pinned in the host bpffs`);
  });

  it('the node addresses are enforced: the local node (host) gets through, another node (remote-node) does not', () => {
    assert.equal(getFrom(t, HOST_ADDR), '200');
    assert.equal(getFrom(t, OTHER_NODE_ADDR), 'timeout');
  });

  it('status from the root namespace lists it with its namespace, both hooks ours', () => {
    const r = here(t, ['status']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, new RegExp(`^ {2}netns ${t.node} \\[net:\\d+\\]$`, 'm'));
    const hooks = r.out.split('\n').filter((l) => / tc (ingress|egress) /.test(l));
    assert.equal(hooks.length, 4, r.out);
    for (const h of hooks) assert.match(h, /prog id \d+ {2}\(/, h);
    record = readFileSync(join(t.stateDir, 'default.json'), 'utf8');
  });

  it('undeploy from the root namespace detaches in the node namespace and removes the pins', () => {
    const r = here(t, ['undeploy']);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /undeployed default: detached from lxc0frontend, lxc1backend/);
    for (const iface of ['lxc0frontend', 'lxc1backend']) {
      for (const dirn of ['ingress', 'egress']) assert.doesNotMatch(run('ip', ['netns', 'exec', t.node, 'tc', 'filter', 'show', 'dev', iface, dirn]), /bpf/, `${iface} ${dirn}`);
    }
    assert.ok(!existsSync(join(t.pinRoot, 'default')), 'pins removed');
    assert.ok(!existsSync(join(t.stateDir, 'default.json')), 'record removed');
    // nothing enforces any more: the other node's address gets through
    assert.equal(getFrom(t, OTHER_NODE_ADDR), '200');
  });

  it('a deployment whose network namespace is gone: status says so (exit 1), undeploy forgets it', () => {
    // inode 1 is no namespace's: as if the node namespace had been deleted with the filters in it
    writeFileSync(join(t.stateDir, 'ghost.json'), JSON.stringify({ ...JSON.parse(record), name: 'ghost', netns: { inode: 1, name: null } }));
    const st = here(t, ['status']);
    assert.equal(st.code, 1, st.err + st.out);
    assert.match(st.out, /^ {2}netns \(unnamed\) \[net:1\], gone: its interfaces and filters went with it$/m);
    assert.match(st.out, /NOT ATTACHED/);
    const un = here(t, ['undeploy', '--name', 'ghost']);
    assert.equal(un.code, 0, un.err);
    assert.match(un.out, /undeployed ghost: its network namespace \(unnamed\) \[net:1\] is gone/);
    assert.ok(!existsSync(join(t.stateDir, 'ghost.json')));
  });
});
