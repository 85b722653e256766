// Issue 15, inventory in the CLI: node addresses are the host and remote-node entities
// (--node-name picks the local node), `explain --to svc:NAME:PORT` judges the Service's pods on
// its targetPort, unknown names get a did-you-mean, duplicates are reported with file:line:col.
import { l7bpf } from '../helpers/cli.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

const DIR = 'test/fixtures/policies/inventory';
const EXPLAIN = ['explain', '--policy', `${DIR}/nodes-policy.yaml`, '--endpoints', `${DIR}/kubectl-cluster.json`];

describe('explain: nodes are host and remote-node', () => {
  it('the local node (--node-name) is host: fromEntities [host] allows it; another node is remote-node', () => {
    const host = l7bpf([...EXPLAIN, '--from', '192.168.0.10', '--to', 'web-1:8080', '--node-name', 'node-a']);
    assert.equal(host.code, 0, host.err + host.out);
    assert.match(host.out, /^ALLOWED: an L3\/L4 rule allows it\n {2}- reserved:host \(192\.168\.0\.10\) -> shop\/web-1:8080\/TCP/);
    // a host-network pod is its node: node-exporter-b runs on node-b
    const remote = l7bpf([...EXPLAIN, '--from', 'monitoring/node-exporter-b', '--to', 'web-1:8080', '--node-name', 'node-a', '--output', 'json']);
    assert.equal(remote.code, 1, remote.err);
    assert.equal((JSON.parse(remote.out) as { flow: { from: string } }).flow.from, 'reserved:remote-node (192.168.0.11)');
  });

  it('a --node-name that is no node is bad input, with did-you-mean', () => {
    const r = l7bpf([...EXPLAIN, '--from', 'client', '--to', 'web-1:8080', '--node-name', 'node-x']);
    assert.equal(r.code, 2);
    assert.match(r.err, /kubectl-cluster\.json:1:1: error: no node named "node-x" \(--node-name\) in the inventory; its nodes: node-a, node-b, node-c \(hint: did you mean --node-name node-a\?\)/);
  });
});

describe('explain --to svc:NAME:PORT', () => {
  it("judges every selected pod on the Service's targetPort; the verdict word once, first", () => {
    const r = l7bpf([...EXPLAIN, '--from', 'client', '--to', 'svc:shop/web:80', '--method', 'POST', '--path', '/api/x']);
    assert.equal(r.code, 1, r.err);
    const lines = r.out.split('\n');
    assert.equal(lines[0], 'DENIED: 2 of 2 backends of service shop/web port 80/TCP deny it');
    assert.ok(lines.includes('backend shop/web-1:8080 (targetPort http):'), r.out);
    assert.ok(lines.includes('backend shop/web-2:8080 (targetPort http):'), r.out);
    const ok = l7bpf([...EXPLAIN, '--from', 'client', '--to', 'svc:web:80', '--method', 'GET', '--path', '/api/x', '--output', 'json']);
    assert.equal(ok.code, 0, ok.err);
    const j = JSON.parse(ok.out) as { allowed: boolean; service: { targetPort: string }; backends: { backend: string; flow: { port: number } }[] };
    assert.equal(j.allowed, true);
    assert.equal(j.service.targetPort, 'http');
    assert.deepEqual(j.backends.map((b) => [b.backend, b.flow.port]), [['shop/web-1', 8080], ['shop/web-2', 8080]]);
  });

  it('unknown names get a did-you-mean (exit 2)', () => {
    const svc = l7bpf([...EXPLAIN, '--from', 'client', '--to', 'svc:web.shop:80']);
    assert.equal(svc.code, 2);
    assert.match(svc.err, /unknown service "web\.shop" \(hint: did you mean svc:shop\/web\?\)/);
    const pod = l7bpf([...EXPLAIN, '--from', 'clent', '--to', 'web-1:8080']);
    assert.equal(pod.code, 2);
    assert.match(pod.err, /unknown endpoint "clent" .*\(hint: did you mean "client"\?\)/);
  });
});

describe('duplicates are flagged with file:line:col', () => {
  it('check: two policies with one name in one namespace', () => {
    const r = l7bpf(['check', 'test/fixtures/policies/bad/duplicate-names.yaml']);
    assert.equal(r.code, 1, r.err);
    assert.match(r.err, /duplicate-names\.yaml:9:1: error: CiliumNetworkPolicy shop\/allow-web is also defined at test\/fixtures\/policies\/bad\/duplicate-names\.yaml:2:1/);
  });

  it('the inventory: a pod name twice in a namespace, an address on two pods', () => {
    const r = l7bpf(['check', 'test/fixtures/policies/inventory/nodes-policy.yaml', '--endpoints', `${DIR}/duplicates.yaml`]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /duplicates\.yaml:4:5: error: pod shop\/web-1 is listed twice \(first at .*duplicates\.yaml:3:5\)/);
    assert.match(r.err, /duplicates\.yaml:5:5: error: address 10\.244\.1\.10 of pod shop\/client is also the address of pod shop\/web-1 \(.*duplicates\.yaml:3:5\)/);
  });
});
