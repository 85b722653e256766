// kernel == simulator == oracle on generated HTTP/2 client connections (test/helpers/h2-gen.ts):
// every HPACK representation, size updates and evictions, CONTINUATION cuts, padding,
// priority, frames between blocks, cut into segments anywhere. Per packet the kernel's
// actions equal the simulator's; per stream the simulator decodes the field lists that were
// encoded and the kernel allows the same streams; the verdict (strict rule names included)
// is the oracle's on those field lists. Damaged copies (bytes overwritten, inserted, removed)
// hold kernel == simulator on framing and decoding errors. One connection in three (generated
// and damaged) is judged in audit mode: the policy annotated, the deployment's l7cfg, or both;
// what would be denied passes, reported AUDIT (docs/semantics.md, "Audit mode"). L7BPF_H2_RUNS
// sets the number of connections.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { parsePolicies, hasErrors, formatDiagnostic } from '../../src/policy/index.ts';
import { decide, h2Request, type L7Input } from '../../src/verdict/index.ts';
import { oracleJudge } from '../../src/replay/judge.ts';
import { replaySync, type PacketEvent, type RequestRecord } from '../../sim/index.ts';
import { judgedText, verdictText } from '../helpers/spec-eval.ts';
import { annotateAudit } from '../helpers/audit-world.ts';
import { fillConfig } from '../../src/loader/index.ts';
import type { Policy } from '../../src/policy/types.ts';
import { records } from '../helpers/spec-packets.ts';
import { actionsAgree, addressOf, buildObjects, comparable, connPackets, describeActions, kernelVerdict, loadWorld, runKernel, runSim, wireDisagreement, type Action, type KernelWorld } from '../helpers/kernel-world.ts';
import { FLAG, FRAME, PREFACE, frame, headers, settings } from '../helpers/h2-wire.ts';
import { HpackEncoder, type Field } from '../helpers/hpack-encode.ts';
import { grpcDeniedKeep } from '../../src/net/answers.ts';
import { tcpConn } from '../../sim/index.ts';
import { diffInventory, peerOf } from '../helpers/kernel-gen.ts';
import { connArb, encodeConn, GOOD_CALLS, H2_POLICY, type GenConn } from '../helpers/h2-gen.ts';
import { EVENT_KIND, REASON } from '../../src/loader/event.generated.ts';

const skip = kernelSkip();
const RUNS = Number(process.env.L7BPF_H2_RUNS ?? 2000);
const SEED = 20261203;

function parse(yaml: string): Policy[] {
  const r = parsePolicies(yaml, 'h2-differential.yaml');
  if (hasErrors(r.diagnostics)) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return [...r.policies];
}
const policies = parse(H2_POLICY);
/** the same policy annotated l7bpf.io/audit: "true" (its own object) */
const auditedPolicies = parse(annotateAudit(H2_POLICY, ['backend-h2']));

/**
 * How a connection is judged: by the policy as written or annotated (`annotate`), the deployment
 * in audit mode or not (`deploy`, l7cfg: the same object). One connection in three audits.
 */
interface AuditMode { readonly annotate: boolean; readonly deploy: boolean }
const ENFORCED: AuditMode = { annotate: false, deploy: false };
const auditArb: fc.Arbitrary<AuditMode> = fc.oneof({ weight: 2, arbitrary: fc.constant(ENFORCED) },
  { weight: 1, arbitrary: fc.constantFrom({ annotate: true, deploy: false }, { annotate: false, deploy: true }, { annotate: true, deploy: true }) });
/** the modes of a property's runs, sampled with their own seed: the connections' sample stays as it was */
const auditModes = (seed: number, runs: number): readonly AuditMode[] => fc.sample(auditArb, { seed, numRuns: runs });
const modeWords = (m: AuditMode): string => [m.annotate ? 'the policy annotated audit' : '', m.deploy ? 'the deployment in audit mode' : ''].filter(Boolean).join(', ');

