// rateLimit on http and grpc rules: parsing (defaults, errors at file:line:col), the bucket ids
// a deploy relies on to keep buckets (stable while the rule is unchanged, wherever it is
// written), and the GCRA buckets against a plain token bucket (fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parsePolicies } from '../../src/policy/index.ts';
import { Buckets, intervalNs, tokensLeft } from '../../src/verdict/ratelimit.ts';
import type { RateLimit } from '../../src/policy/types.ts';

const policy = (http: string, name = 'p', extra = '') => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}}
spec:
  endpointSelector: {matchLabels: {app: b}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: a}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:${extra}
              - ${http}
`;
const limits = (text: string, file = 'p.yaml') => {
  const r = parsePolicies(text, file);
  const http = r.policies.flatMap((p) => p.specs.flatMap((s) => s.rules.flatMap((x) => (x.toPorts ?? []).flatMap((t) => t.http ?? []))));
  return { diagnostics: r.diagnostics, limits: http.map((h) => h.rateLimit) };
};

test('rateLimit: defaults (burst = rate, per source, enforce), a note that it is an extension', () => {
  const r = limits(policy('{path: "/x", rateLimit: {requestsPerSecond: 10}}'));
  assert.deepEqual({ ...r.limits[0]!, id: '' }, { requestsPerSecond: 10, burst: 10, per: 'source', mode: 'enforce', id: '' });
  assert.match(r.limits[0]!.id, /^[0-9a-f]{16}$/);
  assert.ok(r.diagnostics.some((d) => d.severity === 'note' && d.code === 'extension'));
});

test('rateLimit: bad values are errors at their line and column, the policy dropped', () => {
  for (const [bad, what] of [
    ['{requestsPerSecond: 0}', /requestsPerSecond must be a whole number from 1 to 1,000,000/],
    ['{requestsPerSecond: 2.5}', /requestsPerSecond must be a whole number/],
    ['{requestsPerSecond: 10, burst: -1}', /burst must be a whole number/],
    ['{requestsPerSecond: 10, per: pod}', /per must be source, rule, connection; not "pod"/],
    ['{requestsPerSecond: 10, mode: audit}', /mode must be enforce, shadow; not "audit"/],
    ['{burst: 3}', /rateLimit needs requestsPerSecond/],
    ['{requestsPerSecond: 1, every: 2}', /unknown field "every" in rateLimit/],
  ] as const) {
    const r = parsePolicies(policy(`{path: "/x", rateLimit: ${bad}}`), 'bad.yaml');
    const e = r.diagnostics.find((d) => d.severity === 'error');
    assert.ok(e, bad);
    assert.match(e.message, what);
    assert.equal(e.pos.file, 'bad.yaml');
    assert.equal(e.pos.line, 12, bad);
    assert.equal(r.policies.length, 0);
  }
});

test('rateLimit ids: the same rule keeps its id wherever it is written; a changed rule gets another', () => {
  const rule = '{method: GET, path: "/x", rateLimit: {requestsPerSecond: 10}}';
  const base = limits(policy(rule)).limits[0]!.id;
  assert.equal(limits(policy(rule), 'elsewhere/other.yaml').limits[0]!.id, base, 'another file');
  assert.equal(limits(policy(rule, 'p', '\n              - {path: "/first"}')).limits[1]!.id, base, 'another position');
  assert.notEqual(limits(policy('{method: GET, path: "/x", rateLimit: {requestsPerSecond: 11}}')).limits[0]!.id, base, 'another limit');
  assert.notEqual(limits(policy('{method: GET, path: "/y", rateLimit: {requestsPerSecond: 10}}')).limits[0]!.id, base, 'another path');
  assert.notEqual(limits(policy(rule, 'q')).limits[0]!.id, base, 'another policy');
});

const limitArb = fc.record({
  requestsPerSecond: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 1_000_000 })),
  burst: fc.integer({ min: 1, max: 50 }),
  per: fc.constant('rule' as const),
  mode: fc.constant('enforce' as const),
  id: fc.constant('0000000000000001'),
});

test('buckets: GCRA admits exactly what a bucket of burst tokens refilled every interval admits', () => {
  fc.assert(fc.property(limitArb, fc.array(fc.bigInt({ min: 0n, max: 2_000_000_000n }), { minLength: 1, maxLength: 60 }), (rl: RateLimit, gaps) => {
    const b = new Buckets();
    const T = intervalNs(rl);
    const cap = BigInt(rl.burst) * T;
    let level = cap;
    let now = 1_000_000_000_000n;
    let at = now;
    for (const g of gaps) {
      now += g;
      level = level + (now - at) > cap ? cap : level + (now - at);
      at = now;
      const plain = level >= T;
      if (plain) level -= T;
      assert.equal(b.take(rl, 'r', now), plain);
      assert.equal(b.tokens(rl, 'r', now), Number(level / T));
    }
  }), { numRuns: 500 });
});

test('buckets: the interval rounds up (the admitted rate never exceeds the limit); a never-used bucket is full', () => {
  const rl: RateLimit = { requestsPerSecond: 3, burst: 2, per: 'rule', mode: 'enforce', id: 'x' };
  assert.equal(intervalNs(rl), 333_333_334n);
  assert.equal(tokensLeft(rl, null, 5n), 2);
  const b = new Buckets(2);
  for (const s of ['a', 'b', 'c']) assert.ok(b.take(rl, s, 0n));
  // bounded: the least recently used ('a') was forgotten and comes back full
  assert.equal(b.tokens(rl, 'a', 0n), 2);
  assert.equal(b.tokens(rl, 'c', 0n), 1);
});
