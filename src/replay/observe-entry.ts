// One kernel event -> a flow history entry (src/observe/history.ts): its Hubble jsonpb lines
// and its summary row, rendered when the event is read with the deployment's endpoints and
// rules then (a later redeploy does not rewrite the past). `observe` and the agent both drain
// the ring buffer through this.
import { decodeEvent, EVENT_SIZE } from '../loader/index.ts';
import { flowJsonLine, type FlowRecord } from '../flow/build.ts';
import type { HistoryEntry } from '../observe/history.ts';
import { observe, reasonName, type ObserveContext } from './observe-flow.ts';
import type { RequestRow } from './records.ts';
import type { ConnRow } from './summary.ts';

/** What an entry keeps for the text output and the agent's metrics: the event's summary row. */
export type EntryRow = ({ kind: 'request' } & RequestRow) | ({ kind: 'connection' } & ConnRow) | { kind: 'drop'; allowed: false; reason?: string };

export function entryOf(ctx: ObserveContext, buf: Buffer): HistoryEntry | null {
  return observedEntry(ctx, buf)?.entry ?? null;
}

/** The entry and the flow records its lines were written from (the agent counts those: no
 * line parsed back). */
export function observedEntry(ctx: ObserveContext, buf: Buffer): { readonly entry: HistoryEntry; readonly records: readonly FlowRecord[] } | null {
  if (buf.length < EVENT_SIZE) return null;
  const o = observe(ctx, decodeEvent(buf));
  // nothing Hubble would show (IPv6 neighbour discovery on the veth)
  if (o.flows.length === 0) return null;
  const row: EntryRow = o.kind === 'request' ? { kind: 'request', ...o.row } : o.kind === 'connection' ? { kind: 'connection', ...o.row } : { kind: 'drop', allowed: false, reason: reasonName(o.event.reason) };
  return { entry: { t: String(o.record.timeNs), flows: o.flows.map(flowJsonLine), row }, records: o.flows };
}
