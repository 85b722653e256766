// Pairing the kernel's RESPONSE events with the requests they answer (src/replay/observe-response.ts),
// and observe()'s dispatch of them into Hubble RESPONSE flows: each response pairs with its own
// request whatever other connections interleave and whichever events were lost; memory stays
// within the bounds.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponsePairing, type PendingRequest } from '../../src/replay/observe-response.ts';
import { observe, type ObserveContext } from '../../src/replay/observe-flow.ts';
import { flowJsonLine } from '../../src/flow/build.ts';
import { EVENT_KIND, POLICY_DIR, VERDICT, type RawEvent } from '../../src/loader/index.ts';
import { inspectAll } from '../helpers/inspect-all.ts';

const pending = (msg: number, tsNs = BigInt(msg)): PendingRequest => ({ msg, tsNs, policies: [] });

describe('ResponsePairing', () => {
  it('pairs by index, skipping requests whose responses were lost; an unknown index pairs with nothing', () => {
    const p = new ResponsePairing();
    for (const m of [0, 1, 2, 3]) p.request('c', pending(m));
    assert.equal(p.response('c', 0)?.msg, 0);
    assert.equal(p.response('c', 2)?.msg, 2, 'the response to 1 was lost');
    assert.equal(p.response('c', 2), undefined, 'each request pairs once');
    assert.equal(p.response('other', 0), undefined);
    assert.equal(p.response('c', 3)?.msg, 3);
    assert.equal(p.pending('c'), 0);
  });

  it('indexes wrap at 2^16; an index that does not grow starts a new connection on the same ports', () => {
    const p = new ResponsePairing();
    for (const m of [65534, 65535, 0]) p.request('c', pending(m));
    assert.equal(p.response('c', 0)?.msg, 0, 'after 65535 comes 0');
    p.request('c', pending(5));
    p.request('c', pending(0, 99n)); // port reuse: the kernel counts from 0 again
    assert.equal(p.pending('c'), 1);
    assert.equal(p.response('c', 0)?.tsNs, 99n);
  });

  it('bounded: the least recently used connection and the oldest request go first', () => {
    const p = new ResponsePairing(3, 4);
    for (let i = 0; i < 10; i++) p.request('busy', pending(i));
    assert.equal(p.pending('busy'), 4);
    assert.equal(p.response('busy', 5), undefined, 'evicted');
    for (const c of ['a', 'b', 'c', 'd']) p.request(c, pending(0));
    assert.equal(p.size, 3);
    assert.equal(p.pending('busy'), 0, 'the oldest connection was forgotten');
  });

  it('any interleaving of connections and any lost events: a response pairs with its own request or with none (fast-check)', () => {
    // per connection, n exchanges; each request and response event is delivered or lost; the
    // kernel's order: request i before response i, responses in order, requests pipelined ahead
    const conn = fc.record({ n: fc.integer({ min: 1, max: 12 }), lost: fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }), ahead: fc.integer({ min: 1, max: 4 }) });
    fc.assert(fc.property(fc.array(conn, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(4), { maxLength: 200 }), (conns, order) => {
      const streams = conns.map((c, ci) => {
        const out: { req: boolean; msg: number; lost: boolean; conn: string }[] = [];
        let sent = 0;
        for (let i = 0; i < c.n; i++) {
          while (sent < c.n && sent < i + c.ahead) out.push({ req: true, msg: sent, lost: c.lost[sent * 2]!, conn: `c${ci}` }), sent++;
          out.push({ req: false, msg: i, lost: c.lost[i * 2 + 1]!, conn: `c${ci}` });
        }
        return out;
      });
      const p = new ResponsePairing(8, 64);
      const delivered = new Set<string>();
      let k = 0;
      while (streams.some((s) => s.length)) {
        const live = streams.filter((s) => s.length);
        const ev = live[(order[k++] ?? 0) % live.length]!.shift()!;
        if (ev.lost) continue;
        if (ev.req) {
          p.request(ev.conn, pending(ev.msg, BigInt(ev.msg * 1000)));
          delivered.add(`${ev.conn}/${ev.msg}`);
        } else {
          const got = p.response(ev.conn, ev.msg);
          assert.deepEqual(got ? [got.msg, got.tsNs] : null, delivered.has(`${ev.conn}/${ev.msg}`) ? [ev.msg, BigInt(ev.msg * 1000)] : null);
        }
      }
    }), { numRuns: 300, seed: 15 });
  });
});

