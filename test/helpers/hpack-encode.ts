// A test-side HPACK encoder (RFC 7541) that can produce every representation on demand:
// indexed (static or dynamic), literal with, without and never indexing, names indexed or
// literal, strings Huffman-coded or raw, table size updates. It keeps its own dynamic table
// so that indexed references and evictions are the ones a decoder must follow.
import { HPACK_STATIC, huffmanCode } from '../../src/net/hpack-tables.ts';
import { HpackTable } from '../../sim/http2/hpack.ts';

export type Field = readonly [string, string];

export type Indexing = 'incremental' | 'without' | 'never';

/** How one field is written; unset choices take the shortest the encoder can. */
export interface Representation {
  /** an indexed field where the table holds it exactly (default: yes) */
  readonly indexed?: boolean;
  readonly indexing?: Indexing;
  /** the name by index where the table holds it (default: yes) */
  readonly nameIndexed?: boolean;
  readonly huffmanName?: boolean;
  readonly huffmanValue?: boolean;
}

const CODE = huffmanCode();

export function huffmanEncode(s: string): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const len = CODE.lengths[sym]!;
    const code = CODE.codes[sym]!;
    for (let b = len - 1; b >= 0; b--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** b) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Uint8Array.from(out);
}

/** An integer with an N-bit prefix, the first byte's high bits set to `flags`. */
export function hpackInt(prefix: number, flags: number, n: number): number[] {
  const max = (1 << prefix) - 1;
  if (n < max) return [flags | n];
  const out = [flags | max];
  let rest = n - max;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

export function hpackString(s: string, huffman: boolean): number[] {
  const bytes = huffman ? huffmanEncode(s) : Buffer.from(s, 'latin1');
  return [...hpackInt(7, huffman ? 0x80 : 0, bytes.length), ...bytes];
}

export class HpackEncoder {
  /** the simulator's table class: what this encoder adds, the decoders must find */
  private readonly table: HpackTable;

  constructor(maxSize = 4096) {
    this.table = new HpackTable(maxSize);
  }

  /** A dynamic table size update (goes first in a block). */
  sizeUpdate(n: number): number[] {
    this.table.resize(n);
    return hpackInt(5, 0x20, n);
  }

  /** One block; `rep(i)` picks the representation of field i. */
  encode(fields: readonly Field[], rep: (i: number) => Representation = () => ({})): Uint8Array {
    const out: number[] = [];
    fields.forEach((f, i) => out.push(...this.field(f, rep(i))));
    return Uint8Array.from(out);
  }

  field(f: Field, r: Representation = {}): number[] {
    const [name, value] = f;
    const exact = this.find((e) => e[0] === name && e[1] === value);
    if (exact > 0 && r.indexed !== false) return hpackInt(7, 0x80, exact);
    const nameAt = r.nameIndexed === false ? 0 : this.find((e) => e[0] === name);
    const indexing = r.indexing ?? 'incremental';
    const [prefix, flags] = indexing === 'incremental' ? [6, 0x40] : indexing === 'without' ? [4, 0] : [4, 0x10];
    const shortest = (s: string) => huffmanEncode(s).length < s.length;
    const out = [...hpackInt(prefix, flags, nameAt)];
    if (nameAt === 0) out.push(...hpackString(name, r.huffmanName ?? shortest(name)));
    out.push(...hpackString(value, r.huffmanValue ?? shortest(value)));
    if (indexing === 'incremental') this.table.add(f);
    return out;
  }

  /** Index of the first entry (static, then dynamic) that `ok` accepts; 0 if none. */
  private find(ok: (e: Field) => boolean): number {
    const s = HPACK_STATIC.findIndex(ok);
    if (s >= 0) return s + 1;
    const d = this.table.entries.findIndex(ok);
    return d >= 0 ? HPACK_STATIC.length + 1 + d : 0;
  }
}
