// RE2 syntax (as Go's regexp/syntax with Perl flags, which Envoy and Cilium
// use) -> RegexNode tree. Recursive descent; flags are resolved here.
import type { Assertion, ParsedRegex, RegexNode } from './ast.ts';
import { ANY, negate, single } from './charset.ts';
import { foldChar } from './unicode.ts';
import { type Flags, Scanner } from './scanner.ts';
import { parseBracket, parseCharEscape, tryClassEscape } from './escapes.ts';

const MAX_REPEAT = 1000;
const MAX_DEPTH = 1000;
const NO_FLAGS: Flags = { i: false, m: false, s: false, U: false };

interface Ctx {
  readonly sc: Scanner;
  captures: number;
  readonly names: string[];
}

/** Parses one pattern; throws RegexSyntaxError or UnsupportedRegexError. */
export function parse(pattern: string, options: { caseInsensitive?: boolean } = {}): ParsedRegex {
  const ctx: Ctx = { sc: new Scanner(pattern), captures: 0, names: [] };
  const root = parseAlt(ctx, { ...NO_FLAGS, i: options.caseInsensitive === true }, 0);
  if (!ctx.sc.done) ctx.sc.fail(ctx.sc.pos, `unexpected ): \`${pattern}\``);
  return { pattern, root, captures: ctx.captures, names: ctx.names };
}

/** alternation until ')' or the end; flags set by (?i) last until the group closes. */
function parseAlt(ctx: Ctx, outer: Flags, depth: number): RegexNode {
  if (depth > MAX_DEPTH) ctx.sc.fail(ctx.sc.pos, 'expression nests too deeply');
  const state = { flags: outer };
  const start = ctx.sc.pos;
  const items = [parseConcat(ctx, state, depth)];
  while (ctx.sc.startsWith('|')) {
    ctx.sc.next();
    items.push(parseConcat(ctx, state, depth));
  }
  return items.length === 1 ? items[0]! : { kind: 'alt', items, offset: start };
}

function parseConcat(ctx: Ctx, state: { flags: Flags }, depth: number): RegexNode {
  const { sc } = ctx;
  const start = sc.pos;
  const items: RegexNode[] = [];
  while (!sc.done && !sc.startsWith('|') && !sc.startsWith(')')) {
    const atomStart = sc.pos;
    const atom = parseAtom(ctx, state, depth);
    if (atom === 'flags') continue;
    const arg = atom ?? sc.fail(atomStart, `missing argument to repetition operator: \`${repeatText(sc)}\``);
    items.push(...parseRepeats(ctx, arg, state.flags));
  }
  if (items.length === 0) return { kind: 'empty', offset: start };
  return items.length === 1 ? items[0]! : { kind: 'concat', items, offset: start };
}

/** Text of the repetition operator at the cursor, for messages. */
function repeatText(sc: Scanner): string {
  const m = /^(\*|\+|\?|\{\d*(,\d*)?\})\??/.exec(sc.pattern.slice(sc.pos));
  return m ? m[0] : sc.pattern[sc.pos] ?? '';
}

interface RepeatOp {
  readonly min: number;
  readonly max: number;
  readonly end: number;
}

/** A repetition operator at the cursor (without consuming), or null. */
function peekRepeat(sc: Scanner): RepeatOp | null {
  const c = sc.pattern[sc.pos];
  if (c === '*') return { min: 0, max: -1, end: sc.pos + 1 };
  if (c === '+') return { min: 1, max: -1, end: sc.pos + 1 };
  if (c === '?') return { min: 0, max: 1, end: sc.pos + 1 };
  if (c !== '{') return null;
  // Go: a '{' that does not form {n}, {n,} or {n,m} is a literal.
  const m = /^\{(0|[1-9]\d*)(,(0|[1-9]\d*)?)?\}/.exec(sc.pattern.slice(sc.pos));
  if (!m) return null;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
  return { min, max, end: sc.pos + m[0].length };
}

