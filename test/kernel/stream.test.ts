// The stream rule and the resumable framer: splits at every offset, pipelining, bodies,
// out-of-order and overlapping segments.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip, loadScenario, play, conn, actions, verdicts, type Scenario, type Played } from '../helpers/kernel.ts';
import { resetting } from '../helpers/kernel-world.ts';
import { frontendBackendIR } from '../helpers/ir-fixtures.ts';
import { EVENT_KIND, REASON, VERDICT } from '../../src/loader/index.ts';

const skip = kernelSkip();
let sc: Scenario | null = null;
const s = () => (sc ??= resetting(loadScenario(frontendBackendIR([{ method: 'POST', path: '/api/v1/upload' }]))));
after(() => sc?.close());

const ALLOWED = 'GET /api/v1/users HTTP/1.1\r\nHost: backend\r\n\r\n';
const DENIED = 'GET /api/v1/admin HTTP/1.1\r\nHost: backend\r\n\r\n';

const httpEvents = (ps: readonly Played[]) => ps.flatMap((p) => p.events.filter((e) => e.kind === EVENT_KIND.HTTP));

test('a request split in two at every byte offset is judged on its last segment', { skip }, () => {
  for (const [req, allowed] of [[ALLOWED, true], [DENIED, false]] as const) {
    for (let k = 1; k < req.length; k++) {
      const out = play(s(), conn().handshake().send(req, { splitAt: [k] }));
      const want = ['pass', 'pass', 'pass', 'pass', allowed ? 'pass' : 'reset'];
      assert.deepEqual(verdicts(out), want, `split at ${k} of ${JSON.stringify(req)}:\n${actions(out)}`);
      const ev = httpEvents(out);
      assert.equal(ev.length, 1, `split at ${k}: one http event`);
      assert.equal(ev[0]!.verdict, allowed ? VERDICT.FORWARDED : VERDICT.RESET);
    }
  }
});

test('a request split into single bytes resumes the DFAs at every byte', { skip }, () => {
  const cuts = Array.from({ length: DENIED.length - 1 }, (_, i) => i + 1);
  const out = play(s(), conn().handshake().send(DENIED, { splitAt: cuts }));
  assert.deepEqual(verdicts(out.slice(3)), [...cuts.map(() => 'pass'), 'reset'], actions(out));
});

test('pipelined requests in one segment: all allowed, one event each', { skip }, () => {
  const out = play(s(), conn().handshake().send(ALLOWED + ALLOWED + ALLOWED));
  assert.equal(out[3]!.verdict, 'pass');
  assert.equal(httpEvents(out).length, 3);
});

test('pipelined allowed then denied request: the segment is reset', { skip }, () => {
  const out = play(s(), conn().handshake().send(ALLOWED + DENIED));
  assert.equal(out[3]!.verdict, 'reset', 'the reset skb goes on as the RST to the server');
  assert.equal(out[3]!.dataOut.length, 54, 'rewritten to a bare RST');
  const ev = httpEvents(out);
  assert.deepEqual(ev.map((e) => e.verdict), [VERDICT.FORWARDED, VERDICT.RESET]);
  assert.equal(ev[1]!.reason, REASON.L7_NO_RULE);
});

