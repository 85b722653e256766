// The Kubernetes source's parts on their own: reconnect pacing, and finding a pod's host-side
// interface from the node's routes (a fake `ip`).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from '../../../src/agent/kubernetes/backoff.ts';
import { resolveInterfaces, RouteTableResolver } from '../../../src/agent/kubernetes/index.ts';
import { fakeIp, NODE_A_IP } from './harness.ts';

describe('Backoff', () => {
  it('doubles from the first delay up to the cap, each delay in the upper half of its step, and starts over after reset', () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => low.next()), [50, 100, 200, 400, 500, 500]);
    const high = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.999999);
    const delays = [1, 2, 3, 4, 5, 6].map(() => high.next());
    assert.ok(delays.every((d, i) => d <= Math.min(1000, 100 * 2 ** i)), `${delays}`);
    high.reset();
    assert.ok(high.next() <= 100);
  });
});

describe('RouteTableResolver', () => {
  const resolver = new RouteTableResolver(fakeIp(NODE_A_IP));

  it('takes the device of the pod address\'s host route when it is a veth', async () => {
    const r = await resolver.resolve([{ key: 'default/a', ips: ['10.0.1.10'] }]);
    assert.deepEqual(r, { ifaceOf: { 'default/a': 'lxc5a1f0e2b3c4d' }, unresolved: [] });
  });

  it('says why when the pod\'s address is only reached through a gateway (Cilium without endpoint routes) or a non-veth device', async () => {
    const tables = { ...NODE_A_IP, '-j -4 route show': [{ dst: '10.0.1.0/24', gateway: '10.0.1.1', dev: 'cilium_host' }, { dst: '10.0.1.77', dev: 'eth0' }] };
    const r = await new RouteTableResolver(fakeIp(tables)).resolve([{ key: 'default/a', ips: ['10.0.1.10'] }, { key: 'default/b', ips: ['10.0.1.77'] }]);
    assert.deepEqual(r.ifaceOf, {});
    assert.match(r.unresolved[0]!.reason, /no host route to 10\.0\.1\.10 on this node/);
    assert.match(r.unresolved[1]!.reason, /leaves by eth0, which is not a pod's veth/);
  });

  it('reports every pod when `ip` fails, and the map still places the pods it names', async () => {
    const broken = new RouteTableResolver(async () => {
      throw new Error('spawn ip ENOENT');
    });
    const r = await resolveInterfaces([{ key: 'default/a', ips: ['10.0.1.10'] }, { key: 'default/b', ips: ['10.0.1.20'] }], { b: 'veth-b' }, broken);
    assert.deepEqual(r.ifaceOf, { 'default/b': 'veth-b' });
    assert.deepEqual(r.unresolved, [{ key: 'default/a', reason: "cannot read the node's routes (ip -j route): spawn ip ENOENT" }]);
  });
});
