// `l7bpf replay CAPTURE --policy ... --endpoints ...`: what the kernel would do with the
// traffic of a capture, as a summary table or Hubble jsonpb lines. With `--kernel DIR` the
// packets also run through the compiled object (BPF_PROG_TEST_RUN) and every packet where
// the object and the simulator disagree is reported (exit 1).
import { readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../../codegen/emit/manifest.ts';
import { loadPolicies } from '../policy/index.ts';
import { loadInventory } from '../endpoints/index.ts';
import type { PacketEvent } from '../../sim/index.ts';
import type { Policy } from '../policy/types.ts';
import type { Summary } from '../replay/summary.ts';
import { compareActions, splitSummary, type KernelPacket } from '../replay/kernel.ts';
import { readExpectations, type ExpectTally } from '../replay/expect.ts';
import { replayCapture, type ReplayCaptureOptions, type ReplayRun } from '../replay/run.ts';
import { replayCaptureParallel, type ParallelReplayRun } from '../replay/parallel.ts';
import { StdoutWriter } from './stdout.ts';
import { periodicCollector } from '../replay/collect.ts';
import type { AnswerMode } from '../net/answers.ts';
import { checkObjectMatches, savedPolicies } from '../replay/object.ts';
import { BadInputError } from './exit.ts';

export interface ReplayFlags {
  readonly policy?: readonly string[];
  readonly endpoints: string;
  readonly kernel?: string;
  readonly output?: 'text' | 'jsonpb';
  readonly failOnDeny?: boolean;
  readonly expect?: string;
  readonly nodeName?: string;
  readonly inspectionLimit?: number;
  readonly denyAnswer?: AnswerMode;
  readonly capturePoint?: 'hook' | 'client';
  /** the deployment is in audit mode (deploy --audit) */
  readonly audit?: boolean;
  /** threads replaying the capture (1: one); default by capture size and cores (workerPlan) */
  readonly workers?: number;
}

/** Captures from this size on replay on worker threads by default: the workers' start is paid back. */
export const PARALLEL_FROM_BYTES = 64 * 1024 * 1024;

export async function replayCommand(capture: string, o: ReplayFlags): Promise<number> {
  if (!o.policy?.length && !o.kernel) throw new BadInputError('--policy is required (or --kernel DIR with the policies/ that l7bpf compile saves)');
  if (o.workers !== undefined && !(Number.isInteger(o.workers) && o.workers >= 1)) throw new BadInputError(`--workers: expected a whole number from 1, got ${o.workers}`);
  const policies = o.policy?.length ? loadPolicies(o.policy) : savedPolicies(o.kernel!);
  if (o.kernel) {
    checkObjectMatches(o.kernel, policies);
    const m = JSON.parse(readFileSync(join(o.kernel, 'manifest.json'), 'utf8')) as Manifest;
    // the kernel's buckets would run on its own clock, not the capture's
    if (m.httpRules.some((h) => h.rateLimit) && !m.limits?.testClock) {
      process.stderr.write(`l7bpf replay: ${o.kernel} has rate limits but was not compiled with --test-clock: the kernel's buckets run on its own clock, so limited requests may disagree with the simulator's\n`);
    }
  }
  const jsonpb = o.output === 'jsonpb';
  const out = new StdoutWriter();
  const bar = progressBar(capture);
  // long replays on this thread too: the heap stays near its live data (src/replay/collect.ts)
  const collect = periodicCollector();
  const progress = (offset: number) => {
    bar?.(offset);
    collect();
  };
  const expect = o.expect ? readExpectations(o.expect) : undefined;
  const common = {
    policies,
    // the node the capture was taken on: its addresses are host, other nodes' remote-node
    inventory: loadInventory(o.endpoints, o.nodeName ? { localNode: o.nodeName, localNodeFrom: '--node-name' } : {}),
    ...(o.inspectionLimit ? { inspectionLimit: o.inspectionLimit } : {}),
    ...(o.nodeName ? { nodeName: o.nodeName } : {}),
    answer: o.denyAnswer ?? 'auto',
    ...(o.capturePoint ? { capturePoint: o.capturePoint } : {}),
    ...(o.audit ? { audit: true } : {}),
    ...(expect ? { expect } : {}),
    onProgress: progress,
  } satisfies Partial<ReplayCaptureOptions>;
  const plan = workerPlan(capture, o, policies);
  if (plan.note) process.stderr.write(`l7bpf replay: ${plan.note}\n`);
  let run: ReplayRun | ParallelReplayRun;
  let kernel: ReplayRun['kernel'] = null;
  if (plan.threads) {
    run = await replayCaptureParallel(capture, { ...common, workers: plan.workers, ...(jsonpb ? { onFlowLines: (text: string) => out.write(text) } : {}) });
  } else {
    const one = replayCapture(capture, {
      ...common, keepRows: false,
      ...(o.kernel ? { kernelDir: o.kernel } : {}),
      ...(jsonpb ? { onFlowLine: (line: string) => out.line(line) } : {}),
    });
    kernel = one.kernel;
    run = one;
  }
  out.flush();
  for (const e of run.errors) process.stderr.write(`${capture}: ${e.message}\n`);
  if (run.skippedCopies) process.stderr.write(`${capture}: ${run.skippedCopies} packet(s) skipped: copies of a flow's packets from another interface of the capture (the flow is replayed from the interface that saw it first)\n`);
  if (!jsonpb) process.stdout.write(run.summary.render() + `${run.packets} packet(s), ${run.connections} connection(s)\n`);
  const disagree = kernel ? reportKernel(kernel.packets, kernel.sim) : 0;
  return Math.max(exitCode(o, run.summary, run.expect, run.errors.length), disagree > 0 ? 1 : 0);
}

/**
 * How many threads replay the capture (docs/simulator.md, "Worker threads"): `--workers`, else
 * worker threads from PARALLEL_FROM_BYTES on when the machine has cores for them. One thread,
 * whatever `--workers` says, with `--kernel` (one object, packet by packet) and with rate limits
 * per source or per rule (their buckets are shared by connections that different workers would
 * replay); limits per connection shard.
 */
/** `threads`: replay in worker threads (large captures even on one), else on this thread. */
export function workerPlan(capture: string, o: ReplayFlags, policies: readonly Policy[]): { workers: number; threads: boolean; note?: string } {
  const asked = o.workers;
  // a large capture replays in a worker thread even on one: its heap has limits the main
  // thread's cannot have (2M packets' jsonpb: 220 MB of RSS in a worker, 395 MB on this thread)
  const large = statSync(capture).size >= PARALLEL_FROM_BYTES;
  const one = (why: string, threads = large) => ({ workers: 1, threads, ...(asked !== undefined && asked > 1 ? { note: `one thread, not ${asked}: ${why}` } : {}) });
  if (o.kernel) return one('--kernel runs every packet through one object in capture order', false);
  if (sharedRateLimits(policies)) return one('rate limits per source or per rule keep buckets across connections');
  if (asked !== undefined) return { workers: asked, threads: large || asked > 1 };
  if (!large) return { workers: 1, threads: false };
  // a count that divides the summary's 24 flow shards (TopCounts.SHARDS): workers take whole shards
  const n = [8, 6, 4, 3, 2].find((k) => k <= availableParallelism()) ?? 1;
  return { workers: n, threads: true };
}

function sharedRateLimits(policies: readonly Policy[]): boolean {
  return policies.some((p) => p.specs.some((s) => s.rules.some((r) => r.toPorts?.some((t) => t.http?.some((h) => h.rateLimit !== null && h.rateLimit.per !== 'connection')))));
}

function reportKernel(kernel: readonly KernelPacket[], sim: readonly PacketEvent[]): number {
  const { diffs, afterEnd } = compareActions(kernel, sim);
  for (const d of diffs) {
    process.stderr.write(`kernel and simulator disagree on packet #${d.index + 1} (capture offset ${d.offset}): kernel ${d.kernel}, simulator ${d.simulator} (${d.reason})\n`);
  }
  const ran = kernel.filter((k) => k.programs.length > 0).length;
  const agree = ran - diffs.length - afterEnd.packets;
  process.stdout.write(`kernel: ${ran} packet(s) run through the object, ${agree} agree with the simulator, ${diffs.length} disagree\n`);
  if (afterEnd.packets) process.stdout.write(`kernel: ${afterEnd.packets} packet(s) of ${afterEnd.connections} connection(s) differ after their connection ended (denied or reset): the capture was recorded without enforcement, no node enforcing the policy would see them\n`);
  const split = splitSummary(kernel);
  if (split) process.stdout.write(`${split}\n`);
  return diffs.length;
}

function exitCode(o: ReplayFlags, summary: Summary, expect: ExpectTally | null, captureErrors: number): number {
  let code = captureErrors > 0 ? 2 : 0;
  if (expect) {
    const diffs = expect.differences();
    for (const d of diffs) process.stderr.write(`replay: ${d}\n`);
    if (diffs.length) code = 1;
  }
  if (o.failOnDeny && (summary.deniedRequests > 0 || summary.deniedConnections > 0)) {
    process.stderr.write(`replay: ${summary.deniedRequests} request(s) and ${summary.deniedConnections} connection(s) denied (--fail-on-deny)\n`);
    code = 1;
  }
  return code;
}

/** A one-line progress indicator on a terminal, for captures over 16 MB. */
function progressBar(file: string): ((offset: number) => void) | null {
  const size = statSync(file).size;
  if (!process.stderr.isTTY || size < 16 << 20) return null;
  let last = 0;
  return (offset) => {
    const now = Date.now();
    if (offset >= 0 && now - last < 200) return;
    last = now;
    process.stderr.write(offset < 0 ? '\r\x1b[K' : `\rreplay: ${Math.floor((offset / size) * 100)}% of ${(size / 1e6).toFixed(0)} MB`);
  };
}
