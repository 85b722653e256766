// Typed errors of the regex compiler. Each says what went wrong and where, in a
// message that reads well inside a policy diagnostic:
//   invalid RE2 regex "*": missing argument to repetition operator at offset 0

/** The pattern is not valid RE2 syntax (RE2/Go would reject it too). */
export class RegexSyntaxError extends Error {
  override readonly name = 'RegexSyntaxError';
  constructor(
    readonly pattern: string,
    /** UTF-16 code unit offset into `pattern` where the problem starts. */
    readonly offset: number,
    /** RE2-style reason, e.g. "missing argument to repetition operator: `*`". */
    readonly reason: string,
  ) {
    super(`invalid RE2 regex ${JSON.stringify(pattern)}: ${reason} at offset ${offset}`);
  }
}

/** Valid RE2, but it has no meaning for a byte DFA doing full matches (or the
 * oracle, re2js, does not accept it either). */
export class UnsupportedRegexError extends Error {
  override readonly name = 'UnsupportedRegexError';
  constructor(
    readonly pattern: string,
    /** The construct as written, e.g. "\\1" or "(?=". */
    readonly construct: string,
    readonly offset: number,
    readonly hint: string,
  ) {
    super(`unsupported RE2 regex ${JSON.stringify(pattern)}: ${construct} at offset ${offset} (hint: ${hint})`);
  }
}

/** Determinization produced more states than the configured cap. */
export class TooManyStatesError extends Error {
  override readonly name = 'TooManyStatesError';
  constructor(
    readonly limit: number,
    readonly hint: string,
  ) {
    super(`regex DFA exceeds ${limit} states (hint: ${hint})`);
  }
}
