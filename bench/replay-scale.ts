// `l7bpf replay` at any size (issue 15): generated captures of millions of packets, streamed to
// /tmp, replayed by the bundled CLI in table and jsonpb modes, one thread and the default
// (worker threads from 64 MiB on); per run the wall time, packets/s and peak RSS of the whole
// process (GNU time's maximum resident set: worker threads included). tshark reads the same
// file in the same run, for a ratio (only captures up to --tshark-max packets: tshark takes
// minutes per million packets and grows to gigabytes).
// Usage: npx tsx bench/replay-scale.ts [--packets 2000000,20000000] [--shape short|keepalive]
//        [--modes table,jsonpb] [--workers 1,auto] [--tshark-max 2000000] [--keep]
//   shape short: many short connections (8 requests each, each from its own address, small
//   responses, 1% of requests denied, each to a path of its own): tombstones, pairs, top-k
//   shape keepalive: bench/sim.ts's traffic (64 connections at a time, 100 requests each)
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { generateTraffic, generatedTrafficPolicy, GENERATED_TRAFFIC_ENDPOINTS, type TrafficOptions } from '../sim/builder/traffic.ts';

const { values: flags } = parseArgs({
  options: {
    packets: { type: 'string', default: '2000000,20000000' },
    shape: { type: 'string', default: 'short' },
    modes: { type: 'string', default: 'table,jsonpb' },
    workers: { type: 'string', default: '1,auto' },
    'tshark-max': { type: 'string', default: '2000000' },
    keep: { type: 'boolean', default: false },
  },
});

// the generator's clients (10.1.0.0/16) to its server 10.2.0.1:8080; /admin/<n> is denied
const POLICY = generatedTrafficPolicy([
  '{method: GET, path: "/api/v1/.*", host: "api\\\\.example\\\\.com"}',
  '{method: POST, path: "/api/v1/(users|orders/[0-9]+|search.*)", headers: ["Content-Type: application/json"]}',
  '{method: "GET|POST", path: "/(static/.*|healthz|index\\\\.html)"}',
]);
const INVENTORY = GENERATED_TRAFFIC_ENDPOINTS;
const WORK = '.tmp/bench-scale';
const CLI = join(WORK, 'l7bpf.mjs');

function shape(name: string, packets: number): TrafficOptions {
  if (name === 'keepalive') return { targetBytes: Infinity, targetPackets: packets, seed: 1 };
  return { targetBytes: Infinity, targetPackets: packets, concurrency: 64, requestsPerConn: 8, maxResponseBytes: 300, distinctDenied: 0.01, seed: 3 };
}

interface Run { seconds: number; cpuSeconds: number; rssMB: number; ok: boolean; lines?: number }

/** The whole process under GNU time; stdout to /dev/null (table) or through a pipe (jsonpb). */
function cli(file: string, mode: string, workers: string): Run {
  const w = workers === 'auto' ? '' : ` --workers ${workers}`;
  const base = `node ${CLI} replay ${file} --policy ${WORK}/policy.yaml --endpoints ${WORK}/endpoints.yaml${w}`;
  // jsonpb through a pipe: the writer must not queue what the reader has not taken
  const cmd = mode === 'jsonpb' ? `${base} --output jsonpb | wc -l` : `${base} > /dev/null`;
  return timed(cmd);
}

function timed(cmd: string): Run {
  // CPU time (user + system) as well as wall time: on a loaded machine a second worker finds
  // no idle core, and CPU per packet is what stays comparable between runs
  const r = spawnSync('/usr/bin/time', ['-f', '@@ %e %M %U %S', 'bash', '-o', 'pipefail', '-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const m = /@@ ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/.exec(r.stderr);
  const lines = Number(r.stdout.trim());
  return { seconds: Number(m?.[1] ?? NaN), cpuSeconds: Number(m?.[3] ?? NaN) + Number(m?.[4] ?? NaN), rssMB: Number(m?.[2] ?? NaN) / 1024, ok: r.status === 0, ...(Number.isFinite(lines) && r.stdout.trim() ? { lines } : {}) };
}

function tshark(file: string): Run | null {
  if (spawnSync('tshark', ['-v']).status !== 0) return null;
  return timed(`tshark -r ${file} -Y http.request -T fields -e frame.number | wc -l`);
}

function main(): void {
  mkdirSync(WORK, { recursive: true });
  writeFileSync(join(WORK, 'policy.yaml'), POLICY);
  writeFileSync(join(WORK, 'endpoints.yaml'), INVENTORY);
  const b = spawnSync(process.execPath, ['scripts/build.mjs', CLI], { encoding: 'utf8' });
  if (b.status !== 0) throw new Error(`bundling the CLI failed: ${b.stderr}`);
  if (!existsSync('/usr/bin/time')) throw new Error('needs GNU time (/usr/bin/time) for peak RSS: apt-get install time');
  const sizes = flags.packets!.split(',').map(Number);
  for (const packets of sizes) {
    const file = `/tmp/l7bpf-scale-${flags.shape}-${packets}.pcap`;
    let t = Date.now();
    const gen = existsSync(file) && flags.keep ? null : generateTraffic(file, shape(flags.shape!, packets));
    const mb = statSync(file).size / 1e6;
    console.log(`\n${flags.shape} capture ${file}: ${mb.toFixed(0)} MB, ${gen ? `${gen.packets} packets, ${gen.requests} requests, ${gen.connections} connections (generated in ${((Date.now() - t) / 1000).toFixed(0)} s)` : 'kept from an earlier run'}`);
    const ts = packets <= Number(flags['tshark-max']) ? tshark(file) : null;
    if (ts) console.log(`tshark -r FILE -Y http.request: ${ts.seconds.toFixed(1)} s, ${(packets / ts.seconds / 1e6).toFixed(3)} M packets/s, CPU ${ts.cpuSeconds.toFixed(1)} s, peak RSS ${ts.rssMB.toFixed(0)} MB (${ts.lines} requests)`);
    else console.log(`tshark: not run (${packets} packets > --tshark-max ${flags['tshark-max']}, or not installed)`);
    for (const mode of flags.modes!.split(',')) {
      for (const workers of flags.workers!.split(',')) {
        t = Date.now();
        const r = cli(file, mode, workers);
        const pps = packets / r.seconds;
        const ratio = ts ? `, ${(ts.seconds / r.seconds).toFixed(1)}x tshark` : '';
        console.log(`l7bpf replay ${mode.padEnd(6)} workers ${workers.padEnd(4)}: ${r.seconds.toFixed(1)} s, ${(pps / 1e6).toFixed(3)} M packets/s, CPU ${r.cpuSeconds.toFixed(1)} s (${(r.cpuSeconds / packets * 1e6).toFixed(1)} us/packet), peak RSS ${r.rssMB.toFixed(0)} MB${ratio}${r.lines !== undefined ? ` (${r.lines} lines)` : ''}${r.ok ? '' : ' (FAILED)'}`);
      }
    }
    if (!flags.keep) rmSync(file, { force: true });
  }
}

main();