/** A world loaded for each policy (as written, annotated), set to judge in one audit mode. */
interface Judge { readonly w: KernelWorld; readonly policies: readonly Policy[]; readonly audit: boolean; readonly mode: AuditMode }
function judgeIn(worlds: { readonly enforced: KernelWorld; readonly annotated: KernelWorld }, mode: AuditMode): Judge {
  const w = mode.annotate ? worlds.annotated : worlds.enforced;
  fillConfig(w.obj, 'auto', false, mode.deploy);
  return { w, policies: mode.annotate ? auditedPolicies : policies, audit: mode.deploy, mode };
}
const seen = new Map<string, number>();
/** An empty SETTINGS frame: what an HTTP/2 server sends first. */
const SERVER_SETTINGS = Uint8Array.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

/**
 * The oracle on the encoded field lists: the first denied stream's verdict, and how many were
 * allowed before it. In audit mode the first audited stream's, `audited <reason>`: the rules'
 * denials are judged on, a broken stream ends the judging (the parser cannot go on).
 */
function oracleOf(judged: ReturnType<typeof encodeConn>['judged'], v6: boolean, j: Judge): { verdict: string; allowed: number } {
  const flow = { src: peerOf('a-1', v6), dst: peerOf('b-1', v6), dstPort: 8080, protocol: 'TCP' as const };
  let allowed = 0;
  let audited: string | null = null;
  for (const fields of judged) {
    const input = l7InputOfFields(fields);
    const v = decide(j.policies, flow, input, { audit: j.audit });
    if (!v.allowed) return { verdict: verdictText(v), allowed };
    if (!v.audit) allowed++;
    else audited ??= judgedText(v);
    if (v.audit && input.kind === 'violation') break;
  }
  return { verdict: audited ?? 'allowed', allowed };
}

/** A stream's input to the oracle: its field list, or the decoder's limit it broke. */
function l7InputOfFields(j: ReturnType<typeof encodeConn>['judged'][number]): L7Input {
  if (j === 'hpack') return { kind: 'violation', violation: { rule: 'h2-hpack', detail: 'size update above the mirrored table', offset: 0 } };
  const r = h2Request(j);
  return r.kind === 'ok' ? { kind: 'request', request: r.request } : { kind: 'violation', violation: r.violation };
}

function check(j: Judge, c: GenConn, v6: boolean): void {
  const w = j.w;
  const e = encodeConn(c);
  const client = peerOf('a-1', v6);
  const server = peerOf('b-1', v6);
  // half the connections: the server's SETTINGS first, so a denied stream can be answered on it
  const settings = e.bytes.length % 2 ? SERVER_SETTINGS : null;
  const packets = connPackets(client, server, 8080, e.bytes, v6, e.splitAt, 40000, settings)!;
  w.reset();
  const kernel = runKernel(w, client, server, packets);
  if (kernel.actions.includes('answer')) seen.set('answered', (seen.get('answered') ?? 0) + 1);
  const sim: Action[] = [];
  const simPackets: PacketEvent[] = [];
  const decoded: RequestRecord[] = [];
  replaySync(records(packets), {
    judge: oracleJudge(j.policies, diffInventory, undefined, undefined, { audit: j.audit }),
    onPacket: (p) => {
      sim.push(p.action);
      simPackets.push(p);
    },
    onRequest: (r) => decoded.push(r),
  });
  const want = oracleOf(e.judged, v6, j);
  // stage 3: a denied stream cut, the connection going on (its later streams judged too)
  const kept = simPackets.some((p) => p.answer?.keep);
  if (kept) seen.set('stage 3 answered', (seen.get('stage 3 answered') ?? 0) + 1);
  seen.set(want.verdict, (seen.get(want.verdict) ?? 0) + 1);
  countMode(j.mode);
  const where = `bytes ${Buffer.from(e.bytes).toString('hex')} split at ${e.splitAt.join(',')}${v6 ? ' (IPv6)' : ''}${j.mode === ENFORCED ? '' : `; ${modeWords(j.mode)}`}`;
  // the simulator decodes what was encoded, stream by stream (up to the first denied one)
  const fields = decoded.flatMap((r) => (r.request.kind === 'h2-request' ? [{ stream: r.request.stream, fields: r.request.fields }] : [])).sort((a, b) => a.stream - b.stream);
  fields.forEach((f) => {
    const j = e.judged[(f.stream - 1) / 2];
    if (j !== 'hpack') assert.deepEqual(f.fields, j, `stream ${f.stream} decoded differently; ${where}`);
  });
  assert.ok(actionsAgree(kernel.actions, sim, comparable(packets, kernel.actions)), `kernel and simulator differ per packet (${where}):\n${describeActions(packets, kernel.actions, sim)}`);
  const wire = wireDisagreement(packets, kernel, { actions: sim, requests: [], packets: simPackets });
  assert.equal(wire, null, `${wire}; ${where}\n${describeActions(packets, kernel.actions, sim)}`);
  assert.equal(kernelVerdict(kernel), want.verdict, `kernel ${kernelVerdict(kernel)}, oracle ${want.verdict}; ${where}`);
  const allowedEvents = kernel.events.filter((ev) => ev.kind === EVENT_KIND.HTTP && ev.reason === REASON.NONE).length;
  // past a cut the streams the simulator judged (each by the oracle, its fields as encoded)
  const expected = kept ? decoded.filter((r) => r.verdict.allowed).length : want.allowed;
  assert.equal(allowedEvents, expected, `the kernel allowed ${allowedEvents} streams, the oracle ${expected}; ${where}`);
}