describe('observe(): RESPONSE events become RESPONSE flows', () => {
  const { inv } = inspectAll();
  const ctx = (): ObserveContext => ({ inventory: inv, rules: [], httpRules: [], nodeName: 'node', clockOffsetNs: 0n });
  const v4 = (a: number) => Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, a]);
  const line = (text: string) => {
    const b = new Uint8Array(64);
    b.set(Buffer.from(text, 'latin1'));
    return { line: b, line_len: text.length };
  };
  const base: RawEvent = {
    ts_ns: 0n, ifindex: 1, kind: 0, verdict: VERDICT.FORWARDED, reason: 0, dir: POLICY_DIR.INGRESS, family: 4, proto: 6, tcp_flags: 0x18,
    sport: 40000, dport: 80, saddr: v4(1), daddr: v4(2), local_id: 0, peer_id: 0, rule: -1, http_rule: -1, seq: 0, line_len: 0,
    version: 0, line: new Uint8Array(64), stream: 0, status: 0, msg: 0,
  };
  const request = (msg: number, ts: bigint, text: string): RawEvent => ({ ...base, kind: EVENT_KIND.HTTP, msg, ts_ns: ts, ...line(text) });
  // the server's packet: its addresses and ports the other way round
  const response = (msg: number, ts: bigint, status: number): RawEvent => ({ ...base, kind: EVENT_KIND.RESPONSE, msg, ts_ns: ts, status, sport: 80, dport: 40000, saddr: v4(2), daddr: v4(1) });

  it('a response names its request, its code and the latency; Hubble shape (reply, type RESPONSE)', () => {
    const c = ctx();
    observe(c, request(0, 1_000_000n, 'GET /a HTTP/1.1\r\n'));
    observe(c, request(1, 2_000_000n, 'POST /b HTTP/1.1\r\n'));
    const first = observe(c, response(0, 4_500_000n, 200));
    const second = observe(c, response(1, 9_000_000n, 503));
    assert.equal(first.kind, 'response');
    assert.deepEqual([first.record.status, first.record.latencyNs, first.record.request?.method, first.record.request?.target, first.record.isReply], [200, 3_500_000n, 'GET', '/a', true]);
    assert.deepEqual([second.record.status, second.record.latencyNs, second.record.request?.method], [503, 7_000_000n, 'POST']);
    assert.deepEqual([first.record.src.ip, first.record.dst.ip, first.record.dst.port], ['10.0.0.1', '10.0.0.2', 80], 'sides as the request\'s: client -> server');
    const flow = JSON.parse(flowJsonLine(first.flows[0]!)).flow;
    assert.deepEqual([flow.l7.type, flow.l7.http.code, flow.l7.http.method, flow.l7.latency_ns, flow.verdict], ['RESPONSE', 200, 'GET', '3500000', 'FORWARDED']);
  });

  it('a response without a known request is still a flow: no method, latency 0', () => {
    const o = observe(ctx(), response(7, 5n, 404));
    assert.deepEqual([o.kind, o.record.status, o.record.request, o.record.latencyNs], ['response', 404, undefined, 0n]);
  });

  it('denied requests are not waited for; sessions do not share requests', () => {
    const c = ctx();
    observe(c, { ...request(0, 1n, 'GET /x HTTP/1.1\r\n'), verdict: VERDICT.ANSWERED, reason: 3 });
    assert.equal(observe(c, response(0, 9n, 200)).record.request, undefined);
    const other = ctx();
    observe(other, request(0, 1n, 'GET /y HTTP/1.1\r\n'));
    assert.equal(observe(ctx(), response(0, 9n, 200)).record.request, undefined);
    assert.equal(observe(other, response(0, 9n, 200)).record.request?.target, '/y');
  });
});
