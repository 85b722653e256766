// Every policy YAML under examples/ (first document of kind Cilium*) must pass `check`
// without errors: examples are what users copy.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { readPolicyFiles, formatDiagnostic } from '../../src/policy/index.ts';

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

function isPolicyFile(file: string): boolean {
  const first = parseAllDocuments(readFileSync(file, 'utf8'))[0];
  const kind = first && 'contents' in first ? (first.toJS() as { kind?: unknown } | null)?.kind : undefined;
  return typeof kind === 'string' && kind.startsWith('Cilium');
}

const files = walk('examples').filter(isPolicyFile).sort();

describe('examples/ policies', () => {
  it('there are example policies', () => assert.ok(files.length >= 2, files.join(', ')));
  for (const f of files) {
    it(`${f} passes check without errors`, () => {
      const r = readPolicyFiles([f]);
      const errors = r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
      assert.deepEqual(errors, []);
      assert.ok(r.policies.length > 0, `${f} holds no policy`);
    });
  }
});
