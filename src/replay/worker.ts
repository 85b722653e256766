// One worker of replayCaptureParallel (parallel.ts): replays its shard of the flows with
// replayCapture and posts its flow lines in batches, then its summary.
import { parentPort, workerData } from 'node:worker_threads';
import { replayCapture } from './run.ts';
import { periodicCollector } from './collect.ts';
import { DEFAULT_MAX_CONNECTIONS } from '../../sim/replay/index.ts';
import { MAX_IN_FLIGHT, type ReplayWorkerInput, type ReplayWorkerMessage } from './parallel.ts';

const BATCH_CHARS = 256 * 1024;
const input = workerData as ReplayWorkerInput;
const port = parentPort!;
const inFlight = new Int32Array(input.inFlight);
const post = (m: ReplayWorkerMessage) => port.postMessage(m);

const collect = periodicCollector();

let batch: string[] = [];
let chars = 0;

/** Posts the lines so far, after waiting while the writer is MAX_IN_FLIGHT batches behind. */
function flush(): void {
  if (!batch.length) return;
  for (let n = Atomics.load(inFlight, 0); n >= MAX_IN_FLIGHT; n = Atomics.load(inFlight, 0)) Atomics.wait(inFlight, 0, n, 1000);
  Atomics.add(inFlight, 0, 1);
  post({ type: 'lines', text: batch.join('') });
  batch = [];
  chars = 0;
}

function onFlowLine(line: string): void {
  batch.push(line, '\n');
  chars += line.length + 1;
  if (chars >= BATCH_CHARS) flush();
}

const run = replayCapture(input.capture, {
  policies: input.policies,
  inventory: input.inventory,
  keepRows: false,
  shard: input.shard,
  // the workers share the single-threaded replay's connection table size: together they keep
  // as many tombstones, and as much memory, as one thread would
  maxConnections: Math.ceil(DEFAULT_MAX_CONNECTIONS / input.shard.count),
  ...(input.inspectionLimit ? { inspectionLimit: input.inspectionLimit } : {}),
  ...(input.nodeName ? { nodeName: input.nodeName } : {}),
  ...(input.answer ? { answer: input.answer } : {}),
  ...(input.capturePoint ? { capturePoint: input.capturePoint } : {}),
  ...(input.audit ? { audit: true } : {}),
  ...(input.expect ? { expect: new Map(input.expect) } : {}),
  ...(input.jsonpb ? { onFlowLine } : {}),
  onProgress: (offset) => {
    if (offset >= 0 && input.shard.index === 0) post({ type: 'progress', offset });
    collect();
  },
});
flush();
post({
  type: 'done', summary: run.summary.toData(), expect: run.expect?.toData() ?? null,
  errors: input.shard.index === 0 ? run.errors.map((e) => e.message) : [], packets: run.packets, connections: run.connections,
  skippedCopies: run.skippedCopies,
});
