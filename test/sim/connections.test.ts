// Connection lifecycle, judges at L3/L4, upgrades, response pairing, eviction, link types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeByTime, tcpConn } from '../../sim/builder/tcp-conn.ts';
import { reframe } from '../../sim/builder/frames.ts';
import { pcapBytes } from '../../sim/capture/writer.ts';
import type { Judge } from '../../sim/replay/types.ts';
import { actions, allowAll, runFixture, runPcap, summaries } from './helpers.ts';

const C = { client: '10.0.0.1:40000', server: '10.0.0.2:8080' };
const GET = (p: string) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

test('L3/L4 deny drops every packet including the SYN', () => {
  const c = tcpConn(C).handshake().send(GET('/')).recv(OK).close();
  const judge: Judge = { connection: () => ({ allowed: false, inspect: false }), request: () => ({ allowed: true }) };
  const r = runFixture(c.list, judge);
  assert.ok(r.packets.every((p) => p.action === 'drop' && p.reason === 'l4-denied'));
  assert.equal(r.requests.length, 0);
});

test('inspect=false passes bytes without parsing', () => {
  const c = tcpConn(C).handshake().send(GET('/')).recv(OK).close();
  const judge: Judge = { connection: () => ({ allowed: true, inspect: false }), request: () => ({ allowed: false }) };
  const r = runFixture(c.list, judge);
  assert.ok(r.packets.every((p) => p.action === 'pass'));
  assert.equal(r.requests.length, 0);
  assert.deepEqual(r.conns.map((e) => e.type === 'close' && e.reason), [false, 'fin']);
});

test('midstream L7 connection: guessed direction; without its SYN the client bytes fail closed (as in the kernel)', () => {
  const c = tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:80' }).handshake().send(GET('/')).recv(OK);
  const seen: string[] = [];
  const judge: Judge = { connection: (ci) => { seen.push(`${ci.srcIp}:${ci.srcPort}>${ci.dstIp}:${ci.dstPort} ${ci.midstream} ${ci.guessed}`); return { allowed: true, inspect: true }; }, request: () => ({ allowed: false }) };
  const r = runFixture(c.list.slice(3), judge);
  assert.deepEqual(seen, ['10.0.0.1:40000>10.0.0.2:80 true true']);
  assert.deepEqual(r.packets.map((p) => `${p.action}:${p.reason}`), ['drop:no-flow-state', 'pass:reply']);
  assert.equal(r.requests.length, 0);
});

test('FIN both ways closes; a late ACK is not a new connection; a new SYN reuses the tuple', () => {
  const a = tcpConn({ ...C, isn: { client: 100, server: 200 } }).handshake().send(GET('/one')).recv(OK).close();
  const b = tcpConn({ ...C, isn: { client: 900000, server: 7 }, startTs: a.list.at(-1)!.ts + 1000n }).handshake().send(GET('/two')).recv(OK).rst('client');
  const r = runFixture([...a.list, ...b.list]);
  assert.deepEqual(summaries(r), ['GET /one allow', 'GET /two allow']);
  assert.deepEqual(r.conns.map((e) => `${e.type}:${e.conn.id}${e.type === 'close' ? `:${e.reason}` : ''}`), ['open:1', 'close:1:fin', 'open:2', 'close:2:rst']);
  assert.equal(r.packets[a.list.length - 1]!.reason, 'closed');
});

test('response pairing: HEAD has no body, 1xx does not complete, latency from head ends', () => {
  const c = tcpConn({ ...C, stepNs: 1000n }).handshake()
    .send('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n' + GET('/g') + 'POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n')
    .recv('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n')
    .recv('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n')
    .recv('HTTP/1.1 100 Continue\r\n\r\n')
    .send('hi')
    .recv('HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n');
  const r = runFixture(c.list);
  assert.deepEqual(r.requests.map((q) => `${q.request.kind === 'request' && q.request.method} ${q.response?.status} ${q.response?.latencyNs}`), [
    'HEAD 200 1000', 'GET 404 2000', 'POST 201 5000',
  ]);
});

