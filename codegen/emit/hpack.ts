// HPACK's fixed tables for the datapath (RFC 7541), rendered from src/net/hpack-tables.ts:
// the Huffman code as a nibble-at-a-time decoder (a state is an internal node of the code
// tree; four bits from a node lead to another node and emit at most one symbol, codes being
// five bits or longer), and the static table's names and values.
import { HPACK_STATIC, HUFFMAN_EOS, huffmanCode } from '../../src/net/hpack-tables.ts';

/** Flags of a nibble step. */
export const HUFF_EMIT = 1;
export const HUFF_FAIL = 2;
/** the step ends on a node a string may end on: at most 7 bits, all ones, since the last symbol */
export const HUFF_ACCEPT = 4;

interface Node { zero: number; one: number }

/** The code tree: internal nodes (root 0); a child >= 0 is a node, < 0 is -(symbol + 1). */
function tree(): Node[] {
  const { codes, lengths } = huffmanCode();
  const nodes: Node[] = [{ zero: 0, one: 0 }];
  const EMPTY = 0; // no child yet (the root is never a child)
  codes.forEach((code, sym) => {
    let n = 0;
    for (let b = lengths[sym]! - 1; b >= 0; b--) {
      const bit = Math.floor(code / 2 ** b) & 1;
      const key = bit ? 'one' : 'zero';
      if (b === 0) {
        nodes[n]![key] = -(sym + 1);
      } else {
        if (nodes[n]![key] === EMPTY) {
          nodes.push({ zero: 0, one: 0 });
          nodes[n]![key] = nodes.length - 1;
        }
        n = nodes[n]![key];
      }
    }
  });
  return nodes;
}

/** Per (node, nibble): symbol | next node << 8 | flags << 16. */
export function huffmanNibbleTable(): number[] {
  const nodes = tree();
  if (nodes.length !== 256) throw new Error(`hpack: ${nodes.length} internal nodes, expected 256`);
  // nodes on the all-ones path from the root, at depth <= 7: where padding may end
  const accept = new Set<number>([0]);
  for (let n = 0, d = 0; d < 7; d++) {
    n = nodes[n]!.one;
    accept.add(n);
  }
  const out: number[] = [];
  for (let s = 0; s < 256; s++) {
    for (let nib = 0; nib < 16; nib++) {
      let n = s;
      let flags = 0;
      let sym = 0;
      for (let b = 3; b >= 0; b--) {
        const child = (nib >> b) & 1 ? nodes[n]!.one : nodes[n]!.zero;
        if (child >= 0) {
          n = child;
          continue;
        }
        const symbol = -child - 1;
        if (symbol === HUFFMAN_EOS) flags |= HUFF_FAIL;
        if (flags & HUFF_EMIT) throw new Error('hpack: two symbols in one nibble');
        flags |= HUFF_EMIT;
        sym = symbol & 0xff;
        n = 0;
      }
      if (accept.has(n)) flags |= HUFF_ACCEPT;
      out.push(sym | (n << 8) | (flags << 16));
    }
  }
  return out;
}

const cString = (s: string) => `"${[...Buffer.from(s, 'latin1')].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('')}"`;

export function renderHpackHeader(mark: string): string {
  const t = huffmanNibbleTable();
  const rows = (v: readonly number[], per: number) => v.map((x, i) => `${i % per === 0 ? '\n\t' : ' '}0x${x.toString(16)},`).join('') + '\n';
  const statics = [['', ''] as const, ...HPACK_STATIC];
  const nameMax = Math.max(...statics.map(([n]) => n.length)) + 1;
  const valueMax = Math.max(...statics.map(([, v]) => v.length)) + 1;
  return `/* ${mark} */
/* HPACK (RFC 7541): the Huffman code as a nibble decoder and the static table */
#ifndef L7_HPACK_GENERATED_H
#define L7_HPACK_GENERATED_H

/* per (node, nibble): symbol | next node << 8 | flags << 16 */
#define L7_HUFF_EMIT ${HUFF_EMIT}
#define L7_HUFF_FAIL ${HUFF_FAIL}
#define L7_HUFF_ACCEPT ${HUFF_ACCEPT}
const __u32 l7_huff[4096] = {${rows(t, 8)}};

/* static table, index 1..${HPACK_STATIC.length} (0 unused) */
#define L7_HP_STATIC ${HPACK_STATIC.length}
#define L7_HP_SNAME ${nameMax < 32 ? 32 : nameMax}
#define L7_HP_SVALUE ${valueMax < 16 ? 16 : valueMax}
const char l7_hp_sname[${statics.length}][L7_HP_SNAME] = {${statics.map(([n], i) => `${i % 4 === 0 ? '\n\t' : ' '}${cString(n)},`).join('')}
};
const __u8 l7_hp_snlen[${statics.length}] = {${statics.map(([n], i) => `${i % 16 === 0 ? '\n\t' : ' '}${n.length},`).join('')}
};
const char l7_hp_svalue[${statics.length}][L7_HP_SVALUE] = {${statics.map(([, v], i) => `${i % 4 === 0 ? '\n\t' : ' '}${cString(v)},`).join('')}
};
const __u8 l7_hp_svlen[${statics.length}] = {${statics.map(([, v], i) => `${i % 16 === 0 ? '\n\t' : ' '}${v.length},`).join('')}
};

#endif
`;
}
