// replayCapture on worker threads by flow hash (docs/simulator.md, "Worker threads"): each worker
// reads the whole capture and replays the connections of its shard (sim/replay's `shard`
// option); its summary, expectation counts and, with jsonpb, its flow lines come back here.
// A connection lives in one worker, so its verdicts are those of a single-threaded replay; the
// summary's tables do not depend on row order (bounded.ts), so the merged summary is the
// single-threaded one. Flow lines come out in batches, each worker's in capture order.
import { Worker } from 'node:worker_threads';
import type { ReplayCaptureOptions } from './run.ts';
import { Summary, type SummaryData } from './summary.ts';
import { ExpectTally, type ExpectTallyData } from './expect.ts';

/** What a shard's replay is judged with: the single-threaded replay's own settings. */
type JudgeSettings = Pick<ReplayCaptureOptions, 'policies' | 'inventory' | 'inspectionLimit' | 'nodeName' | 'answer' | 'capturePoint' | 'audit'>;

export interface ParallelReplayOptions extends JudgeSettings {
  readonly workers: number;
  readonly expect?: ReadonlyMap<string, number>;
  /** jsonpb: batches of whole lines (each ends with a newline), a worker's in capture order */
  readonly onFlowLines?: (text: string) => void;
  readonly onProgress?: (offset: number) => void;
}

export interface ParallelReplayRun {
  readonly summary: Summary;
  readonly expect: ExpectTally | null;
  /** the capture reader's errors (worker 0's: every worker reads the same records) */
  readonly errors: readonly { readonly message: string }[];
  readonly packets: number;
  readonly connections: number;
  /** copies of packets from a second interface (run.ts): every worker skips the same ones */
  readonly skippedCopies: number;
}

/** What a worker gets (worker.ts). Policies and inventory are plain data: they clone. */
export interface ReplayWorkerInput extends JudgeSettings {
  readonly capture: string;
  readonly shard: { readonly index: number; readonly count: number };
  readonly expect?: readonly (readonly [string, number])[];
  readonly jsonpb: boolean;
  /** Int32 [0]: batches posted and not yet written; the worker waits above MAX_IN_FLIGHT */
  readonly inFlight: SharedArrayBuffer;
}

export type ReplayWorkerMessage =
  | { readonly type: 'lines'; readonly text: string }
  | { readonly type: 'progress'; readonly offset: number }
  | { readonly type: 'done'; readonly summary: SummaryData; readonly expect: ExpectTallyData | null; readonly errors: readonly string[]; readonly packets: number; readonly connections: number; readonly skippedCopies: number };

/**
 * A worker's heap limits: a safety net, not the bound of its memory (the worker collects
 * every 256k records, worker.ts). Live data is its share of the connection table: tombstones
 * (~200 bytes) and connections that never close in the capture (~12 KB each with their stream
 * ring, parsers and verdict; up to 65,536 / workers), plus the summary's bounded tables.
 */
function workerLimits(workers: number): { maxOldGenerationSizeMb: number; maxYoungGenerationSizeMb: number } {
  return { maxOldGenerationSizeMb: 64 + Math.ceil(1024 / workers), maxYoungGenerationSizeMb: 8 };
}

/** Line batches a worker may have posted ahead of the writer: bounds memory when stdout is slow. */
export const MAX_IN_FLIGHT = 4;

export async function replayCaptureParallel(capture: string, o: ParallelReplayOptions): Promise<ParallelReplayRun> {
  const count = Math.max(1, Math.floor(o.workers));
  const workers = Array.from({ length: count }, (_, index) => startWorker(capture, { index, count }, o));
  // one worker failing ends the others (they would run to the end of the capture for nothing)
  const parts = await Promise.all(workers.map((w) => w.done)).catch((e: unknown) => {
    for (const w of workers) void w.worker.terminate();
    throw e;
  });
  const summary = new Summary();
  const expect = o.expect ? new ExpectTally(o.expect) : null;
  for (const p of parts) {
    summary.merge(p.summary);
    if (p.expect) expect?.merge(p.expect);
  }
  o.onProgress?.(-1);
  return {
    summary, expect, errors: parts[0]!.errors.map((message) => ({ message })),
    packets: parts[0]!.packets, connections: parts.reduce((n, p) => n + p.connections, 0), skippedCopies: parts[0]!.skippedCopies,
  };
}

type Done = Extract<ReplayWorkerMessage, { type: 'done' }>;

function startWorker(capture: string, shard: { index: number; count: number }, o: ParallelReplayOptions): { worker: Worker; done: Promise<Done> } {
  const inFlight = new SharedArrayBuffer(4);
  const credits = new Int32Array(inFlight);
  const input: ReplayWorkerInput = {
    capture, shard, policies: o.policies, inventory: o.inventory, jsonpb: o.onFlowLines !== undefined, inFlight,
    ...(o.inspectionLimit ? { inspectionLimit: o.inspectionLimit } : {}),
    ...(o.nodeName ? { nodeName: o.nodeName } : {}),
    ...(o.answer ? { answer: o.answer } : {}),
    ...(o.capturePoint ? { capturePoint: o.capturePoint } : {}),
    ...(o.audit ? { audit: true } : {}),
    ...(o.expect ? { expect: [...o.expect] } : {}),
  };
  const w = new Worker(workerUrl(), { workerData: input, resourceLimits: workerLimits(shard.count) });
  const done = new Promise<Done>((resolve, reject) => {
    let result: Done | null = null;
    w.on('message', (m: ReplayWorkerMessage) => {
      if (m.type === 'lines') {
        o.onFlowLines?.(m.text);
        // written: the worker may post another batch
        Atomics.sub(credits, 0, 1);
        Atomics.notify(credits, 0);
      } else if (m.type === 'progress') {
        if (shard.index === 0) o.onProgress?.(m.offset);
      } else result = m;
    });
    w.once('error', (e: Error & { code?: string }) => reject(e.code === 'ERR_WORKER_OUT_OF_MEMORY'
      ? new Error(`replay worker ${shard.index} of ${shard.count} ran out of its heap (${workerLimits(shard.count).maxOldGenerationSizeMb} MB): please report it; --workers with more workers gives each a smaller share`)
      : e));
    w.once('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`replay worker ${shard.index} of ${shard.count} exited with code ${code} before reporting (${capture})`));
    });
  });
  return { worker: w, done };
}

/**
 * The worker's entry: beside the bundle when l7bpf runs bundled (scripts/build.mjs writes
 * l7bpf-replay-worker.mjs next to dist/l7bpf.mjs), else the boot file that loads worker.ts.
 */
function workerUrl(): URL {
  const here = import.meta.url;
  return new URL(here).pathname.endsWith('.ts') ? new URL('./worker-boot.mjs', here) : new URL('./l7bpf-replay-worker.mjs', here);
}
