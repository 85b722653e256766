// Issue 15, inventory: nodes give the host and remote-node entities (the local node's
// addresses are host, every other node's remote-node), host-network pods are their node,
// Services resolve, duplicates are errors with file:line:col. The same classification in
// the oracle (resolveIp, decide), the map plan and what deploy writes to the ipcache map.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadInventory, parseInventory, RESERVED_IDENTITY, serviceBackends, findService, findEndpoint, type Inventory } from '../../src/endpoints/index.ts';
import { formatDiagnostic } from '../../src/policy/index.ts';
import { resolveIp } from '../../src/verdict/peers.ts';
import { planMaps } from '../../src/plan/plan.ts';
import { FakeLibbpf, ipcacheKey } from '../../src/loader/index.ts';
import { deploy } from '../../src/deploy/deploy.ts';
import { resolveTo } from '../../src/cli/explain-target.ts';
import type { SelectorIR } from '../../codegen/ir/types.ts';

const CLUSTER = 'test/fixtures/policies/inventory/kubectl-cluster.json';
const entityOf = (inv: Inventory, ip: string) => {
  const p = resolveIp(inv, ip);
  return p.kind === 'reserved' ? p.entity : p.kind;
};

describe('kubectl get pods,nodes,services -A -o json', () => {
  it('node addresses are host on the local node, remote-node elsewhere; a host-network pod adds its node', () => {
    const inv = loadInventory(CLUSTER, { localNode: 'node-a' });
    assert.equal(entityOf(inv, '192.168.0.10'), 'host');
    for (const ip of ['192.168.0.11', '203.0.113.11', '192.168.0.12']) assert.equal(entityOf(inv, ip), 'remote-node', ip);
    assert.deepEqual(inv.nodes?.map((n) => [n.name, n.local]), [['node-a', true], ['node-b', false], ['node-c', false]]);
    // host-network pods are not endpoints; node-c is known only from its kube-proxy pod
    assert.deepEqual(inv.endpoints.map((e) => e.name), ['web-1', 'web-2', 'client']);
    assert.deepEqual(inv.hostPods?.map((p) => `${p.namespace}/${p.name}@${p.node}`), ['monitoring/node-exporter-b@node-b', 'kube-system/kube-proxy-c@node-c']);
  });

  it('which node is local: --node-name, else none of several (all remote-node), else the only one', () => {
    assert.equal(entityOf(loadInventory(CLUSTER, { localNode: 'node-b' }), '192.168.0.11'), 'host');
    assert.equal(entityOf(loadInventory(CLUSTER), '192.168.0.10'), 'remote-node');
    const one = parseInventory('nodes: [{name: n1, addresses: [172.18.0.2]}]\n', 'one.yaml').inventory;
    assert.equal(entityOf(one, '172.18.0.2'), 'host');
    const bad = parseInventory('nodes: [{name: n1, addresses: [172.18.0.2]}, {name: n2, addresses: [172.18.0.3]}]\n', 'two.yaml', { localNode: 'n3' });
    assert.deepEqual(bad.diagnostics.map(formatDiagnostic), ['two.yaml:1:1: error: no node named "n3" (--node-name) in the inventory; its nodes: n1, n2 (hint: did you mean --node-name n1?)']);
  });

  it('a finished pod is left out (its address is released: web-1 has it now)', () => {
    const r = parseInventory(readFileSync(CLUSTER, 'utf8'), CLUSTER);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(findEndpoint(r.inventory, 'old-job'), null);
    const p = resolveIp(r.inventory, '10.244.1.10');
    assert.ok(p.kind === 'endpoint' && p.endpoint.name === 'web-1');
  });

  it('a Service resolves to its selected pods on the named targetPort', () => {
    const inv = loadInventory(CLUSTER);
    const web = findService(inv, 'shop/web');
    assert.ok(web);
    assert.deepEqual(serviceBackends(inv, web).map((e) => e.name), ['web-1', 'web-2']);
    for (const to of ['svc:web:80', 'svc:shop/web:80', '10.96.0.20:80']) {
      const t = resolveTo(inv, to, 'TCP');
      assert.deepEqual(t.targets.map((x) => [x.dst.kind === 'endpoint' ? x.dst.endpoint.name : x.dst.kind, x.port]), [['web-1', 8080], ['web-2', 8080]], to);
    }
    assert.throws(() => resolveTo(inv, 'svc:webb:80', 'TCP'), /unknown service "webb" \(hint: did you mean svc:web\?\)/);
    assert.throws(() => resolveTo(inv, 'svc:web:81', 'TCP'), /service shop\/web has no port 81\/TCP \(its ports: 80\/TCP\)/);
  });
});

