// bpf-templates/policy_default.h lets the templates build without a policy; it is written by
// hand (compact: one macro per DFA). It must define what codegen/emit's header defines, or a
// template that uses a new name builds with a policy and fails without one (or the reverse).
// The inspection window is the one name it leaves to l7_limits.h's default.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_LIMITS, TEMPLATES_DIR, renderPolicyHeader } from '../../codegen/emit/index.ts';
import { buildIR, frontendBackendIR } from '../helpers/ir-fixtures.ts';

/** the macros and the const tables a header defines */
function names(header: string): string[] {
  const defines = [...header.matchAll(/#define (L7_[A-Z0-9_]+)/g)].map((m) => m[1]!);
  const tables = [...header.matchAll(/const [a-z0-9_ ]+? (l7_[a-z0-9_]+)\[/g)].map((m) => m[1]!);
  return [...new Set([...defines, ...tables])].sort();
}

const defaultHeader = readFileSync(join(TEMPLATES_DIR, 'policy_default.h'), 'utf8')
  // one macro per DFA: its three tables
  .replace(/L7_DFA_DEFAULT\((\w+), [^)]*\)/g, 'const __u8 l7_$1_classes[1]; const __u16 l7_$1_trans[1]; const __u64 l7_$1_accept[1];');

test('policy_default.h defines what the generated policy header defines', () => {
  for (const ir of [buildIR({ selectors: [] }), frontendBackendIR([{ method: 'GET', path: '/x', host: 'a', headers: ['X-A: 1'] }])]) {
    const generated = names(renderPolicyHeader({ ir, hash: 'x', limits: DEFAULT_LIMITS })).filter((n) => n !== 'L7_INSPECT_WINDOW');
    assert.deepEqual(names(defaultHeader).filter((n) => n !== 'L7_DFA_DEFAULT'), generated);
  }
});
