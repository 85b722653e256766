// End-to-end throughput, latency and CPU per request across the e2e veth topology, in one run:
//   1. no program (baseline), 2. an empty tc program on both hooks of both veths (what any
//   tc program costs: the clsact hook itself), 3. l7bpf with a 10-rule policy, 4. nginx as an
//   L7 sidecar (reverse proxy with the same method/path rules, its own nginx process) in the
//   server's namespace, in front of the app.
// wrk (1 thread, 16 connections, DURATION s) runs in the client pod against nginx `return 200`.
// A second phase measures latency without queueing: one connection, one request at a time
// (wrk -c1), no program and l7bpf alternating; under -c16 the p99 is the queue on a saturated
// 2-core machine and moves by hundreds of us between runs.
// CPU per request (docs/performance.md, end to end), read around the same wrk runs: for tc programs the bpf_stats
// run_time_ns and run_cnt deltas (kernel.bpf_stats_enabled=1 during the run, the previous value
// restored after) of every program attached on the node's veths, from bpftool; for nginx the
// utime+stime delta of its worker from /proc/PID/stat. Both are divided by the requests wrk
// completed. This figure moves far less between rounds than throughput on a shared machine.
// Ratios are per round (setups of a round run back to back), then the median.
// Root only. Usage: sudo npx tsx bench/e2e.ts [--write-docs] (replaces docs/performance.md "End to end").
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, inventoryYaml, Topology, run } from '../test/helpers/netns.ts';
import { enableBpfStats, hasBpftool, kernelReader, perRequest, workerReader, type Counters, type PerRequest, type Reader } from './cpu.ts';
import { runClang } from '../codegen/emit/clang.ts';
import { TEMPLATES_DIR } from '../codegen/emit/index.ts';
import { nginxConf } from './nginx.ts';

const DURATION = Number(process.env.L7BPF_BENCH_SECONDS ?? 4);
const RULES = 10;
const ROUNDS = Number(process.env.L7BPF_BENCH_ROUNDS ?? 5);
/** issue 10: kernel CPU per request, and how far below the proxy's it must be */
const TARGET_NS = 600;
const TARGET_VS_PROXY = 20;

/** Per-field median over rounds. */
function median(rs: readonly WrkResult[]): WrkResult {
  const m = (f: (r: WrkResult) => number) => mid(rs.map(f));
  return { rps: m((r) => r.rps), p50us: m((r) => r.p50us), p99us: m((r) => r.p99us), requests: m((r) => r.requests), non2xx: rs.reduce((n, r) => n + r.non2xx, 0) };
}
const PATH = `/api/v1/r${RULES - 1}`;

function policyYaml(): string {
  const http = Array.from({ length: RULES }, (_, i) => `              - method: "GET"\n                path: "/api/v1/r${i}"`).join('\n');
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bench-10-rules, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules:
            http:
${http}
`;
}


/** The app: return 200 on 8080 and on 127.0.0.1:8082 (behind the sidecar). */
const appServers = (server: string) => `  server { listen ${server}:8080; listen 127.0.0.1:8082; location / { return 200 "ok\\n"; } }`;

/**
 * The sidecar: 8081 -> 127.0.0.1:8082 with the rules. A process of its own (as Envoy is), so
 * its worker's CPU is the proxy's alone.
 */
function sidecarServers(server: string): string {
  const locations = Array.from({ length: RULES }, (_, i) => `      location = /api/v1/r${i} { if ($request_method != GET) { return 403; } proxy_pass http://app; }`).join('\n');
  return `  upstream app { server 127.0.0.1:8082; keepalive 32; }
  server {
    listen ${server}:8081;
    proxy_http_version 1.1; proxy_set_header Connection "";
${locations}
      location / { return 403; }
  }`;
}

interface WrkResult {
  readonly rps: number;
  readonly p50us: number;
  readonly p99us: number;
  /** requests wrk completed */
  readonly requests: number;
  readonly non2xx: number;
}

const toUs = (v: string, unit: string): number => Number(v) * (unit === 'us' ? 1 : unit === 'ms' ? 1000 : 1e6);

function wrk(t: Topology, url: string, connections = 16): WrkResult {
  const out = run('ip', ['netns', 'exec', t.pod('client').netns, 'wrk', '-t1', `-c${connections}`, `-d${DURATION}s`, '--latency', url]);
  const lat = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
    return m ? toUs(m[1] ?? '0', m[2] ?? 'us') : NaN;
  };
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), p50us: lat('50'), p99us: lat('99'),
    requests: Number(/(\d+) requests in /.exec(out)?.[1] ?? NaN), non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** A wrk run with each reader's counters read just before and just after it. */
