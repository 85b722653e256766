// \C (one byte) against an independent byte-level oracle: the same pattern
// written as a JS RegExp over "binary strings" (one char per byte), where
// `.` and literals are spelled as their UTF-8 byte sequences. re2js rejects
// \C, so this is the oracle for patterns that mix \C with code points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compile } from '../../codegen/regex/index.ts';

interface Atom {
  readonly re: string;
  /** The same language over bytes, as a JS pattern without the u flag. */
  readonly js: string;
  /** Bytes of one member, to build strings that (often) match. */
  readonly sample: readonly number[];
}

const CONT = '[\\x80-\\xbf]';
// Valid UTF-8 of one scalar value (no overlongs, surrogates or > U+10FFFF), minus ASCII.
const MULTI = [
  `[\\xc2-\\xdf]${CONT}`,
  `\\xe0[\\xa0-\\xbf]${CONT}`,
  `[\\xe1-\\xec\\xee\\xef]${CONT}{2}`,
  `\\xed[\\x80-\\x9f]${CONT}`,
  `\\xf0[\\x90-\\xbf]${CONT}{2}`,
  `[\\xf1-\\xf3]${CONT}{3}`,
  `\\xf4[\\x80-\\x8f]${CONT}{2}`,
].join('|');

const ATOMS: readonly Atom[] = [
  { re: '\\C', js: '[\\x00-\\xff]', sample: [0xe6] },
  { re: '\\C', js: '[\\x00-\\xff]', sample: [0x0a] },
  { re: '\\C', js: '[\\x00-\\xff]', sample: [0xff] },
  { re: '.', js: `(?:[\\x00-\\x09\\x0b-\\x7f]|${MULTI})`, sample: [0xc3, 0xa9] },
  { re: '(?s:.)', js: `(?:[\\x00-\\x7f]|${MULTI})`, sample: [0x0a] },
  { re: '[^a]', js: `(?:[\\x00-\\x60\\x62-\\x7f]|${MULTI})`, sample: [0xe6, 0x97, 0xa5] },
  { re: 'a', js: 'a', sample: [0x61] },
  { re: 'é', js: '\\xc3\\xa9', sample: [0xc3, 0xa9] },
  { re: '日', js: '\\xe6\\x97\\xa5', sample: [0xe6, 0x97, 0xa5] },
];

interface Sample {
  readonly re: string;
  readonly js: string;
  readonly bytes: readonly number[];
}

const atom = fc.constantFrom(...ATOMS).map((a): Sample => ({ re: a.re, js: a.js, bytes: a.sample }));

const sample: fc.Arbitrary<Sample> = fc.letrec<{ node: Sample }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small' },
    atom,
    fc.array(tie('node'), { minLength: 2, maxLength: 3 }).map((xs) => ({
      re: xs.map((x) => x.re).join(''),
      js: xs.map((x) => x.js).join(''),
      bytes: xs.flatMap((x) => x.bytes),
    })),
    fc.tuple(tie('node'), tie('node')).map(([a, b]) => ({ re: `(?:${a.re}|${b.re})`, js: `(?:${a.js}|${b.js})`, bytes: b.bytes })),
    fc.tuple(tie('node'), fc.constantFrom('*', '+', '?', '{2}', '{1,2}')).map(([a, op]) => ({
      re: `(?:${a.re})${op}`,
      js: `(?:${a.js})${op}`,
      bytes: op === '?' ? [] : op === '{2}' ? [...a.bytes, ...a.bytes] : a.bytes,
    })),
  ),
})).node;

// Lead bytes, continuation bytes, invalid bytes, newline and ASCII.
const byte = fc.constantFrom(0x61, 0x0a, 0x00, 0xc3, 0xa9, 0xe6, 0x97, 0xa5, 0x80, 0xbf, 0xc0, 0xed, 0xa0, 0xf4, 0x90, 0xff);

function oracle(js: string, bytes: readonly number[]): boolean {
  return new RegExp(`^(?:${js})$`).test(String.fromCharCode(...bytes));
}

test('\\C patterns == byte-level JS RegExp oracle, on built, mutated and random bytes', () => {
  fc.assert(
    fc.property(sample, fc.array(byte, { maxLength: 8 }), fc.nat(), byte, (s, random, at, b) => {
      const dfa = compile([s.re]);
      const built = Uint8Array.from(s.bytes);
      const cut = s.bytes.length === 0 ? 0 : at % s.bytes.length;
      const mutated = [...s.bytes.slice(0, cut), b, ...s.bytes.slice(cut + 1)];
      const inserted = [...s.bytes.slice(0, cut), b, ...s.bytes.slice(cut)];
      for (const input of [built, Uint8Array.from(mutated), Uint8Array.from(inserted), Uint8Array.from(random)]) {
        assert.equal(dfa.match(input).length === 1, oracle(s.js, [...input]), `/${s.re}/ on [${[...input].map((x) => x.toString(16)).join(' ')}]`);
      }
    }),
    { seed: 20240611, numRuns: 300 },
  );
});
