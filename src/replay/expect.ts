// `--expect FILE`: the verdicts a capture should get, one per line, compared as a multiset:
//   allowed GET /api/v1/users
//   denied  POST /api/v1/users
// Lines starting with # are comments. Requests broken by a strict rule read `<rule-name>`.
import { readFileSync } from 'node:fs';
import type { RequestRow } from './records.ts';
import { BottomK, type BottomKData } from './bounded.ts';

export function readExpectations(file: string): Map<string, number> {
  const out = new Map<string, number>();
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(allowed|denied)\s+(.+)$/.exec(line);
    if (!m?.[1] || !m[2]) throw new Error(`${file}:${i + 1}: expected "allowed|denied METHOD TARGET", got "${line}"`);
    const key = `${m[1]} ${m[2].replace(/\s+/g, ' ')}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  });
  return out;
}

export function rowKey(r: RequestRow): string {
  return `${r.allowed ? 'allowed' : 'denied'} ${r.line}`;
}

/** Kinds of unexpected request (no expectation names them) counted exactly, at most. */
export const UNEXPECTED_KINDS = 1000;

/** An ExpectTally as structured-cloneable data: what a replay worker posts back. */
export interface ExpectTallyData {
  readonly counts: readonly (readonly [string, number])[];
  readonly unexpected: BottomKData<{ count: number }>;
}

/**
 * What `--expect` needs of the rows, counted as they stream by: exact counts of the expected
 * kinds, and of the unexpected kinds a bounded sample (bounded.ts; the rest are summed).
 */
export class ExpectTally {
  private readonly counts = new Map<string, number>();
  private readonly unexpected = new BottomK<{ count: number }>(UNEXPECTED_KINDS, { zero: () => ({ count: 0 }), add: (a, b) => { a.count += b.count; } });

  constructor(private readonly expected: ReadonlyMap<string, number>) {}

  add(r: RequestRow): void {
    this.addKey(rowKey(r), 1);
  }

  toData(): ExpectTallyData {
    return { counts: [...this.counts], unexpected: this.unexpected.toData() };
  }

  merge(d: ExpectTallyData): void {
    for (const [k, n] of d.counts) this.addKey(k, n);
    this.unexpected.merge(d.unexpected);
  }

  /** Differences as sentences; empty when the capture got exactly the expected verdicts. */
  differences(): string[] {
    const out: string[] = [];
    for (const [key, e] of this.expected) {
      const a = this.counts.get(key) ?? 0;
      if (e !== a) out.push(`expected ${e} x "${key}", got ${a}`);
    }
    for (const [key, { count }] of this.unexpected.entries()) out.push(`expected 0 x "${key}", got ${count}`);
    out.sort();
    const rest = this.unexpected.rest.count;
    if (rest > 0) out.push(`and ${rest} more request(s) of kinds no expectation names (over ${UNEXPECTED_KINDS} kinds: not listed)`);
    return out;
  }

  private addKey(key: string, n: number): void {
    if (this.expected.has(key)) this.counts.set(key, (this.counts.get(key) ?? 0) + n);
    else this.unexpected.slot(key).count += n;
  }
}

/** Differences as sentences; empty when the capture got exactly the expected verdicts. */
export function compareExpectations(expected: Map<string, number>, rows: Iterable<RequestRow>): string[] {
  const t = new ExpectTally(expected);
  for (const r of rows) t.add(r);
  return t.differences();
}
