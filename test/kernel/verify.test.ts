// Every template builds and passes the verifier: the default config alone, and generated policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkip } from '../helpers/kernel.ts';
import { TEMPLATES_DIR, emitObject } from '../../codegen/emit/index.ts';
import { runClang } from '../../codegen/emit/clang.ts';
import { openLibbpf, loadObject, missingFeatures } from '../../src/loader/index.ts';
import { verifyDir } from '../../src/deploy/verify.ts';
import { frontendBackendIR, l4IR, hundredRuleIR } from '../helpers/ir-fixtures.ts';

const skip = kernelSkip();

const withDir = <T>(f: (dir: string) => T): T => {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-verify-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('templates with the default config (no policy) compile and verify', { skip }, () => withDir((dir) => {
  runClang(TEMPLATES_DIR, dir, true);
  const obj = loadObject(openLibbpf(), join(dir, 'l7bpf.o'));
  try {
    assert.deepEqual([...obj.programs.keys()].sort(), ['l7_from_pod', 'l7_to_pod']);
    for (const p of obj.programs.values()) assert.ok(p.verifiedInsns > 0 && p.verifiedInsns < 1_000_000);
  } finally {
    obj.close();
  }
  runClang(TEMPLATES_DIR, dir, true, 'l7_empty.bpf.c', 'empty.o');
  loadObject(openLibbpf(), join(dir, 'empty.o')).close();
}));

// the template paths a policy switches on: L3/L4 only, http rules (method, path), host and
// header requirements (their DFAs in the framer), rate limits (l7_ratelimit.h: the kernel
// matrix's guests verify them here), two rule words (100 rules)
const LIMIT = { id: '00000000000000aa', requestsPerSecond: 100, burst: 5, per: 'source', mode: 'enforce', intervalNs: 10_000_000, toleranceNs: 40_000_000 } as const;
const hostAndHeaders = (): ReturnType<typeof frontendBackendIR> =>
  frontendBackendIR([
    { method: 'PUT', path: '/api/v1/items/[0-9]+', host: 'api\\.example\\.com', headers: ['X-Token: abc', 'X-Trace'] },
    { method: 'GET', path: '/api/.*', rateLimit: LIMIT },
    { path: '/c/.*', rateLimit: { ...LIMIT, id: '00000000000000ab', per: 'connection', mode: 'shadow' } },
  ]);

// a matrix guest verifies under emulation, tens of seconds an object: there basic.test.ts loads
// (and so verifies) the first two in the same run, and the host checks their maps
const GUEST = process.env.L7BPF_MATRIX_GUEST === '1';

test('generated objects verify and their maps match manifest.json', { skip }, () => {
  for (const ir of [...(GUEST ? [] : [frontendBackendIR(), l4IR()]), hostAndHeaders(), hundredRuleIR()]) {
    withDir((dir) => {
      emitObject(ir, dir);
      const r = verifyDir(dir);
      assert.equal(r.programs.length, 2);
      const named = r.maps.filter((m) => m.manifestMatches !== null);
      assert.ok(named.length >= 3);
      assert.ok(named.every((m) => m.manifestMatches), JSON.stringify(r.maps));
    });
  }
});

test('this kernel has every helper and map type the datapath uses (the probes the loader asks after a failed load)', { skip }, () => {
  assert.deepEqual(missingFeatures(openLibbpf()).map((f) => f.name), []);
});
