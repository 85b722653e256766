// The Kubernetes source against replayed API responses (no live cluster): initial sync,
// watch events, bookmarks, 410 Gone, reconnects, this node's endpoints, and texts that the
// policy and inventory parsers read without a diagnostic.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parsePolicies } from '../../../src/policy/parse.ts';
import { parseInventory } from '../../../src/endpoints/index.ts';
import type { Snapshot } from '../../../src/agent/types.ts';
import { harness, PATH, settle, type Harness } from './harness.ts';
import { fixture, watchLines } from './replay-server.ts';

const [ADDED, MODIFIED, BOOKMARK, DELETED] = watchLines('cnps.watch.ndjson') as [string, string, string, string];
const [EXPIRED] = watchLines('watch-expired.ndjson') as [string];
const [POD_ADDED] = watchLines('pods.watch.ndjson') as [string];
const ALLOW_GET = 'kubernetes:CiliumNetworkPolicy/default/backend-allow-get';
const DENY_ADMIN = 'kubernetes:CiliumNetworkPolicy/default/deny-admin';
const ALLOW_DNS = 'kubernetes:CiliumClusterwideNetworkPolicy/allow-dns';

async function withHarness(opts: Parameters<typeof harness>[0], body: (h: Harness) => Promise<void>): Promise<void> {
  const h = await harness(opts);
  try {
    await body(h);
  } finally {
    await h.close();
  }
}

const names = (s: Snapshot) => s.policies.map((p) => p.name);
const textOf = (s: Snapshot, name: string) => s.policies.find((p) => p.name === name)?.text ?? '';
const allWatching = (h: Harness, paths: readonly string[]) => () => paths.every((p) => h.server.open(p).length === 1);
const lastWatch = (h: Harness, path: string) => h.server.requestsFor(path, 'watch').at(-1)?.searchParams;

describe('Kubernetes source: initial sync', () => {
  it('sends nothing until every kind is listed, then exactly one Snapshot with everything', () =>
    withHarness({ hold: PATH.ccnps }, async (h) => {
      await h.server.until(allWatching(h, [PATH.cnps, PATH.pods, PATH.nodes, PATH.services]), 'four kinds listed and watching');
      await settle();
      assert.equal(h.snapshots.length, 0, 'a Snapshot came while CiliumClusterwideNetworkPolicies were still being listed');
      h.release();
      const s = await h.snapshot(1);
      await settle();
      assert.equal(h.snapshots.length, 1, 'the initial sync made more than one Snapshot');
      assert.deepEqual(names(s), [ALLOW_GET, ALLOW_DNS]);
      assert.equal(s.describe, '2 policies, 5 pods (2 on this node), 2 services, resourceVersion 1000');
      assert.equal(s.inventory?.name, 'kubernetes:List/pods,nodes,services');
    }));

  it('asks for bookmarks and watches from the list\'s resourceVersion, with the kubeconfig\'s token', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      for (const path of Object.values(PATH)) {
        const q = lastWatch(h, path);
        assert.equal(q?.get('allowWatchBookmarks'), 'true', `${path}: no bookmarks asked for`);
        assert.equal(q?.get('resourceVersion'), '1000', `${path}: watch not from the list's resourceVersion`);
        assert.ok(Number(q?.get('timeoutSeconds')) > 0, `${path}: no timeoutSeconds`);
      }
      assert.deepEqual([...new Set(h.server.authorizations)], ['Bearer replay-token']);
    }));

  it('produces texts that parsePolicies and parseInventory read without a diagnostic, without the API server\'s bookkeeping', () =>
    withHarness({}, async (h) => {
      const s = await h.snapshot(1);
      for (const p of s.policies) {
        const { policies, diagnostics } = parsePolicies(p.text, p.name);
        assert.deepEqual(diagnostics, [], `${p.name}:\n${p.text}`);
        assert.equal(policies.length, 1, p.name);
        for (const noise of ['managedFields', '"status"', 'last-applied-configuration', 'resourceVersion']) assert.ok(!p.text.includes(noise), `${p.name} still has ${noise}`);
      }
      const { inventory, diagnostics } = parseInventory(s.inventory!.text, s.inventory!.name);
      assert.deepEqual(diagnostics, []);
      // every pod is in the inventory, whichever node it runs on; finished and host-network ones as the kubectl reader treats them
      assert.deepEqual(inventory.endpoints.map((e) => e.name).sort(), ['backend-7d4f9c6b8-x2kq9', 'frontend-6b7c8d9f5-m4n8p', 'frontend-6b7c8d9f5-q9r2s', 'worker-5f6a7b8c9-pend1']);
      assert.ok(!s.inventory!.text.includes('managedFields'));
    }));
});

