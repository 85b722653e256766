// One rule set -> one minimized byte DFA: parse, NFA, subset construction,
// minimization, tables. index.ts re-exports this; split.ts reuses
// compileRoots so a pattern list is parsed once however many groups it tries.
import { parse as parseOne } from './parser.ts';
import type { RegexNode } from './ast.ts';
import { buildNfa } from './nfa.ts';
import { determinize } from './subset.ts';
import { minimize } from './minimize.ts';
import { type DfaTables, accepts, step, toTables, START } from './tables.ts';

export interface CompileOptions {
  /** Cap on DFA states during construction (default 4096; at most 65535). */
  readonly maxStates?: number;
  /** Whole-pattern (?i) for every pattern. */
  readonly caseInsensitive?: boolean;
  /** Skip minimization (for testing that minimization keeps the language). */
  readonly minimize?: boolean;
}

export interface DfaStats {
  readonly states: number;
  readonly classes: number;
  /** Bytes of classes + trans + accept as the C side stores them. */
  readonly tableBytes: number;
  readonly nfaStates: number;
  readonly compileMs: number;
}

export interface Dfa {
  readonly tables: DfaTables;
  readonly stats: DfaStats;
  /** Sorted indices of the patterns that fully match input (strings are UTF-8 encoded). */
  match(input: string | Uint8Array): number[];
  /** Resumable: step(step(START, a), b) === step(START, a ++ b). */
  step(state: number, chunk: Uint8Array): number;
  accepts(state: number): number[];
}

export const DEFAULT_MAX_STATES = 4096;
const utf8 = new TextEncoder();

export function toBytes(input: string | Uint8Array): Uint8Array {
  return typeof input === 'string' ? utf8.encode(input) : input;
}

export function compile(patterns: readonly string[], options: CompileOptions = {}): Dfa {
  const t0 = performance.now();
  const caseInsensitive = options.caseInsensitive === true;
  const roots = patterns.map((p) => parseOne(p, { caseInsensitive }).root);
  return compileRoots(roots, options, t0);
}

/** compile() after parsing: roots[i] is pattern i (flags already applied). */
export function compileRoots(roots: readonly RegexNode[], options: CompileOptions = {}, t0 = performance.now()): Dfa {
  const maxStates = Math.min(options.maxStates ?? DEFAULT_MAX_STATES, 0xffff);
  const nfa = buildNfa(roots);
  const raw = determinize(nfa, roots.length, maxStates);
  const tables = toTables(options.minimize === false ? raw : minimize(raw));
  const stats: DfaStats = {
    states: tables.numStates,
    classes: tables.numClasses,
    tableBytes: tableBytes(tables),
    nfaStates: nfa.size,
    compileMs: performance.now() - t0,
  };
  return {
    tables,
    stats,
    match: (input) => accepts(tables, step(tables, START, toBytes(input))),
    step: (state, chunk) => step(tables, state, chunk),
    accepts: (state) => accepts(tables, state),
  };
}

export function tableBytes(t: DfaTables): number {
  return t.classes.byteLength + t.trans.byteLength + t.accept.byteLength;
}
