// Stage 3 (issue 13): the keep-alive 403, case by case in the kernel through BPF_PROG_TEST_RUN,
// each packet's action and the sequence and acknowledgement numbers it leaves with compared with
// the simulator's, and with the offsets worked out by hand: the denied request's bytes leave the
// client's stream, the 403 enters the server's, later packets move by both, SACK blocks become
// NOPs, checksums stay valid. What stage 3 cannot follow (a chunked body, Connection: close,
// HTTP/1.0, a body past the packet) is answered at stage 2; `--deny-answer close` is stage 2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../helpers/kernel.ts';
import { checksumsValid, tcpConn, type FixturePacket } from '../../sim/index.ts';
import { buildWorld, describeActions, runKernel, runSim, tcpNumbers, wireDisagreement, type KernelWorld } from '../helpers/kernel-world.ts';
import { inspectAll, serverPolicy } from '../helpers/inspect-all.ts';
import { fillConfig } from '../../src/loader/index.ts';
import { HTTP1_FORBIDDEN_KEEP, grpcDeniedKeep } from '../../src/net/answers.ts';
import { FLAG, FRAME, PREFACE, frame, headers, requestFields, settings } from '../helpers/h2-wire.ts';
import { HpackEncoder, type Representation } from '../helpers/hpack-encode.ts';

const skip = kernelSkip();
const { policies, inv, peer } = inspectAll(serverPolicy('[{method: "GET|POST", path: "/api/v1/users.*"}]', 'users'));
const KEEP = HTTP1_FORBIDDEN_KEEP.length;
const DENIED = 'GET /admin HTTP/1.1\r\nHost: server\r\n\r\n';
const ALLOWED = 'GET /api/v1/users HTTP/1.1\r\nHost: server\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

let port = 41000;
function conn() {
  const [cl, sv] = [peer('client', false), peer('server', false)].map((p) => p.ip!.text);
  return tcpConn({ client: `${cl}:${port++}`, server: `${sv}:80` }).handshake();
}

