// `l7bpf compile` is deterministic whatever the paths: the same policy text from two files
// in two places, compiled into two output directories, gives the same object bytes (rule
// file:line sources go to the manifest only, not into the policy hash the object carries).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clangAvailable } from '../../codegen/emit/index.ts';
import { cliArgv } from '../helpers/cli.ts';

function compile(policy: string, out: string): string {
  // no object cache: clang itself must write the same bytes in both directories
  const { L7BPF_OBJECT_CACHE: _, ...env } = process.env;
  const r = spawnSync(process.execPath, [...cliArgv(), 'compile', '--policy', policy, '-o', out], { encoding: 'utf8', env, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return createHash('sha256').update(readFileSync(join(out, 'l7bpf.o'))).digest('hex');
}

it('the same policy from another path, into another directory: the same object sha256', { skip: clangAvailable() ? false : 'clang not found' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-paths-'));
  try {
    const [a, b] = [join(dir, 'team-a', 'policies'), join(dir, 'b')];
    mkdirSync(a, { recursive: true });
    mkdirSync(b, { recursive: true });
    copyFileSync('examples/seed/corrected-policy.yaml', join(a, 'backend.yaml'));
    copyFileSync('examples/seed/corrected-policy.yaml', join(b, 'p.yaml'));
    const first = compile(join(a, 'backend.yaml'), join(dir, 'out', 'one'));
    const second = compile(join(b, 'p.yaml'), join(dir, 'build-two'));
    assert.equal(first, second);
    // the manifest still names the file each rule came from
    const manifest = (out: string) => JSON.parse(readFileSync(join(dir, out, 'manifest.json'), 'utf8')) as { rules: { source: string }[]; sha256: { object: string } };
    assert.equal(manifest('out/one').rules[0]!.source, `${join(a, 'backend.yaml')}:12`);
    assert.equal(manifest('build-two').sha256.object, second);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
