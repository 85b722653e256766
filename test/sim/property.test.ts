// Any segmentation and reordering of one client byte stream (holes filled by the sender's
// retransmissions) gives the same requests and verdicts as the stream sent in one piece.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tcpConn } from '../../sim/builder/tcp-conn.ts';
import { denyTargets, runFixture, text } from './helpers.ts';
import type { Run } from './helpers.ts';

const REQS = [
  'GET /a HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 27\r\n\r\nGET /admin HTTP/1.1\r\n\r\n...',
  'GET /admin/panel HTTP/1.1\r\nHost: x\r\n\r\n',
  'PUT /b?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'DELETE /c HTTP/1.1\r\nHost: y\r\nX-A: 1\r\n\r\n',
];
const judge = denyTargets(/^\/admin/);

function outcome(r: Run): string[] {
  return r.requests.map((q) => {
    const e = q.request;
    return e.kind === 'request' ? `${e.method} ${e.target} ${q.verdict.allowed} ${JSON.stringify(text(e.head))}` : `${e.kind} ${q.verdict.allowed}`;
  });
}

/** Emits segments in a permuted order; a segment after a hole is dropped, so the sender resends it. */
function schedule(nSegs: number, perm: number[]): number[] {
  const out: number[] = [];
  let next = 0;
  const pending = new Set<number>();
  for (const i of perm) {
    out.push(i);
    if (i === next) {
      next++;
      // the receiver only advanced to `next`; everything dropped after the hole comes again
      while (pending.has(next)) { pending.delete(next); out.push(next); next++; }
    } else if (i > next) {
      pending.add(i);
    }
  }
  while (next < nSegs) { out.push(next); next++; }
  return out;
}

test('segmentation and reordering do not change requests or verdicts', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: REQS.length - 1 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      fc.infiniteStream(fc.nat()),
      (which, rawCuts, rnd) => {
        const stream = which.map((i) => REQS[i]!).join('');
        const whole = runFixture(tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:80' }).handshake().send(stream).list, judge);
        const cuts = [...new Set(rawCuts.map((x) => (x % (stream.length - 1)) + 1))].sort((a, b) => a - b);
        const n = cuts.length + 1;
        const perm = Array.from({ length: n }, (_, i) => i);
        const it = rnd[Symbol.iterator]();
        for (let i = n - 1; i > 0; i--) {
          const j = it.next().value % (i + 1);
          [perm[i], perm[j]] = [perm[j]!, perm[i]!];
        }
        const order = schedule(n, perm);
        const c = tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:80' }).handshake().send(stream, { splitAt: cuts, order });
        const split = runFixture(c.list, judge);
        assert.deepEqual(outcome(split), outcome(whole));
        // the decision for each request is taken on a packet carrying its head end (dropped only
        // when it denies a request whose answer waits for the responses before it)
        for (const q of split.requests) {
          const p = split.packets[q.packetIndex]!;
          assert.ok(p.action !== 'drop' || p.reason === 'request-denied', `${p.action}:${p.reason}`);
        }
      },
    ),
    { numRuns: 300, seed: 4242 },
  );
});
