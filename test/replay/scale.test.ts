// Replay at any size (issue 15): nothing the replay keeps grows with the capture. Closed
// connections leave tombstones without their verdicts, the summary's tables are bounded and
// independent of row order (so worker threads' parts merge into the single-threaded summary),
// `--expect` counts as rows stream by, and no request row is kept.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { generateTraffic, generatedTrafficPolicy, GENERATED_TRAFFIC_ENDPOINTS } from '../../sim/builder/traffic.ts';
import { readCapture } from '../../sim/capture/read.ts';
import { ReplayEngine } from '../../sim/replay/index.ts';
import type { ConnVerdict } from '../../sim/replay/types.ts';
import { parsePolicies } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import { replayCapture } from '../../src/replay/run.ts';
import { Summary, SUMMARY_ROWS } from '../../src/replay/summary.ts';
import { BottomK, TopCounts } from '../../src/replay/bounded.ts';
import { ExpectTally, UNEXPECTED_KINDS } from '../../src/replay/expect.ts';
import type { RequestRow } from '../../src/replay/records.ts';

const dir = mkdtempSync(join(tmpdir(), 'l7bpf-scale-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// the generator's clients (10.1.x.y, one address per connection) are `world` peers, each its own pair
const policies = parsePolicies(generatedTrafficPolicy(['{method: "GET|POST", path: "/(api/v1/.*|static/.*|healthz|index\\\\.html)"}']), 'scale-policy.yaml').policies;
const inventory = parseInventory(GENERATED_TRAFFIC_ENDPOINTS, 'scale-inv.yaml').inventory;

// about 1,500 short connections, each from its own address, a third of the requests to a path
// of their own (denied: `GET /admin/<n>`)
const capture = join(dir, 'many.pcap');
const gen = generateTraffic(capture, { targetBytes: Infinity, targetPackets: 30_000, concurrency: 16, requestsPerConn: 4, maxResponseBytes: 200, distinctDenied: 0.33, seed: 5 });

test('a replay keeps no request row, and its summary lists a bounded sample of pairs with exact totals', () => {
  assert.ok(gen.connections > SUMMARY_ROWS, `the capture has more pairs (${gen.connections}) than a table lists`);
  const all = replayCapture(capture, { policies, inventory });
  const lean = replayCapture(capture, { policies, inventory, keepRows: false });
  assert.equal(lean.rows.length, 0, 'keepRows: false keeps no row');
  const denied = all.rows.filter((r) => !r.allowed).length;
  assert.ok(denied > 1000, `many denied requests (${denied})`);
  const text = lean.summary.render();
  assert.match(text, new RegExp(`${all.rows.length} request\\(s\\): ${all.rows.length - denied} allowed, ${denied} denied`));
  const connRows = text.slice(0, text.indexOf('\nrequests:')).split('\n').filter((l) => l.startsWith('world ('));
  assert.equal(connRows.length, SUMMARY_ROWS, 'the connections table lists SUMMARY_ROWS pairs');
  const listed = connRows.reduce((n, l) => n + Number(l.split(/\s{2,}/)[1]), 0);
  const rest = Number(/the others: (\d+) connection\(s\)/.exec(text)?.[1]);
  assert.equal(listed + rest, lean.connections, 'listed pairs and the rest add up to every connection');
  assert.equal(text, all.summary.render(), 'keeping rows or not, the same summary');
});

test('shards replayed apart and merged give the single-threaded summary and expectation counts', () => {
  const expect = new Map([['allowed GET /healthz', 1], ['denied GET /admin/3', 1]]);
  const one = replayCapture(capture, { policies, inventory, keepRows: false, expect });
  const merged = new Summary();
  const tally = new ExpectTally(expect);
  for (const index of [1, 0]) {
    const part = replayCapture(capture, { policies, inventory, keepRows: false, expect, shard: { index, count: 2 } });
    merged.merge(part.summary.toData());
    tally.merge(part.expect!.toData());
  }
  assert.equal(merged.render(), one.summary.render());
  assert.deepEqual(tally.differences(), one.expect!.differences());
  const diffs = one.expect!.differences();
  assert.ok(diffs.length <= 2 + UNEXPECTED_KINDS + 1, 'differences are bounded');
  assert.match(diffs.at(-1)!, /more request\(s\) of kinds no expectation names/);
});

test('closed connections keep no verdict: the judge\'s verdicts of closed connections can be collected', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const refs: WeakRef<ConnVerdict>[] = [];
  const judge = {
    connection: () => {
      const v = { allowed: true, inspect: true, text: 'x'.repeat(64) };
      refs.push(new WeakRef(v));
      return v;
    },
    request: () => ({ allowed: true }),
  };
  const engine = new ReplayEngine({ judge });
  for (const rec of readCapture(capture, { view: true })) engine.push(rec);
  // WeakRefs made in this job stay alive until it ends
  await new Promise((r) => setImmediate(r));
  gc();
  const alive = refs.filter((r) => r.deref() !== undefined).length;
  assert.ok(refs.length > 1000);
  assert.ok(alive <= 16, `${alive} of ${refs.length} verdicts still held (16 connections are open at the end)`);
  engine.finish();
});

test('BottomK: any order, any split into parts, the same sample and rest', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `key-${i % 1700}`);
  const build = (ks: readonly string[]) => {
    const t = new BottomK<{ n: number }>(100, { zero: () => ({ n: 0 }), add: (a, b) => { a.n += b.n; } });
    for (const k of ks) t.slot(k).n++;
    return t;
  };
  const sorted = (t: BottomK<{ n: number }>) => JSON.stringify([t.entries().sort(), t.rest, t.folded]);
  const one = build(keys);
  assert.equal(one.entries().length, 100);
  assert.equal(one.entries().reduce((n, [, v]) => n + v.n, 0) + one.rest.n, keys.length);
  const reversed = build([...keys].reverse());
  assert.equal(sorted(reversed), sorted(one));
  const merged = build(keys.filter((_, i) => i % 3 === 0));
  merged.merge(build(keys.filter((_, i) => i % 3 !== 0)).toData());
  assert.equal(sorted(merged), sorted(one));
});

