// A deployment's flow history on disk: a bounded ring of segment files, so any number of
// `observe` runs (and later the agent's GetFlows) read the same flows; the kernel's ring
// buffer is drained into it by one process at a time (lock.ts).
//
// Layout: <stateDir>/<name>.history/<seq>.jsonl, one entry per line (JSON ends with "\n", so a
// line without one is a write cut short). Appends go to the newest segment; when it would pass
// its share of the budget a new one starts, and the oldest go until the whole fits the budget.
// An entry keeps what was rendered when the event was read (Hubble jsonpb lines, verbatim, and
// the summary row), so a later redeploy with other endpoints or rules does not rewrite the past.
import { appendFileSync, closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** 16 MiB: /run is tmpfs (memory); about 8k flows, twice Hubble's default ring of 4095. */
export const DEFAULT_HISTORY_BYTES = 16 * 1024 * 1024;
export const MIN_HISTORY_BYTES = 64 * 1024;
/** a segment is read whole: its size bounds a reader's memory */
const MAX_SEGMENT_BYTES = 8 * 1024 * 1024;
/** a segment's share of the budget: the ring keeps at least 3/4 of it after a rotation */
const SEGMENTS_PER_BUDGET = 4;
const SEGMENT = /^(\d{10})\.jsonl$/;

export interface HistoryEntry {
  /** the event's time, ns since the epoch, as a decimal string (JSON has no 64-bit integers) */
  readonly t: string;
  /** Hubble jsonpb lines (`hubble observe -o json`), as rendered when the event was read */
  readonly flows: readonly string[];
  /** what the text summary needs; opaque to the history */
  readonly row?: unknown;
}

/** A position in the history: a segment and a byte offset in it (after a complete entry). */
export interface Cursor {
  readonly seq: number;
  readonly offset: number;
}

export interface HistoryStats {
  readonly entries: number;
  readonly bytes: number;
  readonly budget: number;
  readonly segments: number;
  /** times of the oldest and newest entries (ns since the epoch), absent when empty */
  readonly oldestNs?: string;
  readonly newestNs?: string;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  readonly size: number;
}

export const historyDir = (stateDir: string, name: string): string => join(stateDir, `${name}.history`);

export const START: Cursor = { seq: 0, offset: 0 };

export function removeHistory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export class History {
  readonly segmentBytes: number;

  constructor(readonly dir: string, readonly budget: number, private readonly warn: (msg: string) => void = () => {}) {
    this.segmentBytes = Math.min(MAX_SEGMENT_BYTES, Math.max(1, Math.floor(budget / SEGMENTS_PER_BUDGET)));
  }

  /** Appends entries (the drainer only), rotating segments and dropping the oldest to stay in
   * budget. Returns the cursor after each entry (src/hubble's in-memory ring keeps them). */
  append(entries: readonly HistoryEntry[]): Cursor[] {
    if (entries.length === 0) return [];
    mkdirSync(this.dir, { recursive: true });
    let seg = this.segments().at(-1) ?? this.create(1);
    let size = seg.size;
    let chunk = '';
    const after: Cursor[] = [];
    for (const e of entries) {
      const line = JSON.stringify(e) + '\n';
      const bytes = Buffer.byteLength(line);
      if (size > 0 && size + bytes > this.segmentBytes) {
        this.write(seg, chunk);
        seg = this.create(seg.seq + 1);
        this.prune();
        size = 0;
        chunk = '';
      }
      chunk += line;
      size += bytes;
      after.push({ seq: seg.seq, offset: size });
    }
    this.write(seg, chunk);
    this.prune();
    return after;
  }

  /** A crash mid-append leaves a last line without its "\n": cut it off (the drainer does this
   * before it appends, or the next entry would be glued to the torn one). */
  repairTail(): void {
    const seg = this.segments().at(-1);
    if (!seg || seg.size === 0) return;
    const keep = lastNewlineEnd(seg.path, seg.size);
    if (keep === seg.size) return;
    truncateSync(seg.path, keep);
    this.warn(`history ${seg.path}: dropped ${seg.size - keep} bytes of a torn last entry (a crash mid-write)`);
  }

  /** Calls `visit` for each complete entry after `from`, oldest first; returns the cursor after
   * the last one (where a follower reads next). An unreadable line is skipped with a warning;
   * an unterminated last line of the newest segment may be a write in progress: left for later. */
  scan(cursor: Cursor, visit: (e: HistoryEntry) => void): Cursor {
    const segs = this.segments();
    const from = this.recreated(segs, cursor) ? START : cursor;
    const first = segs[0];
    if (first && from.seq !== 0 && from.seq < first.seq) this.warn(`history: ${first.seq - from.seq} segment(s) rotated away before they were read; flows were skipped`);
    let at = from;
    for (const [i, seg] of segs.entries()) {
      if (seg.seq < from.seq) continue;
      const start = seg.seq === from.seq ? from.offset : 0;
      const data = readFrom(seg.path, start);
      if (data === null) continue; // rotated away meanwhile
      const end = this.scanLines(seg, start, data, visit);
      const last = i === segs.length - 1;
      if (end < data.length && !last) this.warn(`history ${seg.path}: skipped a torn entry at byte ${start + end}`);
      at = { seq: seg.seq, offset: last ? start + end : start + data.length };
    }
    return at;
  }

  /** Where the history ends now (a follower that wants only new flows starts here). */
  end(): Cursor {
    const seg = this.segments().at(-1);
    return seg ? { seq: seg.seq, offset: lastNewlineEnd(seg.path, seg.size) } : START;
  }

  stats(): HistoryStats {
    const segs = this.segments();
    let entries = 0;
    let oldest: string | undefined;
    let newest: string | undefined;
    for (const seg of segs) {
      const data = readFrom(seg.path, 0);
      if (data === null) continue;
      entries += countNewlines(data);
      oldest ??= timeOf(firstLine(data));
      newest = timeOf(lastLine(data)) ?? newest;
    }
    const bytes = segs.reduce((n, s) => n + s.size, 0);
    return { entries, bytes, budget: this.budget, segments: segs.length, ...(oldest ? { oldestNs: oldest } : {}), ...(newest ? { newestNs: newest } : {}) };
  }

  /** The cursor points past the end: the history was removed and started again (undeploy, deploy). */
  private recreated(segs: readonly Segment[], c: Cursor): boolean {
    const last = segs.at(-1);
    const mine = segs.find((s) => s.seq === c.seq);
    if (c.seq === 0 || !last || !(c.seq > last.seq || (mine && c.offset > mine.size))) return false;
    this.warn('history: started again (the deployment was removed and deployed again?); reading it from its start');
    return true;
  }

  private scanLines(seg: Segment, start: number, data: Buffer, visit: (e: HistoryEntry) => void): number {
    let pos = 0;
    for (let nl = data.indexOf(10, pos); nl >= 0; nl = data.indexOf(10, pos)) {
      const entry = parseEntry(data.subarray(pos, nl));
      if (entry) visit(entry);
      else this.warn(`history ${seg.path}: skipped an unreadable entry at byte ${start + pos}`);
      pos = nl + 1;
    }
    return pos;
  }

  private segments(): Segment[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .flatMap((f) => {
        const m = SEGMENT.exec(f);
        const path = join(this.dir, f);
        const size = m ? sizeOf(path) : null;
        return m && size !== null ? [{ seq: Number(m[1]), path, size }] : [];
      })
      .sort((a, b) => a.seq - b.seq);
  }

  private create(seq: number): Segment {
    const path = join(this.dir, `${String(seq).padStart(10, '0')}.jsonl`);
    writeFileSync(path, '', { flag: 'a' });
    return { seq, path, size: 0 };
  }

  /** One write per chunk: O_APPEND keeps a chunk whole against readers and other writers. */
  private write(seg: Segment, chunk: string): void {
    if (chunk) appendFileSync(seg.path, chunk);
  }

  /** Drops the oldest segments while the whole is over budget; the newest always stays. */
  private prune(): void {
    const segs = this.segments();
    let total = segs.reduce((n, s) => n + s.size, 0);
    for (const seg of segs.slice(0, -1)) {
      if (total <= this.budget) return;
      rmSync(seg.path, { force: true });
      total -= seg.size;
    }
  }
}

function parseEntry(line: Buffer): HistoryEntry | null {
  try {
    const e = JSON.parse(line.toString('utf8')) as Partial<HistoryEntry>;
    if (typeof e !== 'object' || e === null || typeof e.t !== 'string' || !Array.isArray(e.flows)) return null;
    return e as HistoryEntry;
  } catch {
    return null;
  }
}

function timeOf(line: Buffer | null): string | undefined {
  return line ? parseEntry(line)?.t : undefined;
}

function firstLine(data: Buffer): Buffer | null {
  const nl = data.indexOf(10);
  return nl < 0 ? null : data.subarray(0, nl);
}

function lastLine(data: Buffer): Buffer | null {
  const nl = data.lastIndexOf(10);
  if (nl < 0) return null;
  return data.subarray(data.lastIndexOf(10, nl - 1) + 1, nl);
}

function countNewlines(data: Buffer): number {
  let n = 0;
  for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, i + 1)) n++;
  return n;
}

function sizeOf(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null; // deleted between readdir and stat
  }
}

/** The file's bytes from `start` on, or null when it is gone. */
function readFrom(path: string, start: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.max(0, size - start));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Offset just after the last "\n" of the file's first `size` bytes (0 when there is none). */
function lastNewlineEnd(path: string, size: number): number {
  const data = readFrom(path, 0);
  if (data === null) return 0;
  return data.subarray(0, size).lastIndexOf(10) + 1;
}
