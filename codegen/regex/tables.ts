// The table contract consumed by the C datapath, and a matcher over it that
// does exactly what the C loop does (class lookup, one transition per byte).
import type { RawDfa } from './subset.ts';

export interface DfaTables {
  readonly patterns: number; // N
  readonly classes: Uint8Array; // length 256: byte -> equivalence class id (0..numClasses-1)
  readonly numClasses: number;
  readonly numStates: number; // state 0 is the DEAD state (absorbing, accepts nothing); state 1 is START
  readonly trans: Uint16Array; // length numStates*numClasses: next = trans[state*numClasses + class]
  readonly acceptWords: number; // ceil(N/32), at least 1
  readonly accept: Uint32Array; // bit (p%32) of word [state*acceptWords + (p>>5)] set iff pattern p fully matches when input ends in this state
  /** live[s] = 1 iff some continuation from s reaches an accepting state (0 for the dead state). */
  readonly live: Uint8Array;
}

export const DEAD = 0;
export const START = 1;

export function toTables(dfa: RawDfa): DfaTables {
  if (dfa.numStates > 0xffff) throw new RangeError(`${dfa.numStates} states do not fit the 16-bit transition table`);
  return {
    patterns: dfa.patterns,
    classes: Uint8Array.from(dfa.classes.classOf),
    numClasses: dfa.classes.count,
    numStates: dfa.numStates,
    trans: Uint16Array.from(dfa.trans),
    acceptWords: dfa.acceptWords,
    accept: Uint32Array.from(dfa.accept),
    live: liveStates(dfa),
  };
}

/** Backward reachability from accepting states. */
function liveStates(dfa: RawDfa): Uint8Array {
  const C = dfa.classes.count;
  const W = dfa.acceptWords;
  const preds: number[][] = Array.from({ length: dfa.numStates }, () => []);
  for (let s = 0; s < dfa.numStates; s++) {
    for (let k = 0; k < C; k++) preds[dfa.trans[s * C + k]!]!.push(s);
  }
  const live = new Uint8Array(dfa.numStates);
  const work: number[] = [];
  for (let s = 0; s < dfa.numStates; s++) {
    if (dfa.accept.subarray(s * W, s * W + W).some((w) => w !== 0)) {
      live[s] = 1;
      work.push(s);
    }
  }
  while (work.length > 0) {
    for (const p of preds[work.pop()!]!) {
      if (live[p] === 0) {
        live[p] = 1;
        work.push(p);
      }
    }
  }
  return live;
}

/** Advances `state` over `chunk`; resumable across chunk boundaries. */
export function step(t: DfaTables, state: number, chunk: Uint8Array): number {
  const { classes, trans, numClasses } = t;
  let s = state;
  for (let i = 0; i < chunk.length && s !== DEAD; i++) s = trans[s * numClasses + classes[chunk[i]!]!]!;
  return s;
}

/** Sorted indices of the patterns that accept in `state`. */
export function accepts(t: DfaTables, state: number): number[] {
  const out: number[] = [];
  for (let w = 0; w < t.acceptWords; w++) {
    const word = t.accept[state * t.acceptWords + w]!;
    for (let b = 0; b < 32 && word >>> b !== 0; b++) if ((word >>> b) & 1) out.push(w * 32 + b);
  }
  return out;
}
