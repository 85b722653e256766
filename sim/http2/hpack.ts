// HPACK (RFC 7541) decoding for the simulator: one decoder per direction of a connection
// mirrors the peer encoder's dynamic table. Names and values are latin1 strings (one char
// per octet, as the HTTP/1 side holds bytes), so an entry's size is name.length +
// value.length + 32. Every violation of the RFC throws an HpackError: the request it
// belongs to is denied (fail closed), and the table can no longer be trusted.
import { HPACK_STATIC, HUFFMAN_EOS, huffmanCode } from '../../src/net/hpack-tables.ts';

export type HpackErrorCode =
  | 'truncated'
  | 'integer-overflow'
  | 'bad-index'
  | 'huffman-eos'
  | 'huffman-padding'
  | 'table-size-update'
  | 'table-size-too-big';

export class HpackError extends Error {
  override readonly name = 'HpackError';
  constructor(readonly code: HpackErrorCode, detail: string, /** byte offset in the field block */ readonly offset: number) {
    super(`hpack ${code}: ${detail} (byte ${offset} of the field block)`);
  }
}

export type HeaderField = readonly [string, string];

/** Largest integer an HPACK integer may carry here: 2^31 - 1 (lengths, indices, sizes). */
const MAX_INT = 0x7fffffff;

/** A dynamic table (RFC 7541 2.3.2, 4): entries newest first, sizes, eviction. */
export class HpackTable {
  /** newest first: dynamic index 62 is entries[0] */
  readonly entries: HeaderField[] = [];
  size = 0;
  /** insertions and size updates so far (a block that made none leaves the table as it was) */
  changes = 0;

  /** `maxSize`: the table's current maximum (the last size update, else the setting) */
  constructor(public maxSize: number) {}

  /** A size update: the new maximum, entries evicted to fit. */
  resize(n: number): void {
    this.changes++;
    this.maxSize = n;
    this.evict(0);
  }

  /** An entry larger than the table empties it and is not added (RFC 7541 4.4). */
  add(f: HeaderField): void {
    this.changes++;
    const n = f[0].length + f[1].length + 32;
    this.evict(n);
    if (n > this.maxSize) return;
    this.entries.unshift(f);
    this.size += n;
  }

  /** Evicts oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.maxSize) {
      const e = this.entries.pop()!;
      this.size -= e[0].length + e[1].length + 32;
    }
  }
}

export class HpackDecoder {
  private readonly table: HpackTable;
  /** the decoder's SETTINGS_HEADER_TABLE_SIZE; lowered below maxSize -> the next block must say so */
  private settings: number;
  private mustUpdate = false;

  constructor(settingsHeaderTableSize = 4096) {
    this.settings = settingsHeaderTableSize;
    this.table = new HpackTable(settingsHeaderTableSize);
  }

  /** The decoder's side announced SETTINGS_HEADER_TABLE_SIZE (applies from the next block). */
  setSettingsMax(n: number): void {
    if (n < this.table.maxSize) this.mustUpdate = true;
    this.settings = n;
  }

  get settingsMax(): number {
    return this.settings;
  }

  get tableSize(): number {
    return this.table.size;
  }

  /** the table's insertions and size updates so far */
  get tableChanges(): number {
    return this.table.changes;
  }

  get tableLength(): number {
    return this.table.entries.length;
  }

  /** One complete field block -> its fields in order. */
  decode(block: Uint8Array): HeaderField[] {
    const out: HeaderField[] = [];
    const r = new Reader(block);
    let first = true;
    while (r.pos < block.length) {
      const b = block[r.pos]!;
      if (b & 0x80) {
        out.push(this.field(r.int(7), r.pos));
      } else if (b & 0x40) {
        const f = this.literal(r, 6);
        this.table.add(f);
        out.push(f);
      } else if (b & 0x20) {
        const at = r.pos;
        if (!first) throw new HpackError('table-size-update', 'dynamic table size update after a field', at);
        const n = r.int(5);
        if (n > this.settings) throw new HpackError('table-size-too-big', `size update to ${n} above the setting ${this.settings}`, at);
        this.table.resize(n);
        this.mustUpdate = false;
        continue;
      } else {
        // without indexing (0000) and never indexed (0001): the same to a decoder
        out.push(this.literal(r, 4));
      }
      if (first && this.mustUpdate) throw new HpackError('table-size-update', `the setting fell to ${this.settings} and the block does not start with a size update`, 0);
      first = false;
    }
    if (this.mustUpdate && block.length === 0) throw new HpackError('table-size-update', 'empty block where a size update is due', 0);
    return out;
  }

