// A capture through the simulator with the oracle as its judge (and, with a compiled object,
// through the kernel beside it): the summary, the request rows and, as they come, Hubble flows.
// What `l7bpf replay` prints, as a library call (src/api.ts).
import type { Policy } from '../policy/types.ts';
import type { Inventory } from '../endpoints/types.ts';
import { readCapture, ReplayEngine, type CaptureError, type PacketEvent } from '../../sim/index.ts';
import { oracleJudge, type OracleConnVerdict } from './judge.ts';
import { connectionFlows, requestFlows, requestRow, type RequestRow } from './records.ts';
import { Summary } from './summary.ts';
import { ExpectTally } from './expect.ts';
import { flowJsonLine } from '../flow/build.ts';
import { KernelReplayer, type KernelPacket } from './kernel.ts';
import { OneInterfacePerFlow } from './interfaces.ts';
import { closeSync, openSync, readSync } from 'node:fs';
import { reasonText } from '../verdict/decide.ts';
import { describePeer } from '../verdict/peers.ts';
import type { AnswerMode } from '../net/answers.ts';

export interface ReplayCaptureOptions {
  readonly policies: readonly Policy[];
  readonly inventory: Inventory;
  /** longest request head inspected (default: the oracle's head limit) */
  readonly inspectionLimit?: number;
  /** node_name in flows */
  readonly nodeName?: string;
  /** how the datapath answers denials (default auto) */
  readonly answer?: AnswerMode;
  /** where the capture was taken (ReplayOptions.capturePoint; default hook) */
  readonly capturePoint?: 'hook' | 'client';
  /** the deployment is in audit mode (`--audit`): every denial passes, reported AUDIT */
  readonly audit?: boolean;
  /** a directory written by `l7bpf compile`: every packet also runs through its object */
  readonly kernelDir?: string;
  /** each flow as a Hubble jsonpb line, in capture order */
  readonly onFlowLine?: (line: string) => void;
  /** the capture offset reached (-1 at the end) */
  readonly onProgress?: (offset: number) => void;
  /** keep every request row in `rows` (default true; `l7bpf replay` does not: rows grow with the capture) */
  readonly keepRows?: boolean;
  /** `--expect`'s expectations: the rows are counted against them as they come (`expect`) */
  readonly expect?: ReadonlyMap<string, number>;
  /** a parallel replay's worker `index` of `count`: only the flows of its shard */
  readonly shard?: { readonly index: number; readonly count: number };
  /** connections tracked at once, tombstones included (default DEFAULT_MAX_CONNECTIONS) */
  readonly maxConnections?: number;
}

export interface ReplayRun {
  readonly summary: Summary;
  /** empty with keepRows false */
  readonly rows: readonly RequestRow[];
  /** the rows counted against `expect`, when given */
  readonly expect: ExpectTally | null;
  /** records the capture reader could not use (byte offsets in their messages) */
  readonly errors: readonly CaptureError[];
  readonly packets: number;
  readonly connections: number;
  /** records skipped: copies of a flow's packets from another interface of a pcapng (interfaces.ts) */
  readonly skippedCopies: number;
  /** per packet, the kernel's actions and the simulator's, when a kernel object ran */
  readonly kernel: { readonly packets: readonly KernelPacket[]; readonly sim: readonly PacketEvent[] } | null;
}

export function replayCapture(capture: string, o: ReplayCaptureOptions): ReplayRun {
  const nodeName = o.nodeName ?? 'l7bpf-replay';
  const summary = new Summary();
  const keepRows = o.keepRows ?? true;
  const rows: RequestRow[] = [];
  const expect = o.expect ? new ExpectTally(o.expect) : null;
  const errors: CaptureError[] = [];
  const simPackets: PacketEvent[] = [];
  const engine = new ReplayEngine({
    judge: oracleJudge(o.policies, o.inventory, o.inspectionLimit, undefined, { audit: o.audit === true }),
    ...(o.inspectionLimit ? { inspectionLimit: o.inspectionLimit } : {}),
    answers: (o.answer ?? 'auto') !== 'reset',
    keepAlive: (o.answer ?? 'auto') === 'auto',
    ...(o.capturePoint ? { capturePoint: o.capturePoint } : {}),
    ...(o.shard ? { shard: o.shard } : {}),
    ...(o.maxConnections ? { maxConnections: o.maxConnections } : {}),
    // a packet event per packet only when the kernel's actions are compared with them
    ...(o.kernelDir ? { onPacket: (e: PacketEvent) => { simPackets[e.index] = e; } } : {}),
    onConnection: (e) => {
      if (e.type !== 'open') return;
      if (o.onFlowLine) for (const f of connectionFlows(e.conn, e.verdict, nodeName)) o.onFlowLine(flowJsonLine(f));
      summary.addConnection({ pair: `${describePeer(e.verdict.src)} -> ${describePeer(e.verdict.dst)}:${e.conn.dstPort}`, allowed: e.verdict.allowed, ...(e.verdict.verdict.audit ? { audit: true } : {}), reason: connReason(e.verdict) });
    },
    onRequest: (r) => {
      const row = requestRow(r);
      if (keepRows) rows.push(row);
      expect?.add(row);
      summary.addRequest(row, r.conn.hash);
      if (o.onFlowLine) for (const f of requestFlows(r, nodeName)) o.onFlowLine(flowJsonLine(f));
    },
  });
  const kernel = o.kernelDir ? KernelReplayer.open(o.kernelDir, o.inventory, o.answer ?? 'auto', o.audit === true) : null;
  const kernelPackets: KernelPacket[] = [];
  const records = readCapture(capture, { view: true, onError: (e) => errors.push(e) });
  const copies = new OneInterfacePerFlow(OneInterfacePerFlow.severalInterfaces(fileHead(capture)));
  try {
    // the reader's pull loop: no iterator result object per record
    let index = 0;
    for (let rec = records.nextRecord(); rec !== null; rec = records.nextRecord()) {
      if (!copies.keep(rec)) continue;
      engine.push(rec);
      if (kernel) kernelPackets.push(kernel.push(index, rec));
      if ((index & 0xffff) === 0) o.onProgress?.(rec.offset);
      index++;
    }
  } finally {
    records.return();
    kernel?.close();
  }
  const result = engine.finish();
  o.onProgress?.(-1);
  return {
    summary, rows, expect, errors, packets: result.packets, connections: result.connections, skippedCopies: copies.skipped,
    kernel: kernel ? { packets: kernelPackets, sim: simPackets } : null,
  };
}

/** The capture's first 64 KiB (its format and pcapng interfaces), empty when unreadable (the
 * reader reports why). */
function fileHead(file: string): Uint8Array {
  const head = new Uint8Array(64 << 10);
  try {
    const fd = openSync(file, 'r');
    try {
      return head.subarray(0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return new Uint8Array(0);
  }
}

function connReason(v: OracleConnVerdict): string {
  // audit: the reason it would have been denied (an L3/L4 denial audit mode let pass)
  if (v.verdict.audit) return `${reasonText(v.verdict.reason)} (${v.verdict.deniedBy})${v.inspect ? '; requests inspected' : ''}`;
  if (v.inspect) return 'requests inspected (http rules)';
  if (v.verdict.reason === 'no-policy') return `not inspected: ${v.directions.map((d) => `${d.direction} of ${d.endpoint.namespace}/${d.endpoint.name}`).join(' and ') || 'these peers'} unrestricted (no policy selects)`;
  return reasonText(v.verdict.reason);
}