/**
 * Stage 3 on a warm connection: the preface and SETTINGS, the server's SETTINGS, then calls each
 * in its own packet (HEADERS, and DATA up to END_STREAM, or END_STREAM on HEADERS; sometimes
 * HEADERS and DATA in two packets), allowed ones (GOOD) or denied ones (paths no rule allows),
 * their literals indexed or not; the server answering allowed calls; the client acknowledging
 * an answer it got (`saw`) or not. The server's acknowledgements leave denied calls out.
 */
interface Stage3Call { readonly denied: boolean; readonly fields: readonly Field[]; readonly index: boolean; readonly data: number; readonly split: boolean; readonly respond: boolean; readonly saw: boolean }
const DENIED_PATHS = ['/admin', '/users/x', '/pkg.Svc/Put', '/api'];
const stage3Arb = fc.array(fc.record({
  denied: fc.boolean(),
  fields: fc.constantFrom(...GOOD_CALLS),
  path: fc.constantFrom(...DENIED_PATHS),
  index: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  data: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40 })),
  split: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  respond: fc.boolean(),
  saw: fc.boolean(),
}).map((r): Stage3Call => ({ ...r, fields: r.denied ? r.fields.map(([n, v]) => (n === ':path' ? [n, r.path] as const : [n, v] as const)) : r.fields })), { minLength: 1, maxLength: 5 });

function checkStage3(w: KernelWorld, calls: readonly Stage3Call[], v6: boolean): void {
  const client = peerOf('a-1', v6);
  const server = peerOf('b-1', v6);
  const [ca, sa] = [addressOf(client, v6)!, addressOf(server, v6)!].map((a) => (v6 ? `[${a}]` : a));
  const c = tcpConn({ client: `${ca}:40001`, server: `${sa}:8080` }).handshake();
  const enc = new HpackEncoder();
  c.send(Buffer.concat([PREFACE, settings([[4, 65535]])])).recv(SERVER_SETTINGS);
  calls.forEach((call, k) => {
    const id = 1 + 2 * k;
    const block = enc.encode(call.fields, () => (call.index ? {} : { indexing: 'without' }));
    const hdrs = headers(id, block, { endStream: call.data === 0 });
    const data = call.data ? frame(FRAME.DATA, FLAG.END_STREAM, id, new Uint8Array(call.data).fill(0x62)) : new Uint8Array(0);
    if (call.split && call.data) c.send(hdrs).send(data);
    else c.send(Buffer.concat([hdrs, data]));
    if (call.denied) c.unseen(hdrs.length + data.length);
    else if (call.respond) c.recv(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, [0x88]));
    if (call.denied && call.saw) c.received(grpcDeniedKeep(id, call.data).length);
  });
  const packets = c.close().list;
  w.reset();
  const kernel = runKernel(w, client, server, packets);
  const sim = runSim(policies, diffInventory, packets);
  const where = calls.map((x) => `${x.denied ? 'denied' : 'allowed'}${x.index ? ' indexed' : ''} data ${x.data}${x.split ? ' split' : ''}${x.respond ? ' respond' : ''}${x.saw ? ' saw' : ''}`).join('; ');
  assert.ok(actionsAgree(kernel.actions, sim.actions, comparable(packets, kernel.actions)), `kernel and simulator differ per packet (${where}):\n${describeActions(packets, kernel.actions, sim.actions)}`);
  const wire = wireDisagreement(packets, kernel, sim);
  assert.equal(wire, null, `${wire}; ${where}\n${describeActions(packets, kernel.actions, sim.actions)}`);
  const allowedEvents = kernel.events.filter((ev) => ev.kind === EVENT_KIND.HTTP && ev.reason === REASON.NONE).length;
  assert.equal(allowedEvents, sim.requests.filter((r) => r.allowed).length, `allowed streams; ${where}`);
  const keeps = sim.packets.filter((p) => p.answer?.keep && p.reason !== 'retransmission').length;
  if (keeps) seen.set('stage 3 cut', (seen.get('stage 3 cut') ?? 0) + 1);
  if (keeps > 1) seen.set('stage 3 two cuts', (seen.get('stage 3 two cuts') ?? 0) + 1);
  if (keeps && sim.packets.some((p) => p.answer?.keep && p.answer.seq !== undefined) && kernel.actions.some((a, i) => a === 'pass' && sim.packets[i]?.rewrite && packets[i]!.from === 'client')) seen.set('stage 3 call after a cut', (seen.get('stage 3 call after a cut') ?? 0) + 1);
  if (kernel.actions.includes('answer') && !keeps) seen.set('stage 3 refused: stage 2', (seen.get('stage 3 refused: stage 2') ?? 0) + 1);
}

