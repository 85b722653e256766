// The simulator's HTTP/2 session inside the replay engine: the preface picks it, field blocks
// are judged on the packet that completes them whatever the segmentation, responses pair
// with their streams, and the server's table size bounds the client's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tcpConn } from '../../sim/index.ts';
import type { Judge, RequestEvent } from '../../sim/replay/types.ts';
import { records } from '../helpers/spec-packets.ts';
import { run, summaries } from '../sim/helpers.ts';
import { frame, FLAG, FRAME, h2Connection, headers, PREFACE, requestFields, settings } from '../helpers/h2-wire.ts';
import { HpackEncoder, type Field } from '../helpers/hpack-encode.ts';

const CLIENT = '10.0.0.1:40000';
const SERVER = '10.0.0.2:8080';

/** Denies HTTP/2 requests whose :path matches `deny`, and every violation. */
function h2Judge(deny: RegExp): Judge {
  const path = (e: RequestEvent) => (e.kind === 'h2-request' ? e.fields.find(([n]) => n === ':path')?.[1] ?? '' : '');
  return {
    connection: () => ({ allowed: true, inspect: true }),
    request: (_c, e) => ({ allowed: e.kind === 'h2-request' ? !deny.test(path(e)) : e.kind === 'request' }),
  };
}

const reqs = (n: number): Field[][] => Array.from({ length: n }, (_, i) => requestFields('GET', `/r/${i}`, 'backend:8080', [['x-n', `${i}`]]));

test('the preface selects HTTP/2: each stream is judged once its block is complete', () => {
  const bytes = h2Connection(reqs(3));
  const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
  conn.send(bytes);
  const r = run(records([...conn.close().list]), h2Judge(/^$/));
  assert.deepEqual(summaries(r), ['h2#1 GET /r/0 allow', 'h2#3 GET /r/1 allow', 'h2#5 GET /r/2 allow']);
  assert.equal(r.summary.requests, 3);
});

test('segmentation at any offsets gives the same decisions on the packet holding the block end', () => {
  const bytes = h2Connection(reqs(3));
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 6 }), (cuts) => {
    const splitAt = [...cuts].sort((a, b) => a - b);
    const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
    conn.send(bytes, { splitAt });
    const r = run(records([...conn.close().list]), h2Judge(/^\/r\/1$/));
    // a denied stream is emitted at once, allowed ones when answered or at the end
    assert.deepEqual(summaries(r), ['h2#3 GET /r/1 deny', 'h2#1 GET /r/0 allow']);
    // the denied block's last byte is in the packet that denies it (dropped: its answer waits
    // for the server's SETTINGS, which this server never sends)
    const denied = r.packets.find((p) => p.reason === 'request-denied');
    const decided = r.requests[0]!.packetIndex;
    assert.deepEqual([denied?.index, denied?.action], [decided, 'drop']);
  }), { numRuns: 200, seed: 12 });
});

test('CONTINUATION, padding, priority, DATA and other frames between blocks', () => {
  const enc = new HpackEncoder();
  const a = enc.encode(requestFields('POST', '/a', 'h', [['content-type', 'application/grpc']]));
  const b = enc.encode(requestFields('POST', '/b', 'h', [['content-type', 'application/grpc']]));
  const bytes = Buffer.concat([
    PREFACE, settings([[1, 4096]]),
    headers(1, a, { cuts: [1, 3, 7], padding: 4, priority: true }),
    frame(FRAME.DATA, 0, 1, new Uint8Array(300)),
    frame(FRAME.WINDOW_UPDATE, 0, 0, [0, 0, 1, 0]),
    frame(0xfa, 0xff, 7, [1, 2, 3]), // an unknown type is skipped
    frame(FRAME.PING, 0, 0, new Uint8Array(8)),
    headers(3, b, { padding: 0 }),
    frame(FRAME.DATA, FLAG.END_STREAM, 1, new Uint8Array(5)),
    frame(FRAME.RST_STREAM, 0, 3, [0, 0, 0, 8]),
  ]);
  const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
  conn.send(bytes);
  const r = run(records([...conn.close().list]), h2Judge(/^$/));
  assert.deepEqual(summaries(r), ['h2#1 POST /a allow', 'h2#3 POST /b allow']);
});

