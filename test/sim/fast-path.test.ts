// The hot-path shortcuts keep the observable behaviour: lazily decoded request fields,
// Content-Length response bodies passed over without llhttp, the pull-based reader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tcpConn } from '../../sim/builder/tcp-conn.ts';
import { readCapture } from '../../sim/capture/read.ts';
import { memorySource } from '../../sim/capture/source.ts';
import { pcapBytes } from '../../sim/capture/writer.ts';
import { llhttp } from '../../sim/http1/llhttp.ts';
import type { HttpRequest, Judge } from '../../sim/replay/types.ts';
import { replaySync } from '../../sim/replay/index.ts';
import { allowAll, run, runFixture, runPcap, summaries } from './helpers.ts';

const C = { client: '10.0.0.1:40000', server: '10.0.0.2:8080' };
const HEAD = 'GET /a/b?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nX-Empty:\r\nAccept:  text/html \t\r\nX-Long: ' + 'v'.repeat(40) + '\r\n\r\n';
// llhttp skips leading OWS of a value and delivers trailing OWS as sent
const WANT: [string, string][] = [['Host', 'example.com:8080'], ['X-Empty', ''], ['Accept', 'text/html \t'], ['X-Long', 'v'.repeat(40)]];

function requestsOf(list: Parameters<typeof runFixture>[0], judge: Judge = allowAll, o = {}): HttpRequest[] {
  return runFixture(list, judge, o).requests.map((q) => q.request).filter((e): e is HttpRequest => e.kind === 'request');
}

test('llhttp struct layout is recognised (fast reads of method, version, content length)', () => {
  assert.equal(llhttp().structOk, true);
});

test('lazy request fields equal the wire text, whatever the segmentation', () => {
  for (let cut = 1; cut < HEAD.length; cut++) {
    const c = tcpConn(C).handshake().send(HEAD, { splitAt: [cut] });
    const [q] = requestsOf(c.list);
    assert.ok(q, `cut ${cut}`);
    assert.equal(q.target, '/a/b?q=1', `cut ${cut}`);
    assert.deepEqual(q.headers, WANT, `cut ${cut}`);
    assert.equal(q.method, 'GET');
    assert.equal(q.version, '1.1');
    assert.equal(q.framing, 'none');
    assert.equal(Buffer.from(q.head).toString('latin1'), HEAD);
    assert.deepEqual(JSON.parse(JSON.stringify(q)).headers, WANT);
  }
});

