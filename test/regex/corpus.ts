// Reader for RE2's search test file (re2-search.txt): blocks of "strings"
// then "regexps", each regexp followed by one result line per string whose
// first ';' column is the full-match result ("-" = no match).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface CorpusCase {
  readonly regex: string;
  readonly line: number;
  readonly inputs: readonly Uint8Array[];
  /** Full-match result per input. */
  readonly full: readonly boolean[];
}

export function corpusPath(name: string): string | null {
  const root = resolve(process.cwd(), process.env['L7BPF_CORPORA'] ?? '../shared/corpora');
  const path = resolve(root, name);
  return existsSync(path) ? path : null;
}

const SIMPLE: Readonly<Record<string, number>> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, '"': 34, "'": 39 };

/** Go string literal -> bytes (\x and octal escapes are raw bytes). */
export function unquoteGo(lit: string): Uint8Array {
  if (!lit.startsWith('"') || !lit.endsWith('"')) throw new Error(`not a quoted string: ${lit}`);
  const body = lit.slice(1, -1);
  const out: number[] = [];
  const enc = new TextEncoder();
  for (let i = 0; i < body.length; ) {
    const ch = body[i]!;
    if (ch !== '\\') {
      const cp = body.codePointAt(i)!;
      out.push(...enc.encode(String.fromCodePoint(cp)));
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = body[i + 1]!;
    if (e in SIMPLE) {
      out.push(SIMPLE[e]!);
      i += 2;
    } else if (e === 'x') {
      out.push(parseInt(body.slice(i + 2, i + 4), 16));
      i += 4;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      out.push(...enc.encode(String.fromCodePoint(parseInt(body.slice(i + 2, i + 2 + n), 16))));
      i += 2 + n;
    } else if (/[0-7]/.test(e)) {
      out.push(parseInt(body.slice(i + 1, i + 4), 8));
      i += 4;
    } else throw new Error(`unknown escape \\${e} in ${lit}`);
  }
  return Uint8Array.from(out);
}

export function readCorpus(path: string): CorpusCase[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const cases: CorpusCase[] = [];
  const dec = new TextDecoder('utf-8', { fatal: true });
  let inputs: Uint8Array[] = [];
  let mode: 'none' | 'strings' | 'regexps' = 'none';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === 'strings') {
      mode = 'strings';
      inputs = [];
    } else if (line === 'regexps') mode = 'regexps';
    else if (line.startsWith('"') && mode === 'strings') inputs.push(unquoteGo(line));
    else if (line.startsWith('"') && mode === 'regexps') {
      const full = inputs.map((_, k) => lines[i + 1 + k]!.split(';')[0] !== '-');
      cases.push({ regex: dec.decode(unquoteGo(line)), line: i + 1, inputs, full });
      i += inputs.length;
    }
  }
  return cases;
}
