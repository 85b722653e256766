// `l7bpf replay CAPTURE --policy ... --endpoints ...`: what the kernel would do with the
// traffic of a capture, as a summary table or Hubble jsonpb lines.
import { statSync } from 'node:fs';
import { loadPolicies } from '../policy/index.ts';
import { loadInventory } from '../endpoints/index.ts';
import { readCapture, replaySync, type CaptureError } from '../../sim/index.ts';
import { oracleJudge } from '../replay/judge.ts';
import { connectionFlow, requestFlows, requestRow, type RequestRow } from '../replay/records.ts';
import { Summary } from '../replay/summary.ts';
import { flowJsonLine } from '../flow/build.ts';
import { compareExpectations, readExpectations } from '../replay/expect.ts';
import { reasonText } from '../verdict/decide.ts';
import { describePeer } from '../verdict/peers.ts';

export interface ReplayOptions {
  readonly policy: readonly string[];
  readonly endpoints: string;
  readonly output?: 'table' | 'jsonpb';
  readonly failOnDeny?: boolean;
  readonly expect?: string;
  readonly nodeName?: string;
  readonly inspectionLimit?: string;
}

export function replayCommand(capture: string, o: ReplayOptions): number {
  const policies = loadPolicies(o.policy);
  const inv = loadInventory(o.endpoints);
  const limit = o.inspectionLimit ? Number(o.inspectionLimit) : undefined;
  const nodeName = o.nodeName ?? 'l7bpf-replay';
  const jsonpb = o.output === 'jsonpb';
  const write = (s: string) => process.stdout.write(s + '\n');
  const summary = new Summary();
  const rows: RequestRow[] = [];
  const errors: CaptureError[] = [];
  const progress = progressBar(capture);
  const result = replaySync(readCapture(capture, { view: true, onError: (e) => errors.push(e) }), {
    judge: oracleJudge(policies, inv, limit),
    ...(limit ? { inspectionLimit: limit } : {}),
    onPacket: progress ? (e) => progress(e.offset) : undefined,
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
  progress?.(-1);
  for (const e of errors) process.stderr.write(`${capture}: ${e.message}\n`);
  if (!jsonpb) process.stdout.write(summary.render() + `${result.packets} packet(s), ${result.connections} connection(s)\n`);
  return exitCode(o, summary, rows, errors.length);
}

function exitCode(o: ReplayOptions, summary: Summary, rows: readonly RequestRow[], captureErrors: number): number {
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

function connReason(v: import('../replay/judge.ts').OracleConnVerdict): string {
  if (v.inspect) return 'requests inspected (http rules)';
  if (v.verdict.reason === 'no-policy') return `not inspected: ${v.directions.map((d) => `${d.direction} of ${d.endpoint.namespace}/${d.endpoint.name}`).join(' and ') || 'these peers'} unrestricted (no policy selects)`;
  return reasonText(v.verdict.reason);
}
