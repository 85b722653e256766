// Protocol upgrades (docs/datapath.md, "Protocol upgrades"): a websocket handshake on an
// allowed path is judged like any request; honoured only as the connection's first request;
// the client waits for the answer; "HTTP/1.1 101 " at the server's first sequence number makes
// the connection opaque (websocket) or HTTP/2 (h2c), any other answer (or one elsewhere) is a
// refusal and HTTP/1 goes on.
// Every scenario runs under an ingress policy (the server's veth judges) and an egress policy
// (the client's veth judges); kernel == simulator per packet, and the expected actions.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../helpers/kernel.ts';
import { inspectAll, type InspectAll } from '../helpers/inspect-all.ts';
import { actionsAgree, buildWorld, comparable, resetting, describeActions, kernelVerdict, runKernel, runSim, type Action, type KernelWorld } from '../helpers/kernel-world.ts';
import { tcpConn, type FixturePacket, type TcpConn } from '../../sim/index.ts';
import { headers, PREFACE, requestFields, settings } from '../helpers/h2-wire.ts';
import { HpackEncoder } from '../helpers/hpack-encode.ts';

const skip = kernelSkip();

const RULES = `
          rules:
            http:
              - {method: GET, path: "/ws/.*"}
              - {method: GET, path: "/api/.*"}
`;
const INGRESS = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-in, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]${RULES}`;
const EGRESS = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-out, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
    - toEndpoints: [{matchLabels: {app: server}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]${RULES}`;

const WS = (path = '/ws/echo') =>
  `GET ${path} HTTP/1.1\r\nHost: server\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
const H2C = 'GET /api/x HTTP/1.1\r\nHost: server\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n';
const SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';
const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: server\r\n\r\n`;
/** a masked websocket text frame ("hello") followed by bytes that read as a denied request */
const FRAME = Buffer.concat([Buffer.from([0x81, 0x85, 1, 2, 3, 4]), Buffer.from('hello').map((b, i) => b ^ (i % 4) + 1), Buffer.from('GET /admin HTTP/1.1\r\n\r\n')]);

interface World extends InspectAll {
  readonly name: string;
  readonly w: KernelWorld;
}

const worlds: World[] = [];
after(() => worlds.forEach((x) => x.w.close()));
const all = (): World[] => {
  if (worlds.length === 0) {
    for (const [name, policy] of [['ingress', INGRESS], ['egress', EGRESS]] as const) {
      const ia = inspectAll(policy);
      worlds.push({ ...ia, name, w: resetting(buildWorld(ia.policies, ia.inv, [])) });
    }
  }
  return worlds;
};

const conn = () => tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:80' }).handshake();

/** Plays the packets in both worlds: kernel == simulator per packet, == `want` where given; the kernel's verdict in the oracle's words. */
function play(c: TcpConn, want: readonly Action[] | null, verdict: string): void {
  const packets: readonly FixturePacket[] = c.list;
  for (const x of all()) {
    x.w.reset();
    const kernel = runKernel(x.w, x.client, x.server, packets);
    const sim = runSim(x.policies, x.inv, packets, false);
    const why = `${x.name} policy:\n${describeActions(packets, kernel.actions, sim.actions, want ?? undefined)}`;
    assert.ok(actionsAgree(kernel.actions, sim.actions, comparable(packets, kernel.actions)), `kernel and simulator differ: ${why}`);
    if (want) assert.deepEqual(kernel.actions, want, why);
    assert.equal(kernelVerdict(kernel), verdict, why);
    assert.equal(simVerdict(sim), verdict, `simulator: ${why}`);
  }
}

/** The simulator's verdict in kernelVerdict's words. */
function simVerdict(sim: ReturnType<typeof runSim>): string {
  const denied = sim.requests.find((r) => !r.allowed);
  if (!denied) return 'allowed';
  return denied.input.kind === 'violation' ? `denied strict:${denied.input.violation.rule}` : `denied ${denied.verdict.reason}`;
}

const pass = (n: number): Action[] => Array.from({ length: n }, () => 'pass');

test('an allowed websocket handshake answered 101: every later byte passes both ways', { skip }, () => {
  const c = conn().send(WS(), { splitAt: [7, 60] }).recv(SWITCHED).send(FRAME).recv(Buffer.from([0x81, 0x02, 0x68, 0x69])).send(FRAME, { splitAt: [3] }).close();
  play(c, pass(c.list.length), 'allowed');
  // the answer in several segments: its first one holds the 13 bytes
  const split = conn().send(WS()).recv(SWITCHED, { splitAt: [13, 40] }).send(FRAME).close();
  play(split, pass(split.list.length), 'allowed');
  // CR and LF before the request line belong to the first request
  const crlf = conn().send(`\r\n${WS()}`).recv(SWITCHED).send(FRAME).close();
  play(crlf, pass(crlf.list.length), 'allowed');
});

