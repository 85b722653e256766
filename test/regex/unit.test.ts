// Examples: errors with positions, UTF-8 handling, anchors, and the table
// contract the C datapath relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, parse, RegexSyntaxError, UnsupportedRegexError, TooManyStatesError, DEAD, START } from '../../codegen/regex/index.ts';

function syntaxError(pattern: string): RegexSyntaxError {
  try {
    compile([pattern]);
  } catch (e) {
    if (e instanceof RegexSyntaxError) return e;
    throw e;
  }
  assert.fail(`${JSON.stringify(pattern)} compiled`);
}

test('method "*" is a syntax error with the RE2 message and offset', () => {
  const e = syntaxError('*');
  assert.equal(e.offset, 0);
  assert.equal(e.message, 'invalid RE2 regex "*": missing argument to repetition operator: `*` at offset 0');
});

test('syntax errors name the construct and where it is', () => {
  const cases: [string, number, RegExp][] = [
    ['a**', 1, /invalid nested repetition operator: `\*\*`/],
    ['ab{2}{3}', 2, /nested repetition/],
    ['x{1001}', 1, /invalid repeat count: `\{1001\}`/],
    ['(a{500}){3}', 8, /invalid repeat count: `\{3\}`/],
    ['x{3,2}', 1, /invalid repeat count/],
    ['[z-a]', 1, /invalid character class range: `z-a`/],
    ['(ab', 0, /missing closing \)/],
    ['ab)', 2, /unexpected \)/],
    ['[ab', 0, /missing closing \]/],
    ['a\\', 1, /trailing backslash/],
    ['\\Z', 0, /invalid escape sequence: `\\Z`/],
    ['\\8', 0, /invalid escape/],
    ['(?x)', 0, /invalid or unsupported Perl syntax/],
    ['\\p{Nope}', 0, /invalid character class range/],
    ['[[:nope:]]', 1, /invalid character class range/],
    ['(?P<a>x)(?P<a>y)', 8, /duplicate capture group name/],
    ['a|+', 2, /missing argument/],
  ];
  for (const [p, offset, re] of cases) {
    const e = syntaxError(p);
    assert.match(e.reason, re, p);
    assert.equal(e.offset, offset, p);
  }
});

test('constructs without a full-match DFA meaning are typed UnsupportedRegexError', () => {
  for (const [p, construct, offset] of [
    ['(a)\\1', '\\1', 3],
    ['x(?=y)', '(?=', 1],
    ['(?<!y)x', '(?<!', 0],
    ['(?P<n>a)(?P=n)', '(?P=', 8],
  ] as const) {
    assert.throws(() => compile([p]), (e: unknown) => e instanceof UnsupportedRegexError && e.construct === construct && e.offset === offset && e.hint.length > 0, p);
  }
});

test('\\C is one byte: invalid UTF-8, the middle of a sequence, any flags', () => {
  const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
  const one = compile(['\\C', '(?i)\\C', '(?s:\\C)']);
  for (const b of [0x00, 0x0a, 0x41, 0x7f, 0x80, 0xbf, 0xc0, 0xe6, 0xf5, 0xff]) assert.deepEqual(one.match(bytes(b)), [0, 1, 2], `byte ${b}`);
  assert.deepEqual(one.match('é'), [], 'é is two bytes');
  assert.deepEqual(one.match(''), []);
  const cases: [string, Uint8Array | string, boolean][] = [
    ['\\C\\C\\C', '日', true], // E6 97 A5
    ['\\C\\C', '日', false],
    ['\\C\\C', 'é', true],
    ['é\\C', bytes(0xc3, 0xa9, 0xff), true], // a valid code point, then a stray byte
    ['\\C\\x{A9}', 'é', false], // the literal U+00A9 is C2 A9, not the byte A9
    ['(?:\\C\\C)+', bytes(0xe6, 0x97, 0xa5, 0x80), true],
    ['(?:\\C\\C)+', bytes(0xe6, 0x97, 0xa5), false],
    ['\\C*', bytes(0xff, 0xfe, 0x00, 0x0a), true],
    ['a\\C+b', bytes(0x61, 0x0a, 0x62), true],
    ['.\\C', bytes(0xe6, 0x97), false], // . never takes a partial sequence
    ['.\\C', bytes(0x61, 0x97), true],
    ['\\C.', bytes(0xe6, 0xe6, 0x97, 0xa5), true], // a lead byte alone, then a whole 日
    ['^\\C$', bytes(0x0a), true],
    ['(?m)\\C$\\n^\\C', bytes(0x80, 0x0a, 0x0a), true],
    ['x\\b\\C', 'x_', false],
    ['x\\b\\C', bytes(0x78, 0xc3), true],
  ];
  for (const [p, s, want] of cases) assert.equal(compile([p]).match(s).length === 1, want, `${p} on ${String(s)}`);
  assert.equal(syntaxError('[\\C]').offset, 1, '\\C is not allowed in a class, as in RE2');
});