test('chunked trailers are not headers of the request; framing is read from the names', () => {
  const post = 'POST /t HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Trailer: 1\r\n\r\n';
  const c = tcpConn(C).handshake().send(post + 'GET /n HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  const [p, g] = requestsOf(c.list);
  assert.deepEqual(p!.headers, [['Host', 'x'], ['transfer-encoding', 'chunked']]);
  assert.equal(p!.framing, 'chunked');
  assert.equal(g!.framing, 'content-length');
});

test('a head over the inspection limit still reports the header pieces beyond the kept bytes', () => {
  const long = 'GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: ' + 'p'.repeat(200) + '\r\nX-After: tail\r\n\r\n';
  const judge: Judge = { connection: () => ({ allowed: true, inspect: true }), request: () => ({ allowed: true }) };
  for (const cut of [10, 100, 150, long.length - 5]) {
    const c = tcpConn(C).handshake().send(long, { splitAt: [cut] });
    const r = runFixture(c.list, judge, { inspectionLimit: 128 });
    assert.deepEqual(summaries(r), ['violation:head-too-long allow', 'GET /x allow'], `cut ${cut}`);
    const q = r.requests[1]!.request as HttpRequest;
    assert.equal(q.head.length, 128);
    assert.deepEqual(q.headers, [['Host', 'x'], ['X-Pad', 'p'.repeat(200)], ['X-After', 'tail']], `cut ${cut}`);
  }
});

test('Content-Length response bodies are passed over: body text never pairs, at any split', () => {
  const body = 'HTTP/1.1 500 Bad\r\ncontent-length: 0\r\n\r\n';
  const resp = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nnah`;
  for (let cut = 1; cut < resp.length; cut++) {
    const c = tcpConn(C).handshake().send('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n').recv(resp, { splitAt: [cut, Math.min(resp.length - 1, cut + 7)].filter((x, i, a) => a.indexOf(x) === i && x > 0) });
    const r = runFixture(c.list);
    assert.deepEqual(r.requests.map((q) => q.response?.status), [200, 404], `cut ${cut}`);
  }
});

test('responses without a body by status, HEAD, and Connection: close behave as llhttp says', () => {
  const two = 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n';
  const noBody = tcpConn(C).handshake().send(two)
    .recv('HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n');
  assert.deepEqual(runFixture(noBody.list).requests.map((q) => q.response?.status), [204, 304]);
  const head = tcpConn(C).handshake().send('HEAD /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n')
    .recv('HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
  assert.deepEqual(runFixture(head.list).requests.map((q) => q.response?.status), [200, 201]);
  // llhttp (strict) refuses data after a `Connection: close` response: pairing stops there
  const close = tcpConn(C).handshake().send(two)
    .recv('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
  assert.deepEqual(runFixture(close.list).requests.map((q) => q.response?.status), [200, undefined]);
});

test('view mode reuses one record with a lazily built timestamp; copy mode gives plain records', () => {
  const c = tcpConn({ ...C, startTs: 1_700_000_000_123_456_789n }).handshake().send('GET / HTTP/1.1\r\n\r\n');
  const bytes = pcapBytes(c.list.map((p) => ({ data: p.frame, ts: p.ts })), { nano: true });
  const seen: unknown[] = [];
  const ts: bigint[] = [];
  for (const r of readCapture(bytes, { view: true })) {
    seen.push(r);
    ts.push(r.ts);
  }
  assert.equal(new Set(seen).size, 1);
  assert.deepEqual(ts, c.list.map((p) => p.ts));
  const copies = [...readCapture(bytes)];
  assert.deepEqual(copies.map((r) => r.ts), c.list.map((p) => p.ts));
  assert.equal(Object.getPrototypeOf(copies[0]), Object.prototype);
});

test('stopping iteration early closes the source', () => {
  const c = tcpConn(C).handshake();
  const src = memorySource(pcapBytes(c.list.map((p) => ({ data: p.frame, ts: p.ts }))));
  let closed = 0;
  const counted = { read: src.read, close: () => { closed++; } };
  for (const r of readCapture(counted)) {
    assert.ok(r.data.length > 0);
    break;
  }
  assert.equal(closed, 1);
});

test('llhttp calls back only at head and message end (lean settings recognised)', () => {
  assert.equal(llhttp().lean, true);
});

test('fields read while another parse is under way: between pipelined requests, inside response pairing', () => {
  const pad = 'p'.repeat(80);
  const reqs = `GET /one HTTP/1.1\r\nX-Pad: ${pad}\r\n\r\n\r\nGET /two?x=1 HTTP/1.1\r\nHost: b\r\nX-N:  2 \r\n\r\nGET /three HTTP/1.1\r\nHost: c\r\n\r\n`;
  // 204s have no body: llhttp goes on parsing the same input after each head-end callback
  const resp = 'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  const bytes = pcapBytes(tcpConn(C).handshake().send(reqs).recv(resp).list.map((p) => ({ data: p.frame, ts: p.ts })));
  // the judge decodes each target while the next pipelined request waits in llhttp's input
  const inJudge: string[] = [];
  const judge: Judge = { connection: () => ({ allowed: true, inspect: true }), request: (_c, r) => { if (r.kind === 'request') inJudge.push(r.target); return { allowed: true }; } };
  runPcap(bytes, judge);
  assert.deepEqual(inJudge, ['/one', '/two?x=1', '/three']);
  // onRequest runs inside the response parser's head-end callback: the decode nests in it
  const inPairing: unknown[] = [];
  replaySync(readCapture(bytes), {
    judge: allowAll, onRequest: (r) => { if (r.request.kind === 'request') inPairing.push([r.response?.status, r.request.target, r.request.headers]); },
  });
  assert.deepEqual(inPairing, [
    [204, '/one', [['X-Pad', pad]]],
    [204, '/two?x=1', [['Host', 'b'], ['X-N', '2 ']]],
    [200, '/three', [['Host', 'c']]],
  ]);
});

test('a reused (view) record decodes in place exactly like a plain one', () => {
  const c = tcpConn(C).handshake().send('GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc', { splitAt: [5, 40] })
    .recv('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 OK\r\n\r\n').close();
  const bytes = pcapBytes(c.list.map((p) => ({ data: p.frame, ts: p.ts })));
  const plain = run(readCapture(bytes));
  const view = run(readCapture(bytes, { view: true }));
  assert.deepEqual(view.packets, plain.packets);
  assert.deepEqual(view.summary, plain.summary);
  assert.deepEqual(view.requests.map((q) => [q.request.kind === 'request' && q.request.target, q.response?.status]), [['/a', 200], ['/b', 204]]);
});
