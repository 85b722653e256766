// The parsed form of one RE2 pattern: a readonly tree with no flags left in
// it (case folding, (?s) and (?m) are already applied to the nodes), so later
// passes never look at flags. `offset` is where the node starts in the pattern.
import type { CharSet } from './charset.ts';

/** Zero-width assertions. beginLine/endLine are the (?m) forms of ^ and $. */
export type Assertion = 'beginText' | 'endText' | 'beginLine' | 'endLine' | 'wordBoundary' | 'notWordBoundary';

export type RegexNode =
  | { readonly kind: 'empty'; readonly offset: number }
  /** Exactly one code point out of `set` (a literal is a one-element set, or its case-fold orbit). */
  | { readonly kind: 'chars'; readonly set: CharSet; readonly offset: number }
  | { readonly kind: 'concat'; readonly items: readonly RegexNode[]; readonly offset: number }
  | { readonly kind: 'alt'; readonly items: readonly RegexNode[]; readonly offset: number }
  | {
      readonly kind: 'repeat';
      readonly min: number;
      /** -1 means unbounded. */
      readonly max: number;
      /** Greediness only affects submatches, never the full-match language. */
      readonly greedy: boolean;
      readonly item: RegexNode;
      readonly offset: number;
    }
  | {
      readonly kind: 'group';
      /** 1-based capture index, or 0 for (?:...). */
      readonly capture: number;
      readonly name: string | null;
      readonly item: RegexNode;
      readonly offset: number;
    }
  | { readonly kind: 'assert'; readonly what: Assertion; readonly offset: number }
  /** \C: exactly one byte, any value, even inside a UTF-8 sequence or not valid UTF-8 at all. */
  | { readonly kind: 'anyByte'; readonly offset: number };

export interface ParsedRegex {
  readonly pattern: string;
  readonly root: RegexNode;
  readonly captures: number;
  readonly names: readonly string[];
}
