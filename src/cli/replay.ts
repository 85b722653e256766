// `l7bpf replay CAPTURE --policy ... --endpoints ...`: what the kernel would do with the
// traffic of a capture, as a summary table or Hubble jsonpb lines. With `--kernel DIR` the
// packets also run through the compiled object (BPF_PROG_TEST_RUN) and every packet where
// the object and the simulator disagree is reported (exit 1).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../codegen/emit/manifest.ts';
import { loadPolicies } from '../policy/index.ts';
import { loadInventory } from '../endpoints/index.ts';
import type { PacketEvent } from '../../sim/index.ts';
import type { RequestRow } from '../replay/records.ts';
import type { Summary } from '../replay/summary.ts';
import { compareActions, splitSummary, type KernelPacket } from '../replay/kernel.ts';
import { compareExpectations, readExpectations } from '../replay/expect.ts';
import { replayCapture } from '../replay/run.ts';
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
}

export function replayCommand(capture: string, o: ReplayFlags): number {
  if (!o.policy?.length && !o.kernel) throw new BadInputError('--policy is required (or --kernel DIR with the policies/ that l7bpf compile saves)');
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
  const progress = progressBar(capture);
  const run = replayCapture(capture, {
    policies,
    inventory: loadInventory(o.endpoints),
    ...(o.inspectionLimit ? { inspectionLimit: o.inspectionLimit } : {}),
    ...(o.nodeName ? { nodeName: o.nodeName } : {}),
    answer: o.denyAnswer ?? 'auto',
    ...(o.capturePoint ? { capturePoint: o.capturePoint } : {}),
    ...(o.kernel ? { kernelDir: o.kernel } : {}),
    ...(jsonpb ? { onFlowLine: (line: string) => process.stdout.write(line + '\n') } : {}),
    ...(progress ? { onProgress: progress } : {}),
  });
  for (const e of run.errors) process.stderr.write(`${capture}: ${e.message}\n`);
  if (!jsonpb) process.stdout.write(run.summary.render() + `${run.packets} packet(s), ${run.connections} connection(s)\n`);
  const disagree = run.kernel ? reportKernel(run.kernel.packets, run.kernel.sim) : 0;
  return Math.max(exitCode(o, run.summary, run.rows, run.errors.length), disagree > 0 ? 1 : 0);
}

function reportKernel(kernel: readonly KernelPacket[], sim: readonly PacketEvent[]): number {
  const diffs = compareActions(kernel, sim);
  for (const d of diffs) {
    process.stderr.write(`kernel and simulator disagree on packet #${d.index + 1} (capture offset ${d.offset}): kernel ${d.kernel}, simulator ${d.simulator} (${d.reason})\n`);
  }
  const ran = kernel.filter((k) => k.programs.length > 0).length;
  process.stdout.write(`kernel: ${ran} packet(s) run through the object, ${ran - diffs.length} agree with the simulator, ${diffs.length} disagree\n`);
  const split = splitSummary(kernel);
  if (split) process.stdout.write(`${split}\n`);
  return diffs.length;
}

function exitCode(o: ReplayFlags, summary: Summary, rows: readonly RequestRow[], captureErrors: number): number {
  let code = captureErrors > 0 ? 2 : 0;
  if (o.expect) {
    const diffs = compareExpectations(readExpectations(o.expect), rows);
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
