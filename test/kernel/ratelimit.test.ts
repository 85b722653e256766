// Rate limits (issue 14), kernel == simulator == oracle: fast-check plays trains of requests from
// three clients (two share an identity) on several connections each, at generated times, under
// rules with limits per source, per rule and per connection, a shadow limit, a rule without a
// limit that overlaps a limited one, and a path no rule allows. The kernel is the test build
// (compile --test-clock): its buckets run on skb->tstamp, the packet's capture time, as the
// simulator's run on the capture's timestamps. The oracle here is a third implementation written
// plainly: a bucket of nanoseconds of credit, capped at burst intervals, a token an interval.
// Denials reset (--deny-answer reset): a connection ends at its first denied request in both.
// Then the 429 at stage 3 for HTTP/1 and RESOURCE_EXHAUSTED for a gRPC call, kernel == simulator.
// L7BPF_RL_RUNS (default 1000) sets the count.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { describeActions, loadWorld, resetting, runKernel, runSim, tcpNumbers, wireDisagreement, type KernelWorld } from '../helpers/kernel-world.ts';
import { fillConfig } from '../../src/loader/index.ts';
import { HTTP1_LIMITED_KEEP, grpcDeniedKeep } from '../../src/net/answers.ts';
import { FLAG, FRAME, PREFACE, frame, headers, requestFields, settings } from '../helpers/h2-wire.ts';
import { HpackEncoder } from '../helpers/hpack-encode.ts';
import { records } from '../helpers/spec-packets.ts';
import { oracleJudge, type OracleRequestVerdict } from '../../src/replay/judge.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { emitObject, DEFAULT_LIMITS } from '../../codegen/emit/index.ts';
import { parsePolicies, type HttpRule } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import { matchHttpRule } from '../../src/verdict/index.ts';
import { intervalNs } from '../../src/verdict/ratelimit.ts';
import { clearMap, EVENT_KIND, REASON, VERDICT, type RawEvent } from '../../src/loader/index.ts';
import { replaySync, tcpConn, type FixturePacket } from '../../sim/index.ts';

const skip = kernelSkip();
const RUNS = Number(process.env.L7BPF_RL_RUNS ?? 1000);

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: limits, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:
              - {method: GET, path: "/a/.*", rateLimit: {requestsPerSecond: 5, burst: 2}}
              - {method: GET, path: "/a/free"}
              - {path: "/b/.*", rateLimit: {requestsPerSecond: 3, burst: 1, per: rule}}
              - {method: GET, path: "/b/x", rateLimit: {requestsPerSecond: 7, burst: 1, per: connection}}
              - {path: "/s/.*", rateLimit: {requestsPerSecond: 2, burst: 1, mode: shadow}}
              - {path: "/c/.*", rateLimit: {requestsPerSecond: 3, burst: 3, per: connection}}
            grpc:
              - {service: shop.Catalog, rateLimit: {requestsPerSecond: 1, burst: 1, per: connection}}
`;
const ENDPOINTS = `endpoints:
  - {name: backend, namespace: default, labels: {app: backend}, ips: [10.0.1.10]}
  - {name: fe1, namespace: default, labels: {app: frontend, team: a}, ips: [10.0.0.1]}
  - {name: fe2, namespace: default, labels: {app: frontend, team: b}, ips: [10.0.0.2]}
  - {name: fe3, namespace: default, labels: {app: frontend, team: a}, ips: [10.0.0.3]}
