// What RESPONSE events cost the datapath per request, against the same object built without
// them, in one run. Root only: sudo npx tsx bench/responses.ts   (L7BPF_BENCH_ROUNDS,
// L7BPF_BENCH_SECONDS; DRAIN=0 runs without a reader)
// 1. BPF_PROG_TEST_RUN of l7_from_pod at the server's veth on the server's packet carrying a
//    whole response (head and a 3-byte body) to an allowed request: RUNS repeat=1 runs per
//    object, interleaved, the flow entry restored before each (a repeated packet would be a
//    retransmission: nothing walked), the ring buffers read every DRAIN_EVERY rounds, as
//    bench/ratelimit.ts does (a reader always caught up turns each submit into a wakeup).
//    Every object's RESPONSE events counted against its runs.
// 2. Objects: the seed policy (GET /api/v1/users from frontend to backend:8080) compiled as shipped,
// and the same generated header with `#define L7_RESP_EVENTS 0` (bpf-templates/l7_http1_resp.h:
// the response framer runs as before, only the event is not built). Deployed in turn on the e2e
// veth topology (`--deny-answer auto`, so responses are followed), wrk -t1 -c16 against nginx
// `return 200`; run_time_ns of every program on the node's veths over the wrk run divided by the
// requests wrk completed (bench/cpu.ts). With DRAIN (the default) a reader empties the ring
// buffer meanwhile (this file run with --drain: the loader's reader, events counted by kind, no
// flows built, so it keeps up where `observe --output jsonpb` does not at this rate), as on a
// node someone watches: without a reader the ring buffer fills and every later event takes the
// cheaper "ring full" path. Ratios per round against the round's object without events, then
// the median. Reported, never asserted.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runClang } from '../codegen/emit/clang.ts';
import { TEMPLATES_DIR } from '../codegen/emit/index.ts';
import { compilePolicies, e2eSkip, inventoryYaml, REPO, run, Topology, waitForLine } from '../test/helpers/netns.ts';
import { EVENT_KIND, VERDICT, fillConfig, mapOf, program } from '../src/loader/index.ts';
import { loadPolicies } from '../src/policy/index.ts';
import { parseInventory } from '../src/endpoints/index.ts';
import { lower } from '../codegen/ir/lower.ts';
import { TcpConn } from '../sim/builder/tcp-conn.ts';
import { loadWorld, type KernelWorld } from '../test/helpers/kernel-world.ts';
import { enableBpfStats, hasBpftool, kernelReader, perRequest, type PerRequest } from './cpu.ts';
import { okServer } from './nginx.ts';

const ROUNDS = Number(process.env.L7BPF_BENCH_ROUNDS ?? 5);
const RUNS = Number(process.env.RUNS ?? 5000);
const DRAIN_EVERY = 256;
const SECONDS = Number(process.env.L7BPF_BENCH_SECONDS ?? 3);
const DRAIN = process.env.DRAIN !== '0';
const POLICY = 'examples/seed/corrected-policy.yaml';
const PATH = '/api/v1/users';

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });


function wrk(t: Topology): { requests: number; rps: number } {
  const out = run('ip', ['netns', 'exec', t.pod('client').netns, 'wrk', '-t1', '-c16', `-d${SECONDS}s`, `http://10.0.0.2:8080${PATH}`]);
  return { requests: Number(/(\d+) requests in /.exec(out)?.[1] ?? NaN), rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN) };
}

