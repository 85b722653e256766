// Subset construction over byte classes. A DFA state is (sorted set of NFA
// nodes, context bits). The set holds byte nodes, match nodes and look-ahead
// assertions ($, \z, \b, \B) still waiting for the next byte; look-behind
// assertions (^, \A) are settled from the context bits when the set is built.
import { type Nfa, Op, ASSERT_CODES } from './nfa.ts';
import { type ByteClasses, byteClasses, classLists, isWordByte } from './classes.ts';
import { TooManyStatesError } from './errors.ts';

/** A complete DFA; state 0 is dead, state 1 is the start. */
export interface RawDfa {
  readonly patterns: number;
  readonly classes: ByteClasses;
  readonly numStates: number;
  /** next = trans[state * classes.count + class] */
  readonly trans: Int32Array;
  readonly acceptWords: number;
  readonly accept: Uint32Array;
}

const AT_START = 1;
const AFTER_NL = 2;
const AFTER_WORD = 4;
const END = -1;
const NONE = -2;

/** 1 = assertion holds, 0 = fails, 2 = unknown until the next byte. */
function assertHolds(code: number, ctx: number, look: number): 0 | 1 | 2 {
  const start = (ctx & AT_START) !== 0;
  const prevWord = (ctx & AFTER_WORD) !== 0;
  switch (ASSERT_CODES[code]) {
    case 'beginText':
      return start ? 1 : 0;
    case 'beginLine':
      return start || (ctx & AFTER_NL) !== 0 ? 1 : 0;
    case 'endText':
      return look === NONE ? 2 : look === END ? 1 : 0;
    case 'endLine':
      return look === NONE ? 2 : look === END || look === 10 ? 1 : 0;
    case 'wordBoundary':
      return look === NONE ? 2 : prevWord !== (look !== END && isWordByte(look)) ? 1 : 0;
    case 'notWordBoundary':
      return look === NONE ? 2 : prevWord === (look !== END && isWordByte(look)) ? 1 : 0;
    default:
      return 0;
  }
}

class Closer {
  private mark: Int32Array;
  private stamp = 0;
  private stack: number[] = [];
  constructor(private readonly nfa: Nfa) {
    this.mark = new Int32Array(nfa.size);
  }

  /** Epsilon closure of seeds under context ctx and look-ahead look. */
  close(seeds: ArrayLike<number>, ctx: number, look: number): Int32Array {
    const { op, arg, out, alts } = this.nfa;
    const mark = this.mark;
    const stamp = ++this.stamp;
    const stack = this.stack;
    const result: number[] = [];
    for (let i = 0; i < seeds.length; i++) stack.push(seeds[i]!);
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (mark[n] === stamp) continue;
      mark[n] = stamp;
      const o = op[n];
      if (o === Op.Byte || o === Op.Match) result.push(n);
      else if (o === Op.Split) for (const a of alts[n]!) stack.push(a);
      else {
        const h = assertHolds(arg[n]!, ctx, look);
        if (h === 1) stack.push(out[n]!);
        else if (h === 2) result.push(n);
      }
    }
    return Int32Array.from(result).sort();
  }
}

function hashSet(set: Int32Array, ctx: number): number {
  let h = 0x811c9dc5 ^ ctx;
  for (let i = 0; i < set.length; i++) h = Math.imul(h ^ set[i]!, 0x01000193);
  return h >>> 0;
}

function sameArray(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function determinize(nfa: Nfa, patterns: number, maxStates: number): RawDfa {
  const classes = byteClasses(nfa);
  const C = classes.count;
  const lists = classLists(nfa, classes);
  const closer = new Closer(nfa);
  const trackNl = nfa.uses.has('beginLine');
  const trackWord = nfa.uses.has('wordBoundary') || nfa.uses.has('notWordBoundary');
  const sets: Int32Array[] = [new Int32Array(0)];
  const ctxs: number[] = [0];
  const table = new Map<number, number[]>();
  const intern = (set: Int32Array, ctx: number): number => {
    if (set.length === 0) return 0;
    const h = hashSet(set, ctx);
    const bucket = table.get(h) ?? [];
    for (const s of bucket) if (ctxs[s] === ctx && sameArray(sets[s]!, set)) return s;
    if (sets.length >= maxStates) {
      throw new TooManyStatesError(maxStates, 'the rules need a bigger automaton: avoid leading .* with bounded repeats or long alternations, split the rule set, or raise maxStates');
    }
    sets.push(set);
    ctxs.push(ctx);
    bucket.push(sets.length - 1);
    table.set(h, bucket);
    return sets.length - 1;
  };
  // The start context only matters when ^ or \A can see it; otherwise leave
  // it out so the start set can be shared with later states.
  const startCtx = nfa.uses.has('beginText') || nfa.uses.has('beginLine') ? AT_START : 0;
  const startSet = closer.close([nfa.start], startCtx, NONE);
  if (startSet.length === 0 || intern(startSet, startCtx) !== 1) {
    sets.push(startSet); // start accepts nothing: keep state 1 apart from dead state 0
    ctxs.push(startCtx);
  }
  const ctxAfter = (b: number): number => (trackNl && b === 10 ? AFTER_NL : 0) | (trackWord && isWordByte(b) ? AFTER_WORD : 0);
  const trans: number[] = [];
  const buckets: number[][] = Array.from({ length: C }, () => []);
  for (let s = 0; s < sets.length; s++) {
    const set = sets[s]!;
    const pending = set.some((n) => nfa.op[n] === Op.Assert);
    for (const b of buckets) b.length = 0;
    if (!pending) {
      for (const n of set) {
        const list = lists[n];
        if (list) for (const k of list) buckets[k]!.push(nfa.out[n]!);
      }
    } else {
      for (let k = 0; k < C; k++) {
        const c = classes.rep[k]!;
        for (const n of closer.close(set, ctxs[s]!, c)) {
          if (nfa.op[n] === Op.Byte && nfa.arg[n]! <= c && c <= nfa.hi[n]!) buckets[k]!.push(nfa.out[n]!);
        }
      }
    }
    for (let k = 0; k < C; k++) {
      const moved = buckets[k]!;
      if (moved.length === 0) trans.push(0);
      else {
        const ctx = ctxAfter(classes.rep[k]!);
        trans.push(intern(closer.close(moved, ctx, NONE), ctx));
      }
    }
  }
  const acceptWords = Math.max(1, Math.ceil(patterns / 32));
  const accept = new Uint32Array(sets.length * acceptWords);
  sets.forEach((set, s) => {
    for (const n of closer.close(set, ctxs[s]!, END)) {
      if (nfa.op[n] === Op.Match) {
        const p = nfa.arg[n]!;
        const w = s * acceptWords + (p >> 5);
        accept[w] = (accept[w]! | (1 << (p & 31))) >>> 0;
      }
    }
  });
  return { patterns, classes, numStates: sets.length, trans: Int32Array.from(trans), acceptWords, accept };
}