function wrkCpu(t: Topology, url: string, connections: number, readers: readonly Reader[]): { r: WrkResult; cpu: PerRequest[] } {
  const before = readers.map((read) => read());
  const r = wrk(t, url, connections);
  const after = readers.map((read) => read());
  return { r, cpu: after.map((a, i) => perRequest(before[i]!, a, r.requests)) };
}

// ---- the run ----

async function startNginx(t: Topology, dir: string, servers: string): Promise<ChildProcess> {
  mkdirSync(dir);
  writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, servers));
  const nginx = t.spawnIn(t.pod('server').netns, 'nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir]);
  await waitFor(() => existsSync(join(dir, 'nginx.pid')), 5000, () => `nginx did not start: ${readFileSafe(join(dir, 'error.log'))}`);
  return nginx;
}

/**
 * Graceful stop (SIGQUIT: the master takes its workers along). Topology.destroy's SIGKILL
 * would orphan the workers, which keep our stdout pipes and so this process, alive.
 */
async function stopNginx(all: readonly ChildProcess[]): Promise<void> {
  const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
  for (const c of all) if (!exited(c)) c.kill('SIGQUIT');
  await waitFor(() => all.every(exited), 5000, () => 'nginx did not stop');
}

async function main(): Promise<void> {
  const skip = e2eSkip();
  if (skip) {
    console.log(`bench/e2e: skipped: ${skip}`);
    return;
  }
  const t = Topology.create([{ name: 'client', v4: '10.0.0.1' }, { name: 'server', v4: '10.0.0.2' }]);
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-e2e-'));
  let restoreStats = () => {};
  const nginx: ChildProcess[] = [];
  try {
    writeFileSync(join(dir, 'policy.yaml'), policyYaml());
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { client: { app: 'client' }, server: { app: 'server' } }));
    await compilePolicies([join(dir, 'policy.yaml')], join(dir, 'obj'));
    nginx.push(await startNginx(t, join(dir, 'app'), appServers('10.0.0.2')));
    nginx.push(await startNginx(t, join(dir, 'sidecar'), sidecarServers('10.0.0.2')));
    const url = `http://10.0.0.2:8080${PATH}`, sidecarUrl = `http://10.0.0.2:8081${PATH}`;
    wrk(t, url); // warm-up
    wrk(t, sidecarUrl);
    const app = workerReader(join(dir, 'app', 'nginx.pid')), proxy = workerReader(join(dir, 'sidecar', 'nginx.pid'));
    if (hasBpftool()) restoreStats = enableBpfStats();
    else console.log('bench/e2e: bpftool not found (Debian package bpftool): no kernel CPU per request');
    // rounds alternate the setups so drift (CPU frequency, caches) hits all of them alike
    const runs: Runs = { base: [], empty: [], l7: [], sidecar: [], base1: [], empty1: [], l71: [] };
    const cpu: CpuRuns = { empty: [], l7: [], l71: [], proxy: [], app: [] };
    runClang(TEMPLATES_DIR, dir, true, 'l7_empty.bpf.c', 'empty.o');
    const ifaces = [t.pod('client').hostIf, t.pod('server').hostIf];
    let status = '';
    for (let round = 0; round < ROUNDS; round++) {
      runs.base.push(wrk(t, url));
      runs.base1.push(wrk(t, url, 1));
      emptyPrograms(t, ifaces, join(dir, 'empty.o'), true);
      const empty = wrkCpu(t, url, 16, [kernelReader(t)]);
      runs.empty.push(empty.r); cpu.empty.push(empty.cpu[0]!);
      runs.empty1.push(wrk(t, url, 1));
      emptyPrograms(t, ifaces, join(dir, 'empty.o'), false);
      t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'bench']);
      const l7 = wrkCpu(t, url, 16, [kernelReader(t)]);
      runs.l7.push(l7.r); cpu.l7.push(l7.cpu[0]!);
      const l71 = wrkCpu(t, url, 1, [kernelReader(t)]);
      runs.l71.push(l71.r); cpu.l71.push(l71.cpu[0]!);
      status = t.cli(['status']).stdout;
      t.cli(['undeploy', '--name', 'bench']);
      const sidecar = wrkCpu(t, sidecarUrl, 16, [proxy, app]);
      runs.sidecar.push(sidecar.r); cpu.proxy.push(sidecar.cpu[0]!); cpu.app.push(sidecar.cpu[1]!);
    }
    restoreStats();
    await stopNginx(nginx);
    report(runs, cpu, status);
  } finally {
    restoreStats();
    await stopNginx(nginx).catch((e: Error) => console.error(`bench/e2e: ${e.message}`));
    t.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

function readFileSafe(p: string): string {
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
}

async function waitFor(ok: () => boolean, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Attaches (or removes) the empty tc program on both hooks of the host veths, with tc. */
function emptyPrograms(t: Topology, ifaces: readonly string[], object: string, on: boolean): void {
  const tc = (...args: string[]) => run('ip', ['netns', 'exec', t.node, 'tc', ...args]);
  for (const i of ifaces) {
    if (!on) {
      tc('qdisc', 'del', 'dev', i, 'clsact');
      continue;
    }
    tc('qdisc', 'add', 'dev', i, 'clsact');
    for (const dir of ['ingress', 'egress']) tc('filter', 'add', 'dev', i, dir, 'bpf', 'da', 'obj', object, 'sec', 'tc');
  }
}

interface Runs {
  readonly base: WrkResult[];
  /** the empty tc program attached */
  readonly empty: WrkResult[];
  readonly empty1: WrkResult[];
  readonly l7: WrkResult[];
  readonly sidecar: WrkResult[];
  /** one connection (latency without queueing) */
  readonly base1: WrkResult[];
  readonly l71: WrkResult[];
}

/** CPU per request, per round: tc programs (bpf_stats) and the nginx workers of the sidecar run. */
interface CpuRuns {
  readonly empty: PerRequest[];
  readonly l7: PerRequest[];
  readonly l71: PerRequest[];
  readonly proxy: PerRequest[];
  /** the app's worker during the sidecar run (the same requests, served behind the proxy) */
  readonly app: PerRequest[];
}

/** Median, ignoring samples that could not be taken (NaN). */
function mid(xs: readonly number[]): number {
  const taken = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return taken[Math.floor(taken.length / 2)] ?? NaN;
}
/** median over rounds of a per-round ratio or difference */
const paired = (a: readonly WrkResult[], b: readonly WrkResult[], f: (x: WrkResult, y: WrkResult) => number): number =>
  mid(a.map((x, i) => f(x, b[i]!)));

function report(runs: Runs, cpu: CpuRuns, status: string): void {
  const base = median(runs.base), l7 = median(runs.l7), sidecar = median(runs.sidecar);
  const base1 = median(runs.base1), l71 = median(runs.l71);
  const empty = median(runs.empty), empty1 = median(runs.empty1);
  const emptyRatio = paired(runs.empty, runs.base, (x, y) => x.rps / y.rps);
  const ratio = paired(runs.l7, runs.base, (x, y) => x.rps / y.rps);
  const vsSidecar = paired(runs.l7, runs.sidecar, (x, y) => x.rps / y.rps);
  const added1 = paired(runs.l71, runs.base1, (x, y) => x.p99us - y.p99us);
  const perRound = runs.l7.map((r, i) => (r.rps / runs.base[i]!.rps).toFixed(2)).join(', ');
  const row = (name: string, r: WrkResult, vs: WrkResult) =>
    `| ${name} | ${Math.round(r.rps)} | ${(r.rps / vs.rps).toFixed(2)} | ${r.p50us.toFixed(0)} | ${r.p99us.toFixed(0)} | ${(r.p99us - vs.p99us).toFixed(0)} | ${r.non2xx} |`;
  const lines = [
    '## End to end',
    '',
    `\`sudo npx tsx bench/e2e.ts --write-docs\`: wrk -t1 -c16 (and -c1) -d${DURATION}s --latency from a client pod to nginx \`return 200\``,
    `in a server pod, across the test/e2e veth topology (GET ${PATH}, allowed by the last of ${RULES} http rules); median of ${ROUNDS} alternating rounds in one run, ${new Date().toISOString().slice(0, 10)}, this 2-core machine (wrk, nginx and the client share it):`,
    '',
    '| setup | req/s | vs no program | p50 us | p99 us | added p99 us | non-2xx |',
    '|---|---|---|---|---|---|---|',
    row('no program', base, base),
    row('empty tc program (both hooks, both veths)', empty, base),
    row(`l7bpf, ${RULES}-rule policy (both veths)`, l7, base),
    row('nginx sidecar (reverse proxy, same rules)', sidecar, base),
    row('no program, 1 connection', base1, base1),
    row('empty tc program, 1 connection', empty1, base1),
    row(`l7bpf, 1 connection`, l71, base1),
    '',
    `Per round, l7bpf / no program: ${perRound} (median ${ratio.toFixed(2)}; the empty tc program: median ${emptyRatio.toFixed(2)}); l7bpf / nginx sidecar: median x${vsSidecar.toFixed(2)}; ` +
      `added p99 with one connection: median ${added1.toFixed(0)} us.`,
    `Targets: >= 0.90 of no program (${ratio >= 0.9 ? 'met' : 'NOT met'}), >= 3x nginx (${vsSidecar >= 3 ? 'met' : 'NOT met'}), ` +
      `added p99 < 50 us (${added1 < 50 ? 'met' : 'NOT met'}, one connection; with 16 the p99 is the machine's queue).`,
    '',
    ...cpuReport(cpu),
  ];
  const text = lines.join('\n');
  console.log(text);
  console.log(status);
  if (process.argv.includes('--write-docs')) writeSection(text);
}

const fmt = (x: number, digits = 0): string => (Number.isNaN(x) ? 'n/a' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

/**
 * The CPU-per-request table: one row per round, then the medians (ratios: median of per-round
 * ratios). "over empty" takes away what the empty program reads per run (the clock reads
 * around every run that bpf_stats adds, tens of ns on this VM) times l7bpf's runs.
 */
function cpuReport(cpu: CpuRuns): string[] {
  const ratios = cpu.l7.map((l, i) => cpu.proxy[i]!.ns / l.ns);
  const overEmpty = cpu.l7.map((l, i) => l.ns - (cpu.empty[i]!.ns / cpu.empty[i]!.runs) * l.runs);
  const row = (name: string, i: number | null) => {
    const pick = (xs: readonly number[]) => (i === null ? mid(xs) : xs[i]!);
    const col = (xs: readonly PerRequest[], f: (p: PerRequest) => number) => pick(xs.map(f));
    return `| ${name} | ${fmt(col(cpu.l7, (p) => p.ns))} | ${fmt(col(cpu.l7, (p) => p.runs), 2)} | ${fmt(pick(overEmpty))} | ` +
      `${fmt(col(cpu.empty, (p) => p.ns))} (${fmt(col(cpu.empty, (p) => p.runs), 2)}) | ${fmt(col(cpu.proxy, (p) => p.ns))} | ` +
      `${fmt(col(cpu.app, (p) => p.ns))} | x${fmt(pick(ratios), 1)} |`;
  };
  const l7ns = mid(cpu.l7.map((p) => p.ns)), vsProxy = mid(ratios);
  const met = (x: number, ok: boolean) => (Number.isNaN(x) ? 'not measured: is bpftool installed?' : ok ? 'met' : 'NOT met');
  return [
    'CPU per request (same runs, -c16): tc programs from bpf_stats (`run_time_ns`, `run_cnt` of every program on the node\'s veths, from `bpftool prog show`),',
    'nginx from its worker\'s utime+stime (`/proc/PID/stat`), each delta over a wrk run divided by the requests wrk completed:',
    '',
    '| round | l7bpf ns/request | l7bpf runs/request | l7bpf over empty ns/request | empty tc program ns/request (runs) | nginx sidecar worker ns/request | app worker ns/request (behind the sidecar) | sidecar / l7bpf |',
    '|---|---|---|---|---|---|---|---|',
    ...cpu.l7.map((_, i) => row(String(i + 1), i)),
    row('median', null),
    '',
    `By program (median): ${byProgram(cpu.l7)}.`,
    `One connection (-c1): l7bpf ${fmt(mid(cpu.l71.map((p) => p.ns)))} ns/request over ${fmt(mid(cpu.l71.map((p) => p.runs)), 2)} runs (median).`,
    `Targets: l7bpf <= ${TARGET_NS} ns/request (${met(l7ns, l7ns <= TARGET_NS)}), >= ${TARGET_VS_PROXY}x below the proxy (x${fmt(vsProxy, 1)}: ${met(vsProxy, vsProxy >= TARGET_VS_PROXY)}).`,
    '',
  ];
}

/** "l7_to_pod 2.00 runs/request, 700 ns/run, ..." over rounds. */
function byProgram(rounds: readonly PerRequest[]): string {
  const names = [...new Set(rounds.flatMap((r) => Object.keys(r.byName ?? {})))].sort();
  const of = (name: string, f: (c: Counters) => number) => mid(rounds.map((r) => (r.byName?.[name] ? f(r.byName[name]) : NaN)));
  return names.map((n) => `${n} ${fmt(of(n, (c) => c.runs), 2)} runs/request, ${fmt(of(n, (c) => c.ns / c.runs))} ns/run`).join('; ') || 'n/a';
}

/** Replaces our section of docs/performance.md (or appends it); other sections are left as they are. */
function writeSection(section: string): void {
  const file = 'docs/performance.md';
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '# Performance\n\n';
  const start = current.indexOf('## End to end');
  if (start < 0) {
    writeFileSync(file, current.trimEnd() + '\n\n' + section);
    return;
  }
  const next = current.indexOf('\n## ', start + 1);
  writeFileSync(file, current.slice(0, start) + section + (next < 0 ? '' : current.slice(next + 1)));
}

await main();
