// A rule set too big for one DFA -> as few DFAs as we can find, each within a
// state budget. Not in the product: the datapath steps one DFA per field, and a rule set
// over the budget is a compile error (codegen/ir/lower.ts); this measures (bench/regex.ts)
// what splitting would buy, over the compiler's own pieces. Patterns are ordered by shape
// (literal, literal prefix, other, leading `.*`) so that cheap-to-combine patterns sit
// together, then packed greedily: each group takes as many whole shapes of the ordered list
// as fit, or, when one shape alone is too big, the longest part of it that
// fits (binary search). Every group is a complete, independent DFA.
import { parse as parseOne } from '../../codegen/regex/parser.ts';
import { type Dfa, type DfaStats, compileRoots, toBytes, DEFAULT_MAX_STATES } from '../../codegen/regex/compile.ts';
import { type DfaTables, accepts, step, START } from '../../codegen/regex/tables.ts';
import { TooManyStatesError } from '../../codegen/regex/errors.ts';
import { shapeBoundaries, shapeOf, shapeOrder } from './regex-split-shape.ts';

/** compileSplit needed more DFAs than allowed to keep each under its state budget. */
export class TooManyDfasError extends Error {
  override readonly name = 'TooManyDfasError';
  constructor(
    readonly maxDfas: number,
    readonly maxStatesPerDfa: number,
    /** Patterns placed in the first maxDfas groups, out of `total`. */
    readonly placed: number,
    readonly total: number,
    readonly hint: string,
  ) {
    super(`regex rule set needs more than ${maxDfas} DFAs of at most ${maxStatesPerDfa} states (${placed} of ${total} patterns fit) (hint: ${hint})`);
  }
}

export const DEFAULT_MAX_DFAS = 16;

export interface SplitOptions {
  /** State budget of each DFA (default 4096, at most 65535); enforced during construction. */
  readonly maxStatesPerDfa?: number;
  /** Most DFAs allowed (default 16); more needed -> TooManyDfasError. */
  readonly maxDfas?: number;
  /** Whole-pattern (?i) for every pattern. */
  readonly caseInsensitive?: boolean;
}

/** One independent DFA: local pattern i (bit i of `tables.accept`) is global pattern patterns[i]. */
export interface DfaGroup {
  /** Global indices, ascending. */
  readonly patterns: readonly number[];
  readonly tables: DfaTables;
  readonly stats: DfaStats;
}

export interface SplitStats {
  readonly dfas: number;
  /** Sum over groups. */
  readonly states: number;
  readonly tableBytes: number;
  readonly compileMs: number;
  /** DFA constructions tried, including the ones that overflowed. */
  readonly probes: number;
}

export interface SplitDfa {
  readonly groups: readonly DfaGroup[];
  readonly stats: SplitStats;
  /** Sorted global indices of the patterns that fully match input. */
  match(input: string | Uint8Array): number[];
}

export function compileSplit(patterns: readonly string[], options: SplitOptions = {}): SplitDfa {
  const t0 = performance.now();
  const budget = Math.min(options.maxStatesPerDfa ?? DEFAULT_MAX_STATES, 0xffff);
  const maxDfas = options.maxDfas ?? DEFAULT_MAX_DFAS;
  const caseInsensitive = options.caseInsensitive === true;
  const roots = patterns.map((p) => parseOne(p, { caseInsensitive }).root);
  const shapes = roots.map(shapeOf);
  const order = shapeOrder(shapes);
  const boundaries = shapeBoundaries(order, shapes);
  let probes = 0;
  // Runs tried by nextRun, so a shape probed alone is not rebuilt as the next group.
  const tried = new Map<string, Run | null>();
  /** The DFA of order[from..to), or null when it needs more than `budget` states. */
  const tryRun = (from: number, to: number): Run | null => {
    const key = `${from},${to}`;
    const known = tried.get(key);
    if (known !== undefined) return known;
    probes++;
    const members = order.slice(from, to).sort((a, b) => a - b);
    let run: Run | null = null;
    try {
      run = { dfa: compileRoots(members.map((p) => roots[p]!), { maxStates: budget, caseInsensitive }), members };
    } catch (e) {
      if (!(e instanceof TooManyStatesError)) throw e;
    }
    tried.set(key, run);
    return run;
  };
  const groups: DfaGroup[] = [];
  for (let from = 0; from < order.length; ) {
    if (groups.length === maxDfas) {
      throw new TooManyDfasError(maxDfas, budget, from, order.length, 'raise maxDfas or maxStatesPerDfa, or simplify the rules (leading .* and trailing .* rules multiply)');
    }
    const run = nextRun(from, boundaries, tryRun);
    if (run === null) {
      const p = order[from]!;
      throw new TooManyStatesError(budget, `pattern #${p} ${JSON.stringify(patterns[p])} alone needs more than ${budget} states: simplify it or raise maxStatesPerDfa`);
    }
    groups.push({ patterns: run.members, tables: run.dfa.tables, stats: run.dfa.stats });
    from += run.members.length;
    tried.clear();
  }
  const stats: SplitStats = {
    dfas: groups.length,
    states: groups.reduce((n, g) => n + g.stats.states, 0),
    tableBytes: groups.reduce((n, g) => n + g.stats.tableBytes, 0),
    compileMs: performance.now() - t0,
    probes,
  };
  return { groups, stats, match: (input) => matchAll(groups, input) };
}

interface Run {
  readonly dfa: Dfa;
  readonly members: number[];
}
type Probe = (from: number, to: number) => Run | null;

/** The run order[from..to) for the next group: extend shape by shape while
 * the DFA fits. When a shape overflows the group, stop before it if it fits
 * alone (it becomes the next group: splitting it would only make a bigger DFA
 * for the same count); otherwise it must be split anyway, so fill the group
 * with the longest part of it that fits (binary search). Null if not even one
 * pattern fits. The search assumes more patterns never need fewer states
 * (true of minimal DFAs); if that fails, a group is only smaller than it
 * could be, never over budget. */
function nextRun(from: number, boundaries: readonly number[], probe: Probe): ReturnType<Probe> {
  let best: ReturnType<Probe> = null;
  let lo = from; // order[from..lo) fits (vacuously at first)
  let hi = -1;
  for (const b of boundaries) {
    if (b <= from) continue;
    const got = probe(from, b);
    if (got === null) {
      hi = b;
      break;
    }
    best = got;
    lo = b;
  }
  if (hi < 0 || (best !== null && probe(lo, hi) !== null)) return best;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const got = probe(from, mid);
    if (got === null) hi = mid;
    else {
      best = got;
      lo = mid;
    }
  }
  return best;
}

/** Every group starts at START. */
export function startAll(groups: readonly DfaGroup[]): number[] {
  return groups.map(() => START);
}

/** Advances every group over chunk; resumable like Dfa.step. */
export function stepAll(groups: readonly DfaGroup[], states: readonly number[], chunk: Uint8Array): number[] {
  return groups.map((g, k) => step(g.tables, states[k]!, chunk));
}

/** Sorted global indices of the patterns accepted by the groups' current states. */
export function acceptsAll(groups: readonly DfaGroup[], states: readonly number[]): number[] {
  const out: number[] = [];
  groups.forEach((g, k) => {
    for (const local of accepts(g.tables, states[k]!)) out.push(g.patterns[local]!);
  });
  return out.sort((a, b) => a - b);
}

/** Sorted global indices of the patterns that fully match input (strings are UTF-8 encoded). */
export function matchAll(groups: readonly DfaGroup[], input: string | Uint8Array): number[] {
  return acceptsAll(groups, stepAll(groups, startAll(groups), toBytes(input)));
}
