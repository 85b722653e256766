// A real capture (sim/fixtures/record.sh: node server and client in two network namespaces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCapture } from '../../sim/capture/read.ts';
import { run } from './helpers.ts';

const file = new URL('../../sim/fixtures/node-http.pcap', import.meta.url).pathname;

test('recorded node traffic: keep-alive, chunked POST, 404, pipelining', () => {
  const errors: Error[] = [];
  const r = run(readCapture(file, { onError: (e) => errors.push(e) }));
  assert.deepEqual(errors, []);
  const got = r.requests.map((q) => `${q.request.kind === 'request' ? `${q.request.method} ${q.request.target} ${q.request.framing}` : q.request.kind} -> ${q.response?.status}`);
  assert.deepEqual(got, [
    'GET / none -> 200',
    'GET /api/items?id=7 none -> 200',
    'POST /upload chunked -> 200',
    'GET /missing none -> 404',
    'GET /pipe/1 none -> 200',
    'GET /pipe/2 none -> 200',
  ]);
  assert.equal(r.summary.connections, 2);
  assert.ok(r.requests.every((q) => (q.response?.latencyNs ?? -1n) >= 0n));
  assert.ok(r.packets.every((p) => p.action === 'pass'));
  assert.deepEqual(r.conns.filter((e) => e.type === 'close').map((e) => e.type === 'close' && e.reason), ['fin', 'fin']);
});
