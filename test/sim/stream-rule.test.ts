// The stream rule and the decision point, packet by packet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tcpConn } from '../../sim/builder/tcp-conn.ts';
import { actions, denyTargets, runFixture, summaries, text } from './helpers.ts';

const C = { client: '10.0.0.1:40000', server: '10.0.0.2:8080' };
const R1 = 'GET /a HTTP/1.1\r\nHost: x\r\n\r\n';
const R2 = 'GET /admin?q=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n';

test('split at every byte offset: same requests, verdict on the packet completing each head', () => {
  const stream = R1 + R2;
  const judge = denyTargets(/^\/nothing$/);
  for (let k = 1; k < stream.length; k++) {
    const c = tcpConn(C).handshake().send(stream, { splitAt: [k] });
    const r = runFixture(c.list, judge);
    assert.deepEqual(summaries(r), ['GET /a allow', 'GET /admin?q=1 allow'], `split at ${k}`);
    // data packets are 3 (first segment) and 4 (second)
    const want1 = k >= R1.length ? 3 : 4;
    assert.deepEqual(r.requests.map((q) => q.packetIndex), [want1, 4], `decision packets, split at ${k}`);
    const head = r.requests[1]!.request;
    assert.equal(head.kind === 'request' && text(head.head), R2, `raw head, split at ${k}`);
    assert.deepEqual(head.kind === 'request' && [head.headStart, head.headEnd], [R1.length, stream.length]);
  }
});

test('out-of-order segment after a hole is dropped; the retransmission is inspected', () => {
  const c = tcpConn(C).handshake().send(R1, { splitAt: [10, 20], order: [0, 2, 1], retransmit: [2, 0] });
  const r = runFixture(c.list);
  assert.deepEqual(r.packets.slice(3).map((p) => `${p.action}:${p.reason}`), [
    'pass:in-order', 'drop:hole', 'pass:in-order', 'pass:request-allowed', 'pass:retransmission',
  ]);
  assert.deepEqual(summaries(r), ['GET /a allow']);
  assert.equal(r.requests[0]!.packetIndex, 6);
});

test('overlap: resent bytes the server has not acknowledged must be the judged ones; the new part is inspected', () => {
  const first = 'GET /ok HTTP/1.1\r\n';
  const rest = 'Host: x\r\n\r\n';
  // [4, 7) rewritten: the server may not hold the first copy yet (a discarded insertion), so
  // the segment is dropped; the same bytes resent pass and the new part completes the head
  const differs = '/xx HTTP/1.1\r\n' + rest;
  const same = first.slice(4) + rest;
  const c = tcpConn(C).handshake().segmentAt('client', 0, first).segmentAt('client', 4, differs).segmentAt('client', 4, same)
    .advance('client', first.length + rest.length);
  const r = runFixture(c.list, denyTargets(/^\/xx/));
  assert.deepEqual(r.packets.slice(3).map((p) => `${p.action}:${p.reason}`), ['pass:in-order', 'drop:retransmission-differs', 'pass:request-allowed']);
  assert.deepEqual(summaries(r), ['GET /ok allow']);
  const q = r.requests[0]!.request;
  assert.equal(q.kind === 'request' && text(q.head), 'GET /ok HTTP/1.1\r\nHost: x\r\n\r\n');
});

const PIPELINE = () => tcpConn(C).handshake()
  .send(R1 + R2 + 'GET /b HTTP/1.1\r\n\r\n', { splitAt: [R1.length + 5, R1.length + R2.length - 3] })
  .recv('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n')
  .send('GET /c HTTP/1.1\r\n\r\n')
  .close();

