// The default replay output: per endpoint pair and rule, allowed/denied counts, and the
// most frequent denied requests with their reason.
import type { RequestRow } from './records.ts';

export interface ConnRow {
  readonly pair: string;
  readonly allowed: boolean;
  readonly reason: string;
}

export class Summary {
  private readonly groups = new Map<string, { pair: string; rule: string; allowed: number; denied: number }>();
  private readonly denied = new Map<string, { row: RequestRow; count: number }>();
  private readonly conns = new Map<string, { row: ConnRow; count: number }>();
  requests = 0;
  deniedRequests = 0;
  deniedConnections = 0;

  addRequest(row: RequestRow): void {
    this.requests++;
    const key = `${row.pair}\0${row.rule}`;
    const g = this.groups.get(key) ?? { pair: row.pair, rule: row.rule, allowed: 0, denied: 0 };
    if (row.allowed) g.allowed++;
    else g.denied++;
    this.groups.set(key, g);
    if (row.allowed) return;
    this.deniedRequests++;
    const dk = `${row.pair}\0${row.line}\0${row.reason}`;
    const d = this.denied.get(dk) ?? { row, count: 0 };
    d.count++;
    this.denied.set(dk, d);
  }

  addConnection(row: ConnRow): void {
    if (!row.allowed) this.deniedConnections++;
    const key = `${row.pair}\0${row.allowed}\0${row.reason}`;
    const c = this.conns.get(key) ?? { row, count: 0 };
    c.count++;
    this.conns.set(key, c);
  }

  render(top = 10): string {
    const out: string[] = ['connections:'];
    const conns = [...this.conns.values()].sort((a, b) => a.row.pair.localeCompare(b.row.pair));
    out.push(table(['FROM -> TO', 'COUNT', 'VERDICT', 'REASON'], conns.map((c) => [c.row.pair, String(c.count), c.row.allowed ? 'allowed' : 'DENIED', c.row.reason])), '', 'requests:');
    const rows = [...this.groups.values()].sort((a, b) => a.pair.localeCompare(b.pair) || a.rule.localeCompare(b.rule));
    out.push(table(['FROM -> TO', 'RULE', 'ALLOWED', 'DENIED'], rows.map((g) => [g.pair, g.rule, String(g.allowed), String(g.denied)])));
    const denied = [...this.denied.values()].sort((a, b) => b.count - a.count).slice(0, top);
    if (denied.length) {
      out.push('', `top denied requests:`);
      out.push(table(['COUNT', 'REQUEST', 'FROM -> TO', 'REASON'], denied.map((d) => [String(d.count), d.row.line, d.row.pair, d.row.reason])));
    }
    out.push('', `${this.requests} request(s): ${this.requests - this.deniedRequests} allowed, ${this.deniedRequests} denied; ${this.deniedConnections} connection(s) denied at L3/L4`);
    return out.join('\n') + '\n';
  }
}

export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
