// Stream integrity (docs/datapath.md, "What the datapath trusts": judge what the server reads): every bypass and
// every false positive of the issue, through BPF_PROG_TEST_RUN and the simulator. Each case
// asserts the kernel's action and event reason per packet, and kernel == simulator packet by
// packet. The server may receive only GET /api/v1/users and POST /api/v1/upload on port 80;
// ALLOWED and DENIED have the same length, so a denied request sent where allowed bytes were
// inserted lines up with them byte for byte.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../helpers/kernel.ts';
import { parsePolicies } from '../../src/policy/index.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';
import { clearMap, fillIfaces, REASON, VERDICT, TC_ACT } from '../../src/loader/index.ts';
import { tcpConn, type FixturePacket, type PacketReason, type TcpConn } from '../../sim/index.ts';
import { TCP_ACK as ACK, TCP_PSH as PSH, TCP_RST as RST, TCP_SYN as SYN, TCP_URG as URG } from '../../sim/decode/view.ts';
import { buildWorld, resetting, type KernelWorld } from '../helpers/kernel-world.ts';
import { inspectAll } from '../helpers/inspect-all.ts';
import { kernelSteps, simSteps, traceText, type KernelStep, type ReasonName } from '../helpers/packet-trace.ts';

const skip = kernelSkip();

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-api, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:
              - {method: GET, path: /api/v1/users}
              - {method: POST, path: /api/v1/upload}
