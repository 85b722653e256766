// Audit mode in the kernel, through BPF_PROG_TEST_RUN: a denied request passes and yields an
// AUDIT event with the denial's reason (per policy annotation, and per deployment through the
// l7cfg map: no recompile); an L3/L4 denial, a strict violation (then no longer judged) the
// same; an enforced policy beside an audited one decides alone; HTTP/2 the same, stream by
// stream (a connection-rule or HPACK error, or lost HTTP/2 state, then no longer judged). The
// simulator agrees packet by packet, and its flows say AUDIT where the kernel's events do.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../helpers/kernel.ts';
import { actionsAgree, buildWorld, comparable, connPackets, runKernel, runSim, describeActions, type KernelRun, type KernelWorld } from '../helpers/kernel-world.ts';
import { EVENT_KIND, REASON, VERDICT, clearMap, fillConfig, strictRuleOf, type RawEvent } from '../../src/loader/index.ts';
import { auditPolicyYaml, parseAll, peer, auditInventory, FRONTEND, OTHER, BACKEND } from '../helpers/audit-world.ts';
import { FLAG, FRAME, PREFACE, frame, headers, requestFields, settings } from '../helpers/h2-wire.ts';
import { HpackEncoder, type Field } from '../helpers/hpack-encode.ts';
import { tcpConn, type FixturePacket } from '../../sim/index.ts';
import type { Policy } from '../../src/policy/types.ts';

const skip = kernelSkip();
// a matrix guest verifies each object for tens of seconds under emulation: there the mixed
// policies' object (what lowering leaves out, decided before the kernel) is the host's alone
const GUEST = process.env.L7BPF_MATRIX_GUEST === '1';
const enc = (s: string) => Buffer.from(s, 'latin1');
const POST = 'POST /api/x HTTP/1.1\r\nHost: backend\r\nContent-Length: 0\r\n\r\n';
const GET = 'GET /api/x HTTP/1.1\r\nHost: backend\r\n\r\n';

const audited = parseAll(auditPolicyYaml('audited', 'true'));
const enforced = parseAll(auditPolicyYaml('enforced', null));
const mixed = parseAll(auditPolicyYaml('enforced', null) + '---\n' + auditPolicyYaml('wider', 'true', '/admin/.*', 'other'));
/** one object per policy set, loaded at first use and shared by the HTTP/1 and HTTP/2 cases */
const loaded = new Map<readonly Policy[], KernelWorld>();
const worldOf = (policies: readonly Policy[]): KernelWorld => loaded.get(policies) ?? loaded.set(policies, buildWorld(policies, auditInventory, [])).get(policies)!;
after(() => loaded.forEach((w) => w.close()));

interface Played { actions: string[]; events: RawEvent[]; sim: ReturnType<typeof runSim> }

/** Plays one connection's packets through kernel and simulator; their actions must agree. */
function playPackets(policies: readonly Policy[], from: string, packets: readonly FixturePacket[], audit = false): Played {
  const w = worldOf(policies);
  w.reset();
  const k = runKernel(w, peer(from), peer(BACKEND), packets);
  const sim = runSim(policies, auditInventory, packets, true, true, audit);
  assert.ok(actionsAgree(k.actions, sim.actions, comparable(packets, k.actions)), describeActions(packets, k.actions, sim.actions));
  return { actions: k.actions, events: k.events, sim };
}

function play(policies: readonly Policy[], from: string, request: string, audit = false): Played {
  return playPackets(policies, from, connPackets(peer(from), peer(BACKEND), 80, enc(request), false)!, audit);
}

const audits = (events: readonly RawEvent[]) => events.filter((e) => e.verdict === VERDICT.AUDIT).map((e) => `${e.kind === EVENT_KIND.CONN ? 'CONN' : 'HTTP'} ${e.reason}`);

