// What a rate limit costs the datapath per request, against the same policy without one, in one
// run. Root only: sudo npx tsx bench/ratelimit.ts   (RUNS, QUANTILE; L7BPF_BENCH_ROUNDS,
// L7BPF_BENCH_SECONDS for part 2, L7BPF_BENCH_ROUNDS=0 skips it)
// Objects are compiled from inline policies that differ only by the `rateLimit` of the one rule
// (GET /api/v1/users from frontend to backend:8080):
//   - none: the baseline;
//   - requestsPerSecond 1,000,000, burst 1,000,000, per source / connection / rule: every request
//     takes a token (the bucket lookup and one compare-and-swap, admitted); also per source with
//     the bucket deleted before each run (a subject's first request: a miss and an LRU insert);
//   - requestsPerSecond 1, burst 1: the bucket's arrival time is set an hour ahead after the
//     first request, so every measured request finds no token (enforce: the keep-alive 429 of
//     `--deny-answer auto`, deploy's default; shadow: passes, counted); the enforce case is also
//     compared with a request no rule allows in the baseline object (the keep-alive 403: the
//     same answer path without a limit).
// 1. BPF_PROG_TEST_RUN: the packet that completes the request head on an established connection,
//    repeat=1 runs with the flow entry restored before each run (with `repeat`, every run after
//    the first is a retransmission of a segment the flow already judged: no decision, no token;
//    checked here on the per-source object), all cases interleaved run by run, rotating which goes
//    first. The ring buffers are read every DRAIN (256) rounds, as bench/kernel.ts does: read
//    after every run, the consumer is always caught up and every event's submit queues a wakeup
//    (irq_work; about 5 us per run on this VM), which would hide what is measured. Every run is
//    checked: per object, the HTTP events (verdict, reason) must be those its cases expect, one
//    per run, and each run's tc action TC_ACT_OK. Figures: the 10th percentile (env QUANTILE) of
//    per-run ns and the median; other load on the machine only ever adds time.
// 2. bpf_stats on real traffic (as bench/e2e.ts; bench/cpu.ts): the objects deployed in turn on
//    the e2e veth topology, wrk -t1 -c16 against nginx `return 200`; run_time_ns of every program
//    on the node's veths over the wrk run divided by the requests wrk completed (the limited
//    object: nearly all answered 429 by the kernel, nginx never sees them). Ratios per round
//    against the baseline of the same round, then the median. Timings are reported, never asserted.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicies } from '../src/policy/index.ts';
import { parseInventory } from '../src/endpoints/index.ts';
import { lower } from '../codegen/ir/lower.ts';
import { emitObject } from '../codegen/emit/index.ts';
import { fillConfig, mapOf, program, EVENT_KIND, REASON, REASON_NAMES, VERDICT, VERDICT_NAMES, type LoadedObject } from '../src/loader/index.ts';
import { loadWorld, type KernelWorld } from '../test/helpers/kernel-world.ts';
import { TcpConn } from '../sim/builder/tcp-conn.ts';
import { compilePolicies, e2eSkip, inventoryYaml, run, Topology } from '../test/helpers/netns.ts';
import { enableBpfStats, hasBpftool, kernelReader, perRequest, type PerRequest } from './cpu.ts';
import { okServer } from './nginx.ts';

const RUNS = Number(process.env.RUNS ?? 5000);
const Q = Number(process.env.QUANTILE ?? 0.1);
const WARMUP = Math.min(500, RUNS);
const DRAIN = Number(process.env.DRAIN ?? 256);
const ROUNDS = Number(process.env.L7BPF_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.L7BPF_BENCH_SECONDS ?? 3);
const PATH = '/api/v1/users';

const LIMITS = {
  none: '',
  source: ', rateLimit: {requestsPerSecond: 1000000, burst: 1000000}',
  connection: ', rateLimit: {requestsPerSecond: 1000000, burst: 1000000, per: connection}',
  rule: ', rateLimit: {requestsPerSecond: 1000000, burst: 1000000, per: rule}',
  limited: ', rateLimit: {requestsPerSecond: 1, burst: 1}',
  shadow: ', rateLimit: {requestsPerSecond: 1, burst: 1, mode: shadow}',
} as const;
type Variant = keyof typeof LIMITS;