/** A damaged connection: bytes after the preface overwritten, inserted or removed. */
const damageArb = fc.record({
  conn: connArb,
  edits: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), kind: fc.constantFrom('set', 'insert', 'delete'), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 3 }),
});

function damaged(bytes: Uint8Array, edits: readonly { at: number; kind: string; byte: number }[]): Uint8Array {
  const b = [...bytes];
  for (const e of edits) {
    const i = 24 + Math.floor(e.at * (b.length - 24));
    if (e.kind === 'set') b[i] = e.byte;
    else if (e.kind === 'insert') b.splice(i, 0, e.byte);
    else b.splice(i, 1);
  }
  return Uint8Array.from(b);
}

/** Damaged streams: no oracle (the framing is the parsers'), but kernel == simulator per packet and in the rule named. */
function checkDamaged(j: Judge, c: GenConn, edits: readonly { at: number; kind: string; byte: number }[]): void {
  const w = j.w;
  const e = encodeConn(c);
  const bytes = damaged(e.bytes, edits);
  const client = peerOf('a-1', false);
  const server = peerOf('b-1', false);
  const packets = connPackets(client, server, 8080, bytes, false, e.splitAt.filter((x) => x < bytes.length))!;
  w.reset();
  const kernel = runKernel(w, client, server, packets);
  const sim: Action[] = [];
  const verdicts: string[] = [];
  replaySync(records(packets), {
    judge: oracleJudge(j.policies, diffInventory, undefined, undefined, { audit: j.audit }), onPacket: (p) => sim.push(p.action),
    onRequest: (r) => { if (!r.verdict.allowed || r.verdict.audited) verdicts.push(judgedText(r.verdict.verdict)); },
  });
  const where = `bytes ${Buffer.from(bytes).toString('hex')} split at ${e.splitAt.join(',')}${j.mode === ENFORCED ? '' : `; ${modeWords(j.mode)}`}`;
  assert.ok(actionsAgree(kernel.actions, sim, comparable(packets, kernel.actions)), `kernel and simulator differ per packet (${where}):\n${describeActions(packets, kernel.actions, sim)}`);
  // as kernelVerdict has it: the first denial, else the first stream audit mode let pass
  const simVerdict = verdicts.find((v) => v.startsWith('denied')) ?? verdicts[0] ?? 'allowed';
  seen.set(`damaged ${simVerdict}`, (seen.get(`damaged ${simVerdict}`) ?? 0) + 1);
  assert.equal(kernelVerdict(kernel), simVerdict, `kernel ${kernelVerdict(kernel)}, simulator ${simVerdict}; ${where}`);
}