describe('audit mode in the kernel', { skip }, () => {
  it('a request no rule allows passes, with an AUDIT event naming the denial', () => {
    const r = play(audited, FRONTEND, POST + GET);
    assert.ok(r.actions.every((a) => a === 'pass'));
    assert.deepEqual(audits(r.events), [`HTTP ${REASON.L7_NO_RULE}`]);
    // the next request is judged as usual: allowed, forwarded
    assert.equal(r.events.filter((e) => e.kind === EVENT_KIND.HTTP && e.verdict === VERDICT.FORWARDED).length, 1);
    assert.deepEqual(r.sim.requests.map((q) => [q.verdict.allowed, q.verdict.audit, q.verdict.reason]), [[true, true, 'l7-denied'], [true, false, 'l7-allowed']]);
  });

  it('an L3/L4 denial passes: the connection event is AUDIT', () => {
    const r = play(audited, OTHER, GET);
    assert.ok(r.actions.every((a) => a === 'pass'));
    assert.deepEqual(audits(r.events), [`CONN ${REASON.NO_MATCH}`]);
  });

  it('a strict violation passes, reported; the connection is no longer judged', () => {
    const r = play(audited, FRONTEND, 'GET /api//x HTTP/1.1\r\nHost: backend\r\n\r\n' + POST);
    assert.ok(r.actions.every((a) => a === 'pass'));
    assert.equal(audits(r.events).length, 1);
    assert.notEqual(r.events.find((e) => e.verdict === VERDICT.AUDIT)!.reason, REASON.L7_NO_RULE);
  });

  it('the deployment\'s audit mode (l7cfg, no recompile) audits an enforced policy; off again, it enforces', () => {
    fillConfig(worldOf(enforced).obj, 'auto', false, true);
    const on = play(enforced, FRONTEND, POST, true);
    assert.ok(on.actions.every((a) => a === 'pass'));
    assert.deepEqual(audits(on.events), [`HTTP ${REASON.L7_NO_RULE}`]);
    fillConfig(worldOf(enforced).obj, 'auto');
    const off = play(enforced, FRONTEND, POST);
    assert.ok(off.actions.includes('answer'), off.actions.join(' '));
    assert.deepEqual(audits(off.events), []);
  });

  // (not registered in a guest, whose suite must skip nothing)
  if (!GUEST) it('audited and enforced policies on one endpoint-direction: the enforced one decides alone', () => {
    // the audited policy would allow other -> backend: left out, the enforced one denies at L3/L4
    const r = play(mixed, OTHER, GET);
    assert.equal(r.actions[0], 'drop');
    assert.deepEqual(audits(r.events), []);
    assert.ok(r.events.some((e) => e.kind === EVENT_KIND.CONN && e.verdict === VERDICT.DROPPED && e.reason === REASON.NO_MATCH));
  });
});

// HTTP/2 on port 80 (prior knowledge, the preface sniffed): a gRPC call to a method no rule
// allows, a GET the rules allow
const GRPC_PUT = requestFields('POST', '/pkg.Svc/Put', 'backend', [['content-type', 'application/grpc'], ['te', 'trailers']]);
const GET_API = requestFields('GET', '/api/x', 'backend');
const OPENING = Buffer.concat([PREFACE, settings()]);

/** Each field list a call on streams `stream`, +2, +4... (one HPACK context): HEADERS, then a
 * gRPC message in DATA up to END_STREAM for a POST; `first` goes before the first block. */
function calls(lists: readonly (readonly Field[])[], first: readonly number[] = [], stream = 1): Uint8Array[] {
  const hpack = new HpackEncoder();
  return lists.map((fields, k) => {
    const id = stream + 2 * k;
    const block = Uint8Array.from([...(k === 0 ? first : []), ...hpack.encode(fields)]);
    const post = fields.some(([n, v]) => n === ':method' && v === 'POST');
    const message = post ? frame(FRAME.DATA, FLAG.END_STREAM, id, [0, 0, 0, 0, 2, 8, 1]) : new Uint8Array(0);
    return Buffer.concat([headers(id, block, { endStream: !post }), message]);
  });
}

