// Property tests: the DFA agrees with re2js (the oracle's engine) on full
// matches of strings walked from each regex and mutated (see gen.ts),
// streaming equals one-shot, multi-pattern equals single patterns, and
// minimization keeps the language. The generator itself is checked too: its
// walks must mostly match and its mutations must often not, or the
// properties above would test little.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { compile, START, TooManyStatesError, type CompileOptions, type Dfa } from '../../codegen/regex/index.ts';
import { sample, text, chunks, strings, walk, mutate, prng, render, LITERALS } from './gen.ts';
import { BIASED, CLASS_NAMES } from './gen-classes.ts';

const SEED = 20240611;
const enc = new TextEncoder();

function oracle(re: string): RE2JS | null {
  try {
    return RE2JS.compile(re);
  } catch {
    return null;
  }
}

/** compile(), skipping the sample (fc.pre) when its DFA is over the state cap:
 * some random nestings of Unicode classes in counted repeats legitimately are. */
function build(res: readonly string[], options: CompileOptions = {}): Dfa {
  try {
    return compile(res, options);
  } catch (e) {
    fc.pre(!(e instanceof TooManyStatesError));
    throw e;
  }
}

test('DFA full match == re2js matches, on walked, mutated and random strings', () => {
  fc.assert(
    fc.property(sample, fc.array(text, { maxLength: 2 }), (s, others) => {
      const o = oracle(s.re);
      fc.pre(o !== null);
      const dfa = build([s.re]);
      for (const input of [...strings(s, 8), ...others]) {
        assert.equal(dfa.match(input).length === 1, o!.matches(input), `/${s.re}/ on ${JSON.stringify(input)}`);
      }
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('caseInsensitive option == (?i) prefix in re2js, on strings walked under (?i)', () => {
  fc.assert(
    fc.property(sample, (s) => {
      const o = oracle(`(?i)${s.re}`);
      fc.pre(o !== null);
      const dfa = build([s.re], { caseInsensitive: true });
      for (const input of strings(s, 6, true)) {
        assert.equal(dfa.match(input).length === 1, o!.matches(input), `(?i)/${s.re}/ on ${JSON.stringify(input)}`);
      }
    }),
    { seed: SEED, numRuns: 200 },
  );
});

test('chunked step() == one-shot match', () => {
  fc.assert(
    fc.property(sample, text, fc.array(fc.nat(40), { maxLength: 3 }), (s, other, cuts) => {
      const dfa = build([s.re]);
      for (const input of [...strings(s, 1), other + s.text]) {
        const bytes = enc.encode(input);
        let state = START;
        for (const piece of chunks(bytes, cuts)) state = dfa.step(state, piece);
        assert.deepEqual(dfa.accepts(state), dfa.match(bytes));
      }
    }),
    { seed: SEED, numRuns: 150 },
  );
});

test('multi-pattern match set == the set of single-pattern matches', () => {
  fc.assert(
    fc.property(fc.array(sample, { minLength: 2, maxLength: 5 }), (ss) => {
      const res = ss.map((s) => s.re);
      const multi = build(res, { maxStates: 20000 });
      const singles = res.map((r) => build([r]));
      for (const input of ss.flatMap((s) => strings(s, 2))) {
        const want = singles.flatMap((d, i) => (d.match(input).length > 0 ? [i] : []));
        assert.deepEqual(multi.match(input), want, `${JSON.stringify(res)} on ${JSON.stringify(input)}`);
      }
    }),
    { seed: SEED, numRuns: 120 },
  );
});

test('minimized DFA == unminimized DFA, and never bigger', () => {
  fc.assert(
    fc.property(fc.array(sample, { minLength: 1, maxLength: 3 }), (ss) => {
      const res = ss.map((s) => s.re);
      const min = build(res);
      const raw = build(res, { minimize: false });
      assert.ok(min.stats.states <= raw.stats.states);
      for (const input of ss.flatMap((s) => strings(s, 2))) assert.deepEqual(min.match(input), raw.match(input));
    }),
    { seed: SEED, numRuns: 150 },
  );
});

test('generator strength: walks mostly match, mutations often do not', () => {
  const samples = fc.sample(sample, { seed: SEED, numRuns: 300 });
  let walks = 0;
  let walkMatches = 0;
  let mutants = 0;
  let mutantMisses = 0;
  for (const s of samples) {
    const o = oracle(s.re);
    if (o === null) continue;
    const rnd = prng(s.seed);
    for (let k = 0; k < 3; k++) {
      const w = walk(s.node, rnd);
      walks++;
      if (o.matches(w)) {
        walkMatches++;
        mutants++;
        if (!o.matches(mutate(w, rnd))) mutantMisses++;
      }
    }
  }
  console.log(`generator: ${walkMatches}/${walks} walks match, ${mutantMisses}/${mutants} mutations of matching walks do not`);
  assert.ok(walkMatches / walks > 0.4, `only ${walkMatches}/${walks} walked strings match their regex`);
  assert.ok(mutantMisses / mutants > 0.25, `only ${mutantMisses}/${mutants} mutations change the verdict`);
});

test('every generator literal and class, under each flag, == re2js on every biased character and ASCII letter', () => {
  const atoms = [...new Set([...LITERALS.map((ch) => render({ k: 'lit', ch })), ...CLASS_NAMES])];
  const chars = [...new Set([...BIASED, ...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'])];
  const failures: string[] = [];
  for (const flags of ['', '(?i)', '(?s)']) {
    for (const atom of atoms) {
      const re = flags + atom;
      const dfa = compile([re]);
      const o = RE2JS.compile(re);
      for (const ch of chars) if ((dfa.match(ch).length === 1) !== o.matches(ch)) failures.push(`/${re}/ on ${JSON.stringify(ch)}`);
    }
  }
  assert.deepEqual(failures, []);
});
