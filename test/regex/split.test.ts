// compileSplit: a rule set split into DFAs under a state budget must match
// exactly what one DFA over all rules matches, with every pattern in exactly
// one group, every group within budget, and typed errors at the limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compile, TooManyStatesError, RegexSyntaxError } from '../../codegen/regex/index.ts';
import { compileSplit, matchAll, startAll, stepAll, acceptsAll, TooManyDfasError, type SplitDfa } from '../helpers/regex-split.ts';
import { accepts, step, START } from '../../codegen/regex/tables.ts';
import { sample, text, chunks } from './gen.ts';

const WORDS = ['users', 'orders', 'items', 'carts', 'login'];
const word = (i: number): string => `${WORDS[i % WORDS.length]}${Math.floor(i / WORDS.length)}`;
/** The bench's mixed shapes: literal, versioned prefix with a .* tail, .*suffix$. */
function mixed(n: number): string[] {
  return Array.from({ length: n }, (_, i) => [`/api/v${i % 3}/${word(i)}`, `/api/v[0-9]+/${word(i)}/.*`, `.*${word(i)}$`][i % 3]!);
}
function requests(n: number): string[] {
  const out = ['', '/', '/api/v1/', '/api/v12/x/users0'];
  for (let i = 0; i < n; i++) out.push(`/api/v${i % 3}/${word(i)}`, `/api/v${i}/${word(i)}/x?q=${word(i + 1)}`, `/x/${word(i)}`, `/api/v1/${word(i)}/`);
  return out;
}

/** Structural checks every split must pass. */
function checkShape(split: SplitDfa, n: number, budget: number): void {
  const seen = split.groups.flatMap((g) => g.patterns);
  assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'each pattern in exactly one group');
  for (const g of split.groups) {
    assert.ok(g.tables.numStates <= budget, `${g.tables.numStates} states > ${budget}`);
    assert.equal(g.tables.patterns, g.patterns.length);
    assert.deepEqual([...g.patterns], [...g.patterns].sort((a, b) => a - b), 'local order is ascending global order');
  }
  assert.equal(split.stats.dfas, split.groups.length);
  assert.equal(split.stats.states, split.groups.reduce((s, g) => s + g.tables.numStates, 0));
}

test('mixed rules under a small budget: several DFAs, same matches as one DFA', () => {
  const rules = mixed(90);
  const one = compile(rules, { maxStates: 20000 });
  const split = compileSplit(rules, { maxStatesPerDfa: 300, maxDfas: 20 });
  assert.ok(one.stats.states > 300, 'the whole set does not fit the budget');
  assert.ok(split.groups.length >= 2);
  checkShape(split, rules.length, 300);
  for (const q of requests(90)) assert.deepEqual(split.match(q), one.match(q), q);
});

test('shape ordering keeps .* suffix rules apart from prefix rules', () => {
  const rules = mixed(150);
  const split = compileSplit(rules, { maxStatesPerDfa: 4096 });
  assert.equal(split.groups.length, 2, JSON.stringify(split.groups.map((g) => [g.patterns.length, g.stats.states])));
  const suffixGroup = split.groups.find((g) => g.patterns.includes(2))!;
  assert.ok(suffixGroup.patterns.every((p) => p % 3 === 2), 'the .*NAME$ rules form their own group');
});

test('a group is a plain DfaTables: local bit i is global pattern patterns[i]', () => {
  const rules = mixed(30);
  const split = compileSplit(rules, { maxStatesPerDfa: 120 });
  const q = '/api/v3/orders0/x';
  const want = compile(rules, { maxStates: 20000 }).match(q);
  const viaTables = split.groups.flatMap((g) => accepts(g.tables, step(g.tables, START, new TextEncoder().encode(q))).map((i) => g.patterns[i]!));
  assert.deepEqual(viaTables.sort((a, b) => a - b), want);
  assert.ok(want.length > 0);
});

test('streaming over all groups == matchAll, across chunk boundaries', () => {
  const rules = mixed(60);
  const split = compileSplit(rules, { maxStatesPerDfa: 250 });
  const enc = new TextEncoder();
  for (const q of requests(20)) {
    const bytes = enc.encode(q);
    let states = startAll(split.groups);
    for (const piece of chunks(bytes, [3, 7, 11])) states = stepAll(split.groups, states, piece);
    assert.deepEqual(acceptsAll(split.groups, states), matchAll(split.groups, q), q);
  }
});

test('a set that fits is one group, identical to compile()', () => {
  const rules = ['GET', 'POST', '/api/.*'];
  const split = compileSplit(rules);
  assert.equal(split.groups.length, 1);
  assert.deepEqual(split.groups[0]!.patterns, [0, 1, 2]);
  assert.deepEqual(split.groups[0]!.tables, compile(rules).tables);
  assert.deepEqual(compileSplit([]).groups, []);
  assert.deepEqual(compileSplit([]).match('x'), []);
});

test('limits and errors are typed', () => {
  assert.throws(
    () => compileSplit(mixed(90), { maxStatesPerDfa: 300, maxDfas: 2 }),
    (e: unknown) => e instanceof TooManyDfasError && e.maxDfas === 2 && e.maxStatesPerDfa === 300 && e.placed > 0 && e.placed < e.total && e.total === 90 && /raise maxDfas/.test(e.hint),
  );
  assert.throws(
    () => compileSplit(['a', '(a|b)*a(a|b){12}'], { maxStatesPerDfa: 500 }),
    (e: unknown) => e instanceof TooManyStatesError && e.limit === 500 && /pattern #1 /.test(e.hint),
  );
  assert.throws(() => compileSplit(['ok', 'a**']), (e: unknown) => e instanceof RegexSyntaxError && e.pattern === 'a**');
});

test('property: random rule sets under random budgets match like one DFA', () => {
  fc.assert(
    fc.property(fc.array(sample, { minLength: 1, maxLength: 6 }), fc.integer({ min: 2, max: 60 }), fc.array(text, { maxLength: 4 }), (ss, budget, others) => {
      const res = ss.map((s) => s.re);
      const one = compile(res, { maxStates: 20000 });
      let split: SplitDfa;
      try {
        split = compileSplit(res, { maxStatesPerDfa: budget, maxDfas: 64 });
      } catch (e) {
        fc.pre(!(e instanceof TooManyStatesError)); // one pattern alone over a tiny budget
        throw e;
      }
      checkShape(split, res.length, budget);
      for (const input of [...ss.map((s) => s.text), ...others]) assert.deepEqual(split.match(input), one.match(input), `${JSON.stringify(res)} on ${JSON.stringify(input)}`);
    }),
    { seed: 20240611, numRuns: 30 },
  );
});
