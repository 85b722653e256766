// The generators' own model of RE2 classes: which characters each class
// holds, written from the RE2 syntax page rather than from the compiler, so
// a compiler bug in a class (say \s without \n) makes walks disagree with
// the compiled DFA. Only membership of the BIASED alphabet matters.

/** The characters walks and mutations draw from: whitespace, letters whose
 * case folds are tricky (k K U+212A, s S U+017F), digits, '_', path
 * punctuation, controls and multi-byte UTF-8 (2, 3 and 4 bytes). */
export const BIASED: readonly string[] = [
  '\n', '\t', ' ', '\r', '\f', '\v', '\x00', '\x7f',
  'a', 'b', 'k', 'K', 's', 'S', 'm', 'z', 'Z', 'q', 'Q', '\u212a', '\u017f',
  '0', '5', '9', '_', '/', '.', '-', ':', '%', '?', '[', 'é', 'É', 'λ', '日', '😀',
];

export interface ClassModel {
  readonly re: string;
  /** Membership; `dotAll` is the (?s) flag, which only `.` looks at. */
  has(ch: string, dotAll: boolean): boolean;
}

const cp = (ch: string): number => ch.codePointAt(0)!;
const between = (ch: string, lo: string, hi: string): boolean => cp(ch) >= cp(lo) && cp(ch) <= cp(hi);
const digit = (c: string): boolean => between(c, '0', '9');
const upper = (c: string): boolean => between(c, 'A', 'Z');
const lower = (c: string): boolean => between(c, 'a', 'z');
const alpha = (c: string): boolean => upper(c) || lower(c);
const word = (c: string): boolean => alpha(c) || digit(c) || c === '_';
const perlSpace = (c: string): boolean => '\t\n\f\r '.includes(c);
const posixSpace = (c: string): boolean => '\t\n\v\f\r '.includes(c);
const punct = (c: string): boolean => cp(c) >= 0x21 && cp(c) <= 0x7e && !alpha(c) && !digit(c);
const not =
  (f: (c: string) => boolean) =>
  (c: string): boolean =>
    !f(c);

const MODELS: Readonly<Record<string, (c: string, dotAll: boolean) => boolean>> = {
  '.': (c, dotAll) => dotAll || c !== '\n',
  '\\d': digit,
  '\\D': not(digit),
  '\\w': word,
  '\\W': not(word),
  '\\s': perlSpace,
  '\\S': not(perlSpace),
  '[[:alpha:]]': alpha,
  '[[:digit:]]': digit,
  '[[:space:]]': posixSpace,
  '[[:punct:]]': punct,
  '[[:word:]]': word,
  '[[:upper:]]': upper,
  '[[:lower:]]': lower,
  '[[:alnum:]]': (c) => alpha(c) || digit(c),
  '[[:blank:]]': (c) => c === ' ' || c === '\t',
  '[[:xdigit:]]': (c) => digit(c) || between(c, 'a', 'f') || between(c, 'A', 'F'),
  '[[:^space:]]': not(posixSpace),
  '[[:^alpha:]]': not(alpha),
  '[a-z0-9_]': (c) => lower(c) || digit(c) || c === '_',
  '[^/]': (c) => c !== '/',
  '[^\\n]': (c) => c !== '\n',
  '[\\s\\d]': (c) => perlSpace(c) || digit(c),
  '[^\\s.]': (c) => !perlSpace(c) && c !== '.',
  '[/._-]': (c) => '/._-'.includes(c),
  '[^a-z]': not(lower),
  '[\\w.]': (c) => word(c) || c === '.',
  '[k-s]': (c) => between(c, 'k', 's'),
  '\\pL': (c) => /\p{L}/u.test(c),
  '\\p{Han}': (c) => /\p{Script=Han}/u.test(c),
};

// Unicode classes are costly to compile (large UTF-8 automata): list them once
// while the ASCII ones appear several times, so most samples stay cheap.
export const CLASS_NAMES: readonly string[] = Object.keys(MODELS).flatMap((name) => (name.startsWith('\\p') || name.startsWith('\\P') ? [name] : [name, name]));

export function classModel(name: string): ClassModel {
  const has = MODELS[name];
  if (has === undefined) throw new Error(`no class model for ${name}`);
  return { re: name, has };
}

/** Simple case-fold orbit of a character (itself included). */
export function foldVariants(ch: string): string[] {
  if ('kK\u212a'.includes(ch)) return ['k', 'K', '\u212a'];
  if ('sS\u017f'.includes(ch)) return ['s', 'S', '\u017f'];
  const lo = ch.toLowerCase();
  const up = ch.toUpperCase();
  return [...new Set([ch, lo, up])].filter((c) => [...c].length === 1);
}