`;
const { policies, inv, client, server } = inspectAll(POLICY);

const ALLOWED = 'GET /api/v1/users HTTP/1.1\r\nHost: server\r\n\r\n';
const DENIED = 'GET /api/v1/admin HTTP/1.1\r\nHost: server\r\n\r\n';
const L = ALLOWED.length;

/** The simulator's packet reason for a kernel reason, where the two name the same rule. */
const SIM_REASON: Partial<Record<ReasonName, PacketReason>> = {
  URGENT_DATA: 'urgent-data', INSERTION: 'insertion', BAD_IP_HEADER: 'bad-ip-header', OUT_OF_WINDOW: 'out-of-window',
  RETRANSMISSION_DIFFERS: 'retransmission-differs', SYN_ON_FLOW: 'syn-on-flow', FLOW_CLOSED: 'flow-closed', L7_NO_RULE: 'request-denied',
};

let world: KernelWorld | null = null;
// resets: these cases are about which bytes are judged (answers: test/kernel/answers.test.ts)
const w = () => (world ??= resetting(buildWorld(policies, inv, [])));
after(() => world?.close());

let port = 41000;
/** A connection on a port no earlier case used (no flow or ring entry left over). */
function conn(v6 = false): TcpConn {
  port++;
  return tcpConn(v6 ? { client: `[fd00::1]:${port}`, server: '[fd00::2]:80' } : { client: `10.0.0.1:${port}`, server: '10.0.0.2:80' });
}

interface CheckOptions {
  /** false: kernel only (the simulator has no interfaces) */
  readonly sim?: boolean;
  readonly before?: (p: FixturePacket) => void;
}

/**
 * Plays the packets with fresh flows and asserts, per packet, the kernel's action ("drop") or
 * action and event reason ("drop INSERTION"), the simulator's reason where it names the same
 * rule, and kernel == simulator.
 */
function check(packets: readonly FixturePacket[], want: readonly string[], o: CheckOptions = {}): KernelStep[] {
  assert.equal(want.length, packets.length, 'one expectation per packet');
  w().reset();
  const k = kernelSteps(w(), client, server, packets, o.before);
  const s = o.sim === false ? [] : simSteps(policies, inv, packets, false);
  const text = traceText(packets, k, s, want);
  want.forEach((x, i) => {
    const [action, reason] = x.split(' ') as [string, ReasonName | undefined];
    assert.equal(k[i]!.action, action, `packet ${i}: kernel action\n${text}`);
    if (!reason) return;
    assert.equal(k[i]!.reason, reason, `packet ${i}: kernel event reason\n${text}`);
    const simReason = SIM_REASON[reason];
    if (s.length && simReason) assert.equal(s[i]!.reason, simReason, `packet ${i}: simulator reason\n${text}`);
  });
  if (s.length) assert.deepEqual(k.map((x) => x.action), s.map((x) => x.action), `kernel == simulator\n${text}`);
  return k;
}

const HANDSHAKE = ['pass', 'pass', 'pass'];
/** The packet's HTTP events: one allowed request. */
const allowedEvent = (k: KernelStep) => k.http.length === 1 && k.http[0]!.reason === REASON.NONE && k.http[0]!.verdict === VERDICT.FORWARDED;

// 1. urgent data: the receiver takes the urgent byte out of the stream (no SO_OOBINLINE)

test('urgent data: a segment with URG carrying an allowed prefix resets (URGENT_DATA)', { skip }, () => {
  const c = conn().handshake().craft('client', 0, 'GET /api/v1/users', { flags: PSH | ACK | URG, frame: { urgent: 1 } });
  check(c.list, [...HANDSHAKE, 'reset URGENT_DATA']);
});

test('urgent data: a pure ACK with URG resets (URGENT_DATA)', { skip }, () => {
  const c = conn().handshake().craft('client', 0, '', { flags: ACK | URG, frame: { urgent: 1 } });
  check(c.list, [...HANDSHAKE, 'reset URGENT_DATA']);
});

// 2. insertions: segments the receiving TCP discards never advance the stream

/** Allowed bytes the receiver discards, then the denied bytes at the same offset: judged, reset. */
function insertion(extra: Parameters<TcpConn['craft']>[3], v6 = false, c = conn(v6).handshake()) {
  return c.craft('client', 0, ALLOWED, { description: 'allowed request, discarded by the receiver', ...extra }).segmentAt('client', 0, DENIED);
}

test('insertion: allowed bytes without the ACK flag are dropped (INSERTION); the denied bytes there are judged', { skip }, () => {
  check(insertion({ flags: PSH }).list, [...HANDSHAKE, 'drop INSERTION', 'reset L7_NO_RULE']);
});

test('insertion: an ack of data the server never sent is dropped (INSERTION)', { skip }, () => {
  const c = conn().handshake();
  check(insertion({ ack: c.seqOf('server', 5000) }, false, c).list, [...HANDSHAKE, 'drop INSERTION', 'reset L7_NO_RULE']);
});

test('insertion: an ack 2^30 in the past is dropped (INSERTION)', { skip }, () => {
  const c = conn().handshake();
  check(insertion({ ack: (c.seqOf('server', 0) - 2 ** 30) >>> 0 }, false, c).list, [...HANDSHAKE, 'drop INSERTION', 'reset L7_NO_RULE']);
});

test('insertion: RST|ACK carrying allowed bytes passes unjudged and does not advance the stream', { skip }, () => {
  // a judged request the server has not acknowledged first: the RST is not known to be at the
  // receiver's rcv_nxt, so the connection lives on (the receiver answers with a challenge ACK)
  const c = conn().handshake().send(ALLOWED).craft('client', L, ALLOWED, { flags: RST | ACK }).segmentAt('client', L, DENIED);
  const k = check(c.list, [...HANDSHAKE, 'pass', 'pass', 'reset L7_NO_RULE']);
  assert.equal(k[4]!.http.length, 0, 'a reset\'s payload is not judged');
});

test('RST|ACK with bytes exactly at the receiver\'s next byte closes the stream: data after it is dropped (FLOW_CLOSED)', { skip }, () => {
  // every judged byte acknowledged (none yet): rcv_nxt is known, the receiver takes the reset
  const c = conn().handshake().craft('client', 0, ALLOWED, { flags: RST | ACK }).segmentAt('client', 0, DENIED);
  const k = check(c.list, [...HANDSHAKE, 'pass', 'drop FLOW_CLOSED']);
  assert.equal(k[3]!.http.length, 0, 'a reset\'s payload is not judged');
});

test('TTL 1 and hop limit 1 at an ingress policy (tc egress: forwarded already) are what the pod takes: judged', { skip }, () => {
  for (const v6 of [false, true]) check(insertion({ frame: { ttl: 1 } }, v6).list, [...HANDSHAKE, 'pass', 'drop RETRANSMISSION_DIFFERS']);
});

const EGRESS_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: client-api, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
    - toEndpoints: [{matchLabels: {app: server}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:
              - {method: GET, path: /api/v1/users}
`;

