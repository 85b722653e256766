// The agent's Prometheus metrics (prom-client): what the flows say (requests per verdict,
// policy and rule; drops per reason), what the datapath counts (ring-buffer losses, flow-table
// fill), and how reconciling goes (compile and swap durations, failures, the last error).
// Flow counters are counted from the same history entries GetFlows serves, so a scrape and a
// `hubble observe` of the same period agree.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HistoryEntry } from '../observe/history.ts';
import type { EntryRow } from '../replay/observe-entry.ts';
import { flowVerdict, type FlowRecord } from '../flow/build.ts';
import type { ObjectOrigin, ReconcileState } from './reconcile.ts';

/** What a scrape reads from the kernel (null: nothing deployed). */
export interface DatapathSample {
  readonly eventsLost: number;
  readonly flowEntries: number;
  readonly flowCapacity: number;
  readonly generation: number;
}

const VERDICT_LABEL = { FORWARDED: 'allowed', DROPPED: 'denied', AUDIT: 'audited' } as const;

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'verdict' | 'policy' | 'rule'>;
  private readonly flows: Counter<'verdict' | 'type'>;
  private readonly drops: Counter<'reason'>;
  private readonly compile: Histogram;
  private readonly swap: Histogram<'object'>;
  private readonly reconcileFailures: Counter;
  private readonly lastError: Gauge<'reason'>;
  private lastErrorText: string | null = null;

  constructor(sample: () => DatapathSample | null, state: () => ReconcileState) {
    const registers = [this.registry];
    // prom-client samples event-loop lag with a 10 ms timer, most of an idle agent's CPU (1.1% of
    // a core against 0.3%): sampled every 100 ms instead, whose lag figures would read 100 ms at
    // rest, so they are left out
    collectDefaultMetrics({ register: this.registry, prefix: 'l7bpf_process_', eventLoopMonitoringPrecision: 100 });
    for (const m of this.registry.getMetricsAsArray()) if (m.name.includes('eventloop_lag')) this.registry.removeSingleMetric(m.name);
    this.requests = new Counter({ name: 'l7bpf_requests_total', help: 'L7 requests judged, by verdict (allowed, denied, audited), policy (namespace/name) and rule (file:line of the http entry; empty when none matched)', labelNames: ['verdict', 'policy', 'rule'], registers });
    this.flows = new Counter({ name: 'l7bpf_flows_total', help: 'Hubble flows produced, by verdict and type (L3_L4, L7)', labelNames: ['verdict', 'type'], registers });
    this.drops = new Counter({ name: 'l7bpf_drops_total', help: 'requests and connections dropped, by reason', labelNames: ['reason'], registers });
    this.compile = new Histogram({ name: 'l7bpf_compile_duration_seconds', help: 'policy compiles (clang), seconds', buckets: [0.5, 1, 2, 4, 8, 16, 32, 64], registers });
    this.swap = new Histogram({ name: 'l7bpf_swap_duration_seconds', help: 'deploys and swaps (load, verify, fill maps, attach), seconds, by where the object came from', labelNames: ['object'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16], registers });
    this.reconcileFailures = new Counter({ name: 'l7bpf_reconcile_failures_total', help: 'reconciles that left the running programs in place', registers });
    this.lastError = new Gauge({ name: 'l7bpf_last_reconcile_error', help: '1 with the first line of the last reconcile error while it stands; absent when the last reconcile succeeded', labelNames: ['reason'], registers });
    new Gauge({ name: 'l7bpf_ready', help: '1 when the desired policy is enforced (as /readyz)', registers, collect() { this.set(state().ready ? 1 : 0); } });
    const datapath = (name: string, help: string, pick: (s: DatapathSample) => number) =>
      new Gauge({ name, help, registers, collect() { const s = sample(); if (s) this.set(pick(s)); else this.reset(); } });
    datapath('l7bpf_ringbuf_lost_events', 'events the datapath could not write because the ring buffer was full, since the current generation was deployed', (s) => s.eventsLost);
    datapath('l7bpf_flow_map_entries', 'connections in the flow tables', (s) => s.flowEntries);
    datapath('l7bpf_flow_map_capacity', 'capacity of the flow tables', (s) => s.flowCapacity);
    datapath('l7bpf_generation', 'generation of the deployed object', (s) => s.generation);
  }

  /** Counts a history entry's flows from the records its lines were written from. */
  entry(e: HistoryEntry, records: readonly FlowRecord[]): void {
    const row = e.row as EntryRow | undefined;
    // one drop per event: a denied request's flows are the request and the answer sent for it
    if (row && !row.allowed) this.drops.inc({ reason: row.reason ?? 'unknown' });
    for (const r of records) {
      const verdict = flowVerdict(r);
      this.flows.inc({ verdict, type: r.kind === 'l3l4' ? 'L3_L4' : 'L7' });
      if (r.kind === 'l7-request' && !r.isReply) {
        const rule = row?.kind === 'request' ? row.rule : '';
        this.requests.inc({ verdict: VERDICT_LABEL[verdict], policy: policyOf(r), rule });
      }
    }
  }

  compiled(seconds: number): void {
    this.compile.observe(seconds);
  }

  swapped(seconds: number, origin: ObjectOrigin): void {
    this.swap.observe({ object: origin }, seconds);
    this.clearError();
  }

  succeeded(): void {
    this.clearError();
  }

  failed(message: string): void {
    this.reconcileFailures.inc();
    this.clearError();
    this.lastErrorText = (message.split('\n')[0] ?? '').slice(0, 200);
    this.lastError.set({ reason: this.lastErrorText }, 1);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  private clearError(): void {
    if (this.lastErrorText !== null) this.lastError.remove({ reason: this.lastErrorText });
    this.lastErrorText = null;
  }
}

/** The first policy of the flow (its `*_allowed_by` / `*_denied_by`), as namespace/name. */
function policyOf(r: FlowRecord): string {
  const p = r.policies[0];
  if (!p) return '';
  return p.namespace ? `${p.namespace}/${p.policy}` : p.policy;
}