async function waitFor(ok: () => boolean, ms: number, why: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The deployment's ring buffer emptied as events come, counted by kind; prints the counts on SIGINT. */
async function drainMode(name: string): Promise<void> {
  const { openLibbpf, openEvents, pinPaths } = await import('../src/loader/index.ts');
  const { deployEnv } = await import('../src/cli/deploy.ts');
  const reader = openEvents(openLibbpf(), pinPaths(deployEnv().pinRoot, name).events);
  const counts: Record<number, number> = {};
  let stop = false;
  process.once('SIGINT', () => (stop = true));
  process.stdout.write('ready\n');
  while (!stop) {
    for (const b of reader.drain()) counts[b[12]!] = (counts[b[12]!] ?? 0) + 1; // kind: offset 12
    await reader.wait(20);
  }
  reader.close();
  process.stdout.write(`${JSON.stringify(counts)}\n`);
}

/** A --drain process in the node namespace (nsenter keeps the host's bpffs); its counts at the end. */
async function drainer(t: Topology): Promise<{ stop(): Promise<Record<string, number>> }> {
  const child = spawn('nsenter', [`--net=/run/netns/${t.node}`, '--', process.execPath, '--import', 'tsx', join(REPO, 'bench/responses.ts'), '--drain', 'bench-resp'],
    { cwd: REPO, env: t.env(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitForLine(child, 'ready', 20_000);
  return {
    stop: async () => {
      child.kill('SIGINT');
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, 5000, () => 'drain did not stop').catch((e: Error) => console.error(`bench: ${e.message}`));
      return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
    },
  };
}

const VARIANTS = [
  { key: 'without', name: 'without RESPONSE events (L7_RESP_EVENTS 0, baseline)' },
  { key: 'with', name: 'with RESPONSE events (as shipped)' },
] as const;

async function build(dir: string): Promise<void> {
  await compilePolicies([POLICY], join(dir, 'with'));
  mkdirSync(join(dir, 'without'));
  const header = readFileSync(join(dir, 'with', 'policy.h'), 'utf8');
  writeFileSync(join(dir, 'without', 'policy.h'), `${header}\n#define L7_RESP_EVENTS 0\n`);
  writeFileSync(join(dir, 'without', 'manifest.json'), readFileSync(join(dir, 'with', 'manifest.json')));
  runClang(TEMPLATES_DIR, join(dir, 'without'));
}

// ---- 1. BPF_PROG_TEST_RUN ----

const INVENTORY = `endpoints:
  - {name: backend, namespace: default, labels: {app: backend}, ips: [10.0.0.2]}
  - {name: frontend, namespace: default, labels: {app: frontend}, ips: [10.0.0.1]}
`;
const quantile = (xs: readonly number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)] ?? NaN;

/** An object loaded, the bench connection opened and its request allowed; the flow entry then, and the response frame. */
function world(objectPath: string): { w: KernelWorld; key: Buffer; value: Buffer } {
  const w = loadWorld(lower(loadPolicies([POLICY])), objectPath, parseInventory(INVENTORY, 'bench(endpoints)').inventory);
  fillConfig(w.obj, 'auto');
  const events = ([['l7_to_pod', SYN], ['l7_from_pod', SYN_ACK], ['l7_to_pod', ACK], ['l7_to_pod', REQ]] as const).flatMap(([prog, frame]) => w.runner.run({ prog, frame }).events);
  if (!events.some((e) => e.kind === EVENT_KIND.HTTP && e.verdict === VERDICT.FORWARDED)) throw new Error(`bench: the request was not allowed: ${JSON.stringify(events.map((e) => [e.kind, e.verdict, e.reason]))}`);
  const m = mapOf(w.obj, 'l7flows');
  const key = w.obj.lib.mapNextKey(m.fd, null, m.keySize);
  if (!key) throw new Error('bench: no flow entry');
  return { w, key, value: w.obj.lib.mapLookup(m.fd, key, m.valueSize)! };
}

const BENCH_CONN = new TcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:8080' }).handshake()
  .send('GET /api/v1/users HTTP/1.1\r\nHost: backend\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n')
  .recv('HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nok\n');
const [SYN, SYN_ACK, ACK, REQ, RESP] = BENCH_CONN.frames() as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];

function testRunPart(dir: string): void {
  const ws = VARIANTS.map((v) => world(join(dir, v.key, 'l7bpf.o')));
  const times = VARIANTS.map(() => [] as number[]);
  const responses = VARIANTS.map(() => 0);
  const drain = () => ws.forEach((x, j) => (responses[j]! += x.w.runner.events().filter((e) => e.kind === EVENT_KIND.RESPONSE).length));
  const warm = Math.min(500, RUNS);
  for (let i = -warm; i < RUNS; i++) {
    if (i === 0) drain(), responses.fill(0);
    if (i % DRAIN_EVERY === 0) drain();
    for (let k = 0; k < ws.length; k++) {
      const j = (k + i + warm) % ws.length; // rotate which object goes first
      const { w, key, value } = ws[j]!;
      w.obj.lib.mapUpdate(mapOf(w.obj, 'l7flows').fd, key, value, 0);
      const r = w.obj.lib.testRun(program(w.obj, 'l7_from_pod').fd, { data: RESP, dataOutSize: RESP.length + 512 });
      if (r.err !== 0 || r.retval !== 0) throw new Error(`bench: test_run: error ${r.err}, tc action ${r.retval}`);
      if (i >= 0) times[j]!.push(r.durationNs);
    }
  }
  drain();
  console.log(`## 1. BPF_PROG_TEST_RUN (l7_from_pod, the server's ${RESP.length - 54}-byte response on an established connection whose request was allowed)`);
  console.log(`${RUNS} repeat=1 runs per object after ${warm} warm-up rounds, interleaved; the flow entry restored before each run; ring buffers read every ${DRAIN_EVERY} rounds.`);
  console.log('');
  console.log('| object | ns p10 | ns median | ratio p10 | ratio median | added ns (median of paired differences) | RESPONSE events / run |');
  console.log('|---|---|---|---|---|---|---|');
  VARIANTS.forEach(({ name }, j) => {
    const added = quantile(times[j]!.map((x, i) => x - times[0]![i]!), 0.5);
    console.log(`| ${name} | ${quantile(times[j]!, 0.1)} | ${quantile(times[j]!, 0.5)} | ${(quantile(times[j]!, 0.1) / quantile(times[0]!, 0.1)).toFixed(2)}x | ` +
      `${(quantile(times[j]!, 0.5) / quantile(times[0]!, 0.5)).toFixed(2)}x | ${j === 0 ? '-' : added} | ${(responses[j]! / RUNS).toFixed(2)} |`);
  });
  console.log('');
  for (const x of ws) x.w.close();
}

// ---- 2. bpf_stats on real traffic ----

async function main(): Promise<void> {
  console.log(`bench/responses: ${new Date().toISOString()}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-responses-'));
  try {
    await build(dir);
    testRunPart(dir);
    if (ROUNDS > 0) await trafficPart(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function trafficPart(dir: string): Promise<void> {
  const skip = e2eSkip() || (hasBpftool() ? false : 'bpftool not found (Debian package bpftool)');
  if (skip) return console.log(`## 2. bpf_stats on real traffic: skipped: ${skip}`);
  const t = Topology.create([{ name: 'client', v4: '10.0.0.1' }, { name: 'server', v4: '10.0.0.2' }]);
  let restoreStats = () => {};
  let nginx: ChildProcess | null = null;
  try {
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { client: { app: 'frontend' }, server: { app: 'backend' } }));
    const app = join(dir, 'nginx');
    mkdirSync(app);
    writeFileSync(join(app, 'nginx.conf'), okServer(app));
    nginx = t.spawnIn(t.pod('server').netns, 'nginx', ['-c', join(app, 'nginx.conf'), '-p', app]);
    await waitFor(() => existsSync(join(app, 'nginx.pid')), 5000, () => `nginx did not start: ${existsSync(join(app, 'error.log')) ? readFileSync(join(app, 'error.log'), 'utf8') : ''}`);
    wrk(t); // warm-up
    restoreStats = enableBpfStats();
    const cpu = VARIANTS.map(() => [] as PerRequest[]);
    const rps = VARIANTS.map(() => [] as number[]);
    const seen = VARIANTS.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < VARIANTS.length; k++) {
        const j = (k + round) % VARIANTS.length; // rotate the order round by round
        t.cli(['deploy', join(dir, VARIANTS[j]!.key), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'bench-resp']);
        const rd = DRAIN ? await drainer(t) : null;
        const read = kernelReader(t);
        const before = read();
        const r = wrk(t);
        const after = read();
        const counts = rd ? await rd.stop() : null;
        t.cli(['undeploy', '--name', 'bench-resp']);
        cpu[j]!.push(perRequest(before, after, r.requests));
        rps[j]!.push(r.rps);
        seen[j]!.push(counts ? (counts[String(EVENT_KIND.RESPONSE)] ?? 0) / r.requests : NaN);
      }
    }
    restoreStats();
    const ns = (j: number) => cpu[j]!.map((c) => c.ns);
    console.log('## 2. bpf_stats on real traffic');
    console.log(`wrk -t1 -c16 -d${SECONDS}s GET ${PATH}, nginx return 200, e2e veth topology; ${ROUNDS} rounds, order rotated; reader: ${DRAIN ? 'bench/responses.ts --drain' : 'none (the ring buffer fills)'}`);
    console.log('');
    console.log('| object | ratio to baseline (median of rounds) | kernel ns/request (median) | per round | program runs/request | req/s (median) | RESPONSE events read per request |');
    console.log('|---|---|---|---|---|---|---|');
    VARIANTS.forEach(({ name }, j) => {
      const ratio = median(ns(j).map((x, i) => x / ns(0)[i]!));
      console.log(`| ${name} | ${j === 0 ? '1.00x' : `${ratio.toFixed(3)}x`} | ${fmt(median(ns(j)))} | ${ns(j).map((x) => fmt(x)).join(', ')} | ` +
        `${fmt(median(cpu[j]!.map((c) => c.runs)), 2)} | ${fmt(median(rps[j]!))} | ${DRAIN ? fmt(median(seen[j]!), 2) : 'n/a'} |`);
    });
    const diff = median(ns(1).map((x, i) => x - ns(0)[i]!));
    console.log(`\nadded ns/request (median of per-round differences): ${fmt(diff)}`);
  } finally {
    restoreStats();
    if (nginx && nginx.exitCode === null && nginx.signalCode === null) {
      nginx.kill('SIGQUIT');
      await waitFor(() => nginx!.exitCode !== null || nginx!.signalCode !== null, 5000, () => 'nginx did not stop').catch((e: Error) => console.error(`bench: ${e.message}`));
    }
    t.destroy();
  }
}

if (process.argv[2] === '--drain') await drainMode(process.argv[3] ?? 'bench-resp');
else await main();