test('pipelined requests, second denied: its answer waits for the first response, then goes with the next client packet', () => {
  const r = runFixture(PIPELINE().list, denyTargets(/^\/admin/));
  assert.deepEqual(r.packets.map((p) => `${p.action}:${p.reason}`), [
    'pass:handshake', 'pass:handshake', 'pass:control',
    'pass:request-allowed',  // R1 complete + start of R2
    'pass:in-order',         // R2 head not complete yet
    'drop:request-denied',   // completes R2: the server still owes R1's response
    'pass:reply',            // R1's response: the answer may follow it
    'answer:answer-sent',    // the client's next packet acknowledges it: the answer, the server's reset
    'pass:control',          // the client's FIN reaches the server's host (which resets it)
    'drop:flow-denied',      // the server's FIN: nothing after the answer
    'pass:control',
  ]);
  assert.deepEqual(summaries(r), ['GET /a allow', 'GET /admin?q=1 deny']);
  assert.deepEqual(r.requests.map((q) => q.response?.status), [200, 403]);
  assert.equal(r.requests[1]!.packetIndex, 5);
  // the 403 goes right after R1's response and acknowledges the denied packet; the server's
  // reset carries the first byte it did not read (it holds R1 and the start of R2)
  const answer = r.packets[7]!.answer!;
  const c = PIPELINE();
  const response = 'HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n';
  assert.deepEqual(answer, { seq: c.seqOf('server', response.length), ack: c.seqOf('client', R1.length + R2.length + 19), rstSeq: c.seqOf('client', R1.length + R2.length - 3) });
});

test('pipelined requests, second denied, answers off: its packet resets, everything later drops', () => {
  const r = runFixture(PIPELINE().list, denyTargets(/^\/admin/), { answers: false });
  assert.deepEqual(r.packets.map((p) => `${p.action}:${p.reason}`), [
    'pass:handshake', 'pass:handshake', 'pass:control', 'pass:request-allowed', 'pass:in-order',
    'reset:request-denied', // completes R2
    'drop:flow-denied', 'drop:flow-denied', 'drop:flow-denied', 'drop:flow-denied', 'drop:flow-denied',
  ]);
  assert.deepEqual(summaries(r), ['GET /a allow', 'GET /admin?q=1 deny']);
  assert.equal(r.requests[1]!.response, undefined);
});

test('chunked body containing request text is not parsed as a request', () => {
  const inner = 'GET /admin HTTP/1.1\r\nHost: x\r\n\r\n';
  const body = `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`;
  const stream = `POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${body}GET /ok HTTP/1.1\r\nHost: x\r\n\r\n`;
  for (const k of [10, 70, 80, 100, 120]) {
    const c = tcpConn(C).handshake().send(stream, { splitAt: [k] });
    const r = runFixture(c.list, denyTargets(/^\/admin/));
    assert.deepEqual(summaries(r), ['POST /upload allow', 'GET /ok allow'], `split at ${k}`);
    const q = r.requests[0]!.request;
    assert.equal(q.kind === 'request' && q.framing, 'chunked');
  }
});

test('sequence numbers wrap around 2^32', () => {
  const c = tcpConn({ ...C, isn: { client: 0xfffffff0, server: 0xfffffffe } }).handshake()
    .send(R1 + R2, { splitAt: [7, 15, 40] }).recv('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n').recv('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
  const r = runFixture(c.list);
  assert.deepEqual(summaries(r), ['GET /a allow', 'GET /admin?q=1 allow']);
  assert.deepEqual(r.requests.map((q) => q.response?.status), [200, 404]);
});

test('parse error is judged (fail closed) on the packet carrying the bad byte', () => {
  const c = tcpConn(C).handshake().send('GET / HTTP/1.1\r\nHost : x\r\n\r\n', { splitAt: [18] }).recv('HTTP/1.1 200 OK\r\n\r\n');
  const r = runFixture(c.list, denyTargets(/$^/));
  assert.deepEqual(summaries(r), ['parse-error:HPE_INVALID_HEADER_TOKEN deny']);
  assert.deepEqual(actions(r).slice(3), ['pass', 'answer', 'drop']);
  const e = r.requests[0]!.request;
  assert.equal(e.kind === 'parse-error' && e.offset, 20);
});

test('head longer than the inspection limit is a violation on the packet crossing it', () => {
  const long = `GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`;
  const c = tcpConn(C).handshake().send(long, { splitAt: [50, 99, 100, 101, 150] });
  const r = runFixture(c.list, denyTargets(/$^/), { inspectionLimit: 100 });
  assert.deepEqual(summaries(r), ['violation:head-too-long deny']);
  // segments: [0,50) [50,99) [99,100) [100,101) -> byte 101 (index 100) crosses the limit
  assert.deepEqual(actions(r).slice(3), ['pass', 'pass', 'pass', 'answer', 'drop', 'drop']);
  const e = r.requests[0]!.request;
  assert.equal(e.kind === 'violation' && e.head.length, 100);
});
