// Regex compiler benchmark: compile time, DFA states and table bytes for
// realistic path rule sets, next to two baselines measured in the same run:
// re2js (compile every rule, then test every rule per request, as the oracle
// does) and the prefix trie of the literal rules (the union of prefixes).
// A last table splits the 1000-rule mix (too big for one DFA) with
// compileSplit under the default 4096-state budget.
// Run: npx tsx bench/regex.ts
import { RE2JS } from 're2js';
import { compile, TooManyStatesError, type Dfa } from '../codegen/regex/index.ts';
import { compileSplit, type SplitDfa } from '../test/helpers/regex-split.ts';

const WORDS = ['users', 'orders', 'items', 'carts', 'login', 'public', 'static', 'health', 'metrics', 'search'];
const word = (i: number): string => `${WORDS[i % WORDS.length]}${Math.floor(i / WORDS.length)}`;

type Shape = 'literal' | 'versioned' | 'suffix' | 'mix';

function rule(shape: Shape, i: number): string {
  switch (shape) {
    case 'literal':
      return `/api/v${i % 3}/${word(i)}`;
    case 'versioned':
      return `/api/v[0-9]+/${word(i)}/.*`;
    case 'suffix':
      return `.*${word(i)}$`;
    case 'mix':
      return rule((['literal', 'versioned', 'suffix'] as const)[i % 3]!, i);
  }
}

function requests(shape: Shape, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < 200; i++) {
    const k = (i * 7919) % n;
    out.push(i % 2 === 0 ? `/api/v${k % 3}/${word(k)}` : `/api/v2/${word(k)}/x/y?q=${i}`);
  }
  return out;
}

/** Nodes of the byte trie of the rule strings (root included). */
function trieNodes(rules: readonly string[]): number {
  const seen = new Set<string>(['']);
  for (const r of rules) for (let k = 1; k <= r.length; k++) seen.add(r.slice(0, k));
  return seen.size;
}

function time<T>(f: () => T): [T, number] {
  const t = performance.now();
  const v = f();
  return [v, performance.now() - t];
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

const rows: string[][] = [['shape', 'rules', 'compile ms', 'states', 'classes', 'table KiB', 'trie nodes', 're2js compile ms', 'match us/req (dfa)', 'match us/req (re2js)', 're2js/dfa']];
compile(['warm.*up', '(?i)k']); // unicode tables and JIT warm-up, not part of any row
for (const shape of ['literal', 'versioned', 'suffix', 'mix'] as const) {
  for (const n of [10, 100, 1000]) {
    const rules = Array.from({ length: n }, (_, i) => rule(shape, i));
    const runs: number[] = [];
    let dfa: Dfa | undefined;
    let failed = '';
    for (let r = 0; r < 3 && failed === ''; r++) {
      try {
        const [d, ms] = time(() => compile(rules, { maxStates: 60000 }));
        dfa = d;
        runs.push(ms);
      } catch (e) {
        failed = e instanceof TooManyStatesError ? `> ${e.limit} states` : String(e);
      }
    }
    if (failed !== '') {
      rows.push([shape, String(n), '-', failed, '-', '-', '-', '-', '-', '-', '-']);
      continue;
    }
    const [res, reMs] = time(() => rules.map((r) => RE2JS.compile(r)));
    const reqs = requests(shape, n);
    const rounds = 5;
    const [, dfaMatch] = time(() => { for (let r = 0; r < rounds; r++) reqs.forEach((q) => dfa!.match(q)); });
    const [, reMatch] = time(() => { for (let r = 0; r < rounds; r++) reqs.forEach((q) => res.filter((re) => re.matches(q))); });
    const literal = shape === 'literal' ? String(trieNodes(rules)) : '-';
    rows.push([
      shape,
      String(n),
      median(runs).toFixed(1),
      String(dfa!.stats.states),
      String(dfa!.stats.classes),
      (dfa!.stats.tableBytes / 1024).toFixed(1),
      literal,
      reMs.toFixed(1),
      ((1000 * dfaMatch) / (rounds * reqs.length)).toFixed(2),
      ((1000 * reMatch) / (rounds * reqs.length)).toFixed(2),
      (reMatch / dfaMatch).toFixed(0) + 'x',
    ]);
  }
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log('| ' + r.map((v, c) => v.padStart(widths[c]!)).join(' | ') + ' |');

// The 1000-rule mix does not fit one DFA; compileSplit packs it into a few,
// each within the default budget. Baseline: re2js as above.
{
  const rules = Array.from({ length: 1000 }, (_, i) => rule('mix', i));
  const runs: number[] = [];
  let split: SplitDfa | undefined;
  for (let r = 0; r < 3; r++) {
    const [s, ms] = time(() => compileSplit(rules, { maxStatesPerDfa: 4096, maxDfas: 16 }));
    split = s;
    runs.push(ms);
  }
  const s = split!;
  const [res, reMs] = time(() => rules.map((r) => RE2JS.compile(r)));
  const reqs = requests('mix', 1000);
  const rounds = 5;
  const [, dfaMatch] = time(() => { for (let r = 0; r < rounds; r++) reqs.forEach((q) => s.match(q)); });
  const [, reMatch] = time(() => { for (let r = 0; r < rounds; r++) reqs.forEach((q) => res.filter((re) => re.matches(q))); });
  const out = [
    ['set', 'rules', 'compile ms', 'DFAs', 'states (total)', 'states per DFA', 'table KiB (total)', 'probes', 're2js compile ms', 'match us/req (dfas)', 'match us/req (re2js)', 're2js/dfas'],
    [
      'mix via compileSplit',
      '1000',
      median(runs).toFixed(1),
      String(s.stats.dfas),
      String(s.stats.states),
      s.groups.map((g) => g.stats.states).join('+'),
      (s.stats.tableBytes / 1024).toFixed(1),
      String(s.stats.probes),
      reMs.toFixed(1),
      ((1000 * dfaMatch) / (rounds * reqs.length)).toFixed(2),
      ((1000 * reMatch) / (rounds * reqs.length)).toFixed(2),
      (reMatch / dfaMatch).toFixed(0) + 'x',
    ],
  ];
  console.log();
  const w = out[0]!.map((_, c) => Math.max(...out.map((r) => r[c]!.length)));
  for (const r of out) console.log('| ' + r.map((v, c) => v.padStart(w[c]!)).join(' | ') + ' |');
}
