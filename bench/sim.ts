// Simulator throughput: replay a generated HTTP/1.1 capture (default ~100 MB) with a trivial
// judge and with the real oracle judge, run `l7bpf replay` itself, and compare with
// `tshark -r FILE -Y http.request` on the same file in the same run.
// Usage: npx tsx bench/sim.ts [sizeMB=100] [runs=3]
//   internal: --replay FILE trivial|oracle [passes]   one JSON line per pass (fresh process;
//             passes > 1 shows the warm-JIT rate)   --parallel FILE trivial|oracle WORKERS
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readCapture } from '../sim/capture/read.ts';
import { replayParallel, replaySync } from '../sim/replay/index.ts';
import { generateTraffic, generatedTrafficPolicy } from '../sim/builder/traffic.ts';
import { parsePolicies } from '../src/policy/index.ts';
import { parseInventory } from '../src/endpoints/index.ts';
import { oracleJudge } from '../src/replay/judge.ts';

interface ReplayResult {
  packets: number; requests: number; allowed: number; bytes: number;
  /** Replay alone (first record read to summary), cold: one pass in a fresh process. */
  seconds: number;
  /** Whole process, node start to summary (module loading included). */
  processSeconds: number;
  maxRssMB: number; errors: number;
}

// Matches the generator's traffic (sim/builder/traffic.ts): clients 10.1.0.0/16 -> 10.2.0.1:8080.
const POLICY = generatedTrafficPolicy([
  '{method: GET, path: "/api/v1/.*", host: "api\\\\.example\\\\.com"}',
  '{method: POST, path: "/api/v1/(users|orders/[0-9]+|search.*)", headers: ["Content-Type: application/json"]}',
  '{method: "GET|POST", path: "/(static/.*|healthz|index\\\\.html)"}',
  '{method: DELETE, path: "/api/v1/orders/[0-9]+", headers: ["X-Admin"]}',
]);
const INVENTORY = `endpoints:
  - {name: api-1, namespace: shop, labels: {app: api}, ips: [10.2.0.1]}
  - {name: web-1, namespace: shop, labels: {app: web}, ips: [10.3.0.1]}
`;

function oracleInputs() {
  const p = parsePolicies(POLICY, 'bench-policy.yaml');
  const e = parseInventory(INVENTORY, 'bench-endpoints.yaml');
  const errs = [...p.diagnostics, ...e.diagnostics].filter((d) => d.severity === 'error');
  if (errs.length) throw new Error(`bench policy: ${errs.map((d) => d.message).join('; ')}`);
  return [p.policies, e.inventory] as const;
}

function oracle() {
  return oracleJudge(...oracleInputs());
}

/** The same replay on `workers` threads by flow hash (each worker builds its own judge). */
async function replayFileParallel(file: string, judgeKind: string, workers: number): Promise<ReplayResult> {
  const judge = judgeKind === 'oracle' ? { module: new URL('../src/replay/judge.ts', import.meta.url), exportName: 'oracleJudge', args: oracleInputs() } : undefined;
  const t0 = process.hrtime.bigint();
  const s = await replayParallel(file, { workers, judge });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    packets: s.packets, requests: s.requests, allowed: s.allowed, bytes: statSync(file).size, seconds, processSeconds: performance.now() / 1000,
    maxRssMB: process.resourceUsage().maxRSS / 1024, errors: s.captureErrors.length,
  };
}

