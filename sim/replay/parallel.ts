// replayParallel(): one capture, N worker threads, each replaying the flows whose hash falls
// in its shard (docs/simulator.md: one core first, then worker threads by flow hash). Every
// worker reads and decodes the whole file (cheap next to L7 work) and keeps its own flows:
// no packet crosses threads, only the summaries come back. A connection's packets all land
// in one worker, so its verdicts are those of a single-threaded replay.
import { Worker } from 'node:worker_threads';
import type { ReplaySummary } from './types.ts';

/** How each worker builds its judge: `(await import(module))[exportName](...args)`. */
export interface JudgeSpec {
  readonly module: string | URL;
  readonly exportName: string;
  /** Structured-cloneable arguments (policies and an inventory are plain data). */
  readonly args?: readonly unknown[];
}

export interface ParallelOptions {
  readonly workers: number;
  /** Omitted: every connection inspected, every request allowed (benchmarks). */
  readonly judge?: JudgeSpec;
  readonly inspectionLimit?: number;
  readonly maxConnections?: number;
}

export interface ParallelSummary extends ReplaySummary {
  /** Requests the judge allowed (onRequest does not cross threads; this count does). */
  allowed: number;
  /** Capture errors reported by worker 0 (each worker reads the same file). */
  captureErrors: string[];
}

/** The worker's input (see worker.ts). */
export interface WorkerInput {
  readonly file: string;
  readonly index: number;
  readonly count: number;
  readonly judge: { readonly module: string; readonly exportName: string; readonly args: readonly unknown[] } | null;
  readonly inspectionLimit?: number;
  readonly maxConnections?: number;
}

export async function replayParallel(file: string, o: ParallelOptions): Promise<ParallelSummary> {
  const count = Math.max(1, Math.floor(o.workers));
  const judge = o.judge ? { module: String(o.judge.module), exportName: o.judge.exportName, args: o.judge.args ?? [] } : null;
  const parts = await Promise.all(Array.from({ length: count }, (_, index) => runWorker({
    file, index, count, judge, inspectionLimit: o.inspectionLimit, maxConnections: o.maxConnections,
  })));
  return merge(parts);
}

function runWorker(input: WorkerInput): Promise<ParallelSummary> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: input });
    let result: ParallelSummary | null = null;
    w.once('message', (m: ParallelSummary) => { result = m; });
    w.once('error', reject);
    w.once('exit', (code) => {
      if (result) resolve(result);
      else reject(new Error(`replay worker ${input.index} of ${input.count} exited with code ${code} before reporting (file ${input.file})`));
    });
  });
}

/** Per-flow counts add up; per-record counts (packets, bytes) are the same in every worker. */
export function merge(parts: readonly ParallelSummary[]): ParallelSummary {
  const first = parts[0]!;
  const out: ParallelSummary = {
    packets: first.packets, bytes: first.bytes, connections: 0, requests: 0, denied: 0, evicted: 0, allowed: 0,
    actions: { pass: 0, drop: 0, reset: 0, answer: 0, trim: 0 }, reasons: {}, captureErrors: first.captureErrors,
  };
  for (const p of parts) {
    out.connections += p.connections;
    out.requests += p.requests;
    out.denied += p.denied;
    out.evicted += p.evicted;
    out.allowed += p.allowed;
    for (const k of ['pass', 'drop', 'reset', 'answer', 'trim'] as const) out.actions[k] += p.actions[k];
    for (const [k, n] of Object.entries(p.reasons)) {
      const key = k as keyof ReplaySummary['reasons'];
      out.reasons[key] = (out.reasons[key] ?? 0) + (n ?? 0);
    }
  }
  return out;
}