`;
const policies = parsePolicies(POLICY, 'limits.yaml').policies;
const inv = parseInventory(ENDPOINTS, 'limits(endpoints)').inventory;
const RULES: readonly HttpRule[] = policies[0]!.specs[0]!.rules[0]!.toPorts![0]!.http!.filter((r) => r.origin === 'http');
const PATHS = ['/a/1', '/a/free', '/b/1', '/b/x', '/s/1', '/c/1', '/z'];
const CLIENTS = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
const BASE = 1_700_000_000_000_000_000n;

interface Req { readonly client: number; readonly slot: number; readonly path: string; readonly post: boolean; readonly gapMs: number; readonly jitterNs: number }
const reqArb = fc.record({
  client: fc.integer({ min: 0, max: 2 }),
  slot: fc.integer({ min: 0, max: 1 }),
  path: fc.constantFrom(...PATHS),
  post: fc.boolean(),
  gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 100, max: 700 })),
  jitterNs: fc.integer({ min: 0, max: 999_999 }),
});

/** A request's packets, its connection and time; connections open at their first request. */
interface Played { readonly packets: FixturePacket[]; readonly reqs: { readonly req: Req; readonly conn: number; readonly ts: bigint }[] }

function play(train: readonly Req[]): Played {
  const conns = new Map<string, { c: ReturnType<typeof tcpConn>; id: number }>();
  const packets: FixturePacket[] = [];
  const reqs: Played['reqs'][number][] = [];
  let t = BASE;
  let port = 40000;
  for (const r of train) {
    t += BigInt(r.gapMs) * 1_000_000n + BigInt(r.jitterNs);
    const key = `${r.client}/${r.slot}`;
    let e = conns.get(key);
    const stamp = (list: readonly FixturePacket[], from: number) => list.slice(from).map((p, k) => ({ ...p, ts: t + BigInt(k) }));
    if (!e) {
      e = { c: tcpConn({ client: `${CLIENTS[r.client]}:${port++}`, server: '10.0.1.10:80', stepNs: 1n }), id: conns.size };
      conns.set(key, e);
      e.c.handshake();
      packets.push(...stamp(e.c.list, 0));
      t += 3n;
    }
    const from = e.c.list.length;
    e.c.send(`${r.post ? 'POST' : 'GET'} ${r.path} HTTP/1.1\r\nHost: backend\r\n${r.post ? 'Content-Length: 0\r\n' : ''}\r\n`);
    const ps = stamp(e.c.list, from);
    packets.push(...ps);
    reqs.push({ req: r, conn: e.id, ts: ps[0]!.ts });
  }
  return { packets, reqs };
}

/** The oracle written plainly: ns of credit per bucket, capped at burst intervals. */
function oracle(played: Played): string[] {
  const credit = new Map<string, { level: bigint; at: bigint }>();
  const dead = new Set<number>();
  const out: string[] = [];
  const identity = (client: number) => (client === 1 ? 'b' : 'a');
  for (const { req, conn, ts } of played.reqs) {
    if (dead.has(conn)) continue; // reset with its first denial: never judged
    const request = { method: req.post ? 'POST' : 'GET', target: req.path, version: 'HTTP/1.1' as const, headers: [['Host', 'backend']] as [string, string][] };
    const hits = RULES.map((rule, i) => ({ rule, i })).filter(({ rule }) => matchHttpRule(rule, request, false).ok);
    const freeAt = hits.findIndex((h) => h.rule.rateLimit === null);
    const limited = freeAt < 0 ? hits : [];
    let verdict = hits.length === 0 ? 'no-rule' : freeAt >= 0 ? 'allowed' : '';
    for (const { rule, i } of limited) {
      if (verdict) break;
      const rl = rule.rateLimit!;
      const T = intervalNs(rl);
      const cap = BigInt(rl.burst) * T;
      const key = `${i}/${rl.per === 'source' ? identity(req.client) : rl.per === 'connection' ? conn : ''}`;
      const b = credit.get(key) ?? { level: cap, at: ts };
      const level = b.level + (ts - b.at) > cap ? cap : b.level + (ts - b.at);
      if (level >= T) {
        credit.set(key, { level: level - T, at: ts });
        verdict = `allowed:${i}`;
      } else credit.set(key, { level, at: ts });
    }
    if (!verdict) {
      const shadow = limited.find((h) => h.rule.rateLimit!.mode === 'shadow');
      verdict = shadow ? `shadow:${shadow.i}` : `limited:${limited[0]!.i}`;
    }
    if (verdict === 'no-rule' || verdict.startsWith('limited')) dead.add(conn);
    out.push(verdict);
  }
  return out;
}

function kernelVerdicts(events: readonly RawEvent[]): string[] {
  return events.filter((e) => e.kind === EVENT_KIND.HTTP).map((e) => {
    if (e.reason === REASON.L7_NO_RULE) return 'no-rule';
    if (e.reason === REASON.RATE_LIMITED) return e.verdict === VERDICT.FORWARDED ? `shadow:${e.http_rule}` : `limited:${e.http_rule}`;
    if (e.reason !== REASON.NONE) return `kernel:${e.reason}`;
    return RULES[e.http_rule]?.rateLimit ? `allowed:${e.http_rule}` : 'allowed';
  });
}

const ruleIndex = new Map(RULES.map((r, i) => [r, i]));
/** The simulator's verdicts in the order it judged them (records are emitted as they end). */
function simVerdicts(packets: readonly FixturePacket[]): string[] {
  const judged: { at: number; v: OracleRequestVerdict }[] = [];
  replaySync(records(packets), { judge: oracleJudge(policies, inv), answers: false, onRequest: (r) => judged.push({ at: r.packetIndex, v: r.verdict }) });
  return judged.sort((a, b) => a.at - b.at).map(({ v: r }) => {
    const v = r.verdict;
    if (v.reason === 'l7-denied') return 'no-rule';
    const i = v.limit ? ruleIndex.get(v.limit.rule) : undefined;
    if (v.reason === 'rate-limited') return `limited:${i}`;
    if (!v.allowed) return `sim:${v.reason}`;
    if (v.limit?.outcome === 'shadow') return `shadow:${i}`;
    return v.limit?.outcome === 'took' ? `allowed:${i}` : 'allowed';
  });
}

let world: KernelWorld | null = null;
let dir: string | null = null;
after(() => {
  world?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const seen = new Map<string, number>();
function check(w: KernelWorld, train: readonly Req[]): boolean {
  w.reset();
  clearMap(w.obj, 'buckets');
  const played = play(train);
  const events: RawEvent[] = [];
  for (const p of played.packets) {
    const progs = p.from === 'client' ? ['l7_from_pod', 'l7_to_pod'] as const : ['l7_from_pod', 'l7_to_pod'] as const;
    let frame = p.frame;
    for (const prog of p.from === 'client' ? progs : [...progs].reverse()) {
      const r = w.runner.run({ prog, frame, tstampNs: p.ts });
      events.push(...r.events);
      frame = r.dataOut;
      if (r.action !== 0) break;
    }
  }
  const kernel = kernelVerdicts(events);
  const sim = simVerdicts(played.packets);
  const want = oracle(played);
  for (const v of want) {
    const k = v.split(':')[0]!;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  const all = `kernel ${kernel.join(' ')}\nsimulator ${sim.join(' ')}\noracle ${want.join(' ')}`;
  if (process.env.L7BPF_RL_DEBUG && (String(sim) !== String(want) || String(kernel) !== String(want))) console.error(all);
  assert.deepEqual(sim, want, `simulator != oracle\n${all}`);
  assert.deepEqual(kernel, want, `kernel != oracle\n${all}`);
  return true;
}

test(`rate limits: kernel == simulator == oracle on request trains (${RUNS} runs)`, { skip }, () => {
  dir = mkdtempSync(join(tmpdir(), 'l7bpf-rl-'));
  const ir = lower(policies);
  world = resetting(loadWorld(ir, emitObject(ir, dir, { ...DEFAULT_LIMITS, testClock: true }).objectPath, inv));
  fc.assert(fc.property(fc.array(reqArb, { minLength: 1, maxLength: 14 }), (train) => check(world!, train)), { numRuns: RUNS, seed: 20261204, verbose: 1 });
  console.log(`rate limits: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
  for (const k of ['allowed', 'limited', 'shadow', 'no-rule']) assert.ok((seen.get(k) ?? 0) >= RUNS / 20, `${k}: ${seen.get(k) ?? 0}`);
});