/** An HTTP/2 connection from `from`, one segment per item, after the server's SETTINGS (so an
 * enforced denial could be answered on its stream). */
function h2Packets(from: string, segments: readonly Uint8Array[]): FixturePacket[] {
  const splitAt = segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).reduce((n, s) => n + s.length, 0));
  return connPackets(peer(from), peer(BACKEND), 80, Buffer.concat(segments), false, splitAt, 40000, settings())!;
}

const h2Events = (events: readonly RawEvent[]) => events.filter((e) => e.kind === EVENT_KIND.HTTP).map((e) => ({
  stream: e.stream, version: e.version, verdict: e.verdict, reason: e.reason, line: Buffer.from(e.line.subarray(0, e.line_len)).toString('latin1'),
}));

/** Both streams' events: the denied call AUDIT with the rules' reason, the GET after it forwarded. */
function assertAuditedThenForwarded(r: Played): void {
  assert.ok(r.actions.every((a) => a === 'pass'), r.actions.join(' '));
  assert.deepEqual(h2Events(r.events), [
    { stream: 1, version: 2, verdict: VERDICT.AUDIT, reason: REASON.L7_NO_RULE, line: 'POST /pkg.Svc/Put' },
    { stream: 3, version: 2, verdict: VERDICT.FORWARDED, reason: REASON.NONE, line: 'GET /api/x' },
  ]);
  assert.deepEqual(r.sim.requests.map((q) => [q.verdict.allowed, q.verdict.audit, q.verdict.reason]), [[true, true, 'l7-denied'], [true, false, 'l7-allowed']]);
}

/** One AUDIT event with the rule `rule` names, and nothing judged after it though a denied call follows. */
function assertStoppedAudit(r: Played, rule: string): void {
  assert.ok(r.actions.every((a) => a === 'pass'), r.actions.join(' '));
  const judged = r.events.filter((e) => e.reason !== REASON.NONE || e.kind === EVENT_KIND.HTTP);
  assert.deepEqual(judged.map((e) => [e.verdict, strictRuleOf(e.reason)]), [[VERDICT.AUDIT, rule]]);
  assert.deepEqual(r.sim.requests.map((q) => [q.verdict.allowed, q.verdict.audit, q.verdict.violation?.rule]), [[true, true, rule]]);
}

