// HTTP/2 requests in the oracle: a decoded field block -> the request model, or the first
// strict rule it breaks (each rule its own reason); gRPC rules judged on it through decide().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide, h2Request, resolveIp, H2_STRICT_RULES, KNOWN_METHODS } from '../../src/verdict/index.ts';
import { loadInventory, loadPolicies } from '../../src/api.ts';

type F = [string, string];
const base: F[] = [[':method', 'POST'], [':scheme', 'http'], [':authority', 'api:9090'], [':path', '/shop.v1.Payments/Charge'], ['content-type', 'application/grpc'], ['te', 'trailers']];
const rule = (fields: F[]) => {
  const r = h2Request(fields);
  return r.kind === 'ok' ? 'ok' : `${r.violation.rule}@${r.violation.offset}`;
};

test('a gRPC call maps to the request model: :method, :path, :authority and the regular fields', () => {
  const r = h2Request(base);
  assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  assert.deepEqual(r.request, { method: 'POST', target: '/shop.v1.Payments/Charge', version: 'HTTP/2', headers: [[':authority', 'api:9090'], ['content-type', 'application/grpc'], ['te', 'trailers']] });
});

test('each HTTP/2 rule is named, at the field where a streaming decoder meets it', () => {
  const at = (i: number, f: F) => [...base.slice(0, i), f, ...base.slice(i)];
  assert.equal(rule(at(4, ['Content-Type', 'x'])), 'h2-uppercase-name@4');
  assert.equal(rule(at(4, ['bad name', 'x'])), 'h2-bad-field@4');
  assert.equal(rule(at(4, ['x', 'a\r\nb'])), 'h2-bad-field@4');
  assert.equal(rule(at(4, ['x', ' padded'])), 'h2-bad-field@4');
  for (const n of ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']) assert.equal(rule(at(4, [n, 'x'])), 'h2-connection-field@4');
  assert.equal(rule(at(4, ['te', 'gzip'])), 'h2-connection-field@4');
  assert.equal(rule([...base, [':path', '/x']]), 'h2-pseudo-order@6');
  assert.equal(rule(at(1, [':status', '200'])), 'h2-pseudo-unknown@1');
  assert.equal(rule(at(1, [':protocol', 'websocket'])), 'h2-pseudo-unknown@1');
  assert.equal(rule(at(1, [':method', 'GET'])), 'h2-pseudo-repeated@1');
  assert.equal(rule(base.filter(([n]) => n !== ':scheme')), 'h2-pseudo-missing@5');
  assert.equal(rule(base.map(([n, v]): F => [n, n === ':path' ? '' : v])), 'h2-empty-path@6');
  assert.equal(rule([[':method', 'CONNECT'], [':authority', 'x:443']]), 'h2-connect@2');
  assert.equal(rule([...base, ['host', 'other']]), 'h2-host-authority@7');
  // HTTP/1's path and method rules hold for HTTP/2 too
  assert.equal(rule(base.map(([n, v]): F => [n, n === ':path' ? '/a/../b' : v])), 'path-not-canonical@6');
  assert.equal(rule(base.map(([n, v]): F => [n, n === ':method' ? 'BREW' : v])), 'unknown-method@6');
  assert.equal(rule([...base, ['host', 'api:9090'], ['host', 'api:9090']]), 'multiple-host@8');
  // every HTTP/2 rule the oracle can name that needs no framing is exercised above
  const named = new Set(['h2-uppercase-name', 'h2-bad-field', 'h2-connection-field', 'h2-pseudo-order', 'h2-pseudo-unknown', 'h2-pseudo-repeated', 'h2-pseudo-missing', 'h2-empty-path', 'h2-connect', 'h2-host-authority']);
  const framing = ['h2-preface', 'h2-frame', 'h2-continuation', 'h2-hpack', 'h2-block-too-long', 'h2-trailers'];
  assert.deepEqual(Object.keys(H2_STRICT_RULES).filter((r) => !named.has(r)).sort(), framing.sort());
});

const token = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const value = fc.stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/);

test('property: a valid request block is accepted with its fields; the earliest bad field wins', () => {
  const methods = [...KNOWN_METHODS].filter((m) => m !== 'CONNECT');
  fc.assert(fc.property(
    fc.constantFrom(...methods), fc.array(fc.stringMatching(/^[a-z0-9_~-][a-z0-9._~-]{0,7}$/), { maxLength: 4 }),
    fc.array(fc.tuple(token, value), { maxLength: 6 }), fc.nat(), fc.nat(),
    (method, segs, regular, k1, k2) => {
      const fields: F[] = [[':method', method], [':scheme', 'http'], [':path', '/' + segs.join('/')], [':authority', 'svc'],
        ...regular.filter(([n]) => !['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'host'].includes(n)) as F[]];
      const r = h2Request(fields);
      assert.equal(r.kind, 'ok', JSON.stringify(fields));
      if (r.kind === 'ok') assert.equal(r.request.target, fields[2]![1]);
      // two bad fields, one uppercase and one with CR: the first in the block is reported
      const i = 4 + (k1 % (fields.length - 3));
      const j = 4 + (k2 % (fields.length - 3));
      const bad = [...fields];
      bad.splice(i, 0, ['X-Up', 'v']);
      bad.splice(j >= i ? j + 1 : j, 0, ['x-cr', 'a\rb']);
      const v = h2Request(bad);
      assert.equal(v.kind, 'violation');
      if (v.kind === 'violation') assert.equal(v.violation.rule, j >= i ? 'h2-uppercase-name' : 'h2-bad-field');
    }), { numRuns: 300 });
});

test('decide: the shop gRPC rule allows Payments/Charge over HTTP/2 only, and names the strict rule', () => {
  const policies = loadPolicies(['examples/shop/policies.yaml']);
  const inv = loadInventory('examples/shop/endpoints.yaml');
  const flow = { src: resolveIp(inv, '10.1.0.30'), dst: resolveIp(inv, '10.1.0.20'), dstPort: 9090, protocol: 'TCP' as const };
  const req = (fields: F[]) => {
    const r = h2Request(fields);
    return decide(policies, flow, r.kind === 'ok' ? { kind: 'request', request: r.request } : { kind: 'violation', violation: r.violation });
  };
  assert.equal(req(base).allowed, true);
  const other = req(base.map(([n, v]): F => [n, n === ':path' ? '/shop.v1.Payments/Refund' : v]));
  assert.equal(other.allowed, false);
  assert.equal(other.reason, 'l7-denied');
  const http1 = decide(policies, flow, { kind: 'request', request: { method: 'POST', target: '/shop.v1.Payments/Charge', version: 'HTTP/1.1', headers: [['host', 'api']] } });
  assert.equal(http1.allowed, false);
  const strict = req([...base, ['connection', 'close']]);
  assert.equal(strict.reason, 'strict');
  assert.match(strict.summary, /connection-specific field/);
});
