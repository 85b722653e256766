// replay(): drive the engine from any iterable of capture records.
import type { CaptureRecord } from '../capture/types.ts';
import { ReplayEngine } from './engine.ts';
import { CaptureStream } from '../capture/read.ts';
import type { ConnVerdict, ReplayOptions, ReplaySummary, RequestVerdict } from './types.ts';

export { ReplayEngine, DEFAULT_INSPECTION_LIMIT, DEFAULT_MAX_CONNECTIONS } from './engine.ts';
export type * from './types.ts';

/** Synchronous replay (the fast path for file readers). */
export function replaySync<CV extends ConnVerdict, RV extends RequestVerdict>(
  records: Iterable<CaptureRecord>, opts: ReplayOptions<CV, RV>,
): ReplaySummary {
  const e = new ReplayEngine(opts);
  if (records instanceof CaptureStream) {
    // the reader's pull loop: no iterator result object per record
    for (let r = records.nextRecord(); r !== null; r = records.nextRecord()) e.push(r);
  } else {
    for (const r of records) e.push(r);
  }
  return e.finish();
}

/** Replay from a sync or async iterable. */
export async function replay<CV extends ConnVerdict, RV extends RequestVerdict>(
  records: Iterable<CaptureRecord> | AsyncIterable<CaptureRecord>, opts: ReplayOptions<CV, RV>,
): Promise<ReplaySummary> {
  if (Symbol.iterator in records) return replaySync(records as Iterable<CaptureRecord>, opts);
  const e = new ReplayEngine(opts);
  for await (const r of records) e.push(r);
  return e.finish();
}
export { replayParallel } from './parallel.ts';
export type { JudgeSpec, ParallelOptions, ParallelSummary } from './parallel.ts';
