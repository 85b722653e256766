// RE2 regexes of http rules: validation and full-match through re2js (the oracle's engine;
// the kernel uses codegen/regex DFAs, held to the same answers by tests).
import { RE2JS } from 're2js';
import { shapeMatches, shapeOf, type Shape } from './regex-shape.ts';

interface Compiled {
  readonly re: RE2JS;
  /** literal-like patterns are decided by string comparison (held to re2js by tests) */
  readonly shape: Shape | null;
  /** recent inputs -> result: captures repeat the same methods, paths and hosts a lot */
  readonly memo: Map<string, boolean>;
}

const MEMO_ENTRIES = 4096;
const cache = new Map<string, Compiled>();

/** Returns the RE2 error text, or null when `pattern` is a valid RE2 regex. */
export function re2Error(pattern: string): string | null {
  try {
    compiled(pattern);
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^error parsing regexp: /, '');
  }
}

/** Full match (anchored at both ends), as Cilium matches method, path and host. */
export function fullMatch(pattern: string, input: string): boolean {
  const c = compiled(pattern);
  if (c.shape) return shapeMatches(c.shape, input);
  let hit = c.memo.get(input);
  if (hit === undefined) {
    hit = c.re.matches(input);
    if (c.memo.size >= MEMO_ENTRIES) c.memo.clear();
    c.memo.set(input, hit);
  }
  return hit;
}

function compiled(pattern: string): Compiled {
  let c = cache.get(pattern);
  if (!c) {
    c = { re: RE2JS.compile(pattern), shape: shapeOf(pattern), memo: new Map() };
    cache.set(pattern, c);
  }
  return c;
}
