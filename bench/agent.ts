// How fast the agent turns a policy change into enforcement, against `l7bpf deploy` run by hand
// on the same object, in one run. Root only: sudo npx tsx bench/agent.ts   (L7BPF_BENCH_ROUNDS)
// On the e2e veth topology (frontend -> backend:8080, the test HTTP server), per round:
//   deploy   `l7bpf deploy` of a CI-built object from the command's start until a client in the
//            frontend sees the change (GET /api/v1/products flips between 200 and 403);
//   agent    the agent (`--dir`, default 250 ms debounce) from the policy file's write until the
//            same client sees the change, the object found under --objects (CI-built: no clang);
//   compile  the same with a policy no cache has seen (a path of its own per round): clang runs.
// The client polls every 20 ms, so each figure includes up to 20 ms of polling and a curl start.
// Then the agent's CPU while idle (fs rescans, the flow pump's waits) over 10 s.
// Medians per kind and the ratios agent/deploy and compile/deploy. Reported, never asserted.
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, inventoryYaml, run, Topology } from '../test/helpers/netns.ts';
import { processReader } from './cpu.ts';

const ROUNDS = Number(process.env.L7BPF_BENCH_ROUNDS ?? 5);
const USERS = readFileSync('examples/seed/corrected-policy.yaml', 'utf8');
const withPaths = (...paths: string[]) =>
  USERS.replace('                path: "/api/v1/users"', ['                path: "/api/v1/users"', ...paths.map((p) => `              - method: "GET"\n                path: "${p}"`)].join('\n'));
const ALLOW_PRODUCTS = withPaths('/api/v1/products');

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The agent logs to stderr. */
function logged(child: ChildProcess, text: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`no "${text}" within ${ms} ms: ${log}`)), ms);
    child.stderr!.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes(text)) (clearTimeout(timer), resolve());
    });
  });
}

async function main(): Promise<void> {
  const skip = e2eSkip();
  if (skip) throw new Error(`bench/agent: ${skip}`);
  delete process.env.L7BPF_OBJECT_CACHE; // the compile rounds must run clang
  const t = Topology.create([{ name: 'frontend', v4: '10.0.0.1' }, { name: 'backend', v4: '10.0.0.2' }]);
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-agent-'));
  let agent: ChildProcess | null = null;
  try {
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'endpoints.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    writeFileSync(join(dir, 'users.yaml'), USERS);
    writeFileSync(join(dir, 'products.yaml'), ALLOW_PRODUCTS);
    const objects = join(dir, 'objects');
    await compilePolicies([join(dir, 'users.yaml')], join(objects, 'users'));
    await compilePolicies([join(dir, 'products.yaml')], join(objects, 'products'));
    await t.server('backend');
    const products = () => run('ip', ['netns', 'exec', t.pod('frontend').netns, 'curl', '-s', '-o', '/dev/null', '--max-time', '2', '-w', '%{http_code}', 'http://10.0.0.2:8080/api/v1/products'], { allowFail: true }).trim();
    /** ms from `start` until products answers `code` */
    const until = async (code: string, start: number) => {
      while (products() !== code) {
        if (performance.now() - start > 60_000) throw new Error(`products never answered ${code}`);
        await sleep(20);
      }
      return performance.now() - start;
    };

    const deployMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const [obj, code] = i % 2 === 0 ? ['users', '403'] : ['products', '200'];
      const t0 = performance.now();
      t.cli(['deploy', join(objects, obj), '--endpoints', join(dir, 'endpoints.yaml')]);
      deployMs.push(await until(code, t0));
    }
    t.cli(['undeploy']);

    agent = t.spawnCli(['agent', '--dir', dir, '--node-name', 'bench', '--objects', objects, '--metrics', '', '--hubble-socket', '', '--hubble-listen', '']);
    await logged(agent, 'watching', 30_000);
    const policy = (text: string) => writeFileSync(join(dir, 'policies', 'backend.yaml'), text);
    const agentMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const [text, code] = i % 2 === 0 ? [USERS, '403'] : [ALLOW_PRODUCTS, '200'];
      const t0 = performance.now();
      policy(text);
      agentMs.push(await until(code, t0));
    }
    const compileMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // a path no object has: the agent compiles; products flips from what it answers now
      const unique = `/bench-${process.pid}-${Date.now()}-${i}`;
      const [text, code] = products() === '200' ? [withPaths(unique), '403'] : [withPaths('/api/v1/products', unique), '200'];
      const t0 = performance.now();
      policy(text);
      compileMs.push(await until(code, t0));
    }

    const cpu = processReader([agent.pid!]);
    const before = cpu();
    await sleep(10_000);
    const idle = (cpu().ns - before.ns) / 10e9;

    const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms  (${xs.map((x) => x.toFixed(0)).join(', ')})`;
    console.log(`rounds: ${ROUNDS}`);
    console.log(`deploy (CLI, CI-built object):      ${fmt(deployMs)}`);
    console.log(`agent  (file write, CI-built):      ${fmt(agentMs)}   ratio ${(median(agentMs) / median(deployMs)).toFixed(2)}x deploy`);
    console.log(`agent  (file write, clang compile): ${fmt(compileMs)}   ratio ${(median(compileMs) / median(deployMs)).toFixed(2)}x deploy`);
    console.log(`agent idle CPU: ${(idle * 100).toFixed(2)}% of one core`);
  } finally {
    agent?.kill('SIGTERM');
    t.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