describe('Kubernetes source: this node\'s endpoints', () => {
  it('maps the running pods of this node to the veth their host route leaves by; other nodes\' pods are in the inventory only', () =>
    withHarness({}, async (h) => {
      const s = await h.snapshot(1);
      assert.deepEqual(s.ifaceOf, { 'default/backend-7d4f9c6b8-x2kq9': 'lxc9e8d7c6b5a41', 'default/frontend-6b7c8d9f5-m4n8p': 'lxc5a1f0e2b3c4d' });
      assert.ok(s.inventory!.text.includes('frontend-6b7c8d9f5-q9r2s'), 'the node-b pod is missing from the inventory');
      assert.deepEqual(h.problems, []);
    }));

  it('takes the interface map over the routes, and reports the pods it cannot place', () =>
    withHarness({ options: { interfaceMap: { 'default/frontend-6b7c8d9f5-m4n8p': 'veth-fe' }, resolver: null } }, async (h) => {
      const s = await h.snapshot(1);
      assert.deepEqual(s.ifaceOf, { 'default/frontend-6b7c8d9f5-m4n8p': 'veth-fe' });
      assert.match(s.describe, /\(2 on this node, 1 without an interface\)/);
      assert.equal(h.problems.length, 1);
      assert.match(h.problems[0]!, /no host-side interface for 1 pod\(s\) of node node-a: default\/backend-7d4f9c6b8-x2kq9: not in the interface map/);
    }));
});

describe('Kubernetes source: watch events', () => {
  it('ADDED, MODIFIED and DELETED change the Snapshot; a BOOKMARK changes nothing but the resourceVersion to resume from', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      h.server.push(PATH.cnps, ADDED);
      assert.deepEqual(names(await h.snapshot(2)), [ALLOW_GET, DENY_ADMIN, ALLOW_DNS]);
      h.server.push(PATH.cnps, MODIFIED);
      assert.match(textOf(await h.snapshot(3), ALLOW_GET), /\/api\/v2\/\.\*/);
      h.server.push(PATH.cnps, BOOKMARK);
      h.server.push(PATH.cnps, DELETED);
      const s4 = await h.snapshot(4);
      assert.deepEqual(names(s4), [ALLOW_GET, ALLOW_DNS]);
      await settle();
      assert.equal(h.snapshots.length, 4, 'the bookmark made a Snapshot of its own');
      assert.match(s4.describe, /resourceVersion 1160$/);
      // the server ends the watch (its timeout): the client resumes from the last event's version, no relist
      const lists = h.server.requestsFor(PATH.cnps, 'list').length;
      h.server.end(PATH.cnps);
      await h.server.until(() => h.server.requestsFor(PATH.cnps, 'watch').length === 2, 'a second watch');
      assert.equal(lastWatch(h, PATH.cnps)?.get('resourceVersion'), '1160');
      assert.equal(h.server.requestsFor(PATH.cnps, 'list').length, lists, 'a clean end of the watch made a relist');
    }));

  it('resumes after a bookmark from the bookmark\'s resourceVersion', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      h.server.push(PATH.cnps, BOOKMARK);
      await settle(50);
      h.server.end(PATH.cnps);
      await h.server.until(() => h.server.requestsFor(PATH.cnps, 'watch').length === 2, 'a second watch');
      assert.equal(lastWatch(h, PATH.cnps)?.get('resourceVersion'), '1150');
      assert.equal(h.snapshots.length, 1);
    }));
});

