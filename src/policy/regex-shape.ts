// Shapes of RE2 patterns that a string comparison decides exactly, so the oracle can skip
// the regex engine for them: a literal, an alternation of literals, a literal followed by
// `.*`. Inputs are latin1 strings (one char per byte), where RE2's `.` is any char but "\n".
export type Shape =
  | { readonly kind: 'one-of'; readonly values: ReadonlySet<string> }
  | { readonly kind: 'prefix'; readonly prefix: string };

/** Characters that stand for themselves in RE2 outside classes. */
const PLAIN = /^[A-Za-z0-9 _\-/:=,;@!%&'"<>~`#]*$/;

/** A literal with `\` escapes of punctuation only (`\.`, `\?`, `\/`...), or null. */
function literal(s: string): string | null {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] ?? '';
    if (c === '\\') {
      const n = s[i + 1] ?? '';
      if (!/^[!-/:-@[-`{-~]$/.test(n)) return null;
      out += n;
      i++;
    } else if (PLAIN.test(c)) out += c;
    else return null;
  }
  return out;
}

export function shapeOf(pattern: string): Shape | null {
  if (pattern.endsWith('.*') && !pattern.endsWith('\\.*')) {
    const prefix = literal(pattern.slice(0, -2));
    return prefix === null ? null : { kind: 'prefix', prefix };
  }
  // a top-level alternation: no groups or classes anywhere, so "|" splits it
  const parts = pattern.split('|');
  const values = parts.map(literal);
  if (values.some((v) => v === null)) return null;
  return { kind: 'one-of', values: new Set(values as string[]) };
}

export function shapeMatches(s: Shape, input: string): boolean {
  return s.kind === 'one-of' ? s.values.has(input) : input.startsWith(s.prefix) && !input.includes('\n', s.prefix.length);
}
