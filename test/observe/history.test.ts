// The observe history (src/observe): append and read back verbatim, rotation within the
// budget, a torn last write, several readers, the drain lock and the drainer. No root.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { History, START, historyDir, removeHistory, type HistoryEntry } from '../../src/observe/history.ts';
import { tryLock, isStale, type LockEnv } from '../../src/observe/lock.ts';
import { Drainer, lockPathOf, type EventSource } from '../../src/observe/drain.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'l7bpf-history-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** An entry whose one flow line is `n` padded to about `size` bytes. */
const entry = (n: number, size = 100): HistoryEntry => ({ t: String(1_000_000_000n * BigInt(n)), flows: [JSON.stringify({ flow: { n, pad: 'x'.repeat(Math.max(0, size - 60)) } })], row: { kind: 'request', n } });
const numbers = (h: History, from = START): number[] => {
  const out: number[] = [];
  h.scan(from, (e) => out.push(JSON.parse(e.flows[0]!).flow.n));
  return out;
};
const collectWarnings = () => {
  const warnings: string[] = [];
  return { warnings, warn: (m: string) => warnings.push(m) };
};

describe('history: append and read', () => {
  it('gives back every entry in order, flow lines byte for byte, rows as written', () => {
    const h = new History(historyDir(dir, 'd'), 1 << 20);
    const odd = { t: '1764853301123456789', flows: ['{"flow":{"time":"2026-12-04T13:01:41.123456789Z","Summary":"\\u00e9 \\"q\\""},"node_name":"n"}', '{"flow":{}}'], row: { kind: 'drop', allowed: false } };
    h.append([entry(1), odd]);
    h.append([entry(2)]);
    const seen: HistoryEntry[] = [];
    h.scan(START, (e) => seen.push(e));
    assert.deepEqual(seen, [entry(1), odd, entry(2)]);
  });

  it('an empty or absent history reads as nothing; removeHistory deletes it', () => {
    const h = new History(historyDir(dir, 'none'), 1 << 20);
    assert.deepEqual(numbers(h), []);
    assert.deepEqual(h.stats(), { entries: 0, bytes: 0, budget: 1 << 20, segments: 0 });
    h.append([entry(1)]);
    removeHistory(h.dir);
    assert.equal(existsSync(h.dir), false);
  });

  it('status numbers: entries, bytes, budget, oldest and newest times', () => {
    const h = new History(historyDir(dir, 'd'), 64 * 1024);
    h.append([entry(3), entry(4), entry(5)]);
    const s = h.stats();
    assert.equal(s.entries, 3);
    assert.equal(s.oldestNs, entry(3).t);
    assert.equal(s.newestNs, entry(5).t);
    assert.equal(s.bytes, [3, 4, 5].reduce((n, i) => n + Buffer.byteLength(JSON.stringify(entry(i)) + '\n'), 0));
  });
});

describe('history: bounded', () => {
  it('rotates segments and deletes the oldest: stays within the budget and keeps the newest entries in order', () => {
    const h = new History(historyDir(dir, 'd'), 4096);
    for (let i = 0; i < 200; i++) h.append([entry(i)]);
    const s = h.stats();
    assert.ok(s.segments > 1, `rotated: ${s.segments} segment(s)`);
    assert.ok(s.bytes <= 4096, `${s.bytes} bytes on disk, budget 4096`);
    const kept = numbers(h);
    assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => 200 - kept.length + i), 'a suffix of what was appended');
    assert.ok(s.bytes >= 4096 - h.segmentBytes - 200, `kept ${s.bytes} bytes: at least the budget less a segment`);
  });

  it('any sizes and batches: never over budget, always the newest entries, nothing lost that fits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4096, max: 32768 }), fc.array(fc.array(fc.integer({ min: 60, max: 600 }), { minLength: 0, maxLength: 20 }), { maxLength: 30 }), (budget, batches) => {
        const d = mkdtempSync(join(dir, 'p-'));
        const h = new History(d, budget);
        let n = 0;
        const sizes: number[] = [];
        for (const batch of batches) {
          h.append(batch.map((size) => entry(n++, size)));
          for (let i = sizes.length; i < n; i++) sizes.push(Buffer.byteLength(JSON.stringify(entry(i, batch[i - (n - batch.length)])) + '\n'));
          const s = h.stats();
          assert.ok(s.bytes <= budget, `${s.bytes} > budget ${budget}`);
          const kept = numbers(h);
          assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => n - kept.length + i));
          // what was dropped could not have fitted beside what is kept less one segment
          const droppedNext = sizes[n - kept.length - 1];
          if (droppedNext !== undefined) assert.ok(s.bytes + droppedNext > budget - h.segmentBytes - 600, `dropped an entry while only ${s.bytes} of ${budget} bytes were used`);
        }
        rmSync(d, { recursive: true, force: true });
      }),
      { numRuns: 60 },
    );
  });
});