describe('stage 3: the keep-alive 403', { skip }, () => {
  let w: KernelWorld;
  before(() => {
    w = buildWorld(policies, inv, []);
  });
  after(() => w?.close());

  /** Runs the packets in the kernel and the simulator; both must act alike, numbers included. */
  function play(list: readonly FixturePacket[], mode: 'auto' | 'close' = 'auto') {
    w.reset();
    fillConfig(w.obj, mode);
    const kernel = runKernel(w, peer('client', false), peer('server', false), list);
    const sim = runSim(policies, inv, list, true, mode === 'auto');
    assert.deepEqual(kernel.actions, sim.actions, describeActions(list, kernel.actions, sim.actions));
    const wire = wireDisagreement(list, kernel, sim);
    assert.equal(wire, null, wire ?? '');
    return { kernel, sim, out: (i: number) => tcpNumbers(kernel.out[i]!), input: (i: number) => tcpNumbers(list[i]!.frame) };
  }

  it('a denied request is cut and answered; the next request on the connection reaches the server, both streams offset', () => {
    const c = conn();
    c.send(DENIED).received(KEEP).send(ALLOWED).recv(OK).ackOnly('client');
    const r = play(c.list);
    assert.deepEqual(r.kernel.actions.slice(3), ['answer', 'pass', 'pass', 'pass']);
    const keep = r.sim.packets[3]!.answer!;
    assert.equal(keep.keep, true);
    assert.deepEqual([keep.seq, keep.ack], [r.input(1).seq + 1, r.input(3).seq + DENIED.length], 'the 403 at the server\'s next byte, acknowledging the request');
    // the allowed request: DENIED.length earlier in the client's stream as the server sees it,
    // acknowledging the server's bytes without the 403
    assert.deepEqual(r.out(4), { seq: r.input(4).seq - DENIED.length, ack: r.input(4).ack - KEEP, len: ALLOWED.length });
    // the response: KEEP later in the server's stream as the client sees it
    assert.deepEqual(r.out(5), { seq: r.input(5).seq + KEEP, ack: r.input(5).ack + DENIED.length, len: OK.length });
    assert.deepEqual(r.out(6), { seq: r.input(6).seq - DENIED.length, ack: r.input(6).ack - KEEP, len: 0 });
  });

  it('a body announced by Content-Length inside the packet is cut with its head', () => {
    const c = conn();
    const post = 'POST /admin HTTP/1.1\r\nHost: server\r\nContent-Length: 5\r\n\r\nhello';
    c.send(post).received(KEEP).send(ALLOWED);
    const r = play(c.list);
    assert.equal(r.sim.packets[3]!.answer?.keep, true);
    assert.equal(r.out(4).seq, r.input(4).seq - post.length);
  });

  for (const [what, req] of [
    ['a chunked body', 'POST /admin HTTP/1.1\r\nHost: server\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['Connection: close', 'GET /admin HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n'],
    ['HTTP/1.0 without keep-alive', 'GET /admin HTTP/1.0\r\nHost: server\r\n\r\n'],
    ['a body past the packet', 'POST /admin HTTP/1.1\r\nHost: server\r\nContent-Length: 50\r\n\r\nabc'],
  ] as const) {
    it(`${what}: answered at stage 2 (403 and FIN, the server's side reset)`, () => {
      const c = conn();
      c.send(req);
      const r = play(c.list);
      assert.equal(r.kernel.actions[3], 'answer');
      assert.equal(r.sim.packets[3]!.answer?.keep, undefined);
    });
  }

  it('bytes before the request the server has not acknowledged: stage 2 (the 403 would acknowledge them to the client, which would never send a lost one again)', () => {
    const c = conn();
    // CR LF the server has not acknowledged (it answers requests, not these), then the denied request
    c.send('\r\n').send(DENIED);
    const r = play(c.list);
    assert.equal(r.kernel.actions[4], 'answer');
    assert.equal(r.sim.packets[4]!.answer?.keep, undefined);
    // acknowledged: stage 3
    const d = conn();
    d.send('\r\n').craft('server', 0, '', { flags: 0x10 }).send(DENIED);
    assert.equal(play(d.list).sim.packets[5]!.answer?.keep, true);
  });

  it('HTTP/1.0 with keep-alive is kept', () => {
    const c = conn();
    c.send('GET /admin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal(play(c.list).sim.packets[3]!.answer?.keep, true);
  });

  it('the denied request sent again gets the 403 again; earlier bytes joined to it are a reset', () => {
    const c = conn();
    c.send(DENIED).segmentAt('client', 0, DENIED);
    const r = play(c.list);
    assert.deepEqual(r.kernel.actions.slice(3, 5), ['answer', 'answer']);
    assert.equal(r.sim.packets[4]!.reason, 'retransmission');
    // ... unless the receiver would discard it (no ACK flag): nothing, its ack goes nowhere
    const e = conn();
    e.send(DENIED).craft('client', 0, DENIED, { flags: 0x08 });
    const q = play(e.list);
    assert.deepEqual([q.kernel.actions[4], q.sim.packets[4]!.reason], ['drop', 'insertion']);
    const d = conn();
    d.send(ALLOWED).recv(OK).send(DENIED).received(KEEP).segmentAt('client', 0, ALLOWED + DENIED);
    const s = play(d.list);
    assert.equal(s.kernel.actions[6], 'reset');
  });

  it('SACK blocks on packets with offsets become NOPs, timestamps stay, checksums hold', () => {
    const c = conn();
    c.send(DENIED).received(KEEP).send(ALLOWED);
    const ts = [8, 10, 0, 0, 0, 1, 0, 0, 0, 2];
    const sack = [5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0];
    // NOP NOP TS, NOP NOP SACK: 24 bytes
    const opts = Uint8Array.from([1, 1, ...ts, 1, 1, ...sack]);
    c.craft('client', DENIED.length + ALLOWED.length, '', { flags: 0x10, frame: { tcpOptions: opts } });
    c.craft('server', 0, '', { flags: 0x10, frame: { tcpOptions: opts } });
    const r = play(c.list);
    for (const i of [5, 6]) {
      const f = r.kernel.out[i]!;
      const o = f.subarray(14 + 20 + 20, 14 + 20 + 44);
      assert.deepEqual([...o], [1, 1, ...ts, 1, 1, ...new Array(10).fill(1)], `packet ${i}'s options`);
      assert.ok(checksumsValid(f));
    }
    assert.equal(r.out(6).seq, r.input(6).seq + KEEP);
  });

  it('--deny-answer close keeps stage 2 for the same traffic', () => {
    const c = conn();
    c.send(DENIED).received(KEEP).send(ALLOWED);
    const r = play(c.list, 'close');
    assert.deepEqual(r.kernel.actions.slice(3), ['answer', 'drop']);
    assert.equal(r.sim.packets[3]!.answer?.keep, undefined);
    fillConfig(w.obj, 'auto');
  });
});

describe('stage 3 on HTTP/2: a denied stream cut, the connection kept', { skip }, () => {
  let w: KernelWorld;
  before(() => {
    w = buildWorld(policies, inv, []);
  });
  after(() => w?.close());

  const SERVER_SETTINGS = frame(FRAME.SETTINGS, 0, 0);
  function play(list: readonly FixturePacket[]) {
    w.reset();
    const kernel = runKernel(w, peer('client', false), peer('server', false), list);
    const sim = runSim(policies, inv, list);
    assert.deepEqual(kernel.actions, sim.actions, describeActions(list, kernel.actions, sim.actions));
    assert.equal(wireDisagreement(list, kernel, sim), null);
    return { kernel, sim };
  }
  const ok = (stream: number) => frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, stream, [0x88]); // :status 200
  const BODY = [1, 2, 3, 4, 5];

  /** preface and SETTINGS, the server's SETTINGS, an allowed call (it indexes the common fields),
   * its response; then `denied` (a call to /admin, literals without indexing unless `indexing`)
   * and an allowed call on stream 5 with its response */
  function h2conn(o: { indexing?: boolean; data?: boolean } = {}) {
    const enc = new HpackEncoder();
    const call = (stream: number, path: string, rep?: () => Representation) => {
      const block = enc.encode(requestFields('POST', path, 'server'), rep);
      return o.data === false
        ? headers(stream, block, { endStream: true })
        : Buffer.concat([headers(stream, block), frame(FRAME.DATA, FLAG.END_STREAM, stream, BODY)]);
    };
    const c = conn();
    c.send(Buffer.concat([PREFACE, settings()])).recv(SERVER_SETTINGS);
    c.send(call(1, '/api/v1/users')).recv(ok(1));
    const denied = call(3, '/admin', o.indexing ? undefined : () => ({ indexing: 'without' }));
    c.send(denied);
    return { c, denied, enc, call };
  }

  it('a denied call whose block left the table as it was: answered on its stream with a WINDOW_UPDATE, the next call reaches the server', () => {
    const { c, denied, call } = h2conn();
    const answer = grpcDeniedKeep(3, BODY.length);
    c.received(answer.length).send(call(5, '/api/v1/users?x')).recv(ok(5)).ackOnly('client');
    const list = c.list;
    const { kernel, sim } = play(list);
    const at = sim.packets.findIndex((p) => p.answer?.keep);
    assert.ok(at > 0, 'a stage-3 answer');
    assert.deepEqual([sim.packets[at]!.answer!.stream ?? 3, kernel.actions[at]], [3, 'answer']);
    // the next call: the cut frames' length earlier; its response: the answer's length later
    const next = at + 1;
    assert.equal(tcpNumbers(kernel.out[next]!).seq, tcpNumbers(list[next]!.frame).seq - denied.length);
    assert.equal(tcpNumbers(kernel.out[next + 1]!).seq, tcpNumbers(list[next + 1]!.frame).seq + answer.length);
    assert.equal(kernel.actions[next], 'pass');
  });

  it('a frame on the cut stream before a later one opened resets (the server would refuse the connection); after, it passes', () => {
    const rst = (stream: number) => frame(FRAME.RST_STREAM, 0, stream, [0, 0, 0, 8]);
    const early = h2conn();
    early.c.received(grpcDeniedKeep(3, BODY.length).length).send(rst(3));
    const a = play(early.c.list);
    assert.equal(a.kernel.actions.at(-1), 'reset');
    const late = h2conn();
    late.c.received(grpcDeniedKeep(3, BODY.length).length).send(late.call(5, '/api/v1/users')).send(rst(3));
    const b = play(late.c.list);
    assert.equal(b.kernel.actions.at(-1), 'pass');
  });

  it('a denied call without DATA (END_STREAM on HEADERS): no WINDOW_UPDATE', () => {
    const { sim } = play(h2conn({ data: false }).c.list);
    assert.ok(sim.packets.some((p) => p.answer?.keep), 'a stage-3 answer');
  });

  it('a denied block that indexed a field (the server\'s table would lack it): stage 2', () => {
    const { sim } = play(h2conn({ indexing: true }).c.list);
    assert.ok(sim.packets.some((p) => p.action === 'answer' && !p.answer?.keep), 'a stage-2 answer');
  });
});
