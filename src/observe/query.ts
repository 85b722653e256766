// Which flows of the history a reader wants: Hubble's since, last N and filters, as GetFlows
// takes them (`observe` now, the agent later). Per flow, not per entry: an entry (one kernel
// event) may stand for a request and its answer, and a filter may want only one of them.
import type { Cursor, History, HistoryEntry } from './history.ts';
import type { FlowPredicate, JsonFlow } from './filters.ts';
import { parseRfc3339Ns } from './units.ts';

export interface FlowQuery {
  /** Hubble's filters (filters.ts buildFilter); absent: every flow */
  readonly match?: FlowPredicate;
  /** only flows at or after this time (ns since the epoch) */
  readonly sinceNs?: bigint;
  /** only the last N selected flows of the history */
  readonly last?: number;
}

/** A selected flow: its jsonpb line and the entry it came from. */
export interface Selected {
  readonly line: string;
  readonly entry: HistoryEntry;
}

/** The entry's flows that the query selects (since and filters; `last` is the reader's). */
export function selectFlows(entry: HistoryEntry, q: FlowQuery): string[] {
  if (!q.match && q.sinceNs === undefined) return [...entry.flows];
  return entry.flows.filter((line) => {
    const flow = flowOf(line);
    if (!flow) return false;
    if (q.sinceNs !== undefined && timeNs(flow, entry) < q.sinceNs) return false;
    return q.match ? q.match(flow) : true;
  });
}

/** Reads the history after `from` and hands `emit` the selected flows in order (only the last
 * N with `q.last`); returns where the history ends, for a follower's next read. */
export function readHistory(history: History, from: Cursor, q: FlowQuery, emit: (s: Selected) => void): Cursor {
  if (q.last === undefined) return history.scan(from, (entry) => emitAll(entry, q, emit));
  const keep = q.last;
  let tail: Selected[] = [];
  const end = history.scan(from, (entry) => {
    for (const line of selectFlows(entry, q)) tail.push({ line, entry });
    // trimmed in batches: amortized O(1) per flow, memory at most 2N
    if (tail.length > 2 * keep) tail = tail.slice(-keep);
  });
  for (const s of keep === 0 ? [] : tail.slice(-keep)) emit(s);
  return end;
}

function emitAll(entry: HistoryEntry, q: FlowQuery, emit: (s: Selected) => void): void {
  for (const line of selectFlows(entry, q)) emit({ line, entry });
}

interface JsonLine {
  readonly flow?: JsonFlow & { readonly time?: string };
}

function flowOf(line: string): (JsonFlow & { readonly time?: string }) | null {
  try {
    return (JSON.parse(line) as JsonLine).flow ?? {};
  } catch {
    return null;
  }
}

/** The flow's own time, to the nanosecond; the entry's when the flow has none. */
function timeNs(flow: { readonly time?: string }, entry: HistoryEntry): bigint {
  return (flow.time ? parseRfc3339Ns(flow.time) : null) ?? BigInt(entry.t);
}