test('a refused handshake (400, 200): HTTP/1 inspection goes on and a later denied request is reset', { skip }, () => {
  const refused = conn().send(WS()).recv(BAD_REQUEST).send(GET('/api/users')).recv(OK).send(GET('/admin'));
  play(refused, [...pass(7), 'reset'], 'denied l7-denied');
  const ok = conn().send(WS()).recv(OK).send(FRAME);
  play(ok, [...pass(5), 'reset'], 'denied strict:malformed');
});

test('a handshake after the first request is denied (upgrade), also pipelined or after a refusal', { skip }, () => {
  play(conn().send(GET('/api/users')).recv(OK).send(WS()), [...pass(5), 'reset'], 'denied strict:upgrade');
  play(conn().send(GET('/api/users') + WS()), [...pass(3), 'reset'], 'denied strict:upgrade');
  play(conn().send(WS()).recv(BAD_REQUEST).send(WS()), [...pass(5), 'reset'], 'denied strict:upgrade');
});

test('client bytes before the server answers are denied (upgrade)', { skip }, () => {
  play(conn().send(WS()).send(FRAME), [...pass(4), 'reset'], 'denied strict:upgrade');
  play(conn().send(WS() + 'x'), [...pass(3), 'reset'], 'denied strict:upgrade');
  // a pure retransmission of the handshake and the client's ACKs are no new bytes
  play(conn().send(WS(), { retransmit: [0] }).ackOnly('client').recv(SWITCHED).send(FRAME), pass(8), 'allowed');
});

test('handshakes l7bpf cannot follow are denied; a handshake on a denied path is l7-denied', { skip }, () => {
  play(conn().send(H2C.replace('Connection: Upgrade, HTTP2-Settings\r\n', '')), [...pass(3), 'reset'], 'denied strict:upgrade');
  play(conn().send(WS().replace('Connection: Upgrade\r\n', '')), [...pass(3), 'reset'], 'denied strict:upgrade');
  play(conn().send(H2C.replace('/api/x', '/admin')), [...pass(3), 'reset'], 'denied l7-denied');
  play(conn().send(WS('/admin')), [...pass(3), 'reset'], 'denied l7-denied');
});

const H2C_SWITCHED = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n';

/** HTTP/2 after an h2c upgrade: the preface, SETTINGS and one request per path on streams 3, 5... */
function h2cStreams(paths: readonly string[]): Uint8Array {
  const enc = new HpackEncoder();
  return Buffer.concat([PREFACE, settings(), ...paths.map((p, i) => headers(3 + 2 * i, enc.encode(requestFields('GET', p, 'server')), { endStream: true }))]);
}

test('h2c: the upgrade request judged as HTTP/1, HTTP/2 after the 101, stream by stream', { skip }, () => {
  const srv = new HpackEncoder();
  // the server's 101, its SETTINGS and the upgrade request's answer on stream 1, in one segment
  const answer = Buffer.concat([Buffer.from(H2C_SWITCHED), settings(), headers(1, srv.encode([[':status', '200']]), { endStream: true })]);
  const ok = conn().send(H2C).recv(answer).send(h2cStreams(['/api/a', '/api/b']), { splitAt: [5, 30] }).close();
  play(ok, pass(ok.list.length), 'allowed');
  const denied = conn().send(H2C).recv(answer).send(h2cStreams(['/api/a', '/admin']));
  play(denied, [...pass(5), 'reset'], 'denied l7-denied');
  // after the 101 the client speaks HTTP/2 or nothing: an HTTP/1 request breaks the preface
  play(conn().send(H2C).recv(answer).send(GET('/api/a')), [...pass(5), 'reset'], 'denied strict:h2-preface');
  // stream 1 is the upgrade request's: a HEADERS on it is a second block
  const enc = new HpackEncoder();
  const again = Buffer.concat([PREFACE, settings(), headers(1, enc.encode(requestFields('GET', '/api/a', 'server')), { endStream: true })]);
  play(conn().send(H2C).recv(answer).send(again), [...pass(5), 'reset'], 'denied strict:h2-trailers');
  // refused (no 101): HTTP/1 goes on
  play(conn().send(H2C).recv(OK).send(GET('/admin')), [...pass(5), 'reset'], 'denied l7-denied');
});