test('state cap gives TooManyStatesError with a hint', () => {
  assert.throws(
    () => compile(['(a|b)*a(a|b){14}'], { maxStates: 1000 }),
    (e: unknown) => e instanceof TooManyStatesError && e.limit === 1000 && /split the rule set/.test(e.hint),
  );
});

test('. matches one valid UTF-8 code point, never invalid bytes, not \\n unless (?s)', () => {
  const dot = compile(['.', '(?s).']);
  for (const ok of ['a', 'é', '日', '😀', '\u{10ffff}']) assert.deepEqual(dot.match(ok), [0, 1], ok);
  assert.deepEqual(dot.match('\n'), [1]);
  for (const bad of [[0xff], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe6, 0x97]]) {
    assert.deepEqual(dot.match(Uint8Array.from(bad)), [], bad.join(','));
  }
  assert.deepEqual(dot.match('ab'), []);
});

test('escapes, classes and case folding', () => {
  const cases: [string, string, boolean][] = [
    ['\\x41\\x{1F600}\\101\\Q.*\\E', 'A😀A.*', true],
    ['[[:^alpha:]]+', '1-\u212a', true],
    ['(?i)k', '\u212a', true],
    ['(?i)[^k]', 'K', false],
    ['(?i:S)s', 'ſs', true],
    ['(?i:S)s', 'sS', false],
    ['[\\d\\s]+', '1 \n', true],
    ['\\p{Greek}+', 'αβγ', true],
    ['\\P{Greek}', 'α', false],
    ['(?U)a+?b', 'aab', true],
    ['(?P<x>a)(?<y>b)', 'ab', true],
    ['a{,2}', 'a{,2}', true],
  ];
  for (const [p, s, want] of cases) assert.equal(compile([p]).match(s).length === 1, want, `${p} on ${s}`);
});

test('anchors and word boundaries keep their RE2 meaning inside a full match', () => {
  const cases: [string, string, boolean][] = [
    ['^/api$', '/api', true],
    ['a^b', 'ab', false],
    ['(?m)a$\\n^b', 'a\nb', true],
    ['(?m)a^b', 'ab', false],
    ['foo\\b.*', 'foo bar', true],
    ['foo\\b.*', 'foobar', false],
    ['\\Bx', 'x', false],
  ];
  for (const [p, s, want] of cases) assert.equal(compile([p]).match(s).length === 1, want, `${p} on ${s}`);
});

test('table contract: dead 0 absorbing and rejecting, start 1, sizes', () => {
  for (const ps of [['GET', 'POST', '/api/.*'], ['[^\\x00-\\x{10FFFF}]'], ['.*'], Array.from({ length: 40 }, (_, i) => `/r${i}`)]) {
    const t = compile(ps).tables;
    assert.equal(t.classes.length, 256);
    assert.ok(t.numStates >= 2);
    assert.equal(t.trans.length, t.numStates * t.numClasses);
    assert.equal(t.acceptWords, Math.max(1, Math.ceil(ps.length / 32)));
    assert.equal(t.accept.length, t.numStates * t.acceptWords);
    for (let k = 0; k < t.numClasses; k++) assert.equal(t.trans[DEAD * t.numClasses + k], DEAD);
    for (let w = 0; w < t.acceptWords; w++) assert.equal(t.accept[w], 0);
    assert.ok(t.trans.every((s) => s < t.numStates));
    assert.ok(t.classes.every((c) => c < t.numClasses));
    assert.equal(t.live[DEAD], 0);
  }
  const never = compile(['[^\\x00-\\x{10FFFF}]']);
  assert.equal(never.tables.live[START], 0);
  assert.deepEqual(never.match(''), []);
});

test('streaming: a match split across segments', () => {
  const dfa = compile(['GET', '/admin']);
  const enc = new TextEncoder();
  const s = dfa.step(dfa.step(START, enc.encode('/adm')), enc.encode('in'));
  assert.deepEqual(dfa.accepts(s), [1]);
});

test('literal rule sets need no more states than their prefix trie', () => {
  const rules = Array.from({ length: 200 }, (_, i) => `/api/v${i % 3}/users${i}`);
  const trie = new Set(['']);
  for (const r of rules) for (let k = 1; k <= r.length; k++) trie.add(r.slice(0, k));
  assert.ok(compile(rules).stats.states <= trie.size + 1);
});

test('parse returns a flag-free tree', () => {
  const ast = parse('(?i)a(?:b|c)*');
  assert.equal(ast.root.kind, 'concat');
  assert.equal(ast.captures, 0);
});
