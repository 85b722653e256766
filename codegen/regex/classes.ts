// Byte equivalence classes: bytes that no NFA byte range (and no assertion
// context) tells apart share a class, so the DFA has one column per class
// instead of 256.
import { type Nfa, Op } from './nfa.ts';

export interface ByteClasses {
  readonly classOf: Uint8Array;
  readonly count: number;
  /** A byte of each class, used to evaluate context (newline, word byte). */
  readonly rep: Uint8Array;
}

export const isWordByte = (b: number): boolean =>
  (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f;

export function byteClasses(nfa: Nfa): ByteClasses {
  const ranges = new Set<number>();
  for (let n = 0; n < nfa.size; n++) {
    if (nfa.op[n] === Op.Byte) ranges.add(nfa.arg[n]! * 256 + nfa.hi[n]!);
  }
  if (nfa.uses.has('beginLine') || nfa.uses.has('endLine')) ranges.add(10 * 256 + 10);
  let classOf = new Uint8Array(256);
  const split = (inside: (b: number) => boolean): void => {
    const ids = new Map<number, number>();
    const next = new Uint8Array(256);
    for (let b = 0; b < 256; b++) {
      const key = classOf[b]! * 2 + (inside(b) ? 1 : 0);
      let id = ids.get(key);
      if (id === undefined) ids.set(key, (id = ids.size));
      next[b] = id;
    }
    classOf = next;
  };
  for (const r of ranges) split((b) => b >= r >> 8 && b <= (r & 255));
  if (nfa.uses.has('wordBoundary') || nfa.uses.has('notWordBoundary')) split(isWordByte);
  let count = 0;
  for (let b = 0; b < 256; b++) count = Math.max(count, classOf[b]! + 1);
  const rep = new Uint8Array(count);
  for (let b = 255; b >= 0; b--) rep[classOf[b]!] = b;
  return { classOf, count, rep };
}

/** Class ids covered by each byte range, memoized by range. */
export function classLists(nfa: Nfa, classes: ByteClasses): readonly (Int32Array | null)[] {
  const memo = new Map<number, Int32Array>();
  const lists: (Int32Array | null)[] = [];
  for (let n = 0; n < nfa.size; n++) {
    if (nfa.op[n] !== Op.Byte) {
      lists.push(null);
      continue;
    }
    const lo = nfa.arg[n]!;
    const hi = nfa.hi[n]!;
    const key = lo * 256 + hi;
    let list = memo.get(key);
    if (list === undefined) {
      const seen = new Set<number>();
      for (let b = lo; b <= hi; b++) seen.add(classes.classOf[b]!);
      list = Int32Array.from(seen);
      memo.set(key, list);
    }
    lists.push(list);
  }
  return lists;
}
