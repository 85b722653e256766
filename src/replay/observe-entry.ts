// One kernel event -> a flow history entry (src/observe/history.ts): its Hubble jsonpb lines
// and its summary row, rendered when the event is read with the deployment's endpoints and
// rules then (a later redeploy does not rewrite the past). `observe` and the agent both drain
// the ring buffer through this.
import { decodeEvent, EVENT_SIZE } from '../loader/index.ts';
import { flowJsonLine } from '../flow/build.ts';
import type { HistoryEntry } from '../observe/history.ts';
import { observe, type ObserveContext } from './observe-flow.ts';
import type { RequestRow } from './records.ts';
import type { ConnRow } from './summary.ts';

/** What an entry keeps for the text output and the agent's metrics: the event's summary row. */
export type EntryRow = ({ kind: 'request' } & RequestRow) | ({ kind: 'connection' } & ConnRow) | { kind: 'drop'; allowed: false };

export function entryOf(ctx: ObserveContext, buf: Buffer): HistoryEntry | null {
  if (buf.length < EVENT_SIZE) return null;
  const o = observe(ctx, decodeEvent(buf));
  // nothing Hubble would show (IPv6 neighbour discovery on the veth)
  if (o.flows.length === 0) return null;
  const row: EntryRow = o.kind === 'request' ? { kind: 'request', ...o.row } : o.kind === 'connection' ? { kind: 'connection', ...o.row } : { kind: 'drop', allowed: false };
  return { t: String(o.record.timeNs), flows: o.flows.map(flowJsonLine), row };
}
