// A capture through the simulator with the oracle as its judge (and, with a compiled object,
// through the kernel beside it): the summary, the request rows and, as they come, Hubble flows.
// What `l7bpf replay` prints, as a library call (src/api.ts).
import type { Policy } from '../policy/types.ts';
import type { Inventory } from '../endpoints/types.ts';
import { readCapture, ReplayEngine, type CaptureError, type PacketEvent } from '../../sim/index.ts';
import { oracleJudge, type OracleConnVerdict } from './judge.ts';
import { connectionFlow, requestFlows, requestRow, type RequestRow } from './records.ts';
import { Summary } from './summary.ts';
import { flowJsonLine } from '../flow/build.ts';
import { KernelReplayer, type KernelPacket } from './kernel.ts';
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
  /** a directory written by `l7bpf compile`: every packet also runs through its object */
  readonly kernelDir?: string;
  /** each flow as a Hubble jsonpb line, in capture order */
  readonly onFlowLine?: (line: string) => void;
  /** the capture offset reached (-1 at the end) */
  readonly onProgress?: (offset: number) => void;
}

export interface ReplayRun {
  readonly summary: Summary;
  readonly rows: readonly RequestRow[];
  /** records the capture reader could not use (byte offsets in their messages) */
  readonly errors: readonly CaptureError[];
  readonly packets: number;
  readonly connections: number;
  /** per packet, the kernel's actions and the simulator's, when a kernel object ran */
  readonly kernel: { readonly packets: readonly KernelPacket[]; readonly sim: readonly PacketEvent[] } | null;
}

export function replayCapture(capture: string, o: ReplayCaptureOptions): ReplayRun {
  const nodeName = o.nodeName ?? 'l7bpf-replay';
  const summary = new Summary();
  const rows: RequestRow[] = [];
  const errors: CaptureError[] = [];
  const simPackets: PacketEvent[] = [];
  const engine = new ReplayEngine({
    judge: oracleJudge(o.policies, o.inventory, o.inspectionLimit),
    ...(o.inspectionLimit ? { inspectionLimit: o.inspectionLimit } : {}),
    answers: (o.answer ?? 'auto') !== 'reset',
    keepAlive: (o.answer ?? 'auto') === 'auto',
    ...(o.capturePoint ? { capturePoint: o.capturePoint } : {}),
    onPacket: (e) => {
      if (o.kernelDir) simPackets[e.index] = e;
      o.onProgress?.(e.offset);
    },
    onConnection: (e) => {
      if (e.type !== 'open') return;
      o.onFlowLine?.(flowJsonLine(connectionFlow(e.conn, e.verdict, nodeName)));
      summary.addConnection({ pair: `${describePeer(e.verdict.src)} -> ${describePeer(e.verdict.dst)}:${e.conn.dstPort}`, allowed: e.verdict.allowed, reason: connReason(e.verdict) });
    },
    onRequest: (r) => {
      const row = requestRow(r);
      rows.push(row);
      summary.addRequest(row);
      if (o.onFlowLine) for (const f of requestFlows(r, nodeName)) o.onFlowLine(flowJsonLine(f));
    },
  });
  const kernel = o.kernelDir ? KernelReplayer.open(o.kernelDir, o.inventory, o.answer ?? 'auto') : null;
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
  o.onProgress?.(-1);
  return { summary, rows, errors, packets: result.packets, connections: result.connections, kernel: kernel ? { packets: kernelPackets, sim: simPackets } : null };
}

function connReason(v: OracleConnVerdict): string {
  if (v.inspect) return 'requests inspected (http rules)';
  if (v.verdict.reason === 'no-policy') return `not inspected: ${v.directions.map((d) => `${d.direction} of ${d.endpoint.namespace}/${d.endpoint.name}`).join(' and ') || 'these peers'} unrestricted (no policy selects)`;
  return reasonText(v.verdict.reason);
}
