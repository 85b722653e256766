// The HTTP/2 answer to a denied stream (src/net/answers.ts, written by the datapath): what a
// client's decoder reads from it, that it leaves the client's dynamic table as it was, and
// where the simulator places it on a connection whose server spoke first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpcDenied, GRPC_DENIED_LAST_AT, GRPC_DENIED_STREAM_AT } from '../../src/net/answers.ts';
import { HpackDecoder } from '../../sim/http2/hpack.ts';
import { replaySync, tcpConn, type PacketEvent } from '../../sim/index.ts';
import { HpackEncoder } from '../helpers/hpack-encode.ts';
import { headers, PREFACE, requestFields, settings } from '../helpers/h2-wire.ts';
import { records } from '../helpers/spec-packets.ts';

test('HEADERS on the stream (403, grpc-status 7, Access denied) then GOAWAY naming the stream below; no table change', () => {
  const b = grpcDenied(7, 5);
  const len = b.readUIntBE(0, 3);
  assert.deepEqual([b[3], b[4], b.readUInt32BE(5)], [0x1, 0x5, 7], 'HEADERS, END_HEADERS | END_STREAM, stream 7');
  const dec = new HpackDecoder();
  // a table with entries already: the answer must neither add nor evict one
  dec.decode(new HpackEncoder().encode([['x-warm', 'a'.repeat(40)]]));
  const before = [dec.tableLength, dec.tableSize];
  assert.deepEqual(dec.decode(b.subarray(9, 9 + len)), [[':status', '403'], ['content-type', 'application/grpc'], ['grpc-status', '7'], ['grpc-message', 'Access denied']]);
  assert.deepEqual([dec.tableLength, dec.tableSize], before);
  const g = b.subarray(9 + len);
  assert.deepEqual([g.readUIntBE(0, 3), g[3], g.readUInt32BE(5), g.readUInt32BE(9), g.readUInt32BE(13)], [8, 0x7, 0, 5, 0], 'GOAWAY on stream 0, last stream 5, NO_ERROR');
  assert.deepEqual([GRPC_DENIED_STREAM_AT, GRPC_DENIED_LAST_AT], [5, b.length - 8]);
});

test('the simulator answers a denied stream after the server SETTINGS, on its stream', () => {
  const enc = new HpackEncoder();
  const ok = headers(1, enc.encode(requestFields('GET', '/ok', 'b:80')), { endStream: true });
  const no = headers(3, enc.encode(requestFields('GET', '/admin', 'b:80')), { endStream: true });
  const conn = tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:80' }).handshake()
    .recv(settings()).send(Buffer.concat([PREFACE, settings(), ok])).send(no);
  const packets: PacketEvent[] = [];
  replaySync(records(conn.list), {
    judge: {
      connection: () => ({ allowed: true, inspect: true }),
      request: (_c, e) => ({ allowed: !(e.kind === 'h2-request' && e.fields.some(([n, v]) => n === ':path' && v === '/admin')) }),
    },
    onPacket: (p) => packets.push(p),
  });
  const answer = packets.find((p) => p.action === 'answer');
  assert.ok(answer, JSON.stringify(packets.map((p) => `${p.action}:${p.reason}`)));
  assert.deepEqual(answer.answer, { seq: conn.seqOf('server', 9), ack: conn.seqOf('client', PREFACE.length + 9 + ok.length + no.length), rstSeq: conn.seqOf('client', PREFACE.length + 9 + ok.length), stream: 3 });
});