const policyYaml = (v: Variant) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bench-ratelimit, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http:
              - {method: GET, path: "${PATH}"${LIMITS[v]}}
`;
const INVENTORY = `endpoints:
  - {name: backend, namespace: default, labels: {app: backend}, ips: [10.0.0.2]}
  - {name: frontend, namespace: default, labels: {app: frontend}, ips: [10.0.0.1]}
`;

const quantile = (xs: readonly number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)] ?? NaN;
const median = (xs: readonly number[]) => quantile(xs.filter((x) => !Number.isNaN(x)), 0.5);
const fmt = (x: number, digits = 0) => (Number.isNaN(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));
const ratio = (x: number, base: number) => (Number.isNaN(x) || Number.isNaN(base) ? 'n/a' : `${(x / base).toFixed(2)}x`);

// ---- 1. BPF_PROG_TEST_RUN ----

type Entry = { key: Buffer; value: Buffer };

function onlyEntry(obj: LoadedObject, name: string): Entry {
  const m = mapOf(obj, name);
  const key = obj.lib.mapNextKey(m.fd, null, m.keySize);
  if (!key) throw new Error(`bench: no ${name} entry`);
  return { key, value: obj.lib.mapLookup(m.fd, key, m.valueSize)! };
}

const conn = (path: string) => new TcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:8080' }).handshake()
  .send(`GET ${path} HTTP/1.1\r\nHost: backend.default.svc\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n`);
const [SYN, SYN_ACK, ACK, REQ] = conn(PATH).frames() as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
/** the same head, one character off the rule's path (no rule allows it) */
const DENIED = conn('/api/v1/userz').frames()[3]!;

interface Case {
  readonly name: string;
  readonly w: KernelWorld;
  readonly frame: Uint8Array;
  /** the flow entry before the request */
  readonly before: Entry;
  /** before each run, after the flow is restored */
  readonly prep?: () => void;
  readonly verdict: number;
  readonly reason: number;
}

/** Compiles and loads a variant, opens the bench connection (SYN, SYN-ACK, ACK through the programs). */
function world(v: Variant, dir: string): KernelWorld {
  const parsed = parsePolicies(policyYaml(v), `${v}.yaml`);
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`bench: policy ${v}: ${errors.map((d) => d.message).join('; ')}`);
  const ir = lower(parsed.policies);
  const w = loadWorld(ir, emitObject(ir, join(dir, v)).objectPath, parseInventory(INVENTORY, 'bench(endpoints)').inventory);
  fillConfig(w.obj, 'auto');
  w.runner.run({ prog: 'l7_to_pod', frame: SYN });
  w.runner.run({ prog: 'l7_from_pod', frame: SYN_ACK });
  w.runner.run({ prog: 'l7_to_pod', frame: ACK });
  w.runner.events();
  return w;
}

const describe = (verdict: number, reason: number) => `${VERDICT_NAMES[verdict] ?? verdict}/${REASON_NAMES[reason] ?? reason}`;

/** HTTP events per object: what the runs were expected to decide, and what they did. */
const expected = new Map<KernelWorld, Map<string, number>>();
const seen = new Map<KernelWorld, Map<string, number>>();
const bump = (m: Map<KernelWorld, Map<string, number>>, w: KernelWorld, k: string) => {
  const c = m.get(w) ?? m.set(w, new Map()).get(w)!;
  c.set(k, (c.get(k) ?? 0) + 1);
};

/** Reads the objects' ring buffers (every DRAIN rounds, as a running `l7bpf observe` would). */
function drain(ws: readonly KernelWorld[]): void {
  for (const w of ws) for (const e of w.runner.events()) if (e.kind === EVENT_KIND.HTTP) bump(seen, w, describe(e.verdict, e.reason));
}

/** One repeat=1 run of a case from its state. */
function runOnce(c: Case): number {
  const { lib } = c.w.obj;
  lib.mapUpdate(mapOf(c.w.obj, 'l7flows').fd, c.before.key, c.before.value, 0);
  c.prep?.();
  const r = lib.testRun(program(c.w.obj, 'l7_to_pod').fd, { data: c.frame, dataOutSize: c.frame.length + 512 });
  if (r.err !== 0 || r.retval !== 0) throw new Error(`bench: test_run of ${c.name}: error ${r.err}, tc action ${r.retval}`);
  bump(expected, c.w, describe(c.verdict, c.reason));
  return r.durationNs;
}

/** With `repeat`, how many of the runs decide a request (HTTP events; each decision takes a token). */
function repeatCheck(w: KernelWorld, before: Entry): string {
  const { lib } = w.obj;
  lib.mapUpdate(mapOf(w.obj, 'l7flows').fd, before.key, before.value, 0);
  w.runner.events();
  const r = lib.testRun(program(w.obj, 'l7_to_pod').fd, { data: REQ, dataOutSize: REQ.length + 512, repeat: 100 });
  const decided = w.runner.events().filter((e) => e.kind === EVENT_KIND.HTTP).length;
  return `(test_run repeat=100 of the request from the same state: ${decided} of the 100 runs decided a request, average ${r.durationNs} ns/run: the others saw a retransmission, so repeat is not used)`;
}

function testRunPart(dir: string): void {
  const variants = Object.keys(LIMITS) as Variant[];
  const ws = Object.fromEntries(variants.map((v) => [v, world(v, dir)])) as Record<Variant, KernelWorld>;
  const before = Object.fromEntries(variants.map((v) => [v, onlyEntry(ws[v].obj, 'l7flows')])) as Record<Variant, Entry>;
  // the first request of each limited object takes its bucket's token and makes the bucket
  for (const v of variants) {
    if (v === 'none') continue;
    const r = ws[v].runner.run({ prog: 'l7_to_pod', frame: REQ });
    if (!r.events.some((e) => e.kind === EVENT_KIND.HTTP && e.verdict === VERDICT.FORWARDED && e.reason === REASON.NONE)) throw new Error(`bench: the first request (${v}) was not admitted`);
  }
  const repeatNote = repeatCheck(ws.source, before.source);
  // no token from here on: the arrival time an hour ahead (a limited request leaves it as it is)
  for (const v of ['limited', 'shadow'] as const) {
    const b = onlyEntry(ws[v].obj, 'buckets');
    const tat = Buffer.alloc(8);
    tat.writeBigUInt64LE(b.value.readBigUInt64LE(0) + 3_600_000_000_000n);
    ws[v].obj.lib.mapUpdate(mapOf(ws[v].obj, 'buckets').fd, b.key, tat, 0);
  }
  const fresh = onlyEntry(ws.source.obj, 'buckets').key;
  const freshBuckets = mapOf(ws.source.obj, 'buckets');
  const OK = { verdict: VERDICT.FORWARDED, reason: REASON.NONE };
  const cases: Case[] = [
    { name: 'no limit (baseline)', w: ws.none, frame: REQ, before: before.none, ...OK },
    { name: 'limit per source, token taken', w: ws.source, frame: REQ, before: before.source, ...OK },
    { name: 'limit per connection, token taken', w: ws.connection, frame: REQ, before: before.connection, ...OK },
    { name: 'limit per rule, token taken', w: ws.rule, frame: REQ, before: before.rule, ...OK },
    {
      name: 'limit per source, new bucket (first request of its source)', w: ws.source, frame: REQ, before: before.source, ...OK,
      prep: () => void ws.source.obj.lib.mapDelete(freshBuckets.fd, fresh),
    },
    { name: 'limit, no token, shadow (passes, counted)', w: ws.shadow, frame: REQ, before: before.shadow, verdict: VERDICT.FORWARDED, reason: REASON.RATE_LIMITED },
    { name: 'limit, no token, enforce (keep-alive 429)', w: ws.limited, frame: REQ, before: before.limited, verdict: VERDICT.ANSWERED, reason: REASON.RATE_LIMITED },
    { name: 'no limit, no rule matches (keep-alive 403)', w: ws.none, frame: DENIED, before: before.none, verdict: VERDICT.ANSWERED, reason: REASON.L7_NO_RULE },
  ];
  const times = cases.map(() => [] as number[]);
  const all = variants.map((v) => ws[v]);
  drain(all);
  expected.clear();
  seen.clear();
  for (let i = -WARMUP; i < RUNS; i++) {
    if (i % DRAIN === 0) drain(all);
    for (let k = 0; k < cases.length; k++) {
      const j = (k + (i + WARMUP)) % cases.length; // rotate which case goes first
      const ns = runOnce(cases[j]!);
      if (i >= 0) times[j]!.push(ns);
    }
  }
  drain(all);
  for (const w of all) {
    const want = JSON.stringify([...(expected.get(w) ?? [])].sort()), got = JSON.stringify([...(seen.get(w) ?? [])].sort());
    if (want !== got) throw new Error(`bench: the runs of an object did not decide what their cases say: expected ${want}, got ${got}`);
  }
  const p = times.map((xs) => quantile(xs, Q));
  const m = times.map((xs) => median(xs));
  // paired: the difference to the baseline's run of the same iteration
  const added = times.map((xs) => quantile(xs.map((x, i) => x - times[0]![i]!), 0.5));
  console.log(`## 1. BPF_PROG_TEST_RUN (l7_to_pod, the packet completing a ${REQ.length - 54}-byte request head on an established connection; --deny-answer auto)`);
  console.log(`${RUNS} repeat=1 runs per case (after ${WARMUP} warm-up rounds), cases interleaved run by run; flow entry restored before each run; the ring buffers read every ${DRAIN} rounds; every run's verdict checked (HTTP events per object).`);
  console.log(repeatNote);
  console.log('');
  console.log(`| case | ratio to baseline (p${Q * 100}) | ratio (median) | ns p${Q * 100} | ns median | added ns (median of paired differences) |`);
  console.log('|---|---|---|---|---|---|');
  cases.forEach((c, k) => console.log(`| ${c.name} | ${ratio(p[k]!, p[0]!)} | ${ratio(m[k]!, m[0]!)} | ${p[k]} | ${m[k]} | ${k === 0 ? '-' : `${added[k]! >= 0 ? '+' : ''}${added[k]}`} |`));
  const last = cases.length - 1;
  console.log(`Limited (429) against no rule (403), same answer path: ${ratio(p[last - 1]!, p[last]!)} (p${Q * 100}), ${ratio(m[last - 1]!, m[last]!)} (median).`);
  console.log('');
  for (const v of variants) {
    ws[v].runner.close();
    ws[v].obj.close();
  }
}