test('a content-length body is skipped, the next request is parsed after it', { skip }, () => {
  const body = 'GET /api/v1/admin HTTP/1.1\r\n\r\n'.repeat(3);
  const post = `POST /api/v1/upload HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const out = play(s(), conn().handshake().send(post, { splitAt: [20, 60, 75] }).send(ALLOWED).send(DENIED));
  assert.deepEqual(verdicts(out.slice(3)), ['pass', 'pass', 'pass', 'pass', 'pass', 'reset'], actions(out));
});

test('a chunked body (split inside chunk sizes and data) is skipped; framing resumes', { skip }, () => {
  const body = '5\r\nhello\r\n1a;ext=1\r\nGET /api/v1/admin HTTP/1.1\r\n0\r\nX-Trailer: t\r\n\r\n';
  const post = `POST /api/v1/upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n${body}`;
  const cuts = [post.indexOf('1a;') + 1, post.indexOf('GET') + 3, post.indexOf('0\r\nX') + 1, post.length - 2];
  const out = play(s(), conn().handshake().send(post, { splitAt: cuts }).send(ALLOWED).send(DENIED));
  assert.deepEqual(verdicts(out.slice(3)), ['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'reset'], actions(out));
  assert.deepEqual(httpEvents(out).map((e) => e.verdict), [VERDICT.FORWARDED, VERDICT.FORWARDED, VERDICT.RESET]);
});

test('out of order: a segment after a hole is dropped, the retransmission is inspected', { skip }, () => {
  const out = play(s(), conn().handshake().send(DENIED, { splitAt: [10, 20], order: [0, 2, 1], retransmit: [2] }));
  assert.deepEqual(verdicts(out.slice(3)), ['pass', 'drop', 'pass', 'reset'], actions(out));
  assert.equal(out[4]!.events[0]!.reason, REASON.STREAM_HOLE);
  assert.equal(httpEvents(out)[0]!.verdict, VERDICT.RESET);
});

test('a pure retransmission of inspected bytes passes on an allowed flow, is dropped on a reset one', { skip }, () => {
  const ok = play(s(), conn().handshake().send(ALLOWED, { retransmit: [0] }));
  assert.deepEqual(verdicts(ok.slice(3)), ['pass', 'pass']);
  assert.equal(httpEvents(ok).length, 1, 'retransmitted bytes are not inspected twice');
  const bad = play(s(), conn().handshake().send(DENIED, { retransmit: [0] }));
  assert.deepEqual(verdicts(bad.slice(3)), ['reset', 'drop']);
  assert.equal(bad[4]!.events[0]!.reason, REASON.FLOW_DENIED);
});

test('an overlap: unacknowledged judged bytes must be resent the same; the new part is inspected', { skip }, () => {
  // bytes [0,20) say /api/v1/users; an overlapping segment rewrites [10,20) to "admin" text.
  // the server has not acknowledged them (the first copy may have been discarded), so the
  // rewrite is dropped; the same bytes again pass and their new part completes the head
  const c = conn().handshake();
  c.segmentAt('client', 0, ALLOWED.slice(0, 20));
  c.segmentAt('client', 10, DENIED.slice(10, 20) + ALLOWED.slice(20));
  c.segmentAt('client', 10, ALLOWED.slice(10));
  const out = play(s(), c);
  assert.deepEqual(verdicts(out.slice(3)), ['pass', 'drop', 'pass'], actions(out));
  assert.equal(out[4]!.events[0]!.reason, REASON.RETRANSMISSION_DIFFERS);
  assert.equal(httpEvents(out)[0]!.verdict, VERDICT.FORWARDED);
});

test('server replies and a client FIN pass without events', { skip }, () => {
  const out = play(s(), conn().handshake().send(ALLOWED).recv('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').close());
  assert.deepEqual(verdicts(out), out.map(() => 'pass'), actions(out));
  assert.equal(out.filter((p) => p.from === 'server').flatMap((p) => p.events).length, 0);
});

test('IPv6: the same policy allows GET and resets POST', { skip }, () => {
  const ok = play(s(), conn('fd00::1', '[fd00::2]:8080').handshake().send(ALLOWED));
  assert.deepEqual(verdicts(ok), ['pass', 'pass', 'pass', 'pass'], actions(ok));
  const bad = play(s(), conn('fd00::1', '[fd00::2]:8080').handshake().send(DENIED));
  assert.equal(bad[3]!.dataOut.length, 14 + 40 + 20, 'rewritten to a bare IPv6 RST');
  assert.equal(bad[3]!.dataOut[14 + 40 + 13]! & 0x04, 0x04);
});

test('the HTTP event carries the request line also when it began in an earlier packet (from the ring)', { skip }, () => {
  const lineOf = (ps: readonly Played[]) => httpEvents(ps).map((e) => Buffer.from(e.line.subarray(0, e.line_len)).toString('latin1'));
  for (const [req, allowed] of [[ALLOWED, true], [DENIED, false]] as const) {
    for (const k of [1, 4, 10, 25, req.length - 1]) {
      const out = play(s(), conn().handshake().send(req, { splitAt: [k] }));
      assert.deepEqual(lineOf(out), [req.slice(0, 64)], `split at ${k}, ${allowed ? 'allowed' : 'denied'}`);
    }
  }
  // after a body in earlier packets: the line of the next request still comes whole
  const post = 'POST /api/v1/upload HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello';
  const out = play(s(), conn().handshake().send(post + ALLOWED, { splitAt: [post.length + 3] }));
  assert.deepEqual(lineOf(out), [(post + ALLOWED).slice(0, post.length + 3).slice(0, 64), ALLOWED.slice(0, 64)]);
});

test('a flood of flows from another pod (70,000 UDP tuples, more than `flows` holds) does not evict a live L7 flow', { skip }, () => {
  const c = conn().handshake();
  const first = play(s(), c);
  assert.deepEqual(verdicts(first), ['pass', 'pass', 'pass']);
  // other (10.0.0.3) -> 10.0.0.9:53..54 from every source port: allowed, each its own flow
  const udp = new Uint8Array(14 + 20 + 8 + 4);
  udp.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3, 0x08, 0x00], 0);
  udp.set([0x45, 0, 0, 32, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 3, 10, 0, 0, 9], 14);
  udp.set([0, 0, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4], 34);
  let runs = 0;
  for (let dport = 53; dport <= 54; dport++) {
    for (let sport = 1024; sport < 1024 + 35_000; sport++) {
      udp[34] = sport >> 8; udp[35] = sport & 255; udp[37] = dport;
      assert.equal(s().runner.run({ prog: 'l7_from_pod', frame: udp }).action, 0);
      runs++;
    }
  }
  s().runner.events();
  assert.equal(runs, 70_000);
  // the L7 flow is still there: its request is judged, not dropped for lack of state
  const req = c.send(ALLOWED).list.at(-1)!;
  const r = s().runner.run({ prog: 'l7_to_pod', frame: req.frame });
  assert.equal(r.action, 0, `request: action ${r.action}, events ${JSON.stringify(r.events.map((e) => e.reason))}`);
  assert.deepEqual(r.events.filter((e) => e.kind === EVENT_KIND.HTTP).map((e) => e.verdict), [VERDICT.FORWARDED]);
});