function parseRepeats(ctx: Ctx, atom: RegexNode, flags: Flags): RegexNode[] {
  const { sc } = ctx;
  let node = atom;
  let opStart = -1;
  for (let op = peekRepeat(sc); op !== null; op = peekRepeat(sc)) {
    if (opStart >= 0) {
      sc.pos = op.end;
      sc.fail(opStart, `invalid nested repetition operator: \`${sc.since(opStart)}\``);
    }
    opStart = sc.pos;
    sc.pos = op.end;
    if (op.min > MAX_REPEAT || op.max > MAX_REPEAT || (op.max >= 0 && op.max < op.min)) {
      sc.fail(opStart, `invalid repeat count: \`${sc.since(opStart)}\``);
    }
    let greedy = true;
    if (sc.startsWith('?')) {
      sc.next();
      greedy = false;
    }
    if (flags.U) greedy = !greedy;
    node = { kind: 'repeat', min: op.min, max: op.max, greedy, item: node, offset: atom.offset };
    if ((op.min >= 2 || op.max >= 2) && !repeatIsValid(node, MAX_REPEAT)) {
      sc.fail(opStart, `invalid repeat count: \`${sc.since(opStart)}\``);
    }
  }
  return [node];
}

/** Go's check that nested counts multiply to at most 1000. */
function repeatIsValid(node: RegexNode, n: number): boolean {
  switch (node.kind) {
    case 'repeat': {
      let m = node.max;
      if (m === 0) return true;
      if (m < 0) m = node.min;
      if (m > n) return false;
      return repeatIsValid(node.item, m > 0 ? Math.floor(n / m) : n);
    }
    case 'concat':
    case 'alt':
      return node.items.every((i) => repeatIsValid(i, n));
    case 'group':
      return repeatIsValid(node.item, n);
    case 'empty':
    case 'chars':
    case 'assert':
    case 'anyByte':
      return true;
  }
}

/** One atom; 'flags' for a bare (?i) group, null for a repetition operator. */
function parseAtom(ctx: Ctx, state: { flags: Flags }, depth: number): RegexNode | 'flags' | null {
  const { sc } = ctx;
  const start = sc.pos;
  const flags = state.flags;
  const c = sc.pattern[sc.pos]!;
  if (peekRepeat(sc) !== null || c === '*' || c === '+' || c === '?') return null;
  switch (c) {
    case '(':
      return parseGroup(ctx, state, depth);
    case '[':
      return { kind: 'chars', set: parseBracket(sc, flags), offset: start };
    case '.':
      sc.next();
      return { kind: 'chars', set: flags.s ? ANY : negate(single(10)), offset: start };
    case '^':
      sc.next();
      return assertion(flags.m ? 'beginLine' : 'beginText', start);
    case '$':
      sc.next();
      return assertion(flags.m ? 'endLine' : 'endText', start);
    case '\\':
      return parseEscapeAtom(ctx, flags);
    default: {
      const cp = sc.next();
      return literal(cp, flags, start);
    }
  }
}

function assertion(what: Assertion, offset: number): RegexNode {
  return { kind: 'assert', what, offset };
}

function literal(cp: number, flags: Flags, offset: number): RegexNode {
  return { kind: 'chars', set: flags.i ? foldChar(cp) : single(cp), offset };
}

const ESCAPE_ASSERTIONS: Readonly<Record<string, Assertion>> = {
  A: 'beginText',
  z: 'endText',
  b: 'wordBoundary',
  B: 'notWordBoundary',
};

function parseEscapeAtom(ctx: Ctx, flags: Flags): RegexNode {
  const { sc } = ctx;
  const start = sc.pos;
  const letter = sc.pattern[sc.pos + 1] ?? '';
  const what = ESCAPE_ASSERTIONS[letter];
  if (what !== undefined) {
    sc.pos += 2;
    return assertion(what, start);
  }
  if (letter === 'C') {
    // One byte, whatever the flags: the DFA reads bytes, so this is exact
    // (RE2 gives it the same meaning). re2js rejects it; the policy layer
    // keeps refusing it there.
    sc.pos += 2;
    return { kind: 'anyByte', offset: start };
  }
  if (letter === 'Q') return parseQuoted(sc, flags);
  const cls = tryClassEscape(sc, flags);
  if (cls !== null) return { kind: 'chars', set: cls, offset: start };
  return literal(parseCharEscape(sc), flags, start);
}

