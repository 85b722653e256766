// Property tests: the DFA agrees with re2js (the oracle's engine) on full
// matches, streaming equals one-shot, multi-pattern equals single patterns,
// and minimization keeps the language.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { compile, START } from '../../codegen/regex/index.ts';
import { sample, text, chunks } from './gen.ts';

const SEED = 20240611;
const enc = new TextEncoder();

function oracle(re: string): RE2JS | null {
  try {
    return RE2JS.compile(re);
  } catch {
    return null;
  }
}

test('DFA full match == re2js matches, on built and random strings', () => {
  fc.assert(
    fc.property(sample, fc.array(text, { maxLength: 6 }), (s, others) => {
      const o = oracle(s.re);
      fc.pre(o !== null);
      const dfa = compile([s.re]);
      for (const input of [s.text, ...others]) {
        assert.equal(dfa.match(input).length === 1, o!.matches(input), `/${s.re}/ on ${JSON.stringify(input)}`);
      }
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('caseInsensitive option == (?i) prefix in re2js', () => {
  fc.assert(
    fc.property(sample, text, (s, input) => {
      const o = oracle(`(?i)${s.re}`);
      fc.pre(o !== null);
      const dfa = compile([s.re], { caseInsensitive: true });
      assert.equal(dfa.match(input).length === 1, o!.matches(input), `(?i)/${s.re}/ on ${JSON.stringify(input)}`);
    }),
    { seed: SEED, numRuns: 150 },
  );
});

test('chunked step() == one-shot match', () => {
  fc.assert(
    fc.property(sample, text, fc.array(fc.nat(40), { maxLength: 3 }), (s, other, cuts) => {
      const dfa = compile([s.re]);
      for (const input of [s.text, other + s.text]) {
        const bytes = enc.encode(input);
        let state = START;
        for (const piece of chunks(bytes, cuts)) state = dfa.step(state, piece);
        assert.deepEqual(dfa.accepts(state), dfa.match(bytes));
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});

test('multi-pattern match set == the set of single-pattern matches', () => {
  fc.assert(
    fc.property(fc.array(sample, { minLength: 1, maxLength: 6 }), fc.array(text, { maxLength: 4 }), (ss, others) => {
      const res = ss.map((s) => s.re);
      const multi = compile(res, { maxStates: 20000 });
      const singles = res.map((r) => compile([r]));
      for (const input of [...ss.map((s) => s.text), ...others]) {
        const want = singles.flatMap((d, i) => (d.match(input).length > 0 ? [i] : []));
        assert.deepEqual(multi.match(input), want, `${JSON.stringify(res)} on ${JSON.stringify(input)}`);
      }
    }),
    { seed: SEED, numRuns: 100 },
  );
});

test('minimized DFA == unminimized DFA, and never bigger', () => {
  fc.assert(
    fc.property(fc.array(sample, { minLength: 1, maxLength: 3 }), fc.array(text, { maxLength: 6 }), (ss, inputs) => {
      const res = ss.map((s) => s.re);
      const min = compile(res);
      const raw = compile(res, { minimize: false });
      assert.ok(min.stats.states <= raw.stats.states);
      for (const input of [...ss.map((s) => s.text), ...inputs]) assert.deepEqual(min.match(input), raw.match(input));
    }),
    { seed: SEED, numRuns: 150 },
  );
});
