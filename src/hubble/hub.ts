// The agent's flows: every drained entry goes to the on-disk history (what `observe` and a
// restarted agent read) and into a bounded ring in memory, so that followers and "the last N"
// of GetFlows are served without reading the disk; a reader whose cursor is older than the
// ring reads the history instead. One process appends (the drain lock's holder); any number
// of GetFlows streams read.
import { START, type Cursor, type History, type HistoryEntry } from '../observe/history.ts';
import { readHistory, selectFlows, type FlowQuery, type Selected } from '../observe/query.ts';
import { NamespaceTracker } from './namespaces.ts';

/** Hubble's default ring (`hubble-buffer-capacity` 4095), counted here in entries (events). */
export const DEFAULT_RING_ENTRIES = 4095;

interface Slot {
  readonly entry: HistoryEntry;
  /** where the history ends after this entry */
  readonly after: Cursor;
}

export interface HubStats {
  /** flows appended since the hub started (ServerStatus seen_flows) */
  readonly seenFlows: number;
  /** flows in the memory ring */
  readonly ringFlows: number;
  /** entries (events) in the memory ring (ServerStatus num_flows: an HTTP event may hold a
   * request and its answer, so the ring's fill is counted in entries, against its capacity) */
  readonly ringEntries: number;
  /** entries the memory ring holds at most (max_flows) */
  readonly ringCapacity: number;
  /** flows of the ring from the last minute (flows_rate), by the entries' times */
  readonly lastMinuteFlows: number;
}

export const compareCursors = (a: Cursor, b: Cursor): number => a.seq - b.seq || a.offset - b.offset;

export class FlowHub {
  private readonly slots: Slot[] = [];
  /** index in `slots` of the oldest entry (the ring wraps around) */
  private head = 0;
  /** where the history ended before the oldest entry in the ring */
  private ringStart: Cursor;
  private seen = 0;
  /** the ring holds every entry the history ever had (it started empty and nothing left the ring) */
  private complete: boolean;
  private waiters = new Set<() => void>();
  /** the namespaces of the flows appended in the last hour (GetNamespaces) */
  readonly namespaces = new NamespaceTracker();

  /** `history` is the deployment's; `capacity` entries are kept in memory. */
  constructor(readonly history: History, readonly capacity = DEFAULT_RING_ENTRIES) {
    if (!(capacity >= 1)) throw new RangeError(`FlowHub: capacity ${capacity} (at least 1)`);
    this.ringStart = history.end();
    this.complete = compareCursors(this.ringStart, START) === 0;
  }

  /** Appends to the history (the drainer's sink: src/observe/drain.ts EntrySink), keeps the
   * entries in the ring and wakes the followers. */
  append(entries: readonly HistoryEntry[]): void {
    const after = this.history.append(entries);
    entries.forEach((entry, i) => {
      this.push({ entry, after: after[i]! });
      this.namespaces.note(entry);
    });
    this.seen += entries.reduce((n, e) => n + e.flows.length, 0);
    if (entries.length) this.wake();
  }

  /** Where the history ends now: a follower that wants only new flows starts here. */
  end(): Cursor {
    return this.slots.length ? this.newest().after : this.ringStart;
  }

  /** The selected flows after `from`, in order (only the last N with `q.last`), from memory when
   * the ring holds everything after `from`, else from the history; returns where it ends. */
  read(from: Cursor, q: FlowQuery, emit: (s: Selected) => void): Cursor {
    if (!this.inRing(from)) return readHistory(this.history, from, q, emit);
    const entries = this.entriesAfter(from);
    if (q.last === undefined) for (const entry of entries) emitEntry(entry, q, emit);
    else lastOf(entries, q, q.last).forEach(emit);
    return this.end();
  }

  /** The last `n` selected flows of everything (Hubble's `number` without `first`): from the
   * ring when it holds that many, else from the history. */
  readLast(n: number, q: FlowQuery, emit: (s: Selected) => void): Cursor {
    const fromRing = lastOf(this.ordered().map((s) => s.entry), q, n);
    if (fromRing.length < n && !this.complete) return readHistory(this.history, START, { ...q, last: n }, emit);
    fromRing.forEach(emit);
    return this.end();
  }

  /** Resolves when entries after `cursor` exist, or `signal` aborts, or after `timeoutMs`. */
  async waitAfter(cursor: Cursor, signal: AbortSignal, timeoutMs = 30_000): Promise<void> {
    if (signal.aborted || compareCursors(this.end(), cursor) > 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  stats(nowNs = BigInt(Date.now()) * 1_000_000n): HubStats {
    const minuteAgo = nowNs - 60_000_000_000n;
    let ringFlows = 0;
    let lastMinuteFlows = 0;
    for (const { entry } of this.slots) {
      ringFlows += entry.flows.length;
      if (BigInt(entry.t) >= minuteAgo) lastMinuteFlows += entry.flows.length;
    }
    return { seenFlows: this.seen, ringFlows, ringEntries: this.slots.length, ringCapacity: this.capacity, lastMinuteFlows };
  }

  /** the ring holds every entry after `from` (and `from` is not from a history started again) */
  private inRing(from: Cursor): boolean {
    return compareCursors(from, this.ringStart) >= 0 && compareCursors(from, this.end()) <= 0;
  }

  private push(slot: Slot): void {
    if (this.slots.length < this.capacity) return void this.slots.push(slot);
    this.ringStart = this.slots[this.head]!.after;
    this.complete = false;
    this.slots[this.head] = slot;
    this.head = (this.head + 1) % this.capacity;
  }

  private newest(): Slot {
    return this.slots[(this.head + this.slots.length - 1) % this.slots.length]!;
  }

  private ordered(): Slot[] {
    return [...this.slots.slice(this.head), ...this.slots.slice(0, this.head)];
  }

  /** The ring's entries after `from`, walking back from the newest (a follower wants few). */
  private entriesAfter(from: Cursor): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    for (let i = this.slots.length - 1; i >= 0; i--) {
      const slot = this.slots[(this.head + i) % this.slots.length]!;
      if (compareCursors(slot.after, from) <= 0) break;
      out.push(slot.entry);
    }
    return out.reverse();
  }

  private wake(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) w();
  }
}

function emitEntry(entry: HistoryEntry, q: FlowQuery, emit: (s: Selected) => void): void {
  for (const line of selectFlows(entry, q)) emit({ line, entry });
}

/** The last `n` selected flows of `entries`, newest entries first until there are enough. */
function lastOf(entries: readonly HistoryEntry[], q: FlowQuery, n: number): Selected[] {
  if (n === 0) return [];
  const out: Selected[][] = [];
  let count = 0;
  for (let i = entries.length - 1; i >= 0 && count < n; i--) {
    const entry = entries[i]!;
    const picked = selectFlows(entry, q).map((line) => ({ line, entry }));
    out.push(picked);
    count += picked.length;
  }
  return out.reverse().flat().slice(-n);
}
