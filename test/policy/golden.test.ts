// Golden diagnostics: each test/fixtures/policies/bad/<name>.yaml is checked as `l7bpf check`
// does, and what it prints to stderr must equal <name>.expected.txt exactly.
// UPDATE_GOLDEN=1 rewrites the expected files (review the diff before committing).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { checkCommand } from '../../src/cli/check.ts';

const DIR = 'test/fixtures/policies/bad';
const update = process.env.UPDATE_GOLDEN === '1';

/** Runs checkCommand in-process (it is synchronous) and returns its stderr and exit code. */
export function runCheck(files: readonly string[], endpoints?: string): { stderr: string; stdout: string; code: number } {
  let stderr = '';
  let stdout = '';
  const errWrite = process.stderr.write;
  const outWrite = process.stdout.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  try {
    const code = checkCommand(files, endpoints ? { endpoints } : {});
    return { stderr, stdout, code };
  } finally {
    process.stderr.write = errWrite;
    process.stdout.write = outWrite;
  }
}

const fixtures = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

describe('golden diagnostics (test/fixtures/policies/bad)', () => {
  it('covers at least 15 malformed-policy fixtures', () => assert.ok(fixtures.length >= 15, `only ${fixtures.length} fixtures`));
  for (const f of fixtures) {
    const file = `${DIR}/${f}`;
    const golden = file.replace(/\.yaml$/, '.expected.txt');
    it(`${f} reports exactly ${golden.split('/').pop()}`, () => {
      const { stderr, code } = runCheck([file]);
      if (update) writeFileSync(golden, stderr);
      assert.ok(existsSync(golden), `${golden} is missing; run with UPDATE_GOLDEN=1`);
      assert.equal(stderr, readFileSync(golden, 'utf8'), `diagnostics of ${file} changed; if intended, run UPDATE_GOLDEN=1 node scripts/test.mjs policy`);
      assert.equal(code, /: error: /.test(stderr) ? 1 : 0, 'exit code is 1 exactly when there are errors');
      assert.ok(stderr.length > 0, `${file} is meant to produce diagnostics`);
    });
  }
});

describe('diagnostic shape', () => {
  it('every line is file:line:col: severity: message, with the file as passed', () => {
    for (const f of fixtures) {
      for (const line of runCheck([`${DIR}/${f}`]).stderr.split('\n').filter(Boolean)) {
        assert.match(line, new RegExp(`^${DIR}/${f.replace('.', '\\.')}:\\d+:\\d+: (error|warning|note): \\S`), line);
      }
    }
  });

  it('all errors of a file are reported in one run, in source order', () => {
    const lines = runCheck([`${DIR}/many-errors.yaml`]).stderr.split('\n').filter(Boolean);
    assert.ok(lines.length >= 8, lines.join('\n'));
    const pos = lines.map((l) => l.split(':').slice(1, 3).map(Number) as [number, number]);
    for (let i = 1; i < pos.length; i++) {
      const [a, b] = [pos[i - 1] as [number, number], pos[i] as [number, number]];
      assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]), `out of order: ${lines[i - 1]} / ${lines[i]}`);
    }
  });

  it('a typo gets a did-you-mean hint; a field far from any known one lists the known fields', () => {
    const out = runCheck([`${DIR}/unknown-fields.yaml`]).stderr;
    assert.match(out, /unknown field "endpointSelecter" in spec \(hint: did you mean "endpointSelector"\?\)/);
    assert.match(out, /unknown field "xyzzy" in http rule \(hint: known fields: method, path, host, headers, headerMatches, rateLimit\)/);
  });

  it('a file with errors contributes no policy; warnings and notes alone do not fail check', () => {
    assert.equal(runCheck([`${DIR}/star-method.yaml`, `${DIR}/number-alias.yaml`, `${DIR}/v1alpha1.yaml`]).code, 0);
    const r = runCheck([`${DIR}/yaml-syntax.yaml`]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /1 file\(s\), 0 valid policies, 2 error\(s\)/);
  });
});
