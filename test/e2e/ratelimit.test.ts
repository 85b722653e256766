// Rate limits end to end (issue 14): the object `l7bpf deploy` attaches, real clients in network
// namespaces, a logging Node server. The backend admits frontend pods' GET /api/... at 1000
// requests a second per source identity (burst 20) and GET /other/... without a limit. Client A
// (app=frontend, team=a) runs wrk paced at three times the limit on keep-alive connections;
// client B (team=b: another identity, its own bucket) sends a modest stream at the same time.
// Enforce mode: A is admitted at the limit (measured against wrk's own duration), the rest get
// the kernel's 429 (Retry-After: 1, x-l7bpf-ratelimited: true) and never reach the server, B
// gets 200 every time, and `status` counts what the clients saw limited. Shadow mode (deployed
// over it under the same name): the same load all passes, and `status` counts as over the
// limit what enforce mode limited.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compilePolicies, e2eSkip, inventoryYaml, lastJsonLine, Topology, waitForLine } from '../helpers/netns.ts';
import type { DeploymentStatus } from '../../src/deploy/status.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping e2e rate limits: ${skip}`);

const FIXTURES = join(import.meta.dirname, 'fixtures');
const POLICY = join(FIXTURES, 'ratelimit-policy.yaml');
const NAME = 'ratelimit';
const URL = 'http://10.0.0.3:8080';
/** the policy's limit */
const RATE = 1000;
const BURST = 20;
/** wrk: one thread, CONNS keep-alive connections paced together at OFFERED requests a second */
const CONNS = 8;
const OFFERED = 3 * RATE;
const SECONDS = 4;
/** client B: requests on its own keep-alive connection, GAP_MS apart, while A's load runs */
const B_REQUESTS = 100;
const B_GAP_MS = 30;
/** a drained bucket is full again after burst intervals: a pause in A's load longer than that loses tokens */
const STALL_MS = (BURST * 1000) / RATE;

interface Wrk {
  durationUs: number;
  /** from wrk's first request to its last, and the part of the pauses between requests beyond
   * STALL_MS (fixtures/ratelimit-wrk.lua): tokens no client could have had */
  spanMs: number;
  stalledMs: number;
  /** responses wrk read, and requests it wrote (the difference: in flight at the end, or reset) */
  requests: number;
  sent: number;
  ok: number;
  limited: number;
  other: number;
  retryAfter: string;
  limitedHeader: string;
  limitedBody: boolean;
  connect: number;
  read: number;
  write: number;
  timeout: number;
}
interface FetchRes { status?: number; error?: string }
interface Curl { path: string; status: number; headers: string }

