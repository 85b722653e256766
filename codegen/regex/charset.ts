// Sets of Unicode code points as sorted, merged, inclusive ranges flattened
// into [lo0, hi0, lo1, hi1, ...]. Small and immutable: every operation
// returns a new normalized set.

export type CharSet = readonly number[];

export const MAX_RUNE = 0x10ffff;
export const EMPTY: CharSet = [];
export const ANY: CharSet = [0, MAX_RUNE];

/** Normalizes arbitrary (possibly overlapping, unsorted) range pairs. */
export function normalize(pairs: readonly number[]): CharSet {
  const items: [number, number][] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) items.push([pairs[i]!, pairs[i + 1]!]);
  items.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: number[] = [];
  for (const [lo, hi] of items) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

export function union(...sets: readonly CharSet[]): CharSet {
  return normalize(sets.flat());
}

export function single(cp: number): CharSet {
  return [cp, cp];
}

/** Complement within [0, MAX_RUNE]. */
export function negate(set: CharSet): CharSet {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < set.length; i += 2) {
    if (set[i]! > next) out.push(next, set[i]! - 1);
    next = set[i + 1]! + 1;
  }
  if (next <= MAX_RUNE) out.push(next, MAX_RUNE);
  return out;
}

export function subtract(a: CharSet, b: CharSet): CharSet {
  return negate(union(negate(a), b));
}

export function contains(set: CharSet, cp: number): boolean {
  let lo = 0;
  let hi = set.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < set[2 * mid]!) hi = mid - 1;
    else if (cp > set[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

export function isEmpty(set: CharSet): boolean {
  return set.length === 0;
}

export function sameSet(a: CharSet, b: CharSet): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
