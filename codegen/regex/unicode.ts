// Unicode data for the parser: Perl and POSIX classes (ASCII, as in RE2),
// \p{...} classes and simple case folding. The Unicode tables come from the
// JS engine itself (property escapes and case mapping), so no table is
// shipped here; results are cached per name.
import { type CharSet, normalize, union, contains, single } from './charset.ts';

export const PERL_CLASSES: Readonly<Record<string, CharSet>> = {
  d: [0x30, 0x39],
  s: normalize([0x09, 0x0a, 0x0c, 0x0d, 0x20, 0x20]),
  w: normalize([0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a, 0x5f, 0x5f]),
};

export const POSIX_CLASSES: Readonly<Record<string, CharSet>> = {
  alnum: normalize([0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a]),
  alpha: normalize([0x41, 0x5a, 0x61, 0x7a]),
  ascii: [0, 0x7f],
  blank: normalize([0x09, 0x09, 0x20, 0x20]),
  cntrl: normalize([0, 0x1f, 0x7f, 0x7f]),
  digit: [0x30, 0x39],
  graph: [0x21, 0x7e],
  lower: [0x61, 0x7a],
  print: [0x20, 0x7e],
  punct: normalize([0x21, 0x2f, 0x3a, 0x40, 0x5b, 0x60, 0x7b, 0x7e]),
  space: normalize([0x09, 0x0d, 0x20, 0x20]),
  upper: [0x41, 0x5a],
  word: normalize([0x30, 0x39, 0x41, 0x5a, 0x61, 0x7a, 0x5f, 0x5f]),
  xdigit: normalize([0x30, 0x39, 0x41, 0x46, 0x61, 0x66]),
};

// General categories RE2 knows (Go's unicode.Categories); anything else is
// tried as a script name.
const CATEGORIES = new Set(
  'C Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);

let allCodePoints: string | undefined;

/** One string holding every scalar value in order (surrogates skipped). */
function everyCodePoint(): string {
  if (allCodePoints !== undefined) return allCodePoints;
  const parts: string[] = [];
  const chunk: number[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    chunk.push(cp);
    if (chunk.length === 8192) parts.push(String.fromCodePoint(...chunk.splice(0)));
  }
  parts.push(String.fromCodePoint(...chunk));
  allCodePoints = parts.join('');
  return allCodePoints;
}

function indexToCodePoint(i: number): number {
  if (i < 0xd800) return i;
  if (i < 0xf800) return i + 0x800;
  return 0x10000 + ((i - 0xf800) >> 1);
}

/** Ranges of code points matched by a JS property escape body, e.g. "Nd". */
function rangesOfJsProperty(body: string): CharSet {
  const re = new RegExp(`\\p{${body}}+`, 'gu');
  const out: number[] = [];
  for (const m of everyCodePoint().matchAll(re)) {
    // In the astral part two code units map to one code point, so the last
    // unit of a run names its last code point.
    out.push(indexToCodePoint(m.index), indexToCodePoint(m.index + m[0].length - 1));
  }
  return normalize(out);
}

const propertyCache = new Map<string, CharSet | null>();

/** \p{name} as RE2 means it, or null when RE2 has no such class. */
export function unicodeClass(name: string): CharSet | null {
  const cached = propertyCache.get(name);
  if (cached !== undefined) return cached;
  let set: CharSet | null;
  if (name === 'Any') set = [0, 0x10ffff];
  // Go's "C" is Cc|Cf|Co|Cs; JS's also includes unassigned code points (Cn).
  else if (name === 'C') set = union(...['Cc', 'Cf', 'Co', 'Cs'].map((c) => unicodeClass(c) ?? []));
  else if (CATEGORIES.has(name)) set = rangesOfJsProperty(name);
  else if (/^[A-Z][A-Za-z_]*$/.test(name)) {
    try {
      set = rangesOfJsProperty(`Script=${name}`);
    } catch {
      set = null;
    }
  } else set = null;
  propertyCache.set(name, set);
  return set;
}

let orbits: Map<number, readonly number[]> | undefined;
let foldable: Int32Array | undefined;

/** Simple case folding orbits (k K U+212A, s S U+017F, ...), derived from the
 * engine's single-code-point case mappings and checked against the /iu
 * regex canonicalization, which is Unicode simple case folding. */
function foldOrbits(): Map<number, readonly number[]> {
  if (orbits !== undefined) return orbits;
  const parent = new Map<number, number>();
  const find = (x: number): number => {
    let r = x;
    while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  const link = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (!parent.has(a)) parent.set(a, a);
    if (!parent.has(b)) parent.set(b, b);
    if (ra !== rb) parent.set(Math.max(ra, rb), Math.min(ra, rb));
  };
  for (let cp = 0; cp <= 0x1ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const s = String.fromCodePoint(cp);
    for (const m of [s.toLowerCase(), s.toUpperCase()]) {
      const other = m.codePointAt(0)!;
      if (m === s || m.length !== String.fromCodePoint(other).length) continue;
      if (new RegExp(`^${escapeJs(s)}$`, 'iu').test(m)) link(cp, other);
    }
  }
  const groups = new Map<number, number[]>();
  for (const cp of parent.keys()) {
    const r = find(cp);
    const g = groups.get(r) ?? [];
    g.push(cp);
    groups.set(r, g);
  }
  orbits = new Map();
  for (const g of groups.values()) for (const cp of g) orbits.set(cp, g.sort((a, b) => a - b));
  foldable = Int32Array.from([...orbits.keys()].sort((a, b) => a - b));
  return orbits;
}

function escapeJs(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** Every code point that simple-case-folds together with cp (cp included). */
export function foldOrbit(cp: number): readonly number[] {
  return foldOrbits().get(cp) ?? [cp];
}

/** The set closed under simple case folding. */
export function foldSet(set: CharSet): CharSet {
  foldOrbits();
  const extra: number[] = [];
  for (const cp of foldable!) {
    if (contains(set, cp)) for (const o of foldOrbit(cp)) extra.push(o, o);
  }
  return extra.length === 0 ? set : normalize([...set, ...extra]);
}

export function foldChar(cp: number): CharSet {
  return normalize(foldOrbit(cp).flatMap((c) => [c, c]));
}

export { single };
