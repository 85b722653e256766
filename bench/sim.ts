// Simulator throughput: replay a generated ~100 MB HTTP/1.1 capture with a trivial judge and
// compare with `tshark -r FILE -Y http.request` on the same file in the same run.
// Usage: npx tsx bench/sim.ts [sizeMB=100]   (internal: --replay FILE prints JSON)
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readCapture } from '../sim/capture/read.ts';
import { replaySync } from '../sim/replay/index.ts';
import { generateTraffic } from '../sim/builder/traffic.ts';

interface ReplayResult { packets: number; requests: number; seconds: number; maxRssMB: number; errors: number }

function replayFile(file: string): ReplayResult {
  let errors = 0;
  const t0 = process.hrtime.bigint();
  const s = replaySync(readCapture(file, { view: true, onError: () => errors++ }), {
    judge: { connection: () => ({ allowed: true, inspect: true }), request: () => ({ allowed: true }) },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { packets: s.packets, requests: s.requests, seconds, maxRssMB: process.resourceUsage().maxRSS / 1024, errors };
}

/** Replays in a fresh process so its peak RSS is the replay's alone. */
function replayChild(file: string): ReplayResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--replay', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`replay child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ReplayResult;
}

function tshark(file: string): { requests: number; seconds: number } | null {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('tshark', ['-r', file, '-Y', 'http.request', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) return null;
  return { requests: r.stdout.split('\n').filter(Boolean).length, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

function main(): void {
  if (process.argv[2] === '--replay') {
    console.log(JSON.stringify(replayFile(process.argv[3]!)));
    return;
  }
  const sizeMB = Number(process.argv[2] ?? 100);
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-bench-'));
  try {
    const small = join(dir, 'small.pcap');
    const big = join(dir, 'big.pcap');
    let t = Date.now();
    generateTraffic(small, { targetBytes: Math.max(1, sizeMB / 10) * 1e6, seed: 2 });
    const gen = generateTraffic(big, { targetBytes: sizeMB * 1e6, seed: 1 });
    console.log(`generated ${(statSync(big).size / 1e6).toFixed(1)} MB: ${gen.packets} packets, ${gen.requests} requests, ${gen.connections} connections (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    const rs = replayChild(small);
    const r = replayChild(big);
    if (r.requests !== gen.requests) console.log(`WARNING: replay found ${r.requests} requests, generated ${gen.requests}`);
    const pps = r.packets / r.seconds;
    console.log(`l7bpf replay : ${r.seconds.toFixed(2)} s, ${(pps / 1e6).toFixed(2)} M packets/s, ${Math.round(r.requests / r.seconds)} requests/s, peak RSS ${r.maxRssMB.toFixed(0)} MB (${(sizeMB / 10).toFixed(0)} MB capture: ${rs.maxRssMB.toFixed(0)} MB)`);
    t = Date.now();
    const ts = tshark(big);
    if (!ts) console.log('tshark  : not available');
    else {
      console.log(`tshark -Y http.request: ${ts.seconds.toFixed(2)} s, ${Math.round(ts.requests / ts.seconds)} requests/s (${ts.requests} requests)`);
      console.log(`ratio: l7bpf replay is ${(ts.seconds / r.seconds).toFixed(1)}x faster than tshark`);
    }
    console.log(`targets: >= 1.00 M packets/s ${pps >= 1e6 ? 'met' : 'NOT met'}; peak RSS < 200 MB ${r.maxRssMB < 200 ? 'met' : 'NOT met'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
