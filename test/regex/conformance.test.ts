// Every regex of RE2's search corpus must compile and give RE2's full-match
// answer on every string (\C, one byte, included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, RegexSyntaxError, UnsupportedRegexError } from '../../codegen/regex/index.ts';
import { corpusPath, readCorpus } from './corpus.ts';

const path = corpusPath('re2/re2-search.txt');

test('RE2 search corpus: full-match agreement', { skip: path === null ? 'corpus folder absent (set L7BPF_CORPORA)' : false }, () => {
  const cases = readCorpus(path!);
  const unique = new Set(cases.map((c) => c.regex));
  const rejected = new Map<string, string>();
  let checked = 0;
  let anyByteChecks = 0;
  const failures: string[] = [];
  for (const c of cases) {
    let dfa;
    try {
      dfa = compile([c.regex]);
    } catch (e) {
      if (e instanceof UnsupportedRegexError) rejected.set(c.regex, `unsupported ${e.construct}`);
      else if (e instanceof RegexSyntaxError) rejected.set(c.regex, `syntax: ${e.reason}`);
      else throw e;
      continue;
    }
    c.inputs.forEach((input, k) => {
      checked++;
      if (c.regex.includes('\\C')) anyByteChecks++;
      const got = dfa.match(input).length === 1;
      if (got !== c.full[k]) {
        failures.push(`line ${c.line}: /${c.regex}/ on ${JSON.stringify(new TextDecoder().decode(input))}: RE2 says ${c.full[k]}, DFA says ${got}`);
      }
    });
  }
  const accepted = unique.size - rejected.size;
  console.log(`re2 corpus: ${unique.size} distinct regexes, ${accepted} accepted (${((100 * accepted) / unique.size).toFixed(1)}%), ${checked} checks (${anyByteChecks} with \\C)`);
  for (const [re, why] of rejected) console.log(`  rejected ${JSON.stringify(re)}: ${why}`);
  assert.deepEqual(failures.slice(0, 20), []);
  assert.deepEqual([...rejected], [], 'every corpus regex is supported');
  assert.ok(anyByteChecks > 0, 'the corpus exercises \\C');
});