// ---- 2. bpf_stats on real traffic ----


interface Wrk { readonly requests: number; readonly rps: number; readonly non2xx: number; readonly errors: string }

function wrk(t: Topology): Wrk {
  const out = run('ip', ['netns', 'exec', t.pod('client').netns, 'wrk', '-t1', '-c16', `-d${SECONDS}s`, `http://10.0.0.2:8080${PATH}`]);
  return {
    requests: Number(/(\d+) requests in /.exec(out)?.[1] ?? NaN),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: /Socket errors: .*/.exec(out)?.[0] ?? '',
  };
}

async function waitFor(ok: () => boolean, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

const TRAFFIC: readonly { readonly v: Variant; readonly name: string }[] = [
  { v: 'none', name: 'no limit (baseline)' },
  { v: 'source', name: 'limit per source, token taken' },
  { v: 'connection', name: 'limit per connection, token taken' },
  { v: 'limited', name: 'limit 1/s burst 1 (all but ~1/s answered 429)' },
];

async function trafficPart(dir: string): Promise<void> {
  const skip = e2eSkip() || (hasBpftool() ? false : 'bpftool not found (Debian package bpftool)');
  if (skip) return console.log(`## 2. bpf_stats on real traffic: skipped: ${skip}`);
  const t = Topology.create([{ name: 'client', v4: '10.0.0.1' }, { name: 'server', v4: '10.0.0.2' }]);
  let restoreStats = () => {};
  let nginx: ChildProcess | null = null;
  try {
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { client: { app: 'frontend' }, server: { app: 'backend' } }));
    for (const { v } of TRAFFIC) {
      writeFileSync(join(dir, `${v}.yaml`), policyYaml(v));
      await compilePolicies([join(dir, `${v}.yaml`)], join(dir, `traffic-${v}`));
    }
    const app = join(dir, 'nginx');
    mkdirSync(app);
    writeFileSync(join(app, 'nginx.conf'), okServer(app));
    nginx = t.spawnIn(t.pod('server').netns, 'nginx', ['-c', join(app, 'nginx.conf'), '-p', app]);
    await waitFor(() => existsSync(join(app, 'nginx.pid')), 5000, () => `nginx did not start: ${existsSync(join(app, 'error.log')) ? readFileSync(join(app, 'error.log'), 'utf8') : ''}`);
    wrk(t); // warm-up
    restoreStats = enableBpfStats();
    const cpu = TRAFFIC.map(() => [] as PerRequest[]);
    const loads = TRAFFIC.map(() => [] as Wrk[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < TRAFFIC.length; k++) {
        const j = (k + round) % TRAFFIC.length; // rotate the order round by round
        const { v } = TRAFFIC[j]!;
        t.cli(['deploy', join(dir, `traffic-${v}`), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'bench-rl']);
        const read = kernelReader(t);
        const before = read();
        const r = wrk(t);
        const after = read();
        t.cli(['undeploy', '--name', 'bench-rl']);
        cpu[j]!.push(perRequest(before, after, r.requests));
        loads[j]!.push(r);
      }
    }
    restoreStats();
    const ns = (j: number) => cpu[j]!.map((c) => c.ns);
    console.log(`## 2. bpf_stats on real traffic (wrk -t1 -c16 -d${SECONDS}s GET ${PATH}, nginx return 200, e2e veth topology; ${ROUNDS} rounds, order rotated)`);
    console.log('kernel ns/request: run_time_ns of every program on the node\'s veths over the wrk run / requests wrk completed; ratios per round against that round\'s baseline, then the median.');
    console.log('');
    console.log('| object | ratio to baseline (median of rounds) | ns/request (median) | per round | program runs/request | req/s (median) | non-2xx (all rounds) |');
    console.log('|---|---|---|---|---|---|---|');
    TRAFFIC.forEach(({ name }, j) => {
      const r = median(ns(j).map((x, i) => x / ns(0)[i]!));
      console.log(`| ${name} | ${j === 0 ? '1.00x' : `${r.toFixed(2)}x`} | ${fmt(median(ns(j)))} | ${ns(j).map((x) => fmt(x)).join(', ')} | ${fmt(median(cpu[j]!.map((c) => c.runs)), 2)} | ` +
        `${fmt(median(loads[j]!.map((l) => l.rps)))} | ${loads[j]!.reduce((n, l) => n + l.non2xx, 0)}${loads[j]!.some((l) => l.errors) ? ` (${loads[j]!.map((l) => l.errors).filter(Boolean)[0]})` : ''} |`);
    });
    console.log('');
  } finally {
    restoreStats();
    if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
      nginx.kill('SIGQUIT'); // graceful: the master takes its worker along
      await waitFor(() => nginx!.exitCode !== null || nginx!.signalCode !== null, 5000, () => 'nginx did not stop').catch((e: Error) => console.error(`bench: ${e.message}`));
    }
    t.destroy();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-ratelimit-'));
  try {
    console.log(`bench/ratelimit: ${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
    testRunPart(dir);
    if (ROUNDS > 0) await trafficPart(dir);
    else console.log('## 2. bpf_stats on real traffic: skipped (L7BPF_BENCH_ROUNDS=0)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
