// `--expect FILE`: the verdicts a capture should get, one per line, compared as a multiset:
//   allowed GET /api/v1/users
//   denied  POST /api/v1/users
// Lines starting with # are comments. Requests broken by a strict rule read `<rule-name>`.
import { readFileSync } from 'node:fs';
import type { RequestRow } from './records.ts';

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

/** Differences as sentences; empty when the capture got exactly the expected verdicts. */
export function compareExpectations(expected: Map<string, number>, rows: readonly RequestRow[]): string[] {
  const actual = new Map<string, number>();
  for (const r of rows) actual.set(rowKey(r), (actual.get(rowKey(r)) ?? 0) + 1);
  const out: string[] = [];
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const e = expected.get(key) ?? 0;
    const a = actual.get(key) ?? 0;
    if (e !== a) out.push(`expected ${e} x "${key}", got ${a}`);
  }
  return out.sort();
}