describe('Kubernetes source: 410 Gone', () => {
  const RELIST = fixture('cnps.relist.json');

  it('relists after an ERROR event with code 410, and the Snapshot shows what changed meanwhile', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      h.server.setList(PATH.cnps, RELIST);
      h.server.push(PATH.cnps, EXPIRED);
      const s = await h.snapshot(2);
      assert.deepEqual(names(s), [ALLOW_GET, DENY_ADMIN, ALLOW_DNS]);
      assert.match(textOf(s, ALLOW_GET), /\/api\/v2\/\.\*/);
      assert.equal(h.server.requestsFor(PATH.cnps, 'list').length, 2);
      await h.server.until(allWatching(h, [PATH.cnps]), 'the new watch');
      assert.equal(lastWatch(h, PATH.cnps)?.get('resourceVersion'), '1300');
      await settle();
      assert.equal(h.snapshots.length, 2, 'the relist made more than one Snapshot');
    }));

  it('relists after an HTTP 410 answer to the watch request', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      h.server.setList(PATH.cnps, RELIST);
      h.server.refuseNext(PATH.cnps, 'watch', 410, fixture('status-410.json'));
      h.server.end(PATH.cnps);
      const s = await h.snapshot(2);
      assert.deepEqual(names(s), [ALLOW_GET, DENY_ADMIN, ALLOW_DNS]);
      const watches = h.server.requestsFor(PATH.cnps, 'watch').map((q) => q.searchParams.get('resourceVersion'));
      await h.server.until(allWatching(h, [PATH.cnps]), 'the new watch');
      assert.deepEqual(watches.slice(0, 2), ['1000', '1000'], 'the refused watch was not a resume from 1000');
      assert.equal(lastWatch(h, PATH.cnps)?.get('resourceVersion'), '1300');
    }));
});

describe('Kubernetes source: broken connections', () => {
  it('after a dropped watch, reports it and reconnects from the last resourceVersion without a relist', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      h.server.push(PATH.pods, POD_ADDED);
      const s2 = await h.snapshot(2);
      assert.equal(s2.ifaceOf['default/backend-7d4f9c6b8-z7w3v'], 'lxc0123456789ab');
      h.server.drop(PATH.pods);
      await h.server.until(() => h.server.requestsFor(PATH.pods, 'watch').length === 2, 'a reconnect');
      assert.equal(lastWatch(h, PATH.pods)?.get('resourceVersion'), '1105');
      assert.equal(h.server.requestsFor(PATH.pods, 'list').length, 1, 'the reconnect relisted');
      assert.ok(h.problems.some((p) => p.startsWith('/api/v1/pods: ')), `no problem reported: ${h.problems.join(' | ')}`);
      // the problem is over once the watch is back: the Snapshot is sent again, unchanged
      const s3 = await h.snapshot(3);
      assert.deepEqual(s3.policies, s2.policies);
      assert.deepEqual(s3.ifaceOf, s2.ifaceOf);
    }));

  it('reconnects from the same resourceVersion after an ERROR event other than 410, and after an unreadable line', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      h.server.push(PATH.services, JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'etcdserver: request timed out', reason: 'InternalError', code: 500 } }));
      await h.server.until(() => h.server.requestsFor(PATH.services, 'watch').length === 2, 'a reconnect after the ERROR event');
      h.server.push(PATH.services, '{"type":"ADDED","object":{"kind":');
      await h.server.until(() => h.server.requestsFor(PATH.services, 'watch').length === 3, 'a reconnect after the unreadable line');
      assert.deepEqual(h.server.requestsFor(PATH.services, 'watch').map((u) => u.searchParams.get('resourceVersion')), ['1000', '1000', '1000']);
      assert.equal(h.server.requestsFor(PATH.services, 'list').length, 1);
      assert.match(h.problems.join('\n'), /500 InternalError: etcdserver: request timed out/);
      assert.match(h.problems.join('\n'), /unreadable watch event/);
    }));

  it('says why a list is refused (403 Forbidden names the RBAC rule) and retries until it works', () =>
    withHarness({ hold: PATH.cnps }, async (h) => {
      h.server.refuseNext(PATH.cnps, 'list', 403, fixture('status-403.json'));
      h.release();
      await h.snapshot(1);
      assert.match(h.problems[0] ?? '', /^\/apis\/cilium\.io\/v2\/ciliumnetworkpolicies: 403 Forbidden: ciliumnetworkpolicies\.cilium\.io is forbidden: .* cannot list resource/);
      assert.equal(h.server.requestsFor(PATH.cnps, 'list').length, 2);
    }));

  it('stops: no connection stays open, no reconnect follows', () =>
    withHarness({}, async (h) => {
      await h.snapshot(1);
      await h.source.stop();
      await settle();
      for (const path of Object.values(PATH)) assert.equal(h.server.open(path).filter((r) => !r.socket?.destroyed).length, 0, `${path} still watched`);
      const count = h.server.requests.length;
      await settle();
      assert.equal(h.server.requests.length, count);
    }));
});
