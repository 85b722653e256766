// FlowHub (src/hubble/hub.ts): the in-memory ring over the on-disk history. What a reader gets
// never depends on where it came from: the ring's answers equal the history's (readHistory),
// for cursors inside the ring, older than it, across segment rotations.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { History, START, type Cursor } from '../../src/observe/history.ts';
import { readHistory, type FlowQuery } from '../../src/observe/query.ts';
import { buildFilter } from '../../src/observe/filters.ts';
import { FlowHub } from '../../src/hubble/hub.ts';
import { NAMESPACE_TTL_MS, NamespaceTracker } from '../../src/hubble/namespaces.ts';
import { sampleEntries } from './fixtures.ts';

describe('FlowHub', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-hub-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** the history with its scans counted: a read served from memory scans nothing */
  const counted = (budget = 1 << 20) => {
    const h = new History(join(dir, 'h'), budget);
    const scan = h.scan.bind(h);
    const n = { scans: 0 };
    h.scan = (c, v) => (n.scans++, scan(c, v));
    return { h, n };
  };
  const lines = (read: (emit: (s: { line: string }) => void) => Cursor) => {
    const out: string[] = [];
    const end = read((s) => out.push(s.line));
    return { out, end };
  };

  it('keeps the last entries in memory with their cursors; older cursors read the disk', () => {
    const { h, n } = counted();
    const hub = new FlowHub(h, 5);
    const entries = sampleEntries(12);
    const cursors: Cursor[] = [];
    for (const e of entries) {
      hub.append([e]);
      cursors.push(hub.end());
    }
    const q: FlowQuery = { match: buildFilter({ verdict: ['FORWARDED', 'AUDIT'] }) };
    for (const [i, from] of [START, ...cursors].entries()) {
      n.scans = 0;
      const got = lines((emit) => hub.read(from, q, emit));
      const fromDisk = n.scans > 0;
      const want = lines((emit) => readHistory(h, from, q, emit));
      assert.deepEqual(got.out, want.out, `from entry ${i}`);
      assert.deepEqual(got.end, want.end);
      // the ring holds entries 7..11: cursors after entry 6 on are served from memory
      assert.equal(fromDisk, i < 7, `entry ${i}: ${i < 7 ? 'disk' : 'memory'}`);
    }
  });

  it('the last N come from memory when the ring holds N selected flows, else from the disk', () => {
    const { h, n } = counted();
    const hub = new FlowHub(h, 4);
    hub.append(sampleEntries(20));
    for (const last of [0, 1, 3, 4, 9, 40]) {
      n.scans = 0;
      const got = lines((emit) => hub.readLast(last, {}, emit));
      const fromDisk = n.scans > 0;
      const want = lines((emit) => readHistory(h, START, { last }, emit));
      assert.deepEqual(got.out, want.out, `last ${last}`);
      const ringFlows = hub.stats().ringFlows;
      assert.equal(fromDisk, last > ringFlows, `last ${last} of a ring of ${ringFlows} flows`);
    }
  });

  it('a hub over an empty history holds all of it until the ring overflows: no disk reads', () => {
    const { h, n } = counted();
    const hub = new FlowHub(h, 50);
    hub.append(sampleEntries(10));
    n.scans = 0;
    const all = lines((emit) => hub.read(START, {}, emit));
    assert.equal(all.out.length, hub.stats().ringFlows);
    assert.equal(lines((emit) => hub.readLast(1000, {}, emit)).out.length, all.out.length);
    assert.equal(n.scans, 0);
  });

  it('rotation: segments come and go; cursors stay ordered, the ring outlives pruned segments', () => {
    // entries of about 1 KiB, segments of 1 KiB: a segment per entry, 4 kept on disk
    const { h } = counted(4096);
    const hub = new FlowHub(h, 6);
    const entries = sampleEntries(16);
    const cursors: Cursor[] = [];
    for (const e of entries) {
      hub.append([e]);
      cursors.push(hub.end());
    }
    assert.ok(cursors.at(-1)!.seq > 8, `segments rotated (${JSON.stringify(cursors.at(-1))})`);
    for (let i = 1; i < cursors.length; i++) assert.ok(cursors[i]!.seq > cursors[i - 1]!.seq || cursors[i]!.offset > cursors[i - 1]!.offset);
    // after entry 10: the ring (entries 10..15) answers, though the disk lost entry 11's segment
    const fromRing = lines((emit) => hub.read(cursors[10]!, {}, emit)).out;
    assert.deepEqual(fromRing, entries.slice(11).flatMap((e) => e.flows));
    const onDisk = lines((emit) => readHistory(h, START, {}, emit)).out;
    assert.ok(onDisk.length < fromRing.length, 'the disk kept less than the ring');
    // older than the ring: the disk, as observe reads it
    assert.deepEqual(lines((emit) => hub.read(cursors[2]!, {}, emit)).out, lines((emit) => readHistory(h, cursors[2]!, {}, emit)).out);
  });

  it('waitAfter: wakes on an append, on abort, and at once when there is news', async () => {
    const hub = new FlowHub(new History(join(dir, 'h'), 1 << 20), 10);
    const at = hub.end();
    const woken = hub.waitAfter(at, new AbortController().signal);
    setImmediate(() => hub.append(sampleEntries(1)));
    await woken;
    assert.notDeepEqual(hub.end(), at);
    await hub.waitAfter(at, new AbortController().signal); // already newer
    const abort = new AbortController();
    const waiting = hub.waitAfter(hub.end(), abort.signal);
    abort.abort();
    await waiting;
  });

  it('counts seen flows and the ring for ServerStatus', () => {
    const hub = new FlowHub(new History(join(dir, 'h'), 1 << 20), 3);
    const entries = sampleEntries(5);
    hub.append(entries);
    const s = hub.stats();
    assert.equal(s.seenFlows, entries.reduce((n, e) => n + e.flows.length, 0));
    assert.equal(s.ringFlows, entries.slice(-3).reduce((n, e) => n + e.flows.length, 0));
    assert.equal(s.ringCapacity, 3);
  });

  it('notes the flows\' namespaces for GetNamespaces, each kept for an hour after its last flow, sorted', () => {
    let now = 1_000_000;
    const t = new NamespaceTracker(() => now);
    const flow = (src: string, dst?: string) => JSON.stringify({ flow: { source: { namespace: src }, ...(dst ? { destination: { namespace: dst } } : {}) } });
    t.note({ t: '1', flows: [flow('shop', 'default'), flow('', 'kube-system'), 'not json'] });
    assert.deepEqual(t.list().map((n) => n.namespace), ['default', 'kube-system', 'shop']);
    assert.ok(t.list().every((n) => n.cluster === ''), 'no cluster name, as Hubble with the default one');
    now += NAMESPACE_TTL_MS / 2;
    t.note({ t: '2', flows: [flow('shop')] });
    now += NAMESPACE_TTL_MS / 2 + 1;
    assert.deepEqual(t.list().map((n) => n.namespace), ['shop'], 'the others\' last flow is more than an hour old');
  });
});