test('insertion: TTL 1, hop limit 1 and a bad IPv4 header checksum at an egress policy (the node would not forward them) are dropped (BAD_IP_HEADER)', { skip }, () => {
  const egress = parsePolicies(EGRESS_POLICY, 'integrity-egress.yaml').policies;
  const ew = resetting(buildWorld(egress, inv, []));
  try {
    const cases = [insertion({ frame: { ttl: 1 } }), insertion({ frame: { ttl: 1 } }, true), insertion({ frame: { badIpChecksum: true } })];
    for (const c of cases) {
      const packets = c.list;
      const want = [...HANDSHAKE, 'drop', 'reset'];
      const k = kernelSteps(ew, client, server, packets);
      const sim = simSteps(egress, inv, packets, false);
      const text = traceText(packets, k, sim, want);
      assert.deepEqual(k.map((x) => x.action), want, text);
      assert.equal(k[3]!.reason, 'BAD_IP_HEADER', text);
      assert.deepEqual(sim.map((x) => x.action), want, `kernel == simulator\n${text}`);
      assert.equal(sim[3]!.reason, 'bad-ip-header', text);
      ew.reset();
    }
  } finally {
    ew.close();
  }
});

test('insertion: a SYN|ACK from the client carrying data is discarded by an established receiver (INSERTION)', { skip }, () => {
  check(insertion({ flags: SYN | ACK | PSH }).list, [...HANDSHAKE, 'drop INSERTION', 'reset L7_NO_RULE']);
});

test('a bad IPv4 header checksum at an ingress policy (tc egress: ip_rcv checked it before forwarding) is judged', { skip }, () => {
  check(insertion({ frame: { badIpChecksum: true } }).list, [...HANDSHAKE, 'pass', 'drop RETRANSMISSION_DIFFERS']);
});

test('a zero IPv4 header checksum (not computed) is judged; a receiver that drops it is covered by the retransmission check', { skip }, () => {
  const c = conn().handshake().send(ALLOWED).segmentAt('client', 0, DENIED).send(DENIED);
  const packets = c.list.map((p, i) => (i === 3 || i === 5 ? { ...p, frame: zeroIpChecksum(p.frame) } : p));
  const k = check(packets, [...HANDSHAKE, 'pass', 'drop RETRANSMISSION_DIFFERS', 'reset L7_NO_RULE']);
  assert.ok(allowedEvent(k[3]!), 'the allowed request is judged');
});

test('insertion: a bad TCP checksum cannot be told from an offloaded one: judged, then the real segment must be the same', { skip }, () => {
  const c = conn().handshake()
    .craft('client', 0, ALLOWED, { frame: { badTcpChecksum: true }, description: 'allowed request, bad TCP checksum' })
    .segmentAt('client', 0, DENIED)
    .segmentAt('client', 0, ALLOWED);
  const k = check(c.list, [...HANDSHAKE, 'pass', 'drop RETRANSMISSION_DIFFERS', 'pass']);
  assert.ok(allowedEvent(k[3]!), 'the allowed bytes are judged');
});

// 3. retransmissions over judged bytes

test('a retransmission of judged bytes the server acknowledged passes whatever it carries', { skip }, () => {
  const c = conn().handshake().send(ALLOWED).ackOnly('server').segmentAt('client', 0, DENIED).send(DENIED);
  check(c.list, [...HANDSHAKE, 'pass', 'pass', 'pass', 'reset L7_NO_RULE']);
});

