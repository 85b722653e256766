// The simulator's HPACK decoder: every wire block of every story in
// L7BPF_CORPORA/hpack/<encoder>/story_NN.json decodes to exactly its header list, with the
// dynamic table carried across a story's cases (and the decoder's table size setting where a
// case gives one); and each RFC rule a decoder must enforce throws its own error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { HpackDecoder, HpackError, huffmanDecode } from '../../sim/http2/hpack.ts';
import { huffmanCode } from '../../src/net/hpack-tables.ts';

const root = resolve(process.cwd(), process.env.L7BPF_CORPORA ?? '../shared/corpora', 'hpack');
const absent = existsSync(root) ? false : `hpack corpus not found at ${root} (set L7BPF_CORPORA)`;

interface Story {
  readonly cases: readonly { readonly wire: string; readonly headers: readonly Record<string, string>[]; readonly header_table_size?: number | null }[];
}

test('every story of every encoder decodes to its header lists', { skip: absent }, () => {
  let blocks = 0;
  const encoders = readdirSync(root).filter((d) => existsSync(join(root, d, 'story_00.json')));
  assert.ok(encoders.length >= 6, `${encoders.length} encoders`);
  for (const enc of encoders) {
    for (const file of readdirSync(join(root, enc)).filter((f) => f.endsWith('.json')).sort()) {
      const story = JSON.parse(readFileSync(join(root, enc, file), 'utf8')) as Story;
      const d = new HpackDecoder(4096);
      story.cases.forEach((c, i) => {
        if (typeof c.header_table_size === 'number') d.setSettingsMax(c.header_table_size);
        // the corpus holds UTF-8 text; the decoder gives octets as latin1
        const want = c.headers.map((h) => Object.entries(h)[0]!).map(([n, v]) => [Buffer.from(n, 'utf8').toString('latin1'), Buffer.from(v, 'utf8').toString('latin1')]);
        assert.deepEqual(d.decode(Buffer.from(c.wire, 'hex')), want, `${enc}/${file} case ${i}`);
        blocks++;
      });
    }
  }
  assert.ok(blocks > 20000, `${blocks} blocks`);
});

/** Huffman-encodes latin1 text with the canonical code (a test-side encoder). */
function huffmanEncode(s: string, pad = true): Uint8Array {
  const { codes, lengths } = huffmanCode();
  const bits: number[] = [];
  for (const ch of s) {
    const sym = ch.charCodeAt(0);
    for (let i = lengths[sym]! - 1; i >= 0; i--) bits.push(Math.floor(codes[sym]! / 2 ** i) % 2);
  }
  while (pad && bits.length % 8) bits.push(1);
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => (out[i >> 3]! |= b << (7 - (i & 7))));
  return out;
}

test('Huffman: any latin1 string round-trips through the canonical code', () => {
  fc.assert(fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 64 }), (s) => {
    assert.equal(huffmanDecode(huffmanEncode(s)), s);
  }), { numRuns: 500 });
});

const err = (code: string) => (e: unknown) => e instanceof HpackError && e.code === code;

test('Huffman: EOS inside, padding of 8 bits or more, or padding with a zero bit are errors', () => {
  assert.throws(() => huffmanDecode(Uint8Array.from([0xff, 0xff, 0xff, 0xfc])), err('huffman-eos'));
  assert.throws(() => huffmanDecode(Uint8Array.from([0xff])), err('huffman-padding'));
  // 'a' is 00011 (5 bits): then 3 padding bits must be 111
  assert.throws(() => huffmanDecode(Uint8Array.from([0b00011_011])), err('huffman-padding'));
  assert.equal(huffmanDecode(Uint8Array.from([0b00011_111])), 'a');
});

test('decoder: index 0, an index past the table, a truncated block, a huge integer', () => {
  assert.throws(() => new HpackDecoder().decode(Uint8Array.from([0x80])), err('bad-index'));
  assert.throws(() => new HpackDecoder().decode(Uint8Array.from([0xbe])), err('bad-index')); // 62, table empty
  assert.throws(() => new HpackDecoder().decode(Uint8Array.from([0x40, 0x03, 0x61])), err('truncated'));
  assert.throws(() => new HpackDecoder().decode(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])), err('integer-overflow'));
});

test('decoder: size updates only first, within the setting, and due after the setting falls', () => {
  assert.throws(() => new HpackDecoder().decode(Uint8Array.from([0x82, 0x20])), err('table-size-update'));
  assert.throws(() => new HpackDecoder(4096).decode(Uint8Array.from([0x3f, 0xe2, 0x1f])), err('table-size-too-big')); // 4097
  const d = new HpackDecoder(4096);
  d.setSettingsMax(0);
  assert.throws(() => d.decode(Uint8Array.from([0x82])), err('table-size-update'));
  assert.deepEqual(new HpackDecoder(4096).decode(Uint8Array.from([0x20, 0x82])), [[':method', 'GET']]);
});

test('decoder: entries are evicted oldest first, and one larger than the table empties it', () => {
  const d = new HpackDecoder(4096);
  // size update to 70: room for one entry of 32 + 2 + 36 = 70 octets
  const lit = (name: string, value: string) => [0x40, name.length, ...Buffer.from(name), value.length, ...Buffer.from(value)];
  d.decode(Uint8Array.from([0x3f, 0x27, ...lit('aa', 'x'.repeat(36))]));
  assert.equal(d.tableLength, 1);
  d.decode(Uint8Array.from(lit('bb', 'y'.repeat(36))));
  assert.deepEqual(d.decode(Uint8Array.from([0xbe])), [['bb', 'y'.repeat(36)]]);
  d.decode(Uint8Array.from(lit('cc', 'z'.repeat(37))));
  assert.equal(d.tableLength, 0);
  assert.equal(d.tableSize, 0);
});

test("the datapath's nibble decoder (codegen/emit/hpack.ts) decodes what the canonical code encodes", async () => {
  const { huffmanNibbleTable, HUFF_ACCEPT, HUFF_EMIT, HUFF_FAIL } = await import('../../codegen/emit/hpack.ts');
  const t = huffmanNibbleTable();
  const decode = (bytes: Uint8Array): string | null => {
    let node = 0;
    let out = '';
    let accept = true;
    for (const b of bytes) {
      for (const nib of [b >> 4, b & 15]) {
        const e = t[node * 16 + nib]!;
        if ((e >> 16) & HUFF_FAIL) return null;
        if ((e >> 16) & HUFF_EMIT) out += String.fromCharCode(e & 0xff);
        node = (e >> 8) & 0xff;
        accept = ((e >> 16) & HUFF_ACCEPT) !== 0;
      }
    }
    return accept ? out : null;
  };
  fc.assert(fc.property(fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 64 }), (s) => {
    assert.equal(decode(huffmanEncode(s)), s);
  }), { numRuns: 500 });
  // the errors of huffmanDecode are errors here too
  assert.equal(decode(Uint8Array.from([0xff, 0xff, 0xff, 0xfc])), null);
  assert.equal(decode(Uint8Array.from([0xff])), null);
  assert.equal(decode(Uint8Array.from([0b00011_011])), null);
  assert.equal(decode(Uint8Array.from([0b00011_111])), 'a');
});
