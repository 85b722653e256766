// fast-check generators for the regex properties. A random regex is built as
// a small test-side tree (its own model of what each class contains, written
// independently of the compiler), rendered to RE2 syntax, and strings are
// produced FROM the tree: a random walk that picks members of classes
// (biased toward the bytes that matter: \n \t space, letters with tricky
// case folds, digits, '_', '/', '.', multi-byte UTF-8), counts at the edges of
// repeats (and one past them), other cases under (?i); then small mutations
// of those strings. Random regexes rarely match random strings; these do.
import fc from 'fast-check';
import { classModel, CLASS_NAMES, BIASED, foldVariants, type ClassModel } from './gen-classes.ts';
import { prng } from '../../sim/builder/prng.ts';

export type GenNode =
  | { readonly k: 'lit'; readonly ch: string }
  | { readonly k: 'cls'; readonly name: string }
  | { readonly k: 'anchor'; readonly re: string }
  | { readonly k: 'cat'; readonly items: readonly GenNode[] }
  | { readonly k: 'alt'; readonly items: readonly GenNode[] }
  | { readonly k: 'rep'; readonly item: GenNode; readonly min: number; readonly max: number; readonly op: string }
  /** open is '(', '(?:', '(?P<name>', '(?i:', '(?s:', '(?i-s:', '(?:(?m)' ... ; flags as they apply inside. */
  | { readonly k: 'group'; readonly open: string; readonly flags: string; readonly item: GenNode };

export interface Sample {
  readonly re: string;
  readonly node: GenNode;
  /** A string walked from the tree (assertions may still reject it). */
  readonly text: string;
  /** Seeds more walks and mutations: see strings(). */
  readonly seed: number;
}

const META = new Set([...'\\.+*?()|[]{}^$']);
const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\f': '\\f' };

// Literals: every ASCII letter (so a fold bug for any one letter shows up),
// the ones with non-ASCII fold partners twice, and the bytes that matter.
export const LITERALS = [
  ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  ...'kKsS\u212a\u017f',
  ...'_09/.-: \n\t',
  'é',
  'É',
  '日',
  '😀',
];

function renderLit(ch: string): string {
  return NAMED_ESCAPES[ch] ?? (META.has(ch) ? `\\${ch}` : ch);
}

/** RE2 text of the tree; named groups are numbered in order so names are unique. */
export function render(n: GenNode, names = { next: 0 }): string {
  const r = (x: GenNode): string => render(x, names);
  switch (n.k) {
    case 'lit':
      return renderLit(n.ch);
    case 'cls':
      return classModel(n.name).re;
    case 'anchor':
      return n.re;
    case 'cat':
      return n.items.map(r).join('');
    case 'alt':
      return `(?:${n.items.map(r).join('|')})`;
    case 'rep':
      return `(?:${r(n.item)})${n.op}`;
    case 'group':
      return `${n.open === '(?P<g>' ? `(?P<g${names.next++}>` : n.open}${r(n.item)})`;
  }
}

// Repeats: the usual operators and lazy forms; counted ones {n} {n,} {n,m}
// (n <= 3, m <= n+2) are drawn twice as often, since off-by-one bugs hide there.
const REPEATS: readonly { op: string; min: number; max: number }[] = [
  { op: '*', min: 0, max: -1 },
  { op: '+', min: 1, max: -1 },
  { op: '?', min: 0, max: 1 },
  { op: '*?', min: 0, max: -1 },
  { op: '+?', min: 1, max: -1 },
  { op: '??', min: 0, max: 1 },
];
const counted = fc
  .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1, max: 3 }), fc.boolean())
  .map(([min, extra, lazy]) => {
    const max = extra < 0 ? -1 : min + extra;
    const body = max < 0 ? `{${min},}` : extra === 0 ? `{${min}}` : `{${min},${max}}`;
    return { op: body + (lazy ? '?' : ''), min, max };
  });

const GROUPS: readonly { open: string; flags: string }[] = [
  { open: '(', flags: '' },
  { open: '(?:', flags: '' },
  { open: '(?P<g>', flags: '' },
  { open: '(?i:', flags: 'i' },
  { open: '(?i:', flags: 'i' },
  { open: '(?s:', flags: 's' },
  { open: '(?m:', flags: 'm' },
  { open: '(?U:', flags: '' },
  { open: '(?i-s:', flags: 'i-s' },
  { open: '(?:(?i)', flags: 'i' },
  { open: '(?:(?ms)', flags: 'ms' },
];

const leaf: fc.Arbitrary<GenNode> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...LITERALS).map((ch): GenNode => ({ k: 'lit', ch })) },
  { weight: 4, arbitrary: fc.constantFrom(...CLASS_NAMES).map((name): GenNode => ({ k: 'cls', name })) },
  { weight: 1, arbitrary: fc.constantFrom('^', '$', '\\A', '\\z', '\\b', '\\B').map((re): GenNode => ({ k: 'anchor', re })) },
);