test('a retransmission of unacknowledged judged bytes: different is dropped (RETRANSMISSION_DIFFERS), identical passes', { skip }, () => {
  const c = conn().handshake().send(ALLOWED).segmentAt('client', 0, DENIED).segmentAt('client', 0, ALLOWED);
  check(c.list, [...HANDSHAKE, 'pass', 'drop RETRANSMISSION_DIFFERS', 'pass']);
});

// 4. content-length bodies: their bytes frame nothing, a retransmission may differ there

const LINE = 'POST /api/v1/upload HTTP/1.1\r\n';
const HEAD = `${LINE}Host: server\r\nContent-Length: 6000\r\n\r\n`;
const UPLOAD = HEAD + 'a'.repeat(6000);
const SEG = 1400;
const cuts = (n: number) => Array.from({ length: Math.floor((n - 1) / SEG) }, (_, i) => (i + 1) * SEG);
/** The first segment of UPLOAD with `from` replaced by `to` (same length). */
const firstWith = (from: string, to: string) => UPLOAD.slice(0, SEG).replace(from, to);

/** POST /api/v1/upload and its 6000-byte body in 1400-byte segments, then the server's ACK of the request line only. */
function upload(): TcpConn {
  const c = conn().handshake().send(UPLOAD, { splitAt: cuts(UPLOAD.length) });
  return c.craft('server', 0, '', { flags: ACK, ack: c.seqOf('client', LINE.length), description: 'server ACK of the request line only' });
}
const UPLOADED = [...HANDSHAKE, 'pass', 'pass', 'pass', 'pass', 'pass', 'pass'];

test('a content-length body: resent body bytes may differ (they frame nothing); resent unacknowledged head bytes may not', { skip }, () => {
  const c = upload().segmentAt('client', SEG, 'b'.repeat(SEG)).segmentAt('client', 0, firstWith('Host: server', 'Host: evil!!'));
  check(c.list, [...UPLOADED, 'pass', 'drop RETRANSMISSION_DIFFERS']);
});

// Fails today, in the kernel and the simulator alike: l7_resent_same takes every byte before next_seq - L7_RING_BYTES
// as gone from the ring, but content-length body bytes are never copied into it, so the head's
// copies are still there. A head segment lost after the hook can then never be resent: the
// connection stalls.
test('FALSE POSITIVE: the unacknowledged head resent after a 6000-byte body passes when its unacknowledged bytes are the same', { skip }, () => {
  const c = upload().segmentAt('client', 0, UPLOAD.slice(0, SEG)).segmentAt('client', 0, firstWith('/api/v1/upload', '/api/v1/delete'));
  check(c.list, [...UPLOADED, 'pass', 'pass']);
});

// 5. a SYN on a live flow moves nothing (RFC 5961); closure

test('a second SYN on the established tuple, seq far ahead, is dropped (SYN_ON_FLOW); the stream stays where it was', { skip }, () => {
  const c = conn().handshake().craft('client', 100000, '', { flags: SYN, description: 'SYN, seq 100000 ahead' }).send(DENIED);
  check(c.list, [...HANDSHAKE, 'drop SYN_ON_FLOW', 'reset L7_NO_RULE']);
});

test('the client\'s own SYN sent again (same ISN, no data) passes; the flow is still judged', { skip }, () => {
  const c = conn().handshake().send(ALLOWED).craft('client', -1, '', { flags: SYN, description: 'the SYN again' }).send(DENIED);
  check(c.list, [...HANDSHAKE, 'pass', 'pass', 'reset L7_NO_RULE']);
});

test('a SYN from the server side of a live flow is dropped (SYN_ON_FLOW)', { skip }, () => {
  const c = conn().handshake().craft('server', 7000, '', { flags: SYN, description: 'server SYN (spoofed)' }).send(DENIED);
  check(c.list, [...HANDSHAKE, 'drop SYN_ON_FLOW', 'reset L7_NO_RULE']);
});

