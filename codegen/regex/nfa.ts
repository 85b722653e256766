// Thompson NFA over bytes for one or many patterns. Built by continuation:
// build(node, next) returns the entry of a fragment that continues at `next`,
// so no patch lists are needed. Pattern p ends in a MATCH node carrying p.
import type { Assertion, RegexNode } from './ast.ts';
import type { CharSet } from './charset.ts';
import { utf8Sequences } from './utf8.ts';

export const Op = {
  /** consumes one byte in [arg, hi], then out */
  Byte: 0,
  /** epsilon to each of alts */
  Split: 1,
  /** zero-width assertion ASSERT_CODES[arg], then out */
  Assert: 2,
  /** pattern `arg` fully matches here */
  Match: 3,
} as const;
export type Op = (typeof Op)[keyof typeof Op];

export const ASSERT_CODES: readonly Assertion[] = [
  'beginText',
  'endText',
  'beginLine',
  'endLine',
  'wordBoundary',
  'notWordBoundary',
];

export interface Nfa {
  readonly op: Uint8Array;
  /** Byte: low byte; Assert: index in ASSERT_CODES; Match: pattern id. */
  readonly arg: Int32Array;
  readonly hi: Uint8Array;
  readonly out: Int32Array;
  readonly alts: readonly (readonly number[])[];
  readonly start: number;
  readonly size: number;
  /** Which assertion kinds occur: the DFA only tracks context they need. */
  readonly uses: ReadonlySet<Assertion>;
}

class Builder {
  op: number[] = [];
  arg: number[] = [];
  hi: number[] = [];
  out: number[] = [];
  alts: number[][] = [];
  uses = new Set<Assertion>();
  private seqCache = new Map<CharSet, number[][]>();
  /** (lo, hi, next) -> byte node: UTF-8 tails like [80-BF] -> next are shared, as in RE2's compiler. */
  private byteCache = new Map<number, number>();

  byte(lo: number, hi: number, next: number): number {
    const key = (next * 256 + lo) * 256 + hi;
    let n = this.byteCache.get(key);
    if (n === undefined) this.byteCache.set(key, (n = this.add(Op.Byte, lo, hi, next)));
    return n;
  }

  add(op: Op, arg: number, hi: number, out: number, alts: number[] = []): number {
    this.op.push(op);
    this.arg.push(arg);
    this.hi.push(hi);
    this.out.push(out);
    this.alts.push(alts);
    return this.op.length - 1;
  }

  split(alts: number[]): number {
    return alts.length === 1 ? alts[0]! : this.add(Op.Split, 0, 0, -1, alts);
  }

  chars(set: CharSet, next: number): number {
    let seqs = this.seqCache.get(set);
    if (seqs === undefined) {
      seqs = utf8Sequences(set).map((s) => s.flatMap(([lo, hi]) => [lo, hi]));
      this.seqCache.set(set, seqs);
    }
    // An empty set (e.g. [^\x00-\x{10FFFF}]) matches nothing: a split with no way out.
    return seqs.length === 0 ? this.add(Op.Split, 0, 0, -1, []) : this.seqTrie(seqs, 0, next);
  }

  /** Sequences sharing a leading byte range share its node (prefix trie);
   * the byte cache shares equal tails. The lead byte fixes the length, so a
   * group's sequences all end at the same depth. */
  seqTrie(seqs: readonly number[][], depth: number, next: number): number {
    const groups = new Map<number, number[][]>();
    for (const seq of seqs) {
      const key = seq[depth]! * 256 + seq[depth + 1]!;
      const g = groups.get(key) ?? [];
      g.push(seq);
      groups.set(key, g);
    }
    const alts: number[] = [];
    for (const [key, group] of groups) {
      const tail = group[0]!.length === depth + 2 ? next : this.seqTrie(group, depth + 2, next);
      alts.push(this.byte(key >> 8, key & 255, tail));
    }
    return this.split(alts);
  }

