// RESPONSE events (issue 15): the kernel's response framer reports each final HTTP/1 response
// head it reads whole, with its status code and the index of the request it answers (HTTP
// events carry the same index), while denials are answered (RF_ON). Interim 1xx heads report
// nothing, nor does the kernel's own 403, nor a flow whose denials reset. Events are
// observability: every packet's action stays the simulator's (which knows nothing of them).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { tcpConn, type FixturePacket } from '../../sim/index.ts';
import { buildWorld, describeActions, runKernel, runSim, type KernelRun, type KernelWorld } from '../helpers/kernel-world.ts';
import { inspectAll, serverPolicy } from '../helpers/inspect-all.ts';
import { EVENT_KIND, VERDICT, fillConfig } from '../../src/loader/index.ts';
import { HTTP1_FORBIDDEN_KEEP } from '../../src/net/answers.ts';

const skip = kernelSkip();
const { policies, inv, peer } = inspectAll(serverPolicy('[{method: "GET|HEAD|POST", path: "/api/.*"}]', 'api'));
const GET = 'GET /api/a HTTP/1.1\r\nHost: server\r\n\r\n';
const HEAD = 'HEAD /api/b HTTP/1.1\r\nHost: server\r\n\r\n';
const DENIED = 'GET /admin HTTP/1.1\r\nHost: server\r\n\r\n';
const ok = (status: number, body = 'ok') => `HTTP/1.1 ${status} X\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const CHUNKED = 'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n';

let port = 42000;
const conn = (v6 = false) => {
  const [cl, sv] = [peer('client', v6), peer('server', v6)].map((p) => p.ip!.text);
  const host = (ip: string, p: number) => (v6 ? `[${ip}]:${p}` : `${ip}:${p}`);
  return tcpConn({ client: host(cl!, port++), server: host(sv!, 80) }).handshake();
};

/** [status, msg] of each RESPONSE event, in order */
const responses = (r: KernelRun) => r.events.filter((e) => e.kind === EVENT_KIND.RESPONSE).map((e) => [e.status, e.msg]);
/** msg of each allowed HTTP event */
const requestMsgs = (r: KernelRun) => r.events.filter((e) => e.kind === EVENT_KIND.HTTP && e.verdict === VERDICT.FORWARDED).map((e) => e.msg);

describe('kernel: RESPONSE events', { skip }, () => {
  let w: KernelWorld;
  before(() => {
    w = buildWorld(policies, inv, []);
  });
  after(() => w?.close());

  /** Plays the packets through the kernel; the actions must be the simulator's. */
  function play(list: readonly FixturePacket[], mode: 'auto' | 'reset' = 'auto', v6 = false): KernelRun {
    w.reset();
    fillConfig(w.obj, mode);
    const kernel = runKernel(w, peer('client', v6), peer('server', v6), list);
    const sim = runSim(policies, inv, list, mode === 'auto');
    assert.deepEqual(kernel.actions, sim.actions, describeActions(list, kernel.actions, sim.actions));
    return kernel;
  }

  it('one event per final response, in order, each with the index of its request (length, chunked, HEAD, 204, 304)', () => {
    for (const v6 of [false, true]) {
      const c = conn(v6);
      c.send(GET).recv(ok(200)).send(GET).recv(CHUNKED).send(HEAD).recv('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n')
        .send(GET).recv('HTTP/1.1 204 No Content\r\n\r\n').send(GET).recv('HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n').send(GET).recv(ok(404, 'nope'));
      const r = play(c.close().list, 'auto', v6);
      assert.deepEqual(responses(r), [[200, 0], [201, 1], [200, 2], [204, 3], [304, 4], [404, 5]]);
      assert.deepEqual(requestMsgs(r), [0, 1, 2, 3, 4, 5]);
      const ev = r.events.find((e) => e.kind === EVENT_KIND.RESPONSE)!;
      assert.equal(ev.family, v6 ? 6 : 4);
      assert.deepEqual([ev.sport, ev.dport, ev.verdict], [80, c.client.port, VERDICT.FORWARDED], 'the server\'s packet, passed');
    }
  });

  it('interim 1xx heads report nothing; the final head after them does', () => {
    const c = conn();
    c.send(GET).recv('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n').recv(ok(200));
    const r = play(c.close().list);
    assert.deepEqual(responses(r), [[200, 0]]);
  });

  it('pipelined responses in one segment and a head split byte by byte: one event each, on the byte that ends the head', () => {
    const c = conn();
    const both = ok(200) + ok(500, 'e') + ok(302, '');
    c.send(GET + GET + GET).recv(both, { splitAt: [3, 10, 17, 30, 31] });
    const r = play(c.close().list);
    assert.deepEqual(responses(r), [[200, 0], [500, 1], [302, 2]]);
    const one = conn();
    const head = ok(418, '');
    one.send(GET).recv(head, { splitAt: Array.from({ length: head.length - 1 }, (_, i) => i + 1) });
    const events = play(one.close().list).events.filter((e) => e.kind === EVENT_KIND.RESPONSE);
    assert.deepEqual(events.map((e) => e.status), [418]);
  });

  it('the kernel\'s own 403 is no RESPONSE (the denied request\'s event carries it); the next request\'s response is index 0', () => {
    const c = conn();
    c.send(DENIED).received(HTTP1_FORBIDDEN_KEEP.length).send(GET).recv(ok(200));
    const r = play(c.close().list);
    assert.ok(r.events.some((e) => e.kind === EVENT_KIND.HTTP && e.verdict === VERDICT.ANSWERED), 'stage 3 answered the denial');
    assert.deepEqual(responses(r), [[200, 0]]);
    assert.deepEqual(requestMsgs(r), [0]);
  });

  it('a head whose body ends with the connection is reported, then nothing more is followed', () => {
    const c = conn();
    c.send(GET + GET).recv('HTTP/1.0 200 OK\r\n\r\nbody until close').recv(ok(200));
    assert.deepEqual(responses(play(c.close().list)), [[200, 0]]);
  });

  it('answers off (--deny-answer reset): responses are not followed, no events', () => {
    const c = conn();
    c.send(GET).recv(ok(200));
    assert.deepEqual(responses(play(c.close().list, 'reset')), []);
  });

  it('any segmentation of a response stream gives the same events (fast-check)', () => {
    const kinds = [ok(200), ok(404, 'missing'), CHUNKED, 'HTTP/1.1 100 Continue\r\n\r\n' + ok(201), 'HTTP/1.1 204 No Content\r\n\r\n'];
    const want = [[200], [404], [201], [201], [204]];
    fc.assert(fc.property(fc.array(fc.nat(kinds.length - 1), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(400), { maxLength: 6 }), (picks, cuts) => {
      const c = conn();
      const stream = picks.map((k) => kinds[k]!).join('');
      c.send(picks.map(() => GET).join('')).recv(stream, { splitAt: [...new Set(cuts)].filter((x) => x > 0 && x < stream.length).sort((a, b) => a - b) });
      const r = play(c.close().list);
      assert.deepEqual(responses(r), picks.map((k, i) => [want[k]![0]!, i]));
    }), { numRuns: 60, seed: 15 });
  });
});