describe('inventory YAML: nodes, host-network endpoints, services, duplicates', () => {
  it('nodes: [{name, addresses}] and hostNetwork endpoints', () => {
    const yaml = `nodes:
  - {name: me, addresses: [10.1.0.1, "fd00::1"]}
  - {name: other, addresses: [10.1.0.2]}
endpoints:
  - {name: web, labels: {app: web}, ips: [10.0.0.1]}
  - {name: agent, hostNetwork: true, node: other, ips: [10.1.0.2]}
services:
  - {name: web, selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
`;
    const r = parseInventory(yaml, 'inv.yaml', { localNode: 'me' });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(entityOf(r.inventory, 'fd00::1'), 'host');
    assert.equal(entityOf(r.inventory, '10.1.0.2'), 'remote-node');
    assert.deepEqual(r.inventory.endpoints.map((e) => e.name), ['web']);
    assert.deepEqual(resolveTo(r.inventory, 'svc:web:80', 'TCP').targets.map((t) => t.port), [8080]);
  });

  it('duplicate pod names in a namespace, duplicate addresses and Services are errors at the second one', () => {
    const yaml = `nodes:
  - {name: n, addresses: [10.1.0.1]}
endpoints:
  - {name: a, ips: [10.0.0.1]}
  - {name: a, namespace: other, ips: [10.0.0.2]}
  - {name: a, ips: [10.0.0.3]}
  - {name: b, ips: [10.0.0.1]}
  - {name: c, ips: [10.1.0.1]}
services:
  - {name: s, selector: {app: x}, ports: [{port: 80}]}
  - {name: s, selector: {app: y}, ports: [{port: 80}]}
`;
    assert.deepEqual(parseInventory(yaml, 'dup.yaml').diagnostics.map(formatDiagnostic), [
      'dup.yaml:6:5: error: pod default/a is listed twice (first at dup.yaml:4:5) (hint: remove one of them, or rename it)',
      'dup.yaml:11:5: error: service default/s is listed twice (first at dup.yaml:10:5) (hint: remove one of them, or rename it)',
      'dup.yaml:7:5: error: address 10.0.0.1 of pod default/b is also the address of pod default/a (dup.yaml:4:5) (hint: an address belongs to one pod or one node)',
      'dup.yaml:8:5: error: address 10.1.0.1 of pod default/c is also the address of node n (dup.yaml:2:5) (hint: an address belongs to one pod or one node)',
    ]);
  });
});

// --- the same classification everywhere, on random inventories -------------------------

const HOST_SEL: SelectorIR = { index: 0, description: 'entity:host', match: { kind: 'entity', entity: 'host' } };
const REMOTE_SEL: SelectorIR = { index: 1, description: 'entity:remote-node', match: { kind: 'entity', entity: 'remote-node' } };

/** n nodes with 1-3 addresses each and a few pods, all addresses distinct; which node is local. */
const world = fc.record({ nodes: fc.integer({ min: 1, max: 4 }), pods: fc.integer({ min: 0, max: 4 }), seed: fc.integer({ min: 0, max: 200 }), local: fc.integer({ min: -1, max: 3 }) }).map(({ nodes, pods, seed, local }) => {
  const nodeList = Array.from({ length: nodes }, (_, i) => ({ name: `node-${i}`, addresses: Array.from({ length: 1 + ((seed + i) % 3) }, (_, j) => (j === 2 ? `fd00::${i}:${seed}` : `172.16.${i}.${seed + j}`)) }));
  const podList = Array.from({ length: pods }, (_, i) => ({ name: `pod-${i}`, labels: { app: `a${i % 2}` }, ips: [`10.0.${i}.${seed}`], iface: `lxc${i}` }));
  const yaml = `nodes:\n${nodeList.map((n) => `  - {name: ${n.name}, addresses: [${n.addresses.map((a) => `"${a}"`).join(', ')}]}`).join('\n')}\nendpoints:\n${podList.map((p) => `  - {name: ${p.name}, labels: {app: ${p.labels.app}}, ips: [${p.ips[0]}], iface: ${p.iface}}`).join('\n') || '  []'}\n`;
  return { yaml: podList.length ? yaml : yaml.replace('endpoints:\n  []\n', ''), nodeList, podList, localNode: local >= 0 && local < nodes ? `node-${local}` : undefined };
});

