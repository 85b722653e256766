// Position bookkeeping shared by the parser files: code point reads over the
// pattern (a JS string) and error constructors that carry the offset.
import { RegexSyntaxError, UnsupportedRegexError } from './errors.ts';
import { type CharSet, negate } from './charset.ts';
import { foldSet } from './unicode.ts';

export interface Flags {
  /** (?i) case-insensitive */
  readonly i: boolean;
  /** (?m) ^ and $ match at line boundaries */
  readonly m: boolean;
  /** (?s) . matches \n */
  readonly s: boolean;
  /** (?U) ungreedy: swaps x* and x*? */
  readonly U: boolean;
}

export class Scanner {
  pos = 0;
  constructor(readonly pattern: string) {}

  get done(): boolean {
    return this.pos >= this.pattern.length;
  }

  /** Code point at the cursor, or -1 at the end. */
  peek(): number {
    if (this.done) return -1;
    const cp = this.pattern.codePointAt(this.pos)!;
    if (cp >= 0xd800 && cp <= 0xdfff) this.fail(this.pos, 'invalid UTF-8');
    return cp;
  }

  next(): number {
    const cp = this.peek();
    if (cp >= 0) this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }

  startsWith(s: string): boolean {
    return this.pattern.startsWith(s, this.pos);
  }

  /** Pattern text from `from` to the cursor, for error messages. */
  since(from: number): string {
    return this.pattern.slice(from, this.pos);
  }

  fail(offset: number, reason: string): never {
    throw new RegexSyntaxError(this.pattern, offset, reason);
  }

  unsupported(offset: number, construct: string, hint: string): never {
    throw new UnsupportedRegexError(this.pattern, construct, offset, hint);
  }
}

/** A Perl, POSIX or Unicode class under the current flags: folded first,
 * then negated, as RE2 does (so (?i)\W still excludes k and K). */
export function classUnderFlags(set: CharSet, negated: boolean, flags: Flags): CharSet {
  const folded = flags.i ? foldSet(set) : set;
  return negated ? negate(folded) : folded;
}
