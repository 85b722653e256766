// RE2 regexes of http rules: validation and full-match through re2js (the oracle's engine;
// the kernel uses codegen/regex DFAs, held to the same answers by tests).
import { RE2JS } from 're2js';

const cache = new Map<string, RE2JS>();

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
  return compiled(pattern).matches(input);
}

function compiled(pattern: string): RE2JS {
  let re = cache.get(pattern);
  if (!re) {
    re = RE2JS.compile(pattern);
    cache.set(pattern, re);
  }
  return re;
}
