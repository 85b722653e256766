// Public API of the regex compiler: RE2 patterns -> one minimized byte DFA
// that tells, in a single pass, which patterns fully match.
import { parse as parseOne } from './parser.ts';
import type { ParsedRegex } from './ast.ts';

export type { DfaTables } from './tables.ts';
export type { RegexNode, ParsedRegex, Assertion } from './ast.ts';
export { RegexSyntaxError, UnsupportedRegexError, TooManyStatesError } from './errors.ts';
export { DEAD, START } from './tables.ts';
export { compile, DEFAULT_MAX_STATES, type CompileOptions, type Dfa, type DfaStats } from './compile.ts';

export function parse(pattern: string, options: { caseInsensitive?: boolean } = {}): ParsedRegex {
  return parseOne(pattern, options);
}