describe('e2e: rate limits (429 from the kernel, per source identity; shadow mode)', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  /** every request the server read, `METHOD URL` */
  const log = () => readFileSync(join(dir, 'backend.log'), 'utf8').split('\n').filter(Boolean);

  before(async () => {
    t = Topology.create([
      { name: 'clienta', v4: '10.0.0.1' },
      { name: 'clientb', v4: '10.0.0.2' },
      { name: 'backend', v4: '10.0.0.3' },
    ]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-ratelimit-'));
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, {
      clienta: { app: 'frontend', team: 'a' }, clientb: { app: 'frontend', team: 'b' }, backend: { app: 'backend' },
    }));
    writeFileSync(join(dir, 'backend.log'), '');
    const text = readFileSync(POLICY, 'utf8');
    assert.match(text, /mode: enforce/);
    writeFileSync(join(dir, 'shadow.yaml'), text.replace('mode: enforce', 'mode: shadow'));
    // another policy revision whose limited rule is unchanged (only the rule without a limit moves)
    assert.match(text, /\/other\/\.\*/);
    writeFileSync(join(dir, 'other.yaml'), text.replace('/other/.*', '/other/v2/.*'));
    await compilePolicies([join(dir, 'other.yaml')], join(dir, 'other'));
    await compilePolicies([POLICY], join(dir, 'enforce'));
    await compilePolicies([join(dir, 'shadow.yaml')], join(dir, 'shadow'));
    const server = t.spawnIn(t.pod('backend').netns, process.execPath, [join(FIXTURES, 'logging-server.mjs'), '8080', join(dir, 'backend.log')]);
    await waitForLine(server, 'ready', 10_000);
  });

  after(() => {
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const deploy = (obj: string) => t.cli(['deploy', join(dir, obj), '--endpoints', join(dir, 'inventory.yaml'), '--name', NAME]).stdout;

  function status(): DeploymentStatus {
    const list = JSON.parse(t.cli(['status', '--name', NAME, '--output', 'json']).stdout) as DeploymentStatus[];
    assert.equal(list.length, 1);
    return list[0]!;
  }

  /** A command in a pod, without blocking the event loop (the clients run side by side). */
  function runIn(pod: string, cmd: string, args: readonly string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', t.pod(pod).netns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** wrk in client A: OFFERED requests a second for SECONDS on CONNS connections, paths `${prefix}N`. */
  async function wrk(prefix: string): Promise<Wrk> {
    const r = await runIn('clienta', 'wrk', ['-t1', `-c${CONNS}`, `-d${SECONDS}s`, '-s', join(FIXTURES, 'ratelimit-wrk.lua'), `${URL}/`, '--', String(OFFERED), prefix, String(STALL_MS)], 30_000);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Wrk;
  }

  /** Client B: B_REQUESTS to /api/x on undici's keep-alive pool, B_GAP_MS apart. */
  function clientB(tag: string): Promise<FetchRes[]> {
    const urls = Array.from({ length: B_REQUESTS }, (_, i) => `${URL}/api/x?${tag}=${i}`);
    const child = t.spawnIn(t.pod('clientb').netns, process.execPath, [join(FIXTURES, 'fetch-client.mjs'), JSON.stringify({ urls, gapMs: B_GAP_MS })]);
    return lastJsonLine<FetchRes[]>(child, 30_000);
  }

  /** curl in client A: the paths one after another on one connection; status and headers of each. */
  async function curlA(paths: readonly string[]): Promise<Curl[]> {
    const r = await runIn('clienta', 'curl', ['-s', '-m', '5', '-D', '-', ...paths.flatMap((p) => ['-o', '/dev/null', `${URL}${p}`])], 10_000);
    assert.equal(r.code, 0, `curl exit ${r.code}: ${r.stderr}`);
    const heads = r.stdout.split('\r\n\r\n').filter((h) => h.startsWith('HTTP/'));
    assert.equal(heads.length, paths.length, r.stdout);
    return heads.map((h, i) => ({ path: paths[i]!, status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(h)?.[1]), headers: h }));
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const fmt = (w: Wrk, s: number) =>
    `${w.sent} requests sent, ${w.requests} answered in ${s.toFixed(3)} s (${(w.sent / s).toFixed(0)}/s offered; first to last request ${(w.spanMs / 1000).toFixed(3)} s, ${w.stalledMs.toFixed(1)} ms of it stalled): ${w.ok} x 200, ${w.limited} x 429, ${w.other} other; socket errors connect ${w.connect} read ${w.read} write ${w.write} timeout ${w.timeout}`;
  /** seconds A's load kept its bucket drained: first to last request, stalls taken off */
  const active = (w: Wrk) => (w.spanMs - w.stalledMs) / 1000;

  let enforce: { wrk: Wrk; seconds: number; curl: Curl[]; b: FetchRes[] } | undefined;

  it(`enforce: A at ${OFFERED}/s is admitted at ${RATE}/s, the rest get 429 and never reach the server; B (another identity) gets 200 every time`, async () => {
    assert.match(deploy('enforce'), /denials: answered/);
    const st0 = status();
    assert.equal(st0.rateLimits.length, 1, JSON.stringify(st0.rateLimits));
    assert.deepEqual([st0.rateLimits[0]!.limit.requestsPerSecond, st0.rateLimits[0]!.limit.burst, st0.rateLimits[0]!.limit.per, st0.rateLimits[0]!.limit.mode], [RATE, BURST, 'source', 'enforce']);
    assert.deepEqual([st0.rateLimits[0]!.limited, st0.rateLimits[0]!.shadow], [0, 0]);

    const before = log().length;
    const b = clientB('b');
    const w = wrk('/api/x?a=');
    // halfway through A's load, curl from A too (A's bucket): /api/ requests get 429 or 200,
    // the rule without a limit (/other/) admits every one
    await sleep(1500);
    const curl = await curlA(Array.from({ length: 20 }, (_, i) => (i % 2 ? `/other/y?c=${i}` : `/api/x?c=${i}`)));
    const [wr, br] = await Promise.all([w, b]);
    const seconds = wr.durationUs / 1e6;
    enforce = { wrk: wr, seconds, curl, b: br };

    const curlApi = curl.filter((c) => c.path.startsWith('/api/'));
    const curlOk = curlApi.filter((c) => c.status === 200).length;
    const curl429 = curlApi.filter((c) => c.status === 429);
    // A's bucket admitted wrk's 200s and curl's: burst + RATE a second while the load ran
    const admitted = wr.ok + curlOk;
    const rate = (admitted - BURST) / active(wr);
    console.log(`# enforce, A (wrk, ${CONNS} connections): ${fmt(wr, seconds)}`);
    console.log(`# enforce, A (curl, during the load): /api/ ${curlOk} x 200, ${curl429.length} x 429; /other/ ${curl.filter((c) => c.path.startsWith('/other/')).map((c) => c.status).join(' ')}`);
    console.log(`# enforce, A admitted ${admitted} = burst ${BURST} + ${rate.toFixed(1)}/s over ${active(wr).toFixed(3)} s without stalls (${((admitted - BURST) / seconds).toFixed(1)}/s over wrk's ${seconds.toFixed(3)} s; limit ${RATE}/s)`);
    console.log(`# enforce, B: ${br.filter((r) => r.status === 200).length} of ${br.length} x 200 (${[...new Set(br.map((r) => r.status ?? r.error))].join(', ')})`);

    assert.ok(wr.sent / seconds > 2 * RATE, `wrk offered ${(wr.sent / seconds).toFixed(0)}/s: not enough over the limit to measure it`);
    assert.ok(Math.abs(rate - RATE) <= 0.05 * RATE, `admitted ${rate.toFixed(1)}/s (${admitted} in ${active(wr).toFixed(3)} s, burst ${BURST} taken off), want ${RATE}/s within 5%`);
    // never more than the limit allows over all of wrk's run
    assert.ok(admitted <= RATE * seconds + BURST + 2, `admitted ${admitted} > ${RATE} x ${seconds.toFixed(3)} s + burst ${BURST}`);
    // the rest: 429 from the kernel on the same connections (stage 3), not resets
    assert.equal(wr.other, 0, JSON.stringify(wr));
    assert.deepEqual([wr.connect, wr.read, wr.write, wr.timeout], [0, 0, 0, 0], `socket errors: ${JSON.stringify(wr)}`);
    assert.ok(wr.limited >= wr.sent - wr.ok - CONNS, `${wr.sent} sent, ${wr.ok} admitted, ${wr.limited} answered 429 (${CONNS} may be in flight at the end)`);
    assert.equal(wr.requests, wr.ok + wr.limited);
    // the answer
    assert.deepEqual([wr.retryAfter, wr.limitedHeader, wr.limitedBody], ['1', 'true', true], JSON.stringify(wr));
    assert.ok(curl429.length > 0, `curl from A during the load: ${curlApi.map((c) => c.status).join(' ')}`);
    for (const c of curl429) {
      assert.match(c.headers, /^HTTP\/1\.1 429 Too Many Requests\r\n/);
      assert.match(c.headers, /\r\nRetry-After: 1(\r\n|$)/);
      assert.match(c.headers, /\r\nx-l7bpf-ratelimited: true(\r\n|$)/);
      assert.doesNotMatch(c.headers, /\r\nConnection:/i, 'keep-alive 429 (stage 3)');
    }
    assert.deepEqual(curl.filter((c) => c.path.startsWith('/other/')).map((c) => c.status), Array(10).fill(200), 'the rule without a limit admits A while its bucket is empty');
    // B: its own bucket
    assert.equal(br.length, B_REQUESTS);
    assert.deepEqual(br.filter((r) => r.status !== 200), [], 'client B (another identity) limited');
    // the server read A's admitted requests only (wrk stops with up to CONNS in flight)
    const lines = log().slice(before);
    const readA = lines.filter((l) => l.startsWith('GET /api/x?a=')).length;
    console.log(`# enforce, the server read ${readA} of A's wrk requests, ${lines.filter((l) => l.startsWith('GET /api/x?b=')).length} of B's`);
    assert.ok(readA >= wr.ok && readA <= wr.ok + CONNS, `the server read ${readA} of A's wrk requests; wrk counted ${wr.ok} x 200`);
    assert.equal(lines.filter((l) => /^GET \/api\/x\?c=/.test(l)).length, curlOk, "the server read curl's admitted /api/ requests only");
    assert.equal(lines.filter((l) => l.startsWith('GET /api/x?b=')).length, B_REQUESTS);
  });

  it('status after the load: rateLimits[0].limited is the number of 429s the clients saw', () => {
    assert.ok(enforce, 'the enforce load ran');
    const r = status().rateLimits[0]!;
    const seen = enforce.wrk.limited + enforce.curl.filter((c) => c.path.startsWith('/api/') && c.status === 429).length;
    console.log(`# status: limited ${r.limited}, shadow ${r.shadow}; the clients saw ${seen} x 429; ${r.buckets} buckets: ${r.emptiest.map((b) => `${b.subject} ${b.tokens} tokens`).join(', ')}`);
    // wrk stops with up to CONNS requests in flight: the kernel may have answered those too
    assert.ok(r.limited >= seen && r.limited <= seen + Math.max(CONNS, Math.ceil(0.02 * seen)), `status says ${r.limited} limited, the clients saw ${seen} x 429`);
    assert.equal(r.shadow, 0);
    assert.equal(r.buckets, 2, 'one bucket per source identity: A and B');
  });

  it('a deploy that changes another rule keeps the limited rule\'s buckets (same id, the map reused)', () => {
    const r0 = status().rateLimits[0]!;
    deploy('other');
    const r1 = status().rateLimits[0]!;
    assert.equal(r1.limit.id, r0.limit.id);
    assert.equal(r1.buckets, 2, 'A\'s and B\'s buckets are still there');
    assert.equal(r1.limited, 0, 'counters are per revision');
  });

  it('shadow (deployed over it, same name): the same load all passes, and status reports what enforce would have limited', async () => {
    deploy('shadow');
    const st0 = status();
    assert.equal(st0.rateLimits[0]!.limit.mode, 'shadow');
    // the counters are the new revision's
    assert.deepEqual([st0.rateLimits[0]!.limited, st0.rateLimits[0]!.shadow], [0, 0]);

    const before = log().length;
    const [wr, br] = await Promise.all([wrk('/api/x?s='), clientB('bs')]);
    const seconds = wr.durationUs / 1e6;
    const r = status().rateLimits[0]!;
    // what enforce mode would have limited: every request A's bucket had no token for
    const over = wr.requests - RATE * active(wr) - BURST;
    console.log(`# shadow, A (wrk): ${fmt(wr, seconds)}`);
    console.log(`# shadow, status: shadow ${r.shadow}, limited ${r.limited}; requests - ${RATE}/s x ${active(wr).toFixed(3)} s - burst ${BURST} = ${over.toFixed(0)} (${((r.shadow / over - 1) * 100).toFixed(2)}%)`);
    console.log(`# shadow, B: ${br.filter((x) => x.status === 200).length} of ${br.length} x 200`);

    assert.ok(wr.sent / seconds > 2 * RATE, `wrk offered ${(wr.sent / seconds).toFixed(0)}/s`);
    assert.deepEqual([wr.limited, wr.other, wr.connect, wr.read, wr.write, wr.timeout], [0, 0, 0, 0, 0, 0], JSON.stringify(wr));
    assert.equal(wr.ok, wr.requests);
    assert.deepEqual(br.filter((x) => x.status !== 200), [], 'client B');
    assert.equal(r.limited, 0);
    assert.ok(Math.abs(r.shadow - over) <= 0.05 * over, `status shadow ${r.shadow}, want ${over.toFixed(0)} within 5%`);
    const readA = log().slice(before).filter((l) => l.startsWith('GET /api/x?s=')).length;
    assert.ok(readA >= wr.ok && readA <= wr.ok + CONNS, `the server read ${readA} of A's requests; wrk counted ${wr.ok} x 200`);
  });
});
