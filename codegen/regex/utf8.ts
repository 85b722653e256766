// Code point ranges -> UTF-8 byte range sequences, so a byte automaton
// matches exactly the valid UTF-8 encodings of the set's members: no
// overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
import { type CharSet, subtract } from './charset.ts';

/** A sequence of byte ranges [lo, hi], one per byte of the encoding. */
export type ByteSeq = readonly (readonly [number, number])[];

const LENGTH_LIMITS = [0x7f, 0x7ff, 0xffff, 0x10ffff];
const SURROGATES: CharSet = [0xd800, 0xdfff];

export function utf8Sequences(set: CharSet): ByteSeq[] {
  const valid = subtract(set, SURROGATES);
  const out: ByteSeq[] = [];
  for (let i = 0; i < valid.length; i += 2) splitByLength(valid[i]!, valid[i + 1]!, out);
  return out;
}

function splitByLength(lo: number, hi: number, out: ByteSeq[]): void {
  let start = lo;
  for (const limit of LENGTH_LIMITS) {
    if (start > hi) return;
    if (start <= limit) {
      splitAligned(start, Math.min(hi, limit), out);
      start = limit + 1;
    }
  }
}

/** Splits [lo, hi] (same encoded length) until each piece's bytes vary independently. */
function splitAligned(lo: number, hi: number, out: ByteSeq[]): void {
  const n = encodedLength(lo);
  for (let i = 1; i < n; i++) {
    const m = (1 << (6 * i)) - 1;
    if ((lo & ~m) !== (hi & ~m)) {
      if ((lo & m) !== 0) {
        splitAligned(lo, lo | m, out);
        splitAligned((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) !== m) {
        splitAligned(lo, (hi & ~m) - 1, out);
        splitAligned(hi & ~m, hi, out);
        return;
      }
    }
  }
  const a = encode(lo);
  const b = encode(hi);
  out.push(a.map((byte, k) => [byte, b[k]!] as const));
}

function encodedLength(cp: number): number {
  return cp <= 0x7f ? 1 : cp <= 0x7ff ? 2 : cp <= 0xffff ? 3 : 4;
}

export function encode(cp: number): number[] {
  if (cp <= 0x7f) return [cp];
  if (cp <= 0x7ff) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp <= 0xffff) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}
