// Issue 15, explain: exit 1 when the verdict is denied, the verdict word printed once;
// --to's port and --header's name and value checked (bad input, exit 2).
import { l7bpf } from '../helpers/cli.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

const SEED = 'examples/seed';
const EXPLAIN = ['explain', '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`, '--from', 'frontend-1'];

describe('explain: exit 1 when denied, the verdict word once', () => {
  it('a denied request exits 1 and its line says DENIED once', () => {
    const r = l7bpf([...EXPLAIN, '--to', 'backend-1:8080', '--method', 'POST', '--path', '/api/v1/users']);
    assert.equal(r.code, 1, r.err);
    const first = r.out.split('\n')[0]!;
    assert.equal(first, 'DENIED: POST /api/v1/users matched no http rule (ingress of default/backend-1)');
  });

  it('a denied port reads "DENIED at L3/L4", an allowed request exits 0', () => {
    const port = l7bpf([...EXPLAIN, '--to', 'backend-1:9090']);
    assert.equal(port.code, 1);
    assert.match(port.out, /^DENIED at L3\/L4 \(ingress\): no rule allows it/);
    const ok = l7bpf([...EXPLAIN, '--to', 'backend-1:8080', '--method', 'GET', '--path', '/api/v1/users']);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^ALLOWED: GET \/api\/v1\/users matches /);
    for (const out of [port.out, ok.out]) assert.doesNotMatch(out.split('\n')[0]!, /(ALLOWED|DENIED):? (allowed|denied)\b/i);
  });

  it('--output json exits 1 when denied too', () => {
    const r = l7bpf([...EXPLAIN, '--to', 'backend-1:8080', '--method', 'DELETE', '--path', '/api/v1/users', '--output', 'json']);
    assert.equal(r.code, 1);
    assert.equal((JSON.parse(r.out) as { allowed: boolean }).allowed, false);
  });
});

describe('explain: --to and --header are checked (exit 2)', () => {
  it('a port outside 1..65535 is bad input', () => {
    for (const to of ['backend-1:99999', 'backend-1:0']) {
      const r = l7bpf([...EXPLAIN, '--to', to]);
      assert.equal(r.code, 2, `${to}: ${r.err}`);
      assert.match(r.err, /--to "backend-1:\d+": port \d+ is not in 1\.\.65535/);
      assert.equal(r.out, '');
    }
  });

  it('a header that is not "Name: value" or "Name" with a token name is bad input', () => {
    for (const h of ['bad header', 'X-Bad : v', ': v', 'X-Ctl: a\u0001b']) {
      const r = l7bpf([...EXPLAIN, '--to', 'backend-1:8080', '--header', h]);
      assert.equal(r.code, 2, `${JSON.stringify(h)}: ${r.err}`);
      assert.match(r.err, /--header ".*": /);
    }
    const grpc = l7bpf([...EXPLAIN, '--to', 'backend-1:8080', '--grpc', 'a.B/C', '--header', 'bad header']);
    assert.equal(grpc.code, 2);
    assert.match(grpc.err, /"bad header" is not a header name/);
  });

  it('"Name: value" and a bare "Name" are accepted', () => {
    const r = l7bpf([...EXPLAIN, '--to', 'backend-1:8080', '--method', 'GET', '--path', '/api/v1/users', '--header', 'X-Tenant: blue', '--header', 'X-Debug', '--output', 'json']);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { allowed: boolean }).allowed, true);
  });
});
