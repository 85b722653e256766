// The response framer (sim/http1/response-framer.ts, the kernel's l7_http1_resp.h) against
// responses built with known boundaries: wherever the stream is cut, every complete response
// is counted and the last one's end is where an answer may go; what it does not follow (a body
// that ends with the connection, ambiguous framing, a response nobody asked for) loses the count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseFramer } from '../../sim/http1/response-framer.ts';

const ISN = 0xfffffff0; // sequence numbers wrap inside the stream

interface Resp { readonly bytes: string; readonly head: boolean }

const name = (n: string) => fc.constantFrom(n, n.toUpperCase(), n[0]!.toUpperCase() + n.slice(1));
const ows = fc.constantFrom('', ' ', '\t', '  ');
const respArb: fc.Arbitrary<Resp> = fc.oneof(
  fc.record({ n: fc.integer({ min: 0, max: 300 }), cl: name('content-length'), a: ows, b: ows, head: fc.boolean(), extra: fc.boolean() })
    .map(({ n, cl, a, b, head, extra }) => ({
      head,
      bytes: `HTTP/1.1 200 OK\r\n${extra ? 'Server: x\r\nContent-Type: text/plain; charset=utf-8\r\n' : ''}${cl}:${a}${n}${b}\r\n\r\n${head ? '' : 'b'.repeat(n)}`,
    })),
  fc.record({ chunks: fc.array(fc.integer({ min: 1, max: 70 }), { maxLength: 4 }), ext: fc.boolean(), trailers: fc.boolean(), te: name('transfer-encoding') })
    .map(({ chunks, ext, trailers, te }) => ({
      head: false,
      bytes: `HTTP/1.1 201 Created\r\n${te}: chunked\r\n\r\n${chunks.map((c) => `${c.toString(16)}${ext ? ';a=b' : ''}\r\n${'c'.repeat(c)}\r\n`).join('')}0\r\n${trailers ? 'X-T: 1\r\n' : ''}\r\n`,
    })),
  fc.constantFrom<Resp>(
    { head: false, bytes: 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n' },
    { head: false, bytes: 'HTTP/1.1 304 Not Modified\r\n\r\n' },
    { head: false, bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' },
    { head: true, bytes: 'HTTP/1.0 200 OK\r\nContent-Length: 99\r\n\r\n' },
    { head: false, bytes: 'HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n' },
  ),
);

function feed(f: ResponseFramer, bytes: Uint8Array, cuts: readonly number[]): void {
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    if (c <= at) continue;
    f.walk(bytes, at, (ISN + 1 + at) >>> 0, c - at, false);
    at = c;
  }
}

test('every complete response is counted, wherever the stream is cut; the last end is where an answer goes', () => {
  fc.assert(fc.property(fc.array(respArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 8 }), fc.nat(), (resps, rawCuts, partial) => {
    const f = new ResponseFramer();
    f.start(ISN);
    for (const r of resps) f.expect(r.head);
    const full = resps.map((r) => r.bytes).join('');
    // all but `partial` bytes of the last response
    const keep = full.length - Math.min(partial % 4, resps.at(-1)!.bytes.length);
    const bytes = Buffer.from(full.slice(0, keep), 'latin1');
    const cuts = [...new Set(rawCuts.map((x) => x % Math.max(bytes.length, 1)))].sort((a, b) => a - b);
    feed(f, bytes, cuts);
    assert.equal(f.lost, false, JSON.stringify(full));
    const complete = keep === full.length ? resps.length : resps.length - 1;
    assert.equal(f.resps, complete);
    const end = resps.slice(0, complete).reduce((n, r) => n + r.bytes.length, 0);
    assert.equal(f.end, (ISN + 1 + end) >>> 0);
    assert.equal(f.idle((ISN + 1 + keep) >>> 0, false), complete === resps.length);
  }), { numRuns: 500, seed: 1303 });
});

test('what the framer does not follow loses the count (a later denial is then a reset)', () => {
  const cases: [string, string, boolean][] = [
    ['a body that ends with the connection', 'HTTP/1.1 200 OK\r\n\r\nbody', false],
    ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', false],
    ['two Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc', false],
    ['a Transfer-Encoding other than chunked', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', false],
    ['a response nobody asked for', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', false],
    ['a bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', false],
    ['a 101', 'HTTP/1.1 101 Switching Protocols\r\n\r\n', false],
    ['HTTP/2 frames (a server that speaks first): followed as frames', '\x00\x00\x00\x04\x00\x00\x00\x00\x00', true],
  ];
  for (const [what, bytes, followed] of cases) {
    const f = new ResponseFramer();
    f.start(ISN);
    f.expect(false);
    feed(f, Buffer.from(bytes, 'latin1'), []);
    assert.equal(f.lost, !followed, what);
  }
});
