// Shapes of patterns, to order a rule set before splitting it into DFAs:
// patterns of one shape share NFA structure and combine cheaply, while
// mixing shapes (a `.*` head with prefix rules ending in `.*`) multiplies
// DFA sizes. Only the order depends on this; correctness does not.
import type { RegexNode } from '../../codegen/regex/ast.ts';

/** literal < literal prefix then something else < other < leading unbounded repeat (`.*x`). */
export type Shape = 'literal' | 'prefix' | 'other' | 'floating';
const RANK: Readonly<Record<Shape, number>> = { literal: 0, prefix: 1, other: 2, floating: 3 };

export interface PatternShape {
  readonly shape: Shape;
  /** The leading literal text ('' when the pattern does not start with one). */
  readonly prefix: string;
}

/** Concat items with groups opened; `^` at the head and `$` at the tail dropped (full match anyway). */
function factors(node: RegexNode): RegexNode[] {
  if (node.kind === 'group') return factors(node.item);
  if (node.kind === 'concat') return node.items.flatMap(factors);
  if (node.kind === 'empty') return [];
  return [node];
}

function literalChar(node: RegexNode): string | null {
  if (node.kind !== 'chars' || node.set.length !== 2 || node.set[0] !== node.set[1]) return null;
  return String.fromCodePoint(node.set[0]!);
}

export function shapeOf(root: RegexNode): PatternShape {
  const items = factors(root);
  for (let first = items[0]; first?.kind === 'assert' && first.what === 'beginText'; first = items[0]) items.shift();
  for (let last = items.at(-1); last?.kind === 'assert' && last.what === 'endText'; last = items.at(-1)) items.pop();
  let prefix = '';
  let k = 0;
  for (; k < items.length; k++) {
    const ch = literalChar(items[k]!);
    if (ch === null) break;
    prefix += ch;
  }
  if (k === items.length) return { shape: 'literal', prefix };
  if (prefix !== '') return { shape: 'prefix', prefix };
  const head = items[0]!;
  return { shape: head.kind === 'repeat' && head.max < 0 ? 'floating' : 'other', prefix };
}

/** Pattern indices ordered by shape, then leading literal, then index. */
export function shapeOrder(shapes: readonly PatternShape[]): number[] {
  const idx = shapes.map((_, i) => i);
  return idx.sort((a, b) => {
    const sa = shapes[a]!;
    const sb = shapes[b]!;
    return RANK[sa.shape] - RANK[sb.shape] || (sa.prefix < sb.prefix ? -1 : sa.prefix > sb.prefix ? 1 : 0) || a - b;
  });
}

/** Positions in `order` where the shape changes, then order.length. */
export function shapeBoundaries(order: readonly number[], shapes: readonly PatternShape[]): number[] {
  const out: number[] = [];
  for (let k = 1; k < order.length; k++) {
    if (shapes[order[k]!]!.shape !== shapes[order[k - 1]!]!.shape) out.push(k);
  }
  out.push(order.length);
  return out;
}