describe('history: torn last write', () => {
  it('the drainer cuts a torn tail with a warning before appending; nothing is glued to it', () => {
    const { warnings, warn } = collectWarnings();
    const h = new History(historyDir(dir, 'd'), 1 << 20, warn);
    h.append([entry(1), entry(2)]);
    const [seg] = readdirSync(h.dir).filter((f) => f.endsWith('.jsonl'));
    appendFileSync(join(h.dir, seg!), '{"t":"3","flows":["{\\"flo'); // a crash mid-append
    assert.deepEqual(numbers(h), [1, 2], 'a reader skips the unterminated tail (it may be a write in progress)');
    h.repairTail();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /dropped \d+ bytes of a torn last entry/);
    h.append([entry(3)]);
    assert.deepEqual(numbers(h), [1, 2, 3]);
  });

  it('an unreadable line is skipped with a warning, the rest read', () => {
    const { warnings, warn } = collectWarnings();
    const h = new History(historyDir(dir, 'd'), 1 << 20, warn);
    h.append([entry(1)]);
    const [seg] = readdirSync(h.dir).filter((f) => f.endsWith('.jsonl'));
    appendFileSync(join(h.dir, seg!), '{"t":"2","flo\n');
    h.append([entry(3)]);
    assert.deepEqual(numbers(h), [1, 3]);
    assert.match(warnings.join('\n'), /skipped an unreadable entry at byte \d+/);
  });

  it('a torn tail in an older segment (rotated after a crash) is skipped with a warning', () => {
    const { warnings, warn } = collectWarnings();
    const h = new History(historyDir(dir, 'd'), 1 << 20, warn);
    h.append([entry(1)]);
    appendFileSync(join(h.dir, '0000000001.jsonl'), '{"t":"2"');
    writeFileSync(join(h.dir, '0000000002.jsonl'), JSON.stringify(entry(3)) + '\n');
    assert.deepEqual(numbers(h), [1, 3]);
    assert.match(warnings.join('\n'), /skipped a torn entry/);
  });
});

describe('history: several readers', () => {
  it('two readers see the same entries; a follower reads only what came after its cursor', () => {
    const writer = new History(historyDir(dir, 'd'), 4096);
    const a = new History(historyDir(dir, 'd'), 4096);
    const b = new History(historyDir(dir, 'd'), 4096);
    writer.append([entry(1), entry(2)]);
    assert.deepEqual(numbers(a), numbers(b));
    let cursor = a.scan(START, () => {});
    writer.append([entry(3)]);
    const next: number[] = [];
    cursor = a.scan(cursor, (e) => next.push(JSON.parse(e.flows[0]!).flow.n));
    assert.deepEqual(next, [3]);
    assert.deepEqual(numbers(a, cursor), [], 'nothing new');
    assert.deepEqual(numbers(b), [1, 2, 3]);
  });

  it('a follower keeps up across rotations, and says so when segments rotated away before it read them', () => {
    const { warnings, warn } = collectWarnings();
    const writer = new History(historyDir(dir, 'd'), 4096);
    const reader = new History(historyDir(dir, 'd'), 4096, warn);
    let cursor = reader.end();
    const seen: number[] = [];
    const read = () => (cursor = reader.scan(cursor, (e) => seen.push(JSON.parse(e.flows[0]!).flow.n)));
    for (let i = 0; i < 60; i++) {
      writer.append([entry(i)]);
      read();
    }
    assert.deepEqual(seen, Array.from({ length: 60 }, (_, i) => i), 'every entry once, in order');
    assert.deepEqual(warnings, []);
    for (let i = 60; i < 200; i++) writer.append([entry(i)]);
    read();
    assert.match(warnings.join('\n'), /rotated away before they were read/);
    assert.equal(seen.at(-1), 199);
  });
});