describe('audit mode in the kernel: HTTP/2', { skip }, () => {
  it('a gRPC call no rule allows passes, with an AUDIT event naming the denial; the GET after it is forwarded', () => {
    assertAuditedThenForwarded(playPackets(audited, FRONTEND, h2Packets(FRONTEND, [OPENING, ...calls([GRPC_PUT, GET_API])])));
    // the same in one segment, and with the denied block cut mid-way
    const [put, get] = calls([GRPC_PUT, GET_API]) as [Uint8Array, Uint8Array];
    assertAuditedThenForwarded(playPackets(audited, FRONTEND, h2Packets(FRONTEND, [Buffer.concat([OPENING, put, get])])));
    assertAuditedThenForwarded(playPackets(audited, FRONTEND, h2Packets(FRONTEND, [OPENING, put.subarray(0, 14), Buffer.concat([put.subarray(14), get])])));
  });

  it('the deployment\'s audit mode audits an enforced policy\'s streams; off again, the call is answered (grpc-status)', () => {
    const packets = h2Packets(FRONTEND, [OPENING, ...calls([GRPC_PUT, GET_API])]);
    fillConfig(worldOf(enforced).obj, 'auto', false, true);
    try {
      assertAuditedThenForwarded(playPackets(enforced, FRONTEND, packets, true));
    } finally {
      fillConfig(worldOf(enforced).obj, 'auto');
    }
    const off = playPackets(enforced, FRONTEND, packets);
    assert.ok(off.actions.includes('answer'), off.actions.join(' '));
    assert.deepEqual(audits(off.events), []);
    assert.ok(h2Events(off.events).some((e) => e.stream === 1 && e.verdict === VERDICT.ANSWERED && e.reason === REASON.L7_NO_RULE));
  });

  it('a connection-rule error passes, reported AUDIT with its rule; the connection is no longer judged', () => {
    // a CONTINUATION with no field block open, then a call no rule allows
    const orphan = frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, [0x82]);
    const segments = [OPENING, orphan, ...calls([GRPC_PUT])];
    assertStoppedAudit(playPackets(audited, FRONTEND, h2Packets(FRONTEND, segments)), 'h2-continuation');
    // enforced, the same bytes reset the connection
    assert.ok(playPackets(enforced, FRONTEND, h2Packets(FRONTEND, segments)).actions.includes('reset'));
  });

  it('an HPACK error (a table size update above the mirrored 4096) passes, reported AUDIT; the connection is no longer judged', () => {
    const [bad] = calls([GET_API], new HpackEncoder().sizeUpdate(8192));
    assertStoppedAudit(playPackets(audited, FRONTEND, h2Packets(FRONTEND, [OPENING, bad!, ...calls([GRPC_PUT])])), 'h2-hpack');
  });

  it('an h2c upgrade no rule allows passes, reported; HTTP/2 follows the 101, its streams judged and audited', () => {
    const h2c = 'GET /admin HTTP/1.1\r\nHost: backend\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n';
    const switched = Buffer.concat([enc('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'), settings()]);
    // stream 1 is the upgrade request's (its event HTTP/1's, version 0): the client's calls go on streams 3 and 5
    const [put, get] = calls([GRPC_PUT, GET_API], [], 3) as [Uint8Array, Uint8Array];
    const conn = tcpConn({ client: `${FRONTEND}:40000`, server: `${BACKEND}:80` }).handshake().send(h2c).recv(switched).send(OPENING).send(put).send(get);
    const r = playPackets(audited, FRONTEND, conn.close().list);
    assert.ok(r.actions.every((a) => a === 'pass'), r.actions.join(' '));
    assert.deepEqual(h2Events(r.events).map((e) => [e.version, e.stream, e.verdict, e.reason]), [
      [0, 0, VERDICT.AUDIT, REASON.L7_NO_RULE], [2, 3, VERDICT.AUDIT, REASON.L7_NO_RULE], [2, 5, VERDICT.FORWARDED, REASON.NONE],
    ]);
  });

  it('lost HTTP/2 state (its h2conns entry evicted) passes, reported AUDIT NO_FLOW_STATE; the connection is no longer judged', () => {
    const lost = afterEviction(audited);
    assert.ok(lost.actions.every((a) => a === 'pass'), lost.actions.join(' '));
    // one event for the rest of the connection (a call no rule allows, a GET): the lost state's
    assert.deepEqual(h2Events(lost.events), [{ stream: 0, version: 2, verdict: VERDICT.AUDIT, reason: REASON.NO_FLOW_STATE, line: '' }]);
    // enforced, the connection fails closed, reported the same
    const enforcedLost = afterEviction(enforced);
    assert.equal(enforcedLost.actions[0], 'reset');
    assert.deepEqual(h2Events(enforcedLost.events), [{ stream: 0, version: 2, verdict: VERDICT.RESET, reason: REASON.NO_FLOW_STATE, line: '' }]);
  });
});

/** The kernel's run of an HTTP/2 connection's packets after its preface and SETTINGS, its
 * HTTP/2 state evicted before them (kernel alone: the simulator keeps no such table to lose). */
function afterEviction(policies: readonly Policy[]): KernelRun {
  const w = worldOf(policies);
  const packets = h2Packets(FRONTEND, [OPENING, ...calls([GRPC_PUT, GET_API])]);
  const opened = packets.findIndex((p) => p.description.startsWith('client data')) + 1;
  w.reset();
  runKernel(w, peer(FRONTEND), peer(BACKEND), packets.slice(0, opened));
  clearMap(w.obj, 'h2conns');
  return runKernel(w, peer(FRONTEND), peer(BACKEND), packets.slice(opened));
}
