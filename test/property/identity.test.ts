// Identities: the same label set gets the same number whatever the inventory order; different
// label sets get different numbers; allocated numbers start at 256; reserved numbers are
// Cilium's (pkg/identity/numericidentity.go).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseInventory, labelKey, RESERVED_IDENTITY, MIN_ALLOCATED_IDENTITY, type Endpoint } from '../../src/endpoints/index.ts';
import { SEED } from './gen.ts';

const RUNS = { seed: SEED, numRuns: 200 };

interface Pod {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
}

const pod = (i: number) =>
  fc.record({
    namespace: fc.constantFrom('default', 'prod', 'kube-system'),
    labels: fc.dictionary(fc.constantFrom('app', 'tier', 'team', 'version', 'k8s-app'), fc.constantFrom('a', 'b', 'c', 'v1'), { maxKeys: 3 }),
  }).map((p): Pod => ({ name: `pod-${i}`, ...p }));

const pods = fc.integer({ min: 1, max: 12 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => pod(i))));

function inventory(ps: readonly Pod[]): readonly Endpoint[] {
  const yaml = JSON.stringify({ endpoints: ps.map((p, i) => ({ ...p, ips: [`10.2.${i >> 8}.${i & 255}`] })) });
  const r = parseInventory(yaml, 'gen.yaml');
  assert.deepEqual(r.diagnostics, []);
  return r.inventory.endpoints;
}

const byName = (eps: readonly Endpoint[]) => new Map(eps.map((e) => [e.name, e.identity]));

describe('identity properties', () => {
  it('same label set, same identity, regardless of inventory order', () => {
    fc.assert(
      fc.property(pods.chain((ps) => fc.tuple(fc.constant(ps), fc.shuffledSubarray(ps, { minLength: ps.length }))), ([ps, shuffled]) => {
        const a = byName(inventory(ps));
        const b = byName(inventory(shuffled));
        assert.deepEqual([...b.entries()].sort(), [...a.entries()].sort());
      }),
      RUNS,
    );
  });

  it('identities are equal exactly when label sets (namespace included) are equal, and >= 256', () => {
    fc.assert(
      fc.property(pods, (ps) => {
        const eps = inventory(ps);
        for (const x of eps) {
          assert.ok(x.identity >= MIN_ALLOCATED_IDENTITY && x.identity <= 65535, `identity ${x.identity}`);
          for (const y of eps) assert.equal(x.identity === y.identity, labelKey(x.labels) === labelKey(y.labels), `${x.name} vs ${y.name}`);
        }
      }),
      RUNS,
    );
  });

  it('the same pods in two namespaces have different identities', () => {
    const eps = inventory([
      { name: 'x', namespace: 'a', labels: { app: 'web' } },
      { name: 'y', namespace: 'b', labels: { app: 'web' } },
    ]);
    assert.notEqual(eps[0]?.identity, eps[1]?.identity);
  });

  it("reserved identities are Cilium's numbers", () => {
    assert.deepEqual({ ...RESERVED_IDENTITY }, { host: 1, world: 2, unmanaged: 3, health: 4, init: 5, 'remote-node': 6, 'kube-apiserver': 7, ingress: 8 });
    assert.equal(MIN_ALLOCATED_IDENTITY, 256);
  });
});
