// scripts/lint.mjs's pipeline rules on a small tree of its own: an import from a later stage,
// a cycle between folders, the loader past its index and a folder in no stage are each named;
// product code importing tests and benches importing past test/helpers are named too;
// the same tree without them passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const LINT = resolve('scripts/lint.mjs');

function lint(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'l7bpf-lint-'));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    }
    const r = spawnSync(process.execPath, [LINT], { cwd: root, encoding: 'utf8' });
    return r.status === 0 ? '' : r.stderr;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const clean = {
  'src/policy/types.ts': 'export type A = 1;\n',
  'src/verdict/decide.ts': "import type { A } from '../policy/types.ts';\nexport const x: A = 1;\n",
  'src/loader/index.ts': "export * from './object.ts';\n",
  'src/loader/object.ts': 'export const load = 1;\n',
  'src/cli/main.ts': "import { load } from '../loader/index.ts';\nexport const y = load;\n",
};

test('a tree in stage order passes', () => {
  assert.equal(lint(clean), '');
});

test('an import from a later stage, and the cycle it closes, are named', () => {
  const out = lint({ ...clean, 'src/policy/types.ts': "import '../verdict/decide.ts';\nexport type A = 1;\n" });
  assert.match(out, /src\/policy\/types\.ts imports \.\.\/verdict\/decide\.ts: src\/verdict is a later stage than src\/policy/);
  assert.match(out, /import cycle between folders src\/policy, src\/verdict/);
});

test('a cycle inside one stage is named', () => {
  const out = lint({
    ...clean,
    'sim/http1/a.ts': "import { b } from '../replay/b.ts';\nexport const a = b;\n",
    'sim/replay/b.ts': "import type { a } from '../http1/a.ts';\nexport const b = 1;\n",
  });
  assert.match(out, /import cycle between folders sim\/http1, sim\/replay/);
  assert.doesNotMatch(out, /later stage/);
});

test('the loader past its index, and a folder in no stage, are named', () => {
  const out = lint({ ...clean, 'src/cli/main.ts': "import { load } from '../loader/object.ts';\nexport const y = load;\n", 'src/misc/z.ts': 'export const z = 1;\n' });
  assert.match(out, /src\/cli\/main\.ts imports \.\.\/loader\/object\.ts: outside src\/loader, import its index\.ts/);
  assert.match(out, /src\/misc: a folder in no stage/);
});

test('product code importing a test helper, and a bench importing a test file, are named', () => {
  const out = lint({
    ...clean,
    'test/helpers/kit.ts': 'export const kit = 1;\n',
    'test/a.test.ts': "import { kit } from './helpers/kit.ts';\nexport const t = kit;\n",
    'bench/ok.ts': "import { kit } from '../test/helpers/kit.ts';\nexport const o = kit;\n",
    'bench/bad.ts': "import { t } from '../test/a.test.ts';\nexport const b = t;\n",
    'src/verdict/decide.ts': "import { kit } from '../../test/helpers/kit.ts';\nexport const x = kit;\n",
  });
  assert.match(out, /src\/verdict\/decide\.ts imports \.\.\/\.\.\/test\/helpers\/kit\.ts: product code does not import tests or benches/);
  assert.match(out, /bench\/bad\.ts imports \.\.\/test\/a\.test\.ts: benches take from test\/ only test\/helpers/);
  assert.doesNotMatch(out, /bench\/ok\.ts/);
});
