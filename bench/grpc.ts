// CPU per gRPC call: l7bpf's kernel programs (bpf_stats) judging the calls, against nghttpx
// (Debian nghttp2-proxy) proxying the same calls as an HTTP/2 proxy, in the same run on the
// e2e veth topology. h2load (Debian nghttp2-client) in the client pod calls
// demo.v1.UserService/GetUsers on a @grpc/grpc-js server (test/e2e/fixtures/grpc-server.mjs):
//   later calls: one connection, CALLS calls, 10 in flight (after the first, the client's
//     fields are dynamic-table hits);
//   first calls: connections of one call each (handshake, preface, SETTINGS, literals).
// Kernel CPU: run_time_ns of every program on the node's veths over the run (bpf_stats on
// during it); nghttpx: utime+stime of its one process. Each divided by the calls h2load
// completed. Ratios per round, then the median over ROUNDS. Root only:
//   sudo npx tsx bench/grpc.ts   (L7BPF_BENCH_ROUNDS, L7BPF_BENCH_CALLS)
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, FIXTURES, inventoryYaml, run, Topology, waitForLine } from '../test/helpers/netns.ts';
import { enableBpfStats, hasBpftool, kernelReader, perRequest, processReader, type PerRequest, type Reader } from './cpu.ts';

const ROUNDS = Number(process.env.L7BPF_BENCH_ROUNDS ?? 3);
const CALLS = Number(process.env.L7BPF_BENCH_CALLS ?? 20000);
const FIRST = 2000;
const TARGET_VS_PROXY = 20;
const URL_DIRECT = 'http://10.0.0.2:9090/demo.v1.UserService/GetUsers';
const URL_PROXY = 'http://10.0.0.2:9091/demo.v1.UserService/GetUsers';

interface Load {
  readonly name: string;
  readonly args: readonly string[];
}

const LOADS: readonly Load[] = [
  { name: 'later calls (1 connection, 10 in flight)', args: ['-c1', '-m10', `-n${CALLS}`] },
  { name: 'first calls (1 call per connection)', args: ['-c50', '-m1', `-n${FIRST}`, '--max-concurrent-streams=1'] },
];

/** h2load from the client pod; returns the calls that succeeded. */
function h2load(t: Topology, dir: string, url: string, load: Load): number {
  const args = ['netns', 'exec', t.pod('client').netns, 'h2load', ...load.args, '-d', join(dir, 'call.bin'),
    '-H', 'content-type: application/grpc', '-H', 'te: trailers', url];
  const out = run('ip', args);
  const ok = Number(/requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded/.exec(out)?.[1] ?? NaN);
  if (!(ok > 0)) throw new Error(`bench/grpc: h2load completed no call:\n${out}`);
  return ok;
}

function measure(t: Topology, dir: string, url: string, load: Load, read: Reader): PerRequest {
  const before = read();
  const calls = h2load(t, dir, url, load);
  return perRequest(before, read(), calls);
}

function drain(child: ChildProcess): void {
  child.stdout?.resume();
  child.stderr?.resume();
}

async function main(): Promise<void> {
  const skip = e2eSkip();
  if (skip) throw new Error(`bench/grpc: ${skip}`);
  for (const tool of ['h2load', 'nghttpx']) if (spawnSync(tool, ['--version']).status !== 0) throw new Error(`bench/grpc: ${tool} not found (Debian nghttp2-client, nghttp2-proxy)`);
  if (!hasBpftool()) throw new Error('bench/grpc: bpftool not found (Debian bpftool)');
  const t = Topology.create([{ name: 'client', v4: '10.0.0.1' }, { name: 'server', v4: '10.0.0.2' }]);
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-grpc-'));
  const restore = enableBpfStats();
  try {
    // a gRPC message: not compressed, 0 bytes (an empty UsersRequest)
    writeFileSync(join(dir, 'call.bin'), Uint8Array.from([0, 0, 0, 0, 0]));
    writeFileSync(join(dir, 'policy.yaml'), `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: bench-grpc, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "9090", protocol: TCP}]
          rules:
            grpc: [{service: demo.v1.UserService, method: GetUsers}]
        - ports: [{port: "9091", protocol: TCP}]
`);
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { client: { app: 'client' }, server: { app: 'server' } }));
    await compilePolicies([join(dir, 'policy.yaml')], join(dir, 'obj'));
    const server = t.spawnIn(t.pod('server').netns, process.execPath, [join(FIXTURES, 'grpc-server.mjs'), '9090', '8080']);
    await waitForLine(server, 'ready', 15_000);
    drain(server);
    const proxy = t.spawnIn(t.pod('server').netns, 'nghttpx', ['--single-process', '--workers=1', '-f0.0.0.0,9091;no-tls', '-b127.0.0.1,9090;;proto=h2',
      '--accesslog-file=/dev/null', '--errorlog-file=/dev/null', '--no-ocsp', `--pid-file=${join(dir, 'nghttpx.pid')}`]);
    drain(proxy);
    await new Promise((r) => setTimeout(r, 1000));
    t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'bench-grpc']);
    const kernel = kernelReader(t);
    const nghttpx = processReader([proxy.pid!]);
    // warm up both paths (JIT of the server, connections of nghttpx to it)
    h2load(t, dir, URL_DIRECT, LOADS[0]!);
    h2load(t, dir, URL_PROXY, LOADS[0]!);
    for (const load of LOADS) {
      const rounds: { k: number; p: number; runs: number; byName: string }[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const k = measure(t, dir, URL_DIRECT, load, kernel);
        const p = measure(t, dir, URL_PROXY, load, nghttpx);
        const byName = Object.entries(k.byName ?? {}).map(([n, v]) => `${n} ${v.runs.toFixed(1)} runs x ${(v.ns / v.runs).toFixed(0)} ns`).join(', ');
        rounds.push({ k: k.ns, p: p.ns, runs: k.runs, byName });
      }
      const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      const k = mid(rounds.map((r) => r.k));
      const p = mid(rounds.map((r) => r.p));
      const ratio = mid(rounds.map((r) => r.p / r.k));
      console.log(`${load.name}: l7bpf kernel ${(k / 1000).toFixed(2)} us/call, nghttpx ${(p / 1000).toFixed(2)} us/call: ${ratio.toFixed(1)}x less CPU per call (target ${TARGET_VS_PROXY}x: ${ratio >= TARGET_VS_PROXY ? 'met' : 'NOT met'}); rounds ${rounds.map((r) => `${(r.k / 1000).toFixed(2)}/${(r.p / 1000).toFixed(2)}`).join(' ')}`);
      console.log(`  kernel per call (last round): ${rounds.at(-1)!.byName}`);
    }
  } finally {
    restore();
    t.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