test('upgrade accepted (101): later bytes are opaque; refused: parsing goes on', () => {
  const up = 'GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
  const yes = tcpConn(C).handshake().send(up).recv('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n').send('\x81\x85garbage GET /admin').recv('xx');
  const r1 = runFixture(yes.list, { ...allowAll, request: (_c, q) => ({ allowed: q.kind === 'request' && q.target === '/ws' }) });
  assert.deepEqual(summaries(r1), ['GET /ws allow']);
  assert.deepEqual(r1.packets.slice(5).map((p) => p.reason), ['opaque', 'reply']);
  const no = tcpConn(C).handshake().send(up).recv('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n').send(GET('/next'));
  assert.deepEqual(summaries(runFixture(no.list)), ['GET /ws allow', 'GET /next allow']);
  const early = tcpConn(C).handshake().send(up).send(GET('/sneaky'));
  assert.deepEqual(summaries(runFixture(early.list, { ...allowAll, request: (_c, q) => ({ allowed: q.kind === 'request' }) })), ['GET /ws allow', 'violation:data-before-upgrade deny']);
});

test('CONNECT: the tunnel after a 2xx is opaque', () => {
  const c = tcpConn(C).handshake().send('CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n').recv('HTTP/1.1 200 Connection Established\r\n\r\n').send('GET /admin HTTP/1.1\r\n\r\n');
  const r = runFixture(c.list);
  assert.deepEqual(summaries(r), ['CONNECT db:5432 allow']);
  assert.equal(r.packets.at(-1)!.reason, 'opaque');
});

test('IPv6 connection', () => {
  const c = tcpConn({ client: '[fd00::1]:40000', server: '[fd00::2]:80' }).handshake().send(GET('/six'), { splitAt: [4] }).recv(OK).close();
  const r = runFixture(c.list);
  assert.deepEqual(summaries(r), ['GET /six allow']);
  assert.equal(r.requests[0]!.conn.srcIp, 'fd00::1');
  assert.equal(r.requests[0]!.conn.ipVersion, 6);
  assert.equal(r.requests[0]!.response?.status, 200);
});

test('SLL2 and NULL loopback captures replay like Ethernet', () => {
  const c = tcpConn(C).handshake().send(GET('/l'), { splitAt: [9] }).recv(OK).close();
  const eth = runFixture(c.list);
  for (const [lt, opts] of [[276, {}], [0, {}], [0, { bigEndianFamily: true }], [113, {}], [101, {}]] as const) {
    const bytes = pcapBytes(c.list.map((p) => ({ data: reframe(p.frame, lt, opts), ts: p.ts })), { linkType: lt });
    const r = runPcap(bytes);
    assert.deepEqual(summaries(r), summaries(eth), `link type ${lt}`);
    assert.deepEqual(actions(r), actions(eth), `link type ${lt}`);
  }
});

test('LRU cap evicts the least recently used connection and reports it', () => {
  // connection 1 goes idle (no FIN); 2 and 3 then interleave: 1 is the one to go
  const conns = [1, 2, 3].map((i) => tcpConn({ client: `10.0.0.${i}:4000${i}`, server: '10.0.0.9:80', startTs: i === 1 ? 0n : 1_000_000_000n + BigInt(i) }).handshake().send(GET(`/${i}`)));
  const r = runFixture(mergeByTime(...conns.map((c) => c.list)), allowAll, { maxConnections: 2 });
  assert.ok(r.conns.some((e) => e.type === 'close' && e.reason === 'evicted' && e.conn.id === 1));
  assert.equal(r.summary.evicted, 1);
  assert.deepEqual(summaries(r).sort(), ['GET /1 allow', 'GET /2 allow', 'GET /3 allow']);
  assert.equal(r.conns.filter((e) => e.type === 'close' && e.reason === 'evicted').length, 1);
});

test('non-TCP and non-IP frames pass; TCP fragments drop', () => {
  const c = tcpConn(C).handshake();
  const udp = c.list[0]!.frame.slice();
  udp[23] = 17;
  const arp = c.list[0]!.frame.slice();
  arp[12] = 8; arp[13] = 6;
  const frag = c.list[0]!.frame.slice();
  frag[20] = 0x20;
  const r = runPcap(pcapBytes([udp, arp, frag].map((data) => ({ data, ts: 0n }))));
  assert.deepEqual(r.packets.map((p) => `${p.action}:${p.reason}`), ['pass:not-tcp', 'pass:not-ip', 'drop:ip-fragment']);
});
