// Golden C snapshots (UPDATE_GOLDEN=1 rewrites them), limits, determinism, generated-file freshness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderPolicyHeader, HEADER_MARK, LimitExceededError, DEFAULT_LIMITS, emitObject, clangAvailable } from '../../codegen/emit/index.ts';
import { acceptWords64, cList } from '../../codegen/emit/header.ts';
import { layout, GENERATED } from '../../codegen/emit/generate.ts';
import { policyHash } from '../../codegen/emit/manifest.ts';
import { ipcacheKey } from '../../src/loader/index.ts';
import { IPCACHE_KEY_SIZE } from '../../src/loader/layouts.generated.ts';
import { compile } from '../../codegen/regex/index.ts';
import { frontendBackendIR, l4IR, buildIR, entry, SEL } from '../helpers/ir-fixtures.ts';

const here = dirname(fileURLToPath(import.meta.url));
const golden = (name: string, text: string) => {
  const p = join(here, 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(p, text);
  assert.equal(text, readFileSync(p, 'utf8'), `${name} differs from the golden file (UPDATE_GOLDEN=1 to accept)`);
};

test('golden: frontend may GET /api/v1/users on backend:8080', () => {
  golden('frontend-backend.h', renderPolicyHeader({ ir: frontendBackendIR(), hash: 'golden' }));
});

test('golden: L4 allow + deny, no http rules', () => {
  golden('l4.h', renderPolicyHeader({ ir: l4IR(), hash: 'golden' }));
});

test('the header starts with the DO NOT EDIT line and is deterministic', () => {
  const a = renderPolicyHeader({ ir: frontendBackendIR(), hash: 'h' });
  const b = renderPolicyHeader({ ir: frontendBackendIR(), hash: 'h' });
  assert.equal(a, b);
  assert.ok(a.startsWith(`/* ${HEADER_MARK} */\n`));
});

test('accept bitsets: pattern p sets bit p; null fields set their bit in every state', () => {
  const t = compile(['GET', 'POST']).tables;
  const words = acceptWords64(t, 1, 0b100n);
  const getState = compile(['GET', 'POST']).step(1, new TextEncoder().encode('GET'));
  assert.equal(words[getState], 0b101n);
  assert.equal(words[0], 0b100n, 'dead state still carries the always-bits');
  assert.equal(cList([]), '0');
});

test('limits: too many selectors, rules or DFA states is a typed error', () => {
  const ir = frontendBackendIR();
  assert.throws(() => renderPolicyHeader({ ir, hash: 'h', limits: { ...DEFAULT_LIMITS, selectors: 2 } }), (e: unknown) => e instanceof LimitExceededError && e.limit === 'selectors');
  assert.throws(() => renderPolicyHeader({ ir, hash: 'h', limits: { ...DEFAULT_LIMITS, dfaStates: 2 } }), (e: unknown) => e instanceof LimitExceededError && e.limit === 'dfaStates' && /hint:/.test(e.message));
  const many = buildIR({ selectors: ['a=b'], ingress: { entries: Array.from({ length: 5 }, () => entry({ local: SEL.backend, action: { kind: 'allow' } })) } });
  assert.throws(() => renderPolicyHeader({ ir: many, hash: 'h', limits: { ...DEFAULT_LIMITS, portEntries: 4 } }), /portEntries limit of 4/);
});

test('event struct: naturally aligned; every generated file is fresh (npm run generate)', () => {
  const { size, fields } = layout();
  assert.equal(size % 8, 0);
  assert.ok(fields.every((f) => f.offset % (f.type === 'u64' ? 8 : f.type === 'u8' ? 1 : f.type === 'u16' ? 2 : 4) === 0));
  const root = join(here, '../..');
  for (const [path, render] of GENERATED) assert.equal(readFileSync(join(root, path), 'utf8'), render(), `${path} is stale`);
});

test('map structs: one definition; a misaligned field or C tail padding is refused', () => {
  assert.throws(() => layout([{ name: 'a', type: 'u8', doc: '' }, { name: 'b', type: 'u32', doc: '' }], 'x'), /field b at offset 1 is not 4-aligned/);
  assert.throws(() => layout([{ name: 'a', type: 'u32', doc: '' }, { name: 'b', type: 'u8', doc: '' }], 'x'), /struct size 5 is not a multiple of 4/);
  const k = ipcacheKey('10.1.0.0/16');
  assert.equal(k.length, IPCACHE_KEY_SIZE);
  assert.equal(k.readUInt32LE(0), 16 + 96);
  assert.deepEqual([...k.subarray(4)], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 0, 0]);
});

test('same IR -> byte-identical object and manifest hashes, whatever the output directory', { skip: clangAvailable() ? false : 'clang not found' }, () => {
  const d1 = mkdtempSync(join(tmpdir(), 'l7bpf-emit-a-'));
  const d2 = mkdtempSync(join(tmpdir(), 'l7bpf-emit-bb-'));
  try {
    const a = emitObject(frontendBackendIR(), d1);
    const b = emitObject(frontendBackendIR(), d2);
    assert.deepEqual(readFileSync(a.objectPath), readFileSync(b.objectPath));
    assert.deepEqual(a.manifest.sha256, b.manifest.sha256);
    assert.equal(a.manifest.selectors.length, 3);
    assert.equal(a.manifest.rules[0]!.source, 'policy.yaml:10');
  } finally {
    rmSync(d1, { recursive: true, force: true });
    rmSync(d2, { recursive: true, force: true });
  }
});

test('the policy hash (L7_POLICY_HASH / ID) ignores where rules were written, not what they say', () => {
  const ir = frontendBackendIR();
  const moved = { ...ir, rules: ir.rules.map((r) => ({ ...r, source: `/elsewhere/${r.source}` })) };
  const renamed = { ...ir, rules: ir.rules.map((r) => ({ ...r, policy: `${r.policy}-2` })) };
  assert.equal(policyHash(moved), policyHash(ir));
  assert.notEqual(policyHash(renamed), policyHash(ir));
});