function replayFile(file: string, judgeKind: string): ReplayResult {
  let errors = 0;
  let allowed = 0;
  const judge = judgeKind === 'oracle' ? oracle() : { connection: () => ({ allowed: true, inspect: true }), request: () => ({ allowed: true }) };
  const t0 = process.hrtime.bigint();
  const s = replaySync(readCapture(file, { view: true, onError: () => errors++ }), {
    judge,
    onRequest: (r) => { if (r.verdict.allowed) allowed++; },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return {
    packets: s.packets, requests: s.requests, allowed, bytes: statSync(file).size, seconds, processSeconds: performance.now() / 1000,
    maxRssMB: process.resourceUsage().maxRSS / 1024, errors,
  };
}

const tsxArgs = ['--import', 'tsx'];
// Single-threaded replays and the CLI run from esbuild bundles, as users run the CLI: tsx keeps
// function names by wrapping every closure, which costs the hot path several microseconds.
const BUNDLE = '.tmp/bench-sim.mjs';
const CLI_BUNDLE = '.tmp/bench-l7bpf.mjs';

function buildBundles(): void {
  const banner = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";
  const esb = spawnSync('npx', ['esbuild', 'bench/sim.ts', '--bundle', '--platform=node', '--format=esm', `--outfile=${BUNDLE}`, '--external:koffi', '--log-level=warning', `--banner:js=${banner}`], { encoding: 'utf8' });
  if (esb.status !== 0) throw new Error(`bundling bench/sim.ts failed: ${esb.stderr}`);
  const cli = spawnSync(process.execPath, ['scripts/build.mjs', CLI_BUNDLE], { encoding: 'utf8' });
  if (cli.status !== 0) throw new Error(`bundling the CLI failed: ${cli.stderr}`);
}

/** Replays in a fresh process so its time is a cold single pass and its peak RSS its own. */
function replayChild(file: string, judge: string, workers = 0): ReplayResult {
  const mode = workers > 0 ? ['--parallel', file, judge, String(workers)] : ['--replay', file, judge];
  // parallel workers load the judge module from source, which needs tsx
  const entry = workers > 0 ? [...tsxArgs, new URL(import.meta.url).pathname] : [BUNDLE];
  const r = spawnSync(process.execPath, [...entry, ...mode], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`replay child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ReplayResult;
}

/** `l7bpf replay` as a user runs it (the bundled CLI): wall time of the whole process. */
function cliRun(file: string, dir: string): { seconds: number; ok: boolean } {
  const policy = join(dir, 'policy.yaml');
  const endpoints = join(dir, 'endpoints.yaml');
  writeFileSync(policy, POLICY);
  writeFileSync(endpoints, INVENTORY);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI_BUNDLE, 'replay', file, '--policy', policy, '--endpoints', endpoints], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, ok: r.status === 0 };
}

function tshark(file: string): { requests: number; seconds: number } | null {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) return null;
  return { requests: r.stdout.split('\n').filter(Boolean).length, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median of `runs` fresh-process replays (the machine is shared: single runs are noisy). */
function measure(file: string, judge: string, runs: number, workers = 0): { r: ReplayResult; all: number[] } {
  const rs = Array.from({ length: runs }, () => replayChild(file, judge, workers));
  const all = rs.map((x) => x.seconds);
  const mid = rs.find((x) => x.seconds === median(all))!;
  return { r: { ...mid, maxRssMB: Math.max(...rs.map((x) => x.maxRssMB)) }, all };
}

function line(name: string, m: { r: ReplayResult; all: number[] }, small: ReplayResult): string {
  const { r } = m;
  return `${name}: ${r.seconds.toFixed(3)} s (runs ${m.all.map((s) => s.toFixed(3)).join(' ')}), ${(r.packets / r.seconds / 1e6).toFixed(2)} M packets/s, `
    + `${Math.round(r.requests / r.seconds)} requests/s, ${(r.bytes / 1e6 / r.seconds).toFixed(0)} MB/s, `
    + `process ${r.processSeconds.toFixed(2)} s, peak RSS ${r.maxRssMB.toFixed(0)} MB (${(small.bytes / 1e6).toFixed(0)} MB capture: ${small.maxRssMB.toFixed(0)} MB)`;
}

async function main(): Promise<void> {
  if (process.argv[2] === '--replay') {
    // optional passes > 1: repeat in the same process to see the rate once the JIT is warm
    const passes = Number(process.argv[5] ?? 1);
    for (let i = 0; i < passes; i++) console.log(JSON.stringify(replayFile(process.argv[3]!, process.argv[4] ?? 'trivial')));
    return;
  }
  if (process.argv[2] === '--parallel') {
    console.log(JSON.stringify(await replayFileParallel(process.argv[3]!, process.argv[4] ?? 'trivial', Number(process.argv[5] ?? 2))));
    return;
  }
  buildBundles();
  const sizeMB = Number(process.argv[2] ?? 100);
  const runs = Number(process.argv[3] ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-'));
  try {
    const small = join(dir, 'small.pcap');
    const big = join(dir, 'big.pcap');
    let t = Date.now();
    generateTraffic(small, { targetBytes: Math.max(1, sizeMB / 10) * 1e6, seed: 2 });
    const gen = generateTraffic(big, { targetBytes: sizeMB * 1e6, seed: 1 });
    console.log(`generated ${(statSync(big).size / 1e6).toFixed(1)} MB: ${gen.packets} packets, ${gen.requests} requests, ${gen.connections} connections (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    const triv = measure(big, 'trivial', runs);
    const orc = measure(big, 'oracle', runs);
    const trivSmall = replayChild(small, 'trivial');
    const orcSmall = replayChild(small, 'oracle');
    for (const m of [triv, orc]) {
      if (m.r.requests !== gen.requests) console.log(`WARNING: replay found ${m.r.requests} requests, generated ${gen.requests}`);
    }
    if (orc.r.allowed !== gen.requests) console.log(`WARNING: oracle allowed ${orc.r.allowed} of ${gen.requests} requests (the bench policy allows all)`);
    console.log(line('replay, trivial judge', triv, trivSmall));
    console.log(line('replay, oracle judge ', orc, orcSmall));
    const par = { trivial: measure(big, 'trivial', runs, 2), oracle: measure(big, 'oracle', runs, 2) };
    for (const [k, m] of Object.entries(par)) {
      if (m.r.requests !== gen.requests) console.log(`WARNING: parallel replay found ${m.r.requests} requests, generated ${gen.requests}`);
      const base = k === 'oracle' ? orc : triv;
      console.log(`replayParallel 2 workers, ${k} judge: ${m.r.seconds.toFixed(3)} s (runs ${m.all.map((x) => x.toFixed(3)).join(' ')}, worker start included), `
        + `${(m.r.packets / m.r.seconds / 1e6).toFixed(2)} M packets/s, speedup ${(base.r.seconds / m.r.seconds).toFixed(2)}x, peak RSS ${m.r.maxRssMB.toFixed(0)} MB`);
    }
    const cli = cliRun(big, dir);
    console.log(`l7bpf replay (CLI, oracle, whole process incl. startup): ${cli.seconds.toFixed(2)} s${cli.ok ? '' : ' (FAILED)'}`);
    t = Date.now();
    const ts = tshark(big);
    if (!ts) console.log('tshark: not available');
    else {
      console.log(`tshark -r FILE -Y http.request: ${ts.seconds.toFixed(2)} s, ${Math.round(ts.requests / ts.seconds)} requests/s (${ts.requests} requests)`);
      console.log(`ratio: replay (trivial judge) ${(ts.seconds / triv.r.seconds).toFixed(1)}x, replay (oracle judge) ${(ts.seconds / orc.r.seconds).toFixed(1)}x, l7bpf replay CLI process ${(ts.seconds / cli.seconds).toFixed(1)}x faster than tshark`);
    }
    const pps = triv.r.packets / triv.r.seconds;
    const ppsO = orc.r.packets / orc.r.seconds;
    const rss = Math.max(triv.r.maxRssMB, orc.r.maxRssMB);
    console.log(`targets: >= 1.00 M packets/s (trivial judge ${pps >= 1e6 ? 'met' : 'NOT met'}, oracle judge ${ppsO >= 1e6 ? 'met' : 'NOT met'}); peak RSS < 200 MB ${rss < 200 ? 'met' : 'NOT met'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