// Fails today: the simulator takes SYN|RST for no SYN on a live flow (engine.ts masks RST out of
// its SYN test, then passes it as a handshake packet); the kernel drops it as a SYN on the flow.
// A receiving Linux handles it as a RST; neither side lets it move the stream.
test('SYN|RST MISMATCH: a SYN|RST on a live flow is dropped (SYN_ON_FLOW) by kernel and simulator alike', { skip }, () => {
  const c = conn().handshake().craft('client', 100000, '', { flags: SYN | RST, description: 'SYN|RST, seq 100000 ahead' }).send(DENIED);
  check(c.list, [...HANDSHAKE, 'drop SYN_ON_FLOW', 'reset L7_NO_RULE']);
});

test('after the connection closed, client data is dropped (FLOW_CLOSED); a new SYN opens a new judged flow', { skip }, () => {
  const old = conn().handshake().send(ALLOWED).fin('client').fin('server').craft('client', L + 1, DENIED);
  const again = tcpConn({ client: `10.0.0.1:${old.client.port}`, server: '10.0.0.2:80', isn: { client: 900000, server: 700000 } })
    .handshake().send(ALLOWED).send(DENIED);
  check([...old.list, ...again.list], [...HANDSHAKE, 'pass', 'pass', 'pass', 'drop FLOW_CLOSED', ...HANDSHAKE, 'pass', 'reset L7_NO_RULE']);
});

// 6. before the first byte

test('a segment before the ISN is dropped (OUT_OF_WINDOW)', { skip }, () => {
  const c = conn().handshake().craft('client', -100, DENIED.slice(0, 40)).send(DENIED);
  check(c.list, [...HANDSHAKE, 'drop OUT_OF_WINDOW', 'reset L7_NO_RULE']);
});

// 7. source validation

test('source validation: a packet from an endpoint\'s interface with another source is dropped (SPOOFED_SOURCE)', { skip }, () => {
  const obj = w().obj;
  const addrs = (p: PeerRef) => (p.kind === 'endpoint' ? p.endpoint.ips.map((a) => a.text) : []);
  const spoofed = conn().craft('client', -1, '', { flags: SYN, frame: { src: '10.0.0.9' }, description: 'SYN from 10.0.0.9' }).list[0]!;
  try {
    // test_run's skb has lo's ifindex (1): an entry for another interface checks nothing
    fillIfaces(obj, [{ ifindex: 2, addrs: addrs(client) }]);
    assert.equal(w().runner.run({ prog: 'l7_from_pod', frame: spoofed.frame }).action, TC_ACT.OK, 'ifindex 2 is not the test run\'s');
    fillIfaces(obj, [{ ifindex: 1, addrs: addrs(client) }]);
    // validation happens once per flow, when it opens (the flow remembers its interface)
    w().reset();
    const r = w().runner.run({ prog: 'l7_from_pod', frame: spoofed.frame });
    assert.equal(r.action, TC_ACT.SHOT);
    assert.deepEqual(r.events.map((e) => [e.ifindex, e.reason]), [[1, REASON.SPOOFED_SOURCE]], 'the test run\'s ifindex is 1');
    // every packet enters from its sender's interface: ifindex 1 holds the sender's addresses.
    // kernel only: the simulator has no interfaces, so it has no source validation to compare
    const c = conn().handshake().send(ALLOWED).craft('client', L, DENIED, { frame: { src: '10.0.0.9' }, description: 'denied request from 10.0.0.9' }).send(DENIED);
    const before = (p: FixturePacket) => fillIfaces(obj, [{ ifindex: 1, addrs: addrs(p.from === 'client' ? client : server) }]);
    check(c.list, [...HANDSHAKE, 'pass', 'drop SPOOFED_SOURCE', 'reset L7_NO_RULE'], { sim: false, before });
  } finally {
    clearMap(obj, 'ifaces');
  }
});

// 8. BIG TCP: GSO packets over 64 KB carry IP length 0; the length is the skb's