  build(node: RegexNode, next: number): number {
    switch (node.kind) {
      case 'empty':
        return next;
      case 'chars':
        return this.chars(node.set, next);
      case 'anyByte':
        return this.byte(0, 255, next);
      case 'concat':
        return node.items.reduceRight((at, item) => this.build(item, at), next);
      case 'alt':
        return this.split(node.items.map((item) => this.build(item, next)));
      case 'group':
        return this.build(node.item, next);
      case 'assert':
        this.uses.add(node.what);
        return this.add(Op.Assert, ASSERT_CODES.indexOf(node.what), 0, next);
      case 'repeat':
        return this.repeat(node.item, node.min, node.max, next);
    }
  }

  /** x{min,max} as min copies followed by optional (or starred) ones. */
  repeat(item: RegexNode, min: number, max: number, next: number): number {
    let tail: number;
    if (max < 0) {
      const loop = this.add(Op.Split, 0, 0, -1, []);
      this.alts[loop] = [this.build(item, loop), next];
      tail = loop;
    } else {
      tail = next;
      for (let k = 0; k < max - min; k++) tail = this.split([this.build(item, tail), next]);
    }
    for (let k = 0; k < min; k++) tail = this.build(item, tail);
    return tail;
  }
}

/** Leading factors of a pattern: concat items, with groups opened (captures
 * do not change the language). */
function factors(node: RegexNode): RegexNode[] {
  if (node.kind === 'group') return factors(node.item);
  if (node.kind === 'concat') return node.items.flatMap(factors);
  if (node.kind === 'empty') return [];
  return [node];
}

const keyCache = new WeakMap<RegexNode, string>();

/** Structural key (offsets ignored), so equal factors of different patterns share NFA nodes. */
function factorKey(node: RegexNode): string {
  let key = keyCache.get(node);
  if (key === undefined) {
    key = JSON.stringify(node, (k, v: unknown) => (k === 'offset' ? undefined : v));
    keyCache.set(node, key);
  }
  return key;
}

interface TrieNode {
  readonly edges: Map<string, { readonly item: RegexNode; readonly child: number }>;
  readonly matches: number[];
}

/** One NFA whose start branches to every pattern. Patterns are first merged
 * into a trie of their leading factors, so 1000 rules that start with
 * "/api/v1/" or ".*" share those NFA nodes: DFA states then hold a handful of
 * NFA states instead of one per rule, which keeps subset construction linear. */
export function buildNfa(roots: readonly RegexNode[]): Nfa {
  const trie: TrieNode[] = [{ edges: new Map(), matches: [] }];
  roots.forEach((root, p) => {
    let at = 0;
    for (const item of factors(root)) {
      const key = factorKey(item);
      let edge = trie[at]!.edges.get(key);
      if (edge === undefined) {
        edge = { item, child: trie.length };
        trie.push({ edges: new Map(), matches: [] });
        trie[at]!.edges.set(key, edge);
      }
      at = edge.child;
    }
    trie[at]!.matches.push(p);
  });
  const b = new Builder();
  // Children always come after their parent, so reverse order is post-order.
  const entry = new Array<number>(trie.length);
  for (let t = trie.length - 1; t >= 0; t--) {
    const node = trie[t]!;
    const alts = node.matches.map((p) => b.add(Op.Match, p, 0, -1));
    for (const { item, child } of node.edges.values()) alts.push(b.build(item, entry[child]!));
    entry[t] = alts.length === 0 ? b.add(Op.Split, 0, 0, -1, []) : b.split(alts);
  }
  const start = entry[0]!;
  return {
    op: Uint8Array.from(b.op),
    arg: Int32Array.from(b.arg),
    hi: Uint8Array.from(b.hi),
    out: Int32Array.from(b.out),
    alts: b.alts,
    start,
    size: b.op.length,
    uses: b.uses,
  };
}
