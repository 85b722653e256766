// Moving the kernel's events into the history, by whichever reader holds the drain lock: every
// `observe` first tries to take it (and drains), else reads what the holder appends. A holder
// that exits releases the lock; a follower that finds it free takes over.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { History, HistoryEntry } from './history.ts';
import { tryLock, type DrainLock, type LockEnv } from './lock.ts';

/** The ring buffer as the drainer needs it (src/loader's EventReader). */
export interface EventSource {
  drain(): Buffer[];
  wait(ms: number): Promise<void>;
  close(): void;
}

/** Where drained entries go: the history itself, or something that appends to it and tells
 * others (the agent's src/hubble FlowHub, which keeps recent entries in memory for GetFlows). */
export interface EntrySink {
  append(entries: readonly HistoryEntry[]): unknown;
}

const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

export const lockPathOf = (history: History): string => join(history.dir, 'drain.lock');

export class Drainer {
  private lock: DrainLock | null = null;
  private source: EventSource | null = null;
  /** the events could not be opened here: read the history only */
  private unavailable = false;

  /** `open` returns null when the events cannot be read from this process (it says why);
   * `sink` receives the drained entries (default: the history) and must append them to it. */
  constructor(
    private readonly history: History,
    private readonly open: () => EventSource | null,
    private readonly toEntries: (records: readonly Buffer[]) => HistoryEntry[],
    private readonly lockEnv?: LockEnv,
    private readonly sink: EntrySink = history,
  ) {}

  /** this process moves the events now */
  get draining(): boolean {
    return this.source !== null;
  }

  /** One round: take the lock when it is free, then move what the ring buffer holds into the
   * history. Returns the entries appended (0 when another process drains). */
  step(): number {
    if (this.lock && !this.lock.held()) this.stepDown(); // taken over as stale (we were stopped?)
    if (!this.lock && !this.unavailable) this.acquire();
    if (!this.lock || !this.source) return 0;
    this.lock.refresh();
    // records taken from the ring are appended even if the lock was lost meanwhile: once
    // consumed, they exist nowhere else
    const entries = this.toEntries(this.source.drain());
    this.sink.append(entries);
    return entries.length;
  }

  /** Until new events may be there: the ring buffer's epoll when draining, else a sleep. */
  async wait(ms: number): Promise<void> {
    if (this.source) await this.source.wait(ms);
    else await new Promise((r) => setTimeout(r, ms));
  }

  close(): void {
    this.stepDown();
  }

  private acquire(): void {
    const lock = this.tryLock();
    if (!lock) return;
    let source: EventSource | null;
    try {
      source = this.open();
    } catch (e) {
      lock.release();
      throw e;
    }
    if (!source) {
      this.unavailable = true;
      lock.release();
      return;
    }
    this.lock = lock;
    this.source = source;
    // a crash mid-append left half an entry: cut it before ours follows
    this.history.repairTail();
  }

  /** The lock when free; a process that may not write there (not root) reads only. */
  private tryLock(): DrainLock | null {
    try {
      mkdirSync(this.history.dir, { recursive: true });
      return tryLock(lockPathOf(this.history), this.lockEnv);
    } catch (e) {
      if (!READ_ONLY.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
      this.unavailable = true;
      return null;
    }
  }

  private stepDown(): void {
    this.source?.close();
    this.source = null;
    this.lock?.release();
    this.lock = null;
  }
}