export const node: fc.Arbitrary<GenNode> = fc.letrec<{ node: GenNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { minLength: 2, maxLength: 4 }).map((items): GenNode => ({ k: 'cat', items })),
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((items): GenNode => ({ k: 'alt', items })),
    fc.tuple(tie('node'), fc.oneof({ weight: 1, arbitrary: fc.constantFrom(...REPEATS) }, { weight: 2, arbitrary: counted })).map(([item, r]): GenNode => ({ k: 'rep', item, ...r })),
    fc.tuple(fc.constantFrom(...GROUPS), tie('node')).map(([g, item]): GenNode => ({ k: 'group', open: g.open, flags: g.flags, item })),
  ),
})).node;

/** Deterministic PRNG, so a fast-check seed fixes every walk. */
export { prng };

type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

interface Flags {
  readonly i: boolean;
  readonly s: boolean;
}

function applyFlags(f: Flags, spec: string): Flags {
  const [on = '', off = ''] = spec.split('-');
  return { i: off.includes('i') ? false : on.includes('i') || f.i, s: off.includes('s') ? false : on.includes('s') || f.s };
}

/** Mostly a member of the class; about one time in six a near miss (a biased non-member). */
function walkClass(m: ClassModel, f: Flags, rnd: Rnd): string {
  const inside = BIASED.filter((c) => m.has(c, f.s));
  const outside = BIASED.filter((c) => !m.has(c, f.s));
  const ch = rnd() < 0.15 && outside.length > 0 ? pick(rnd, outside) : pick(rnd, inside.length > 0 ? inside : BIASED);
  return f.i && rnd() < 0.5 ? pick(rnd, foldVariants(ch)) : ch;
}

/** How many times to walk a repeat: its edges, inside, and now and then one past them. */
function count(min: number, max: number, rnd: Rnd): number {
  const r = rnd();
  const top = max < 0 ? min + 3 : max;
  if (r < 0.15) return top + 1;
  if (r < 0.22) return Math.max(0, min - 1);
  if (r < 0.45) return min;
  if (r < 0.7) return top;
  return min + Math.floor(rnd() * (top - min + 1));
}

export function walk(n: GenNode, rnd: Rnd, f: Flags = { i: false, s: false }): string {
  switch (n.k) {
    case 'lit':
      return f.i && rnd() < 0.5 ? pick(rnd, foldVariants(n.ch)) : n.ch;
    case 'cls':
      return walkClass(classModel(n.name), f, rnd);
    case 'anchor':
      return '';
    case 'cat':
      return n.items.map((x) => walk(x, rnd, f)).join('');
    case 'alt':
      return walk(pick(rnd, n.items), rnd, f);
    case 'rep': {
      let out = '';
      for (let k = count(n.min, n.max, rnd); k > 0; k--) out += walk(n.item, rnd, f);
      return out;
    }
    case 'group':
      return walk(n.item, rnd, applyFlags(f, n.flags));
  }
}

// What mutations insert half the time: the characters class bugs are about.
const PIVOTAL = ['\n', '_', ' ', '\t', '\r', '/', '.', 'é', '日'];

/** One small edit: replace, insert, delete or duplicate a code point, or flip its case. */
export function mutate(s: string, rnd: Rnd): string {
  const cps = [...s];
  const any = (): string => (rnd() < 0.5 ? pick(rnd, PIVOTAL) : pick(rnd, BIASED));
  const at = Math.floor(rnd() * (cps.length + 1));
  const op = Math.floor(rnd() * 5);
  if (cps.length === 0 || op === 0) cps.splice(at, 0, any());
  else {
    const k = Math.min(at, cps.length - 1);
    if (op === 1) cps[k] = any();
    else if (op === 2) cps.splice(k, 1);
    else if (op === 3) cps.splice(k, 0, cps[k]!);
    else cps[k] = pick(rnd, foldVariants(cps[k]!));
  }
  return cps.join('');
}

/** Walks of the sample's tree and mutations of them: `n` walks, each also
 * mutated once. `caseInsensitive` walks as if the whole regex were under (?i). */
export function strings(s: Sample, n = 3, caseInsensitive = false): string[] {
  const rnd = prng(s.seed);
  const f = { i: caseInsensitive, s: false };
  const first = caseInsensitive ? walk(s.node, rnd, f) : s.text;
  const out = [first, mutate(first, rnd)];
  for (let k = 1; k < n; k++) {
    const w = walk(s.node, rnd, f);
    out.push(w, mutate(w, rnd));
  }
  return out;
}

export const sample: fc.Arbitrary<Sample> = fc.tuple(node, fc.integer()).map(([n, seed]) => ({
  re: render(n),
  node: n,
  text: walk(n, prng(seed ^ 0x5bd1e995)),
  seed,
}));

/** Random strings over the biased alphabet. */
export const text = fc.array(fc.constantFrom(...BIASED), { maxLength: 8 }).map((a) => a.join(''));

/** Random chunking of bytes into 1..4 pieces. */
export function chunks(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    out.push(bytes.subarray(at, p));
    at = p;
  }
  out.push(bytes.subarray(at));
  return out;
}