/** Counts the connections judged in each audit mode (printed). */
function countMode(m: AuditMode): void {
  if (m === ENFORCED) return;
  const k = `audit mode ${[m.annotate ? 'annotated' : '', m.deploy ? 'deploy' : ''].filter(Boolean).join('+')}`;
  seen.set(k, (seen.get(k) ?? 0) + 1);
}

const shown = (prefix: string) => [...seen].filter(([k]) => k.startsWith(prefix)).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k.slice(prefix.length)}: ${n}`).join(', ');

describe('HTTP/2 differential: kernel == simulator == oracle on generated client connections', { skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'l7bpf-h2diff-'));
  const irs = [lower(policies), lower(auditedPolicies)] as const;
  // each object loaded once (a load verifies it: about a second), for all three properties
  let worlds: { enforced: KernelWorld; annotated: KernelWorld } | undefined;
  before(async () => {
    const [enforced, annotated] = await buildObjects(irs, tmp);
    worlds = { enforced: loadWorld(irs[0], enforced!, diffInventory), annotated: loadWorld(irs[1], annotated!, diffInventory) };
  });
  after(() => {
    worlds?.enforced.close();
    worlds?.annotated.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs `prop` with the audit mode of each run; the enforced world is left enforcing. */
  function inModes<T>(seed: number, runs: number, arb: fc.Arbitrary<T>, prop: (j: Judge, value: T) => void): void {
    const modes = auditModes(seed + 100, runs);
    let run = 0; // endOnFailure: no shrinking, so runs and modes stay in step
    try {
      fc.assert(fc.property(arb, (value) => prop(judgeIn(worlds!, modes[run++]!), value)), { numRuns: runs, seed, endOnFailure: true });
    } finally {
      judgeIn(worlds!, ENFORCED);
    }
  }

  it(`${RUNS} connections`, () => {
    inModes(SEED, RUNS, fc.tuple(connArb, fc.boolean()), (j, [c, v6]) => check(j, c, v6));
    const show = [...seen].filter(([k]) => !k.startsWith('damaged') && !k.startsWith('audit')).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}: ${n}`).join(', ');
    console.log(`h2 differential verdicts: ${show}`);
    console.log(`h2 differential in audit mode: ${shown('audit mode ')}; audited verdicts reached: ${shown('audited ')}`);
    // the generator reaches allowed streams, policy denials and several strict rules
    assert.ok((seen.get('allowed') ?? 0) > RUNS / 20, show);
    assert.ok((seen.get('denied l7-denied') ?? 0) > RUNS / 20, show);
    // denied streams answered on the stream (stage 2), where the server spoke first
    assert.ok((seen.get('answered') ?? 0) > RUNS / 40, show);
    assert.ok([...seen.keys()].filter((k) => k.startsWith('denied strict:h2-')).length >= 5, show);
    // audit mode reaches the rules' denials (judged on) and broken streams (the judging ends)
    assert.ok((seen.get('audited l7-denied') ?? 0) > RUNS / 50, shown('audited '));
    assert.ok([...seen.keys()].filter((k) => k.startsWith('audited strict:h2-')).length >= 3, shown('audited '));
  });

  it(`${Math.ceil(RUNS / 4)} warm connections through stage 3: kernel == simulator per packet, numbers included`, () => {
    // (enforced only: the generated wire has the server miss the denied calls)
    fc.assert(fc.property(stage3Arb, fc.boolean(), (calls, v6) => checkStage3(worlds!.enforced, calls, v6)), { numRuns: Math.ceil(RUNS / 4), seed: SEED + 2, endOnFailure: true });
    const show = [...seen].filter(([k]) => k.startsWith('stage 3')).map(([k, n]) => `${k}: ${n}`).join(', ');
    console.log(`h2 stage 3: ${show}`);
    for (const k of ['stage 3 cut', 'stage 3 two cuts', 'stage 3 call after a cut', 'stage 3 refused: stage 2']) assert.ok((seen.get(k) ?? 0) > RUNS / 200, show);
  });

  it(`${Math.ceil(RUNS / 4)} damaged connections: kernel == simulator on framing and decoding errors`, () => {
    inModes(SEED + 1, Math.ceil(RUNS / 4), damageArb, (j, { conn, edits }) => checkDamaged(j, conn, edits));
    console.log(`h2 damaged verdicts: ${shown('damaged ')}`);
  });
});