test('an answer not at the server\'s first sequence number is a refusal (hole, earlier bytes, short first segment)', { skip }, () => {
  // after a hole: the 101 arrives at offset 5 first; the retransmission of the whole answer comes too late
  const hole = conn().send(WS());
  hole.segmentAt('server', 5, SWITCHED.slice(5)).segmentAt('server', 0, SWITCHED).advance('server', SWITCHED.length).send(FRAME);
  play(hole, [...pass(6), 'reset'], 'denied strict:malformed');
  // the server sent bytes before the handshake: its 101 is not at its first sequence number
  const early = conn().recv('hello\r\n').send(WS()).recv(SWITCHED).send(FRAME);
  play(early, [...pass(6), 'reset'], 'denied strict:malformed');
  // a first segment shorter than "HTTP/1.1 101 "
  const short = conn().send(WS()).recv(SWITCHED, { splitAt: [12] }).send(FRAME);
  play(short, [...pass(6), 'reset'], 'denied strict:malformed');
  // a 101 in the wrong version
  const v10 = conn().send(WS()).recv(SWITCHED.replace('HTTP/1.1', 'HTTP/1.0')).send(FRAME);
  play(v10, [...pass(5), 'reset'], 'denied strict:malformed');
  // a 101 that does not acknowledge the whole handshake (as one forged off the path would not)
  const unacked = conn().send(WS());
  unacked.craft('server', 0, SWITCHED, { ack: unacked.seqOf('client', 10) }).advance('server', SWITCHED.length).send(FRAME);
  play(unacked, [...pass(5), 'reset'], 'denied strict:malformed');
});

// Connection and Upgrade values as clients send them, and the edges of the element matching:
// the kernel's reading must be llhttp's (the simulator's upgrade flag) and the oracle's
const CONNECTION = ['Upgrade', 'upgrade', 'keep-alive, Upgrade', 'Upgrade, HTTP2-Settings', ' upgrade\t', 'upgradex', 'x,,upgrade', 'upgrade ,x', 'close, upgrade', 'up grade', 'keep-alive', ''];
const UPGRADE = ['websocket', 'WebSocket', ' websocket ', 'websocket, h2c', 'h2c', 'websockets', ''];

test('Connection and Upgrade variants, answered 101 or 400, then a frame or a request: kernel == simulator (fast-check)', { skip }, async () => {
  const fc = (await import('fast-check')).default;
  const seen = new Set<string>();
  fc.assert(
    fc.property(
      fc.record({
        connection: fc.array(fc.constantFrom(...CONNECTION), { maxLength: 2 }),
        upgrade: fc.array(fc.constantFrom(...UPGRADE), { maxLength: 2 }),
        version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
        answer: fc.constantFrom(SWITCHED, BAD_REQUEST),
        then: fc.constantFrom<Uint8Array | string>(FRAME, GET('/api/next')),
        cut: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
      (k) => {
        const lines = [...k.connection.map((v) => `Connection: ${v}`), ...k.upgrade.map((v) => `Upgrade: ${v}`)];
        const head = `GET /ws/x ${k.version}\r\nHost: server\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
        const c = conn().send(head, { splitAt: [Math.floor(k.cut * head.length)] }).recv(k.answer).send(k.then);
        for (const x of all()) {
          x.w.reset();
          const kernel = runKernel(x.w, x.client, x.server, c.list);
          const sim = runSim(x.policies, x.inv, c.list, false);
          if (!actionsAgree(kernel.actions, sim.actions, comparable(c.list, kernel.actions))) {
            assert.fail(`${x.name} policy, ${JSON.stringify(head)}:\n${describeActions(c.list, kernel.actions, sim.actions)}`);
          }
          assert.equal(kernelVerdict(kernel), simVerdict(sim), `${x.name} policy, ${JSON.stringify(head)}: verdicts`);
          seen.add(`${kernelVerdict(kernel)} ${kernel.actions.includes('reset') ? 'reset' : 'pass'}`);
        }
      },
    ),
    { seed: 20261203, numRuns: Number(process.env.L7BPF_UPGRADE_RUNS ?? 300) },
  );
  // the outcomes that matter are all reached: switched, refused then judged, denied handshakes
  for (const want of ['allowed pass', 'denied strict:upgrade reset', 'denied strict:malformed reset']) assert.ok(seen.has(want), `${want} never reached: ${[...seen].join(', ')}`);
});
