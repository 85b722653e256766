// `l7bpf replay CAPTURE --policy ... --endpoints ...`: what the kernel would do with the
// traffic of a capture, as a summary table or Hubble jsonpb lines. With `--kernel DIR` the
// packets also run through the compiled object (BPF_PROG_TEST_RUN) and every packet where
// the object and the simulator disagree is reported (exit 1).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrors, loadPolicies, parsePolicies, PolicyError } from '../policy/index.ts';
import type { Policy } from '../policy/types.ts';
import { loadInventory } from '../endpoints/index.ts';
import { readCapture, ReplayEngine, type CaptureError, type PacketEvent } from '../../sim/index.ts';
import { oracleJudge, type OracleConnVerdict } from '../replay/judge.ts';
import { connectionFlow, requestFlows, requestRow, type RequestRow } from '../replay/records.ts';
import { Summary } from '../replay/summary.ts';
import { flowJsonLine } from '../flow/build.ts';
import { compareActions, KernelReplayer, splitSummary, type KernelPacket } from '../replay/kernel.ts';
import { compareExpectations, readExpectations } from '../replay/expect.ts';
import { reasonText } from '../verdict/decide.ts';
import { describePeer } from '../verdict/peers.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { irJson, sha256 } from '../../codegen/emit/manifest.ts';

export interface ReplayFlags {
  readonly policy?: readonly string[];
  readonly endpoints: string;
  readonly kernel?: string;
  readonly output?: 'table' | 'jsonpb';
  readonly failOnDeny?: boolean;
  readonly expect?: string;
  readonly nodeName?: string;
  readonly inspectionLimit?: string;
}

export function replayCommand(capture: string, o: ReplayFlags): number {
  const policies = o.policy?.length ? loadPolicies(o.policy) : savedPolicies(o.kernel);
  if (o.kernel) checkObjectMatches(o.kernel, policies);
  const inv = loadInventory(o.endpoints);
  const limit = o.inspectionLimit ? Number(o.inspectionLimit) : undefined;
  const nodeName = o.nodeName ?? 'l7bpf-replay';
  const jsonpb = o.output === 'jsonpb';
  const write = (s: string) => process.stdout.write(s + '\n');
  const summary = new Summary();
  const rows: RequestRow[] = [];
  const errors: CaptureError[] = [];
  const simPackets: PacketEvent[] = [];
  const progress = progressBar(capture);
  const engine = new ReplayEngine({
    judge: oracleJudge(policies, inv, limit),
    ...(limit ? { inspectionLimit: limit } : {}),
    onPacket: (e) => {
      if (o.kernel) simPackets[e.index] = e;
      progress?.(e.offset);
    },
    onConnection: (e) => {
      if (e.type !== 'open') return;
      if (jsonpb) write(flowJsonLine(connectionFlow(e.conn, e.verdict, nodeName)));
      summary.addConnection({ pair: `${describePeer(e.verdict.src)} -> ${describePeer(e.verdict.dst)}:${e.conn.dstPort}`, allowed: e.verdict.allowed, reason: connReason(e.verdict) });
    },
    onRequest: (r) => {
      const row = requestRow(r);
      rows.push(row);
      summary.addRequest(row);
      if (jsonpb) for (const f of requestFlows(r, nodeName)) write(flowJsonLine(f));
    },
  });
  const kernel = o.kernel ? KernelReplayer.open(o.kernel, inv) : null;
  const kernelPackets: KernelPacket[] = [];
  try {
    let index = 0;
    for (const rec of readCapture(capture, { view: true, onError: (e) => errors.push(e) })) {
      engine.push(rec);
      if (kernel) kernelPackets.push(kernel.push(index, rec));
      index++;
    }
  } finally {
    kernel?.close();
  }
  const result = engine.finish();
  progress?.(-1);
  for (const e of errors) process.stderr.write(`${capture}: ${e.message}\n`);
  if (!jsonpb) process.stdout.write(summary.render() + `${result.packets} packet(s), ${result.connections} connection(s)\n`);
  const disagree = kernel ? reportKernel(kernelPackets, simPackets) : 0;
  return Math.max(exitCode(o, summary, rows, errors.length), disagree > 0 ? 1 : 0);
}

/** The policy sources `l7bpf compile` saved next to the object, under their original names. */
function savedPolicies(kernelDir: string | undefined): readonly Policy[] {
  const index = kernelDir ? join(kernelDir, 'policies', 'index.json') : null;
  if (!kernelDir || !index || !existsSync(index)) throw new Error('--policy is required (or --kernel DIR with the policies/ that l7bpf compile saves)');
  const entries = JSON.parse(readFileSync(index, 'utf8')) as { saved: string; source: string }[];
  const policies: Policy[] = [];
  for (const e of entries) {
    const r = parsePolicies(readFileSync(join(kernelDir, 'policies', e.saved), 'utf8'), e.source);
    if (hasErrors(r.diagnostics)) throw new PolicyError(r.diagnostics);
    policies.push(...r.policies);
  }
  return policies;
}

function checkObjectMatches(dir: string, policies: readonly Policy[]): void {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { sha256: { input: string } };
  if (sha256(irJson(lower(policies))) !== manifest.sha256.input) {
    throw new Error(`${dir} was compiled from other policies than the ones given (hint: run l7bpf compile again, or omit --policy)`);
  }
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

function connReason(v: OracleConnVerdict): string {
  if (v.inspect) return 'requests inspected (http rules)';
  if (v.verdict.reason === 'no-policy') return `not inspected: ${v.directions.map((d) => `${d.direction} of ${d.endpoint.namespace}/${d.endpoint.name}`).join(' and ') || 'these peers'} unrestricted (no policy selects)`;
  return reasonText(v.verdict.reason);
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