test('TopCounts: bounded per shard, exact below the bound, a heavy key found among many single ones', () => {
  const t = new TopCounts(8);
  for (let i = 0; i < 5; i++) t.add('GET /heavy', 3);
  t.add('GET /once', 3);
  assert.deepEqual(t.top(2), [['GET /heavy', 5], ['GET /once', 1]]);
  assert.equal(t.overflowed, false);
  for (let i = 0; i < 10_000; i++) {
    t.add(`GET /scan/${i}`, 3);
    // space-saving finds every key above total / cap (12,500 / 8 here)
    if (i % 4 === 0) t.add('GET /heavy', 3);
  }
  assert.equal(t.overflowed, true);
  assert.equal(t.toData().shards[3]!.length, 8, 'one shard, at most 8 keys');
  assert.equal(t.top(1)[0]![0], 'GET /heavy');
});

test('ExpectTally: expected kinds exact, unexpected kinds bounded', () => {
  const t = new ExpectTally(new Map([['allowed GET /a', 2]]));
  const row = (line: string, allowed = true): RequestRow => ({ pair: 'p', line, allowed, reason: 'r', rule: '-' });
  t.add(row('GET /a'));
  for (let i = 0; i < UNEXPECTED_KINDS + 50; i++) t.add(row(`GET /u/${i}`, false));
  const d = t.differences();
  assert.ok(d.includes('expected 2 x "allowed GET /a", got 1'));
  assert.equal(d.filter((x) => x.startsWith('expected 0 x')).length, UNEXPECTED_KINDS);
  assert.match(d.at(-1)!, /^and 50 more request\(s\)/);
});