test('responses pair with streams: status from the head, grpc-status from the trailers, latency to the head', () => {
  const srv = new HpackEncoder();
  const head = srv.encode([[':status', '200'], ['content-type', 'application/grpc']]);
  const trailers = srv.encode([['grpc-status', '7'], ['grpc-message', 'no']]);
  const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
  // an HTTP/2 server speaks first: its SETTINGS arrive before the client's preface
  conn.recv(Buffer.concat([settings([[4, 65535]]), frame(FRAME.SETTINGS, FLAG.ACK, 0)]));
  conn.send(h2Connection(reqs(2)));
  conn.recv(Buffer.concat([headers(3, head), frame(FRAME.DATA, 0, 3, new Uint8Array(10))]));
  conn.recv(headers(3, trailers, { endStream: true }));
  const r = run(records([...conn.close().list]), h2Judge(/^$/));
  const got = r.requests.map((q) => [q.request.kind === 'h2-request' && q.request.stream, q.response?.status, q.response?.headers]);
  assert.deepEqual(got, [
    [3, 200, [['content-type', 'application/grpc'], ['grpc-status', '7'], ['grpc-message', 'no']]],
    [1, undefined, undefined], // never answered: emitted at the end
  ]);
  const answered = r.requests[0]!;
  assert.ok(answered.response!.latencyNs > 0n);
});

test('the client table is mirrored up to 4096 octets, whatever the server allows', () => {
  const update = (size: number, serverSize: number | null) => {
    const enc = new HpackEncoder();
    const block = Uint8Array.from([...enc.sizeUpdate(size), ...enc.encode(requestFields('GET', '/x', 'h'))]);
    const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
    if (serverSize !== null) conn.recv(settings([[1, serverSize]]));
    conn.send(Buffer.concat([PREFACE, settings(), headers(1, block, { endStream: true })]));
    return summaries(run(records([...conn.close().list]), h2Judge(/^$/)));
  };
  assert.deepEqual(update(4096, null), ['h2#1 GET /x allow']);
  assert.deepEqual(update(100, 100), ['h2#1 GET /x allow']);
  assert.deepEqual(update(4097, null), ['h2-error:h2-hpack deny']);
  assert.deepEqual(update(8192, 8192), ['h2-error:h2-hpack deny']);
});

test('bytes that only begin like the preface are HTTP/1, however they are cut', () => {
  for (const text of ['POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n', 'PROPFIND /a HTTP/1.1\r\nHost: h\r\n\r\n']) {
    const bytes = Buffer.from(text, 'latin1');
    for (const splitAt of [[], [1], [1, 2], [2, 3], [1, 2, 3, 4]]) {
      const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
      conn.send(bytes, { splitAt });
      const r = run(records([...conn.close().list]));
      assert.equal(r.requests[0]?.request.kind, 'request', `${text.split(' ')[0]} cut at ${splitAt}`);
    }
  }
  // and the preface itself, cut inside "PRI ", is HTTP/2
  const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
  conn.send(h2Connection(reqs(1)), { splitAt: [1, 2, 3, 4, 5] });
  assert.deepEqual(summaries(run(records([...conn.close().list]), h2Judge(/^$/))), ['h2#1 GET /r/0 allow']);
});

test('a field block over the limit is denied on the packet that crosses it', () => {
  const block = new HpackEncoder().encode(requestFields('GET', '/x', 'h', [['x-big', 'a'.repeat(9000)]]), () => ({ huffmanValue: false }));
  const bytes = Buffer.concat([PREFACE, settings(), headers(1, block, { cuts: [4000, 8000] })]);
  const crossing = PREFACE.length + 9 + 9 + 4000 + 9 + 4000 + 9 + 192; // byte 8193 of the block
  const conn = tcpConn({ client: CLIENT, server: SERVER }).handshake();
  conn.send(bytes, { splitAt: [crossing, crossing + 1] });
  const r = run(records([...conn.close().list]), h2Judge(/^$/));
  assert.deepEqual(summaries(r), ['h2-error:h2-block-too-long deny']);
  const e = r.requests[0]!.request;
  assert.equal(e.kind === 'h2-error' && e.offset, crossing);
  // the packet of the one byte that crosses the limit is reset
  const data = r.packets.filter((p) => p.reason !== 'handshake' && p.reason !== 'control');
  assert.deepEqual(data.map((p) => p.action).slice(0, 2), ['pass', 'reset']);
});
