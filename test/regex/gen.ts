// fast-check generators: random RE2 regexes from a small grammar, each with a
// string built to (often) match it, and random strings over a tricky alphabet.
import fc from 'fast-check';

export interface Sample {
  readonly re: string;
  /** A string built alongside the regex; assertions may still reject it. */
  readonly text: string;
}

// ASCII letters that fold with non-ASCII (k/K/U+212A, s/S/U+017F), a word
// boundary mix, newline, and multi-byte code points.
export const ALPHABET = ['a', 'b', 'k', 'K', 's', '\u212a', '\u017f', '_', '1', ' ', '\n', 'é', 'É', '日', '😀', '-', '/'];

export const text = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 8 }).map((a) => a.join(''));

const leaf: fc.Arbitrary<Sample> = fc.oneof(
  fc.constantFrom(...ALPHABET.filter((c) => c !== '\n' && c !== '-' && c !== '/')).map((c) => ({ re: c, text: c })),
  fc.constantFrom(
    { re: '.', text: 'é' },
    { re: '\\n', text: '\n' },
    { re: '[ab]', text: 'b' },
    { re: '[^a]', text: '\n' },
    { re: '[a-k]', text: 'k' },
    { re: '[^\\d\\s]', text: '日' },
    { re: '\\d', text: '1' },
    { re: '\\w', text: '_' },
    { re: '\\W', text: ' ' },
    { re: '\\s', text: '\n' },
    { re: '[[:alpha:]]', text: 'K' },
    { re: '[[:^alpha:]]', text: '\u212a' },
    { re: '\\x{1F600}', text: '😀' },
    { re: '\\Q.-\\E', text: '.-' },
    { re: '\\pL', text: 'é' },
    { re: '\\p{Han}', text: '日' },
  ),
  fc.constantFrom('^', '$', '\\A', '\\z', '\\b', '\\B').map((a) => ({ re: a, text: '' })),
);

export const sample: fc.Arbitrary<Sample> = fc.letrec<{ node: Sample }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((xs) => ({ re: xs.map((x) => x.re).join(''), text: xs.map((x) => x.text).join('') })),
    fc.tuple(tie('node'), tie('node')).map(([a, b]) => ({ re: `(?:${a.re}|${b.re})`, text: a.text })),
    fc.tuple(tie('node'), fc.constantFrom('*', '+', '?', '{2}', '{1,3}', '{0,}', '*?', '+?', '??'), fc.nat(2)).map(([a, op, k]) => ({
      re: `(?:${a.re})${op}`,
      text: a.text.repeat(op.startsWith('{2') ? 2 : op.startsWith('+') || op === '{1,3}' ? k + 1 : op.startsWith('?') ? Math.min(k, 1) : k),
    })),
    fc.tuple(fc.constantFrom('(', '(?:', '(?i:', '(?s:', '(?m:', '(?U:', '(?P<g>', '(?i-s:'), tie('node')).map(([open, a]) => ({
      re: `${open}${a.re})`.replace('(?P<g>', `(?P<g${Math.abs(hash(a.re))}>`),
      text: a.text,
    })),
  ),
})).node;

function hash(s: string): number {
  let h = 7;
  for (const c of s) h = (h * 31 + c.codePointAt(0)!) | 0;
  return h;
}

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
