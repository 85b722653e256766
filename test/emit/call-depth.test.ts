// The deepest call chain of every object fits Linux 6.1's stack bound (512 bytes, frames
// rounded to 32): the host's verifier does not check it, the 6.1 guest of the kernel matrix
// does, minutes later. This says which chain, in seconds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TEMPLATES_DIR, clangAvailable, emitObject } from '../../codegen/emit/index.ts';
import { runClang } from '../../codegen/emit/clang.ts';
import { frontendBackendIR, hundredRuleIR } from '../helpers/ir-fixtures.ts';
import { MAX_STACK, deepestChains } from '../helpers/call-depth.ts';

const tools = clangAvailable() && spawnSync('llvm-objdump', ['--version']).status === 0;
const skip = tools ? false : 'clang or llvm-objdump not found';
if (skip && process.env.CI === 'true') throw new Error(`must run under CI: ${skip}`);

function checkObject(path: string): void {
  const chains = deepestChains(path);
  assert.deepEqual([...chains.keys()].sort(), ['l7_from_pod', 'l7_to_pod']);
  for (const [prog, c] of chains) {
    assert.ok(c.bytes <= MAX_STACK, `${prog}: ${c.bytes} bytes > ${MAX_STACK} on 6.1: ${c.frames.join(' -> ')}`);
    // the reading follows calls below the program (today's deepest chain runs through the
    // reset's or bpf_loop's callback)
    assert.ok(c.frames.length >= 2, `${prog}: ${c.frames.join(' -> ')}`);
  }
}

test('the deepest call chain fits 512 bytes with 6.1 rounding (default config, 1 and 100 rules)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-depth-'));
  try {
    runClang(TEMPLATES_DIR, dir, true);
    checkObject(join(dir, 'l7bpf.o'));
    for (const ir of [frontendBackendIR(), hundredRuleIR()]) checkObject(emitObject(ir, dir).objectPath);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
