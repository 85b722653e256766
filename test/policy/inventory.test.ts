// Inventories: `kubectl get pods -A -o json` and our YAML, including errors with positions.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseInventory, loadInventory, findEndpoint, RESERVED_IDENTITY } from '../../src/endpoints/index.ts';
import { formatDiagnostic, PolicyError } from '../../src/policy/index.ts';
import { resolvePeer } from '../../src/cli/explain.ts';

const DIR = 'test/fixtures/policies/inventory';
const KUBECTL = `${DIR}/kubectl-pods.json`;

describe('kubectl get pods -A -o json', () => {
  const inv = loadInventory(KUBECTL);
  const ep = (name: string) => {
    const e = findEndpoint(inv, name);
    assert.ok(e, `${name} not found`);
    return e;
  };

  it('reads pods as endpoints, leaving out host-network pods', () => {
    assert.deepEqual(inv.endpoints.map((e) => `${e.namespace}/${e.name}`), [
      'shop/frontend-7d9f8c6b5-abcde',
      'shop/frontend-7d9f8c6b5-fghij',
      'shop/backend-0',
      'jobs/batch-job-q8z',
    ]);
    assert.equal(findEndpoint(inv, 'kube-proxy-x7k2p'), null);
  });

  it('labels carry the namespace and the service account, without per-rollout labels, as Cilium derives them', () => {
    assert.deepEqual(ep('frontend-7d9f8c6b5-abcde').labels, {
      app: 'frontend',
      'io.kubernetes.pod.namespace': 'shop',
      'io.cilium.k8s.policy.serviceaccount': 'frontend',
    });
    assert.deepEqual(ep('backend-0').labels, { app: 'backend', tier: 'api', 'io.kubernetes.pod.namespace': 'shop' });
  });

  it('addresses come from podIPs (dual stack), else podIP; a pending pod has none', () => {
    assert.deepEqual(ep('frontend-7d9f8c6b5-abcde').ips.map((i) => i.text), ['10.244.1.10', 'fd00:10:244:1::a']);
    assert.deepEqual(ep('frontend-7d9f8c6b5-fghij').ips.map((i) => i.text), ['10.244.2.11']);
    assert.deepEqual(ep('batch-job-q8z').ips, []);
  });

  it('named ports come from every container; unnamed ports are not named ports', () => {
    assert.deepEqual(ep('backend-0').namedPorts, { api: 9000, metrics: 9400 });
    assert.deepEqual(ep('frontend-7d9f8c6b5-fghij').namedPorts, { http: 8080 });
  });

  it('replicas with the same labels share one identity; others differ; all allocated >= 256', () => {
    const [a, b, c] = [ep('frontend-7d9f8c6b5-abcde'), ep('frontend-7d9f8c6b5-fghij'), ep('backend-0')];
    assert.equal(a.identity, b.identity);
    assert.notEqual(a.identity, c.identity);
    for (const e of inv.endpoints) assert.ok(e.identity >= 256, `${e.name}: ${e.identity}`);
  });

  it('finds endpoints by name, namespace/name and any address; a host-network address is a node\'s (remote-node: kube-proxy names no node)', () => {
    assert.equal(resolvePeer(inv, 'shop/backend-0').kind, 'endpoint');
    const v6 = resolvePeer(inv, 'fd00:10:244:1::a');
    assert.ok(v6.kind === 'endpoint' && v6.endpoint.name === 'frontend-7d9f8c6b5-abcde');
    const node = resolvePeer(inv, '192.168.0.10');
    assert.ok(node.kind === 'reserved' && node.entity === 'remote-node', JSON.stringify(node));
    assert.throws(() => resolvePeer(inv, 'nope'), /unknown endpoint "nope"/);
  });
});

describe('inventory YAML', () => {
  it('reports every mistake with file:line:col, did-you-mean included', () => {
    const file = `${DIR}/bad-endpoints.yaml`;
    const r = parseInventory(readFileSync(file, 'utf8'), file);
    assert.deepEqual(r.diagnostics.map(formatDiagnostic), [
      `${file}:5:5: error: unknown field "lables" in endpoint (hint: did you mean "labels"?)`,
      `${file}:6:21: error: invalid IP address "10.0.0.300"`,
      `${file}:9:11: error: invalid IP address "fd00::zz"`,
      `${file}:11:14: error: "world" is not a reserved entity with addresses (hint: use host, remote-node, kube-apiserver, health, ingress)`,
    ]);
    assert.throws(() => loadInventory(file), (e: unknown) => e instanceof PolicyError && e.diagnostics.length === 4);
  });

  it('YAML syntax errors have a position', () => {
    const r = parseInventory('endpoints:\n  - {name: a, ips: [10.0.0.1]\n  - {name: b}\n', 'inv.yaml');
    assert.ok(r.diagnostics.length > 0);
    assert.match(formatDiagnostic(r.diagnostics[0]!), /^inv\.yaml:\d+:\d+: error: YAML: /);
  });

  it('defaults the namespace to default and gives reserved addresses their entity', () => {
    const r = parseInventory('endpoints: [{name: a, labels: {app: x}, ips: [10.0.0.1]}]\nreserved: [{entity: remote-node, ips: [10.0.255.2]}]\n', 'inv.yaml');
    assert.deepEqual(r.diagnostics, []);
    assert.equal(r.inventory.endpoints[0]?.namespace, 'default');
    const peer = resolvePeer(r.inventory, '10.0.255.2');
    assert.ok(peer.kind === 'reserved' && peer.entity === 'remote-node');
    assert.equal(RESERVED_IDENTITY['remote-node'], 6);
  });
});