describe('drain lock', () => {
  const env = (over: Partial<LockEnv> = {}): LockEnv => ({ pid: 100, host: 'node-a', now: Date.now, alive: () => true, staleMs: 30_000, ...over });

  it('one holder at a time; released, it can be taken again', () => {
    const path = join(dir, 'drain.lock');
    const a = tryLock(path, env({ pid: 1 }));
    assert.ok(a?.held());
    assert.equal(tryLock(path, env({ pid: 2 })), null, 'held by a live process');
    a!.release();
    const b = tryLock(path, env({ pid: 2 }));
    assert.ok(b?.held());
    assert.equal(a!.held(), false);
    b!.release();
  });

  it('a holder whose process is gone is taken over; the old holder sees it no longer holds the lock', () => {
    const path = join(dir, 'drain.lock');
    const a = tryLock(path, env({ pid: 1 }))!;
    const b = tryLock(path, env({ pid: 2, alive: (pid) => pid !== 1 }));
    assert.ok(b?.held());
    assert.equal(a.held(), false);
    a.release(); // not its lock any more: leaves it alone
    assert.ok(b!.held());
  });

  it('another host (or pid namespace) is judged by its heartbeat: stale once the mtime is older than staleMs', () => {
    const path = join(dir, 'drain.lock');
    const a = tryLock(path, env({ host: 'elsewhere', alive: () => false }))!;
    assert.equal(tryLock(path, env({ alive: () => false })), null, 'a fresh heartbeat from another host');
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    assert.equal(isStale(path, env()), true);
    a.refresh(); // the holder lives after all
    assert.equal(isStale(path, env()), false);
  });

  it('a lock file being written (empty) is not stale while fresh', () => {
    const path = join(dir, 'drain.lock');
    writeFileSync(path, '');
    assert.equal(isStale(path, env({ alive: () => false })), false);
  });
});

/** A ring buffer in memory: drain() hands out what was pushed. */
class FakeRing implements EventSource {
  pending: number[] = [];
  closed = false;
  drain(): Buffer[] {
    const out = this.pending.map((n) => Buffer.from(String(n)));
    this.pending = [];
    return out;
  }
  async wait(): Promise<void> {}
  close(): void {
    this.closed = true;
  }
}

describe('drainer', () => {
  const toEntries = (bufs: readonly Buffer[]) => bufs.map((b) => entry(Number(b.toString())));

  it('one process drains, the other reads what it appends; when the first stops, the second takes over', () => {
    const ring = new FakeRing();
    const h1 = new History(historyDir(dir, 'd'), 1 << 20);
    const h2 = new History(historyDir(dir, 'd'), 1 << 20);
    let opened = 0;
    const open = () => {
      opened++;
      return ring;
    };
    const first = new Drainer(h1, open, toEntries);
    const second = new Drainer(h2, open, toEntries);
    ring.pending = [1, 2];
    assert.equal(first.step(), 2);
    ring.pending = [3];
    assert.equal(second.step(), 0, 'the lock is held: the second only reads');
    assert.equal(first.draining && !second.draining, true);
    assert.equal(opened, 1, 'one consumer of the ring buffer');
    assert.deepEqual(numbers(h2), [1, 2]);
    first.close();
    assert.equal(second.step(), 1);
    assert.deepEqual(numbers(h1), [1, 2, 3], 'both read the same history');
    second.close();
    assert.equal(existsSync(lockPathOf(h1)), false, 'released');
  });

  it('the drainer repairs a torn tail before its first append', () => {
    const { warnings, warn } = collectWarnings();
    const h = new History(historyDir(dir, 'd'), 1 << 20, warn);
    h.append([entry(1)]);
    appendFileSync(join(h.dir, '0000000001.jsonl'), '{"t":"2","fl');
    const ring = new FakeRing();
    ring.pending = [3];
    const d = new Drainer(h, () => ring, toEntries);
    d.step();
    d.close();
    assert.deepEqual(numbers(h), [1, 3]);
    assert.equal(warnings.length, 1);
  });

  it('events that cannot be opened here: reads the history only, and does not keep the lock', () => {
    const h = new History(historyDir(dir, 'd'), 1 << 20);
    h.append([entry(1)]);
    const d = new Drainer(h, () => null, toEntries);
    assert.equal(d.step(), 0);
    assert.equal(existsSync(lockPathOf(h)), false);
    const ring = new FakeRing();
    ring.pending = [2];
    const other = new Drainer(h, () => ring, toEntries);
    assert.equal(other.step(), 1);
    other.close();
  });
});

describe('history: started again', () => {
  it('a follower whose history was removed and begun anew (undeploy, deploy) reads the new one from its start', () => {
    const { warnings, warn } = collectWarnings();
    const writer = new History(historyDir(dir, 'd'), 4096);
    const reader = new History(historyDir(dir, 'd'), 4096, warn);
    for (let i = 0; i < 60; i++) writer.append([entry(i)]);
    const cursor = reader.scan(START, () => {});
    assert.ok(cursor.seq > 1);
    removeHistory(writer.dir);
    writer.append([entry(1000)]);
    assert.deepEqual(numbers(reader, cursor), [1000]);
    assert.match(warnings.join('\n'), /started again/);
  });
});
