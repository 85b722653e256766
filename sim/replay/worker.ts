// One worker of replayParallel: replays its shard of the flows and posts its summary.
import { parentPort, workerData } from 'node:worker_threads';
import { readCapture } from '../capture/read.ts';
import { replaySync } from './index.ts';
import type { ParallelSummary, WorkerInput } from './parallel.ts';
import type { Judge } from './types.ts';

const input = workerData as WorkerInput;
const allowAll: Judge = { connection: () => ({ allowed: true, inspect: true }), request: () => ({ allowed: true }) };

async function judgeOf(spec: WorkerInput['judge']): Promise<Judge> {
  if (!spec) return allowAll;
  const mod = (await import(spec.module)) as Record<string, unknown>;
  const make = mod[spec.exportName];
  if (typeof make !== 'function') throw new Error(`replay worker: ${spec.module} has no function export ${spec.exportName}`);
  return make(...spec.args) as Judge;
}

const judge = await judgeOf(input.judge);
const captureErrors: string[] = [];
let allowed = 0;
const s = replaySync(readCapture(input.file, { view: true, onError: (e) => captureErrors.push(e.message) }), {
  judge,
  shard: { index: input.index, count: input.count },
  ...(input.inspectionLimit ? { inspectionLimit: input.inspectionLimit } : {}),
  ...(input.maxConnections ? { maxConnections: input.maxConnections } : {}),
  onRequest: (r) => { if (r.verdict.allowed) allowed++; },
});
const out: ParallelSummary = { ...s, allowed, captureErrors: input.index === 0 ? captureErrors : [] };
parentPort!.postMessage(out);
