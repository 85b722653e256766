// Backslash escapes and bracket classes ([a-z], [^\d], [[:alpha:]], \p{Greek}).
import { type CharSet, normalize, union, negate, MAX_RUNE } from './charset.ts';
import { PERL_CLASSES, POSIX_CLASSES, unicodeClass, foldSet } from './unicode.ts';
import { type Flags, Scanner, classUnderFlags } from './scanner.ts';

const isHex = (cp: number): boolean => /[0-9a-fA-F]/.test(String.fromCodePoint(cp));
const isOctal = (cp: number): boolean => cp >= 0x30 && cp <= 0x37;
const isAlnum = (cp: number): boolean => /[0-9A-Za-z]/.test(String.fromCodePoint(cp));

const SIMPLE: Readonly<Record<string, number>> = { a: 7, f: 12, t: 9, n: 10, r: 13, v: 11 };

/** A class escape (\d \W \pN \P{^Greek}) at the cursor, or null. */
export function tryClassEscape(sc: Scanner, flags: Flags): CharSet | null {
  if (!sc.startsWith('\\')) return null;
  const start = sc.pos;
  const letter = sc.pattern[sc.pos + 1] ?? '';
  const perl = PERL_CLASSES[letter.toLowerCase()];
  if (perl !== undefined) {
    sc.pos += 2;
    return classUnderFlags(perl, letter !== letter.toLowerCase(), flags);
  }
  if (letter !== 'p' && letter !== 'P') return null;
  sc.pos += 2;
  let name: string;
  if (sc.startsWith('{')) {
    const close = sc.pattern.indexOf('}', sc.pos);
    if (close < 0) sc.fail(start, `invalid character class range: \`${sc.pattern.slice(start)}\``);
    name = sc.pattern.slice(sc.pos + 1, close);
    sc.pos = close + 1;
  } else {
    const cp = sc.next();
    if (cp < 0) sc.fail(start, `invalid character class range: \`${sc.since(start)}\``);
    name = String.fromCodePoint(cp);
  }
  let negated = letter === 'P';
  if (name.startsWith('^')) {
    negated = !negated;
    name = name.slice(1);
  }
  const set = unicodeClass(name);
  if (set === null) sc.fail(start, `invalid character class range: \`${sc.since(start)}\``);
  return classUnderFlags(set, negated, flags);
}

/** One escaped code point (\n \x41 \x{263a} \101 \.), cursor on the backslash. */
export function parseCharEscape(sc: Scanner): number {
  const start = sc.pos;
  sc.next();
  const c = sc.next();
  if (c < 0) sc.fail(start, 'trailing backslash at end of expression');
  const ch = String.fromCodePoint(c);
  const bad = (): never => sc.fail(start, `invalid escape sequence: \`${sc.since(start)}\``);
  if (ch in SIMPLE) return SIMPLE[ch]!;
  if (c >= 0x31 && c <= 0x37) {
    // \1..\7 alone is a backreference; followed by an octal digit it is octal.
    if (!isOctal(sc.peek())) {
      sc.unsupported(start, sc.since(start), 'backreferences are not regular; RE2 rejects them too');
    }
  }
  if (c >= 0x30 && c <= 0x37) {
    let v = c - 0x30;
    for (let k = 0; k < 2 && isOctal(sc.peek()); k++) v = v * 8 + (sc.next() - 0x30);
    return v;
  }
  if (ch === 'x') return parseHex(sc, start);
  if (c < 0x80 && !isAlnum(c)) return c; // escaped punctuation is itself
  if (ch === '8' || ch === '9') bad();
  return bad();
}

function parseHex(sc: Scanner, start: number): number {
  const bad = (): never => sc.fail(start, `invalid escape sequence: \`${sc.since(start)}\``);
  if (sc.startsWith('{')) {
    sc.next();
    let v = 0;
    let digits = 0;
    while (isHex(sc.peek())) {
      v = v * 16 + parseInt(String.fromCodePoint(sc.next()), 16);
      digits++;
      if (v > MAX_RUNE) bad();
    }
    if (digits === 0 || sc.next() !== 0x7d) bad();
    return v;
  }
  const a = sc.next();
  const b = sc.next();
  if (!isHex(a) || !isHex(b)) bad();
  return parseInt(String.fromCodePoint(a, b), 16);
}

/** A bracket class; the cursor is on '['. */
export function parseBracket(sc: Scanner, flags: Flags): CharSet {
  const start = sc.pos;
  sc.next();
  const negated = sc.startsWith('^');
  if (negated) sc.next();
  const parts: CharSet[] = [];
  let first = true;
  for (;;) {
    if (sc.done) sc.fail(start, `missing closing ]: \`${sc.pattern.slice(start)}\``);
    if (sc.startsWith(']') && !first) break;
    first = false;
    const posix = tryPosix(sc, flags);
    if (posix !== null) {
      parts.push(posix);
      continue;
    }
    const cls = tryClassEscape(sc, flags);
    if (cls !== null) {
      parts.push(cls);
      continue;
    }
    const rangeStart = sc.pos;
    const lo = classChar(sc, start);
    let hi = lo;
    if (sc.startsWith('-') && sc.pattern[sc.pos + 1] !== ']' && sc.pos + 1 < sc.pattern.length) {
      sc.next();
      hi = classChar(sc, start);
      if (hi < lo) sc.fail(rangeStart, `invalid character class range: \`${sc.since(rangeStart)}\``);
    }
    parts.push(flags.i ? foldSet([lo, hi]) : [lo, hi]);
  }
  sc.next(); // ']'
  const set = union(...parts);
  return negated ? negate(set) : set;
}

function classChar(sc: Scanner, classStart: number): number {
  if (sc.done) sc.fail(classStart, `missing closing ]: \`${sc.pattern.slice(classStart)}\``);
  if (sc.startsWith('\\')) return parseCharEscape(sc);
  return sc.next();
}

/** [:alpha:] or [:^alpha:] inside a bracket class, or null if not one. */
function tryPosix(sc: Scanner, flags: Flags): CharSet | null {
  if (!sc.startsWith('[:')) return null;
  const close = sc.pattern.indexOf(':]', sc.pos + 2);
  if (close < 0) return null;
  const start = sc.pos;
  let name = sc.pattern.slice(sc.pos + 2, close);
  sc.pos = close + 2;
  const negated = name.startsWith('^');
  if (negated) name = name.slice(1);
  const set = POSIX_CLASSES[name];
  if (set === undefined) sc.fail(start, `invalid character class range: \`${sc.since(start)}\``);
  return classUnderFlags(set, negated, flags);
}

export { normalize };