test('rate limits: a limited request gets the keep-alive 429 (stage 3) and the connection goes on, kernel == simulator', { skip }, () => {
  const w = world!;
  w.reset();
  clearMap(w.obj, 'buckets');
  fillConfig(w.obj, 'auto');
  try {
    const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: backend\r\n\r\n`;
    const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    // /b/: 3 per second, burst 1, one bucket for the rule: the second request 1 ms later has no token
    const c = tcpConn({ client: '10.0.0.2:45000', server: '10.0.1.10:80' }).handshake();
    c.send(get('/b/1')).recv(ok).ackOnly('client').send(get('/b/1')).received(HTTP1_LIMITED_KEEP.length).send(get('/a/free')).recv(ok).ackOnly('client');
    const client = { kind: 'endpoint', endpoint: inv.endpoints.find((e) => e.name === 'fe2')!, ip: null } as const;
    const server = { kind: 'endpoint', endpoint: inv.endpoints.find((e) => e.name === 'backend')!, ip: null } as const;
    const kernel = runKernel(w, client, server, c.list);
    const sim = runSim(policies, inv, c.list, true, true);
    assert.deepEqual(kernel.actions, sim.actions, describeActions(c.list, kernel.actions, sim.actions));
    assert.deepEqual(kernel.actions.slice(3), ['pass', 'pass', 'pass', 'answer', 'pass', 'pass', 'pass']);
    assert.equal(wireDisagreement(c.list, kernel, sim), null);
    assert.equal(sim.packets[6]!.answer?.limited, true);
    // the response after the 429: later in the client's view by the 429's length
    assert.equal(tcpNumbers(kernel.out[8]!).seq, tcpNumbers(c.list[8]!.frame).seq + HTTP1_LIMITED_KEEP.length);
    const limited = kernel.events.find((e) => e.kind === EVENT_KIND.HTTP && e.reason === REASON.RATE_LIMITED);
    assert.equal(limited?.verdict, VERDICT.ANSWERED);
    assert.equal(limited?.http_rule, 2);
    assert.deepEqual(sim.requests.map((r) => r.verdict.reason), ['l7-allowed', 'rate-limited', 'l7-allowed']);
  } finally {
    fillConfig(w.obj, 'reset');
  }
});

test('rate limits: a gRPC call over the limit gets RESOURCE_EXHAUSTED on its stream, the connection kept, kernel == simulator', { skip }, () => {
  const w = world!;
  w.reset();
  clearMap(w.obj, 'buckets');
  fillConfig(w.obj, 'auto');
  try {
    const enc = new HpackEncoder();
    const ok = (stream: number) => frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, stream, [0x88]);
    const call = (stream: number, path: string) => Buffer.concat([headers(stream, enc.encode(requestFields('POST', path, 'backend'))), frame(FRAME.DATA, FLAG.END_STREAM, stream, [0, 0, 0, 0, 0])]);
    const c = tcpConn({ client: '10.0.0.1:45100', server: '10.0.1.10:80' }).handshake();
    // the first call indexes its fields (the block changed the table: a second call of the same
    // shape does not), so the limited one (stream 3, 1 ms later, 1 per second) is cut and answered
    c.send(Buffer.concat([PREFACE, settings()])).recv(frame(FRAME.SETTINGS, 0, 0));
    c.send(call(1, '/shop.Catalog/List')).recv(ok(1)).ackOnly('client');
    c.send(call(3, '/shop.Catalog/List')).received(grpcDeniedKeep(3, 5, 'limited').length).send(call(5, '/c/1')).recv(ok(5)).ackOnly('client');
    const client = { kind: 'endpoint', endpoint: inv.endpoints.find((e) => e.name === 'fe1')!, ip: null } as const;
    const server = { kind: 'endpoint', endpoint: inv.endpoints.find((e) => e.name === 'backend')!, ip: null } as const;
    const kernel = runKernel(w, client, server, c.list);
    const sim = runSim(policies, inv, c.list, true, true);
    assert.deepEqual(kernel.actions, sim.actions, describeActions(c.list, kernel.actions, sim.actions));
    assert.equal(wireDisagreement(c.list, kernel, sim), null);
    const at = sim.packets.findIndex((p) => p.answer);
    assert.ok(at > 0 && sim.packets[at]!.answer!.keep && sim.packets[at]!.answer!.limited, 'a stage-3 RESOURCE_EXHAUSTED');
    // the response to stream 5: later in the client's view by the answer's length
    const resp = c.list.findIndex((p, i) => i > at && p.from === 'server');
    assert.equal(tcpNumbers(kernel.out[resp]!).seq, tcpNumbers(c.list[resp]!.frame).seq + grpcDeniedKeep(3, 5, 'limited').length);
    const limited = sim.requests.find((r) => r.verdict.reason === 'rate-limited');
    assert.ok(limited, 'the simulator limited the second call');
    assert.ok(kernel.events.some((e) => e.kind === EVENT_KIND.HTTP && e.reason === REASON.RATE_LIMITED && e.stream === 3));
  } finally {
    fillConfig(w.obj, 'reset');
  }
});
