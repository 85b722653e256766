// The default replay output: per endpoint pair and rule, allowed/denied counts, and the
// most frequent denied requests with their reason, in memory that does not grow with the capture.
import type { RequestRow } from './records.ts';
import { BottomK, TopCounts, type BottomKData, type SpaceSavingData } from './bounded.ts';

export interface ConnRow {
  readonly pair: string;
  readonly allowed: boolean;
  /** a denial audit mode let pass: `reason` says why it would have been denied */
  readonly audit?: boolean;
  readonly reason: string;
}

/** Rows each table lists at most; the rest is summed on one line (docs/simulator.md, "Memory"). */
export const SUMMARY_ROWS = 1000;
/** Distinct denied requests counted per flow shard for "top denied requests". */
export const DENIED_KEYS_PER_SHARD = 256;

interface Counts { count: number }
/** audited: passed only because of audit mode (counted apart from allowed and denied) */
interface Verdicts { allowed: number; denied: number; audited: number }
const counts = { zero: (): Counts => ({ count: 0 }), add: (a: Counts, b: Counts) => { a.count += b.count; } };
const verdicts = { zero: (): Verdicts => ({ allowed: 0, denied: 0, audited: 0 }), add: (a: Verdicts, b: Verdicts) => { a.allowed += b.allowed; a.denied += b.denied; a.audited += b.audited; } };

/** A Summary as structured-cloneable data: what a replay worker posts back. */
export interface SummaryData {
  readonly groups: BottomKData<Verdicts>;
  readonly conns: BottomKData<Counts>;
  readonly denied: SpaceSavingData;
  readonly requests: number;
  readonly deniedRequests: number;
  readonly deniedConnections: number;
  readonly auditedRequests: number;
  readonly auditedConnections: number;
}

/**
 * Memory does not grow with the capture: each table keeps a bounded number of keys (bounded.ts),
 * and the tables do not depend on the order rows come in, so worker threads' parts merge into
 * the single-threaded summary.
 */
export class Summary {
  private readonly groups = new BottomK<Verdicts>(SUMMARY_ROWS, verdicts);
  private readonly conns = new BottomK<Counts>(SUMMARY_ROWS, counts);
  private readonly denied = new TopCounts(DENIED_KEYS_PER_SHARD);
  requests = 0;
  deniedRequests = 0;
  deniedConnections = 0;
  /** would have been denied, passed in audit mode; not among the allowed nor the denied */
  auditedRequests = 0;
  auditedConnections = 0;

  /** `flowHash`: the connection's (ConnInfo.hash), so that top-k tables shard as workers do. */
  addRequest(row: RequestRow, flowHash = 0): void {
    this.requests++;
    const g = this.groups.slot(`${row.pair}\0${row.rule}`);
    if (row.audit) g.audited++;
    else if (row.allowed) g.allowed++;
    else g.denied++;
    if (row.allowed && !row.audit) return;
    if (row.audit) this.auditedRequests++;
    else this.deniedRequests++;
    // audited requests are listed with the denied ones, their reason marked
    this.denied.add(`${row.pair}\0${row.line}\0${row.audit ? `AUDIT ${row.reason}` : row.reason}`, flowHash);
  }

  addConnection(row: ConnRow): void {
    if (row.audit) this.auditedConnections++;
    else if (!row.allowed) this.deniedConnections++;
    this.conns.slot(`${row.pair}\0${row.audit ? 'audit' : row.allowed}\0${row.reason}`).count++;
  }

  toData(): SummaryData {
    return {
      groups: this.groups.toData(), conns: this.conns.toData(), denied: this.denied.toData(), requests: this.requests, deniedRequests: this.deniedRequests,
      deniedConnections: this.deniedConnections, auditedRequests: this.auditedRequests, auditedConnections: this.auditedConnections,
    };
  }

  /** Adds a worker's part (built from other connections). */
  merge(d: SummaryData): void {
    this.groups.merge(d.groups);
    this.conns.merge(d.conns);
    this.denied.merge(d.denied);
    this.requests += d.requests;
    this.deniedRequests += d.deniedRequests;
    this.deniedConnections += d.deniedConnections;
    this.auditedRequests += d.auditedRequests;
    this.auditedConnections += d.auditedConnections;
  }

  render(top = 10): string {
    const out: string[] = ['connections:'];
    const conns = this.conns.entries().map(([k, c]) => { const [pair = '', verdict = '', reason = ''] = k.split('\0'); return { k, pair, verdict, reason, count: c.count }; })
      .sort((a, b) => a.pair.localeCompare(b.pair) || byKey(a.k, b.k));
    const word = (v: string) => (v === 'true' ? 'allowed' : v === 'audit' ? 'AUDIT' : 'DENIED');
    out.push(table(['FROM -> TO', 'COUNT', 'VERDICT', 'REASON'], conns.map((c) => [c.pair, String(c.count), word(c.verdict), c.reason])));
    if (this.conns.folded) out.push(`(more pairs than the ${SUMMARY_ROWS} listed, a sample chosen by hash; the others: ${this.conns.rest.count} connection(s))`);
    out.push('', 'requests:');
    const rows = this.groups.entries().map(([k, g]) => { const [pair = '', rule = ''] = k.split('\0'); return { pair, rule, ...g }; })
      .sort((a, b) => a.pair.localeCompare(b.pair) || a.rule.localeCompare(b.rule));
    const audit = this.auditedRequests > 0;
    out.push(table(['FROM -> TO', 'RULE', 'ALLOWED', 'DENIED', ...(audit ? ['AUDIT'] : [])], rows.map((g) => [g.pair, g.rule, String(g.allowed), String(g.denied), ...(audit ? [String(g.audited)] : [])])));
    if (this.groups.folded) out.push(`(more pairs and rules than the ${SUMMARY_ROWS} listed, a sample chosen by hash; the others: ${this.groups.rest.allowed} allowed, ${this.groups.rest.denied} denied)`);
    const denied = this.denied.top(top).map(([k, count]) => { const [pair = '', line = '', reason = ''] = k.split('\0'); return { pair, line, reason, count }; });
    if (denied.length) {
      out.push('', `top denied requests:`);
      out.push(table(['COUNT', 'REQUEST', 'FROM -> TO', 'REASON'], denied.map((d) => [String(d.count), d.line, d.pair, d.reason])));
      if (this.denied.overflowed) out.push(`(over ${DENIED_KEYS_PER_SHARD * TopCounts.SHARDS} distinct denied requests: counts are upper bounds)`);
    }
    const audited = this.auditedRequests || this.auditedConnections ? `; audit mode let ${this.auditedRequests} request(s) and ${this.auditedConnections} connection(s) pass that would be denied` : '';
    out.push('', `${this.requests} request(s): ${this.requests - this.deniedRequests - this.auditedRequests} allowed, ${this.deniedRequests} denied; ${this.deniedConnections} connection(s) denied at L3/L4${audited}`);
    return out.join('\n') + '\n';
  }
}

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