const expectedEntity = (w: { nodeList: { name: string }[]; localNode?: string }, name: string) =>
  name === w.localNode || (w.localNode === undefined && w.nodeList.length === 1) ? 'host' : 'remote-node';

describe('node addresses: one classification in the oracle, the map plan and the deployed ipcache (property)', () => {
  it('every node address resolves to its entity; the plan and the ipcache map give it identity 1 or 6', () => {
    fc.assert(fc.property(world, (w) => {
      const r = parseInventory(w.yaml, 'gen.yaml', w.localNode ? { localNode: w.localNode } : {});
      assert.deepEqual(r.diagnostics, [], w.yaml);
      const plan = planMaps([HOST_SEL, REMOTE_SEL], r.inventory);
      const planned = new Map(plan.ipcache.map((e) => [e.cidr, e.identity]));
      for (const n of w.nodeList) {
        const entity = expectedEntity(w, n.name);
        for (const a of n.addresses) {
          assert.equal(entityOf(r.inventory, a), entity, `${a} of ${n.name}`);
          assert.equal(planned.get(resolveIp(r.inventory, a).ip!.text), RESERVED_IDENTITY[entity], `plan: ${a}`);
        }
      }
      const bits = new Map(plan.selectors.map((s) => [s.identity, s.selectors]));
      if (bits.has(1)) assert.deepEqual(bits.get(1), [0]);
      if (bits.has(6)) assert.deepEqual(bits.get(6), [1]);
      for (const p of w.podList) assert.equal(resolveIp(r.inventory, p.ips[0]!).kind, 'endpoint');
    }), { numRuns: 150 });
  });

  it('deploy writes those identities to the ipcache map (fake libbpf)', () => {
    const work = mkdtempSync(join(tmpdir(), 'l7bpf-nodes-'));
    try {
      const dir = join(work, 'obj');
      mkdirSync(dir);
      writeFileSync(join(dir, 'l7bpf.o'), 'x');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ object: 'l7bpf.o', selectors: [HOST_SEL, REMOTE_SEL], rules: [], httpRules: [] }));
      fc.assert(fc.property(world.filter((w) => w.podList.length > 0), (w) => {
        const inventory = parseInventory(w.yaml, 'gen.yaml', w.localNode ? { localNode: w.localNode } : {}).inventory;
        const lib = new FakeLibbpf({ programs: ['l7_from_pod', 'l7_to_pod'], maps: [{ name: 'ipcache', type: 11, keySize: 20, valueSize: 8, maxEntries: 1024 }, { name: 'selectors', type: 1, keySize: 4, valueSize: 8, maxEntries: 1024 }] });
        w.podList.forEach((p, i) => lib.interfaces.set(p.iface, 10 + i));
        const env = { pinRoot: join(work, 'pins'), stateDir: join(work, 'state') };
        deploy(lib, { dir, inventory, name: 'nodes' }, env);
        const ipcache = [...lib.store.values()].find((m) => [...m.keys()].some((k) => k === ipcacheKey(w.podList[0]!.ips[0]!).toString('hex')));
        assert.ok(ipcache, 'ipcache map filled');
        for (const n of w.nodeList) {
          for (const a of n.addresses) assert.equal(ipcache.get(ipcacheKey(a).toString('hex'))?.readUInt32LE(0), RESERVED_IDENTITY[expectedEntity(w, n.name)], `${a} of ${n.name}`);
        }
        rmSync(join(work, 'pins'), { recursive: true, force: true });
        rmSync(join(work, 'state'), { recursive: true, force: true });
      }), { numRuns: 40 });
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
