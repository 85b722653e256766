// GetFlows' choice of flows, as Hubble's local observer makes it (cilium
// pkg/hubble/observer/local_observer.go, newRingReader and eventsReader):
//  - `first` with `follow` is refused;
//  - `first` (without `since`): the oldest flows, at most `number` of them;
//  - `since`: the flows from then on (at most `number` unless following; since wins over first);
//  - `follow` without `number` and `since`: only flows that come after the call;
//  - otherwise the last `number` flows (0: all), then, with `follow`, every new one;
//  - `until` ends the stream at the first flow after it;
//  - whitelist and blacklist select flows before they are counted.
import { InvalidFilterError, requestPredicate } from './filters.ts';
import type { FlowHub } from './hub.ts';
import type { GetFlowsRequest, Timestamp } from './proto.ts';
import { START, type Cursor } from '../observe/history.ts';
import type { FlowQuery, Selected } from '../observe/query.ts';
import { parseRfc3339Ns } from '../observe/units.ts';

export const timestampNs = (t: Timestamp): bigint => t.seconds * 1_000_000_000n + BigInt(t.nanos);

export interface FlowsPlan {
  readonly query: FlowQuery;
  readonly untilNs?: bigint;
  /** flows to send before following (Infinity: no limit) */
  readonly limit: number;
  readonly start: 'first' | 'since' | 'last' | 'new';
  /** Hubble's `number` for `last` (0: every flow) */
  readonly number: number;
  readonly follow: boolean;
}

/** The request as a plan; InvalidFilterError for what Hubble refuses or l7bpf cannot evaluate. */
export function planOf(req: GetFlowsRequest): FlowsPlan {
  if (req.first && req.follow) throw new InvalidFilterError('first cannot be specified with follow');
  const sinceNs = req.since ? timestampNs(req.since) : undefined;
  const number = req.number > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(req.number);
  const query: FlowQuery = { match: requestPredicate(req.whitelist, req.blacklist), ...(sinceNs !== undefined ? { sinceNs } : {}) };
  const start = sinceNs !== undefined ? 'since' : req.first ? 'first' : req.follow && number === 0 ? 'new' : 'last';
  // Hubble counts `number` only when not following (eventsReader.Next)
  const limit = req.follow || number === 0 ? Infinity : number;
  return { query, limit, start, number, follow: req.follow, ...(req.until ? { untilNs: timestampNs(req.until) } : {}) };
}

/** The flows the plan selects, in order: the history's first, then (following) new ones as the
 * hub receives them, until `signal` aborts or a flow passes `until`. */
export async function* selectFlows(hub: FlowHub, plan: FlowsPlan, signal: AbortSignal): AsyncGenerator<Selected> {
  let { batch, cursor } = initial(hub, plan);
  let sent = 0;
  for (;;) {
    for (const s of batch) {
      if (signal.aborted || sent >= plan.limit || after(s, plan.untilNs)) return;
      sent++;
      yield s;
    }
    if (!plan.follow || signal.aborted) return;
    await hub.waitAfter(cursor, signal);
    batch = [];
    cursor = hub.read(cursor, plan.query, (s) => batch.push(s));
  }
}

function initial(hub: FlowHub, plan: FlowsPlan): { batch: Selected[]; cursor: Cursor } {
  const batch: Selected[] = [];
  const push = (s: Selected) => void batch.push(s);
  if (plan.start === 'new') return { batch, cursor: hub.end() };
  if (plan.start === 'last' && plan.number > 0 && plan.number !== Infinity) return { batch, cursor: hub.readLast(plan.number, plan.query, push) };
  return { batch, cursor: hub.read(START, plan.query, push) };
}

/** The flow's own time against `until` (its entry's when it has none), as `since` is compared. */
function after(s: Selected, untilNs: bigint | undefined): boolean {
  if (untilNs === undefined) return false;
  const time = (JSON.parse(s.line) as { flow?: { time?: string } }).flow?.time;
  return ((time ? parseRfc3339Ns(time) : null) ?? BigInt(s.entry.t)) > untilNs;
}