  private field(index: number, at: number): HeaderField {
    if (index === 0) throw new HpackError('bad-index', 'index 0', at);
    if (index <= HPACK_STATIC.length) return HPACK_STATIC[index - 1]!;
    const e = this.table.entries[index - HPACK_STATIC.length - 1];
    if (!e) throw new HpackError('bad-index', `index ${index} beyond the dynamic table (${this.table.entries.length} entries)`, at);
    return e;
  }

  private literal(r: Reader, prefix: number): HeaderField {
    const at = r.pos;
    const index = r.int(prefix);
    const name = index === 0 ? r.string() : this.field(index, at)[0];
    return [name, r.string()];
  }

}

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}

  /** An integer with an N-bit prefix (RFC 7541 5.1). */
  int(prefix: number): number {
    const at = this.pos;
    const max = (1 << prefix) - 1;
    let v = this.byte(at) & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      const b = this.byte(at);
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (v > MAX_INT) throw new HpackError('integer-overflow', `integer above ${MAX_INT}`, at);
      if (!(b & 0x80)) return v;
    }
  }

  /** A string literal (RFC 7541 5.2), as latin1. */
  string(): string {
    const at = this.pos;
    const huffman = (this.byte(at) & 0x80) !== 0;
    this.pos--;
    const len = this.int(7);
    if (this.pos + len > this.b.length) throw new HpackError('truncated', `string of ${len} bytes, ${this.b.length - this.pos} left`, at);
    const bytes = this.b.subarray(this.pos, this.pos + len);
    this.pos += len;
    return huffman ? huffmanDecode(bytes, at) : Buffer.from(bytes).toString('latin1');
  }

  private byte(at: number): number {
    if (this.pos >= this.b.length) throw new HpackError('truncated', 'the block ends inside a representation', at);
    return this.b[this.pos++]!;
  }
}

/** Canonical decoding tables: per length, the first code and where its symbols start. */
const DECODE = (() => {
  const { codes, lengths } = huffmanCode();
  const symbols = lengths.map((_, s) => s).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const first: number[] = [];
  const count: number[] = [];
  const start: number[] = [];
  for (let len = 0; len <= 30; len++) {
    const of = symbols.filter((s) => lengths[s] === len);
    first.push(of.length ? codes[of[0]!]! : 0);
    count.push(of.length);
    start.push(symbols.indexOf(of[0] ?? -1));
  }
  return { symbols, first, count, start };
})();

/** Huffman-coded octets -> latin1 string; EOS inside or padding other than up to 7 one bits throws. */
export function huffmanDecode(bytes: Uint8Array, at = 0): string {
  const { symbols, first, count, start } = DECODE;
  let out = '';
  let code = 0;
  let len = 0;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const k = code - first[len]!;
      if (count[len]! > 0 && k >= 0 && k < count[len]!) {
        const sym = symbols[start[len]! + k]!;
        if (sym === HUFFMAN_EOS) throw new HpackError('huffman-eos', 'EOS symbol inside a string', at);
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len >= 30) {
        throw new HpackError('huffman-eos', 'no code of 30 bits or fewer', at);
      }
    }
  }
  // what is left is padding: fewer than 8 bits, all ones (a prefix of EOS)
  if (len > 7) throw new HpackError('huffman-padding', `${len} bits of padding`, at);
  if (code !== 2 ** len - 1) throw new HpackError('huffman-padding', 'padding not all ones', at);
  return out;
}