test('BIG TCP: IPv4 total length 0 and IPv6 payload length 0 are judged by the skb length', { skip }, () => {
  for (const v6 of [false, true]) {
    // a receiver drops a length-0 packet that is not GSO: the retransmission check covers it
    const c = conn(v6).handshake()
      .craft('client', 0, ALLOWED, { frame: { zeroLength: true } })
      .segmentAt('client', 0, DENIED)
      .craft('client', L, DENIED, { frame: { zeroLength: true } });
    const k = check(c.list, [...HANDSHAKE, 'pass', 'drop RETRANSMISSION_DIFFERS', 'reset L7_NO_RULE']);
    assert.ok(allowedEvent(k[3]!), `IPv${v6 ? 6 : 4}: the allowed request is judged`);
  }
});

// 9. IP options and IPv6 extension headers are walked

const OPTIONS = [Uint8Array.of(1, 1, 1, 1), Uint8Array.of(0, 0, 1, 4, 0, 0, 0, 0)]; // 4 NOPs; a PadN option

test('IPv4 options and an IPv6 destination-options header: an allowed request is judged and passes, then must be resent the same', { skip }, () => {
  for (const v6 of [false, true]) {
    const ipOptions = OPTIONS[v6 ? 1 : 0]!;
    // a receiver that drops it for its options: the retransmission check covers it
    const c = conn(v6).handshake().craft('client', 0, ALLOWED, { frame: { ipOptions } }).segmentAt('client', 0, DENIED);
    const k = check(c.list, [...HANDSHAKE, 'pass', 'drop RETRANSMISSION_DIFFERS']);
    assert.ok(allowedEvent(k[3]!), `IPv${v6 ? 6 : 4}: the allowed request is judged`);
  }
});

// Fails today: the kernel drops the denied segment instead (l7_reset refuses an l4 header not
// right after a 20-byte IPv4 / 40-byte IPv6 header), the simulator resets it. The denied
// request never reaches the server either way, but the client gets no RST.
test('IP OPTIONS RESET: a denied request with IPv4 options or an IPv6 destination-options header is reset', { skip }, () => {
  for (const v6 of [false, true]) {
    const ipOptions = OPTIONS[v6 ? 1 : 0]!;
    check(conn(v6).handshake().craft('client', 0, DENIED, { frame: { ipOptions } }).list, [...HANDSHAKE, 'reset L7_NO_RULE']);
  }
});

// 10. TCP fast open: the SYN's data is judged

test('fast open: an allowed request in the SYN is judged; resent the same it passes, different it is dropped', { skip }, () => {
  const c = conn().craft('client', -1, ALLOWED, { flags: SYN, description: 'SYN + allowed request' });
  c.craft('server', -1, '', { flags: SYN | ACK, ack: c.seqOf('client', 0), description: 'SYN-ACK of the SYN only' })
    .segmentAt('client', 0, ALLOWED)
    .segmentAt('client', 0, DENIED);
  const k = check(c.list, ['pass', 'pass', 'pass', 'drop RETRANSMISSION_DIFFERS']);
  assert.ok(allowedEvent(k[0]!), 'the SYN\'s request is judged');
});

test('fast open: a denied request in the SYN is dropped and leaves no flow; the SYN again opens one', { skip }, () => {
  const c = conn().craft('client', -1, DENIED, { flags: SYN, description: 'SYN + denied request' })
    .handshake().send(ALLOWED).send(DENIED);
  check(c.list, ['drop L7_NO_RULE', ...HANDSHAKE, 'pass', 'reset L7_NO_RULE']);
});

// 11. leading CRLF (llhttp 9 skips it; the strict-request tests cover the rest)

test('CRLF before a request line is accepted', { skip }, () => {
  check(conn().handshake().send(`\r\n${ALLOWED}`).send(`\r\n${DENIED}`).list, [...HANDSHAKE, 'pass', 'reset L7_NO_RULE']);
});

/** The frame with its IPv4 header checksum zeroed (a capture where it was not computed). */
function zeroIpChecksum(frame: Uint8Array): Uint8Array {
  const f = Uint8Array.from(frame);
  f[24] = 0;
  f[25] = 0;
  return f;
}