/** \Q...\E: everything literal up to \E or the end. */
function parseQuoted(sc: Scanner, flags: Flags): RegexNode {
  const start = sc.pos;
  sc.pos += 2;
  const end = sc.pattern.indexOf('\\E', sc.pos);
  const text = sc.pattern.slice(sc.pos, end < 0 ? undefined : end);
  const items: RegexNode[] = [];
  let offset = sc.pos;
  for (const ch of text) {
    items.push(literal(ch.codePointAt(0)!, flags, offset));
    offset += ch.length;
  }
  sc.pos = end < 0 ? sc.pattern.length : end + 2;
  if (items.length === 1) return items[0]!;
  return items.length === 0 ? { kind: 'empty', offset: start } : { kind: 'concat', items, offset: start };
}

const NAMED = /^\(\?P?<([^>]*)>/;

function parseGroup(ctx: Ctx, state: { flags: Flags }, depth: number): RegexNode | 'flags' {
  const { sc } = ctx;
  const start = sc.pos;
  let capture = 0;
  let name: string | null = null;
  let inner = state.flags;
  const named = NAMED.exec(sc.pattern.slice(sc.pos));
  if (sc.startsWith('(?P=')) sc.unsupported(start, '(?P=', 'named backreferences are not regular; RE2 rejects them too');
  if (/^\(\?<?[=!]/.test(sc.pattern.slice(sc.pos))) {
    const construct = /^\(\?<?[=!]/.exec(sc.pattern.slice(sc.pos))![0];
    sc.unsupported(start, construct, 'RE2 has no lookaround assertions; match the whole request field instead');
  }
  if (named) {
    name = named[1]!;
    sc.pos += named[0].length;
    if (!/^[A-Za-z0-9_]+$/.test(name)) sc.fail(start, `invalid named capture: \`${sc.since(start)}\``);
    if (ctx.names.includes(name)) sc.fail(start, `duplicate capture group name: \`${sc.since(start)}\``);
    ctx.names.push(name);
    capture = ++ctx.captures;
  } else if (sc.startsWith('(?')) {
    const parsed = parseFlags(sc, state.flags);
    if (parsed.bare) {
      state.flags = parsed.flags;
      return 'flags';
    }
    inner = parsed.flags;
  } else {
    sc.next();
    capture = ++ctx.captures;
  }
  const item = parseAlt(ctx, inner, depth + 1);
  if (!sc.startsWith(')')) sc.fail(start, `missing closing ): \`${sc.pattern.slice(start)}\``);
  sc.next();
  return { kind: 'group', capture, name, item, offset: start };
}

/** (?flags) or (?flags: with the cursor on '('; RE2 knows i m s U and '-'. */
function parseFlags(sc: Scanner, flags: Flags): { flags: Flags; bare: boolean } {
  const start = sc.pos;
  sc.pos += 2;
  const next: { i: boolean; m: boolean; s: boolean; U: boolean } = { ...flags };
  let negated = false;
  let sawFlag = false;
  const bad = (): never => sc.fail(start, `invalid or unsupported Perl syntax: \`${sc.since(start)}\``);
  for (;;) {
    const c = sc.next();
    if (c < 0) bad();
    const ch = String.fromCodePoint(c);
    if (ch === 'i' || ch === 'm' || ch === 's' || ch === 'U') {
      next[ch] = !negated;
      sawFlag = true;
    } else if (ch === '-') {
      if (negated) bad();
      negated = true;
      sawFlag = false;
    } else if (ch === ')' || ch === ':') {
      if (negated && !sawFlag) bad();
      if (!negated && !sawFlag && ch === ')') bad();
      return { flags: next, bare: ch === ')' };
    } else bad();
  }
}
