// The kernel matrix: the datapath loads and passes the kernel tests on Debian's 6.1 and 6.12
// (qemu guests, scripts/kernels.sh) and on this machine's kernel, one row each. The guests run
// test/matrix/guest-suite.ts (6.12 its narrow part; L7BPF_KERNEL_MATRIX=wide: the whole suite on
// both); L7BPF_KERNEL_MATRIX=full runs every test/kernel file (about 25 minutes a kernel under
// emulation).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { CHECKOUT, MATRIX, guestKernel, guestSkip, runGuest, type GuestRun } from '../helpers/vm.ts';
import { kernelSkip } from '../helpers/kernel.ts';

const skip = kernelSkip() || guestSkip();
if (skip && process.env.CI === 'true') throw new Error(`the kernel matrix must run under CI: ${skip}`);

const FULL = process.env.L7BPF_KERNEL_MATRIX === 'full';
const files = FULL
  ? readdirSync(join(CHECKOUT, 'test/kernel')).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `test/kernel/${f}`)
  : ['test/matrix/guest-suite.ts'];
const testArgs = ['--import', 'tsx', '--test', '--test-reporter=spec', ...files];
// objects by content (codegen/emit/clang.ts): the host's run builds them, the guests only load
const OBJECTS = join(CHECKOUT, 'node_modules/.cache/l7bpf-objects');
const GUEST_MS = (FULL ? 90 : 15) * 60_000;

interface Row {
  readonly kernel: string;
  readonly release: string;
  readonly run: GuestRun;
}

const count = (out: string, what: string): number => Number(out.match(new RegExp(`^ℹ ${what} (\\d+)`, 'm'))?.[1] ?? NaN);

function rowText(r: Row): string {
  const { out, status, ms } = r.run;
  return `${r.kernel.padEnd(5)} ${r.release.padEnd(22)} tests ${count(out, 'tests')} pass ${count(out, 'pass')} fail ${count(out, 'fail')} skipped ${count(out, 'skipped')} status ${status} ${(ms / 1000).toFixed(0)} s`;
}

function check(r: Row): void {
  const { out, status, console: cons } = r.run;
  const failed = out.split('\n').filter((l) => /^\s*✖/.test(l)).slice(0, 20).join('\n');
  const why = `${rowText(r)}\n${failed}\n--- output (tail)\n${out.slice(-4000)}\n--- console (tail)\n${cons.slice(-3000)}`;
  assert.equal(status, 0, why);
  assert.ok(count(out, 'pass') > 0 && count(out, 'fail') === 0 && count(out, 'skipped') === 0, why);
}

function hostRun(): Promise<GuestRun> {
  const t0 = Date.now();
  return new Promise((resolveRun) => {
    // NODE_TEST_CONTEXT would make the child report to this runner instead of printing
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, testArgs, { cwd: CHECKOUT, env: { ...env, L7BPF_OBJECT_CACHE: OBJECTS }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (status) => resolveRun({ status, out, console: '', ms: Date.now() - t0 }));
  });
}

test(`kernel matrix: ${FULL ? 'every kernel test' : 'verify + the guest suite'} on ${MATRIX.join(', ')} and the host`, { skip }, async (t) => {
  // the host first: its row, and the objects the guests load
  const host: Row = { kernel: 'host', release: release(), run: await hostRun() };
  await t.test(`host ${host.release}`, () => check(host));
  const script = `cd '${CHECKOUT}'\nnode ${testArgs.join(' ')}`;
  // fewer generated upgrade variants under emulation (300 on the host)
  const env = { L7BPF_OBJECT_CACHE: OBJECTS, CI: 'true', L7BPF_UPGRADE_RUNS: '100', L7BPF_MATRIX_GUEST: '1' };
  const guests = MATRIX.map((name) => {
    const k = guestKernel(name)!;
    // 6.12 runs the narrow suite (guest-suite.ts says what and why); L7BPF_KERNEL_MATRIX=wide: both the whole one
    const narrow: Record<string, string> = name === '6.12' && process.env.L7BPF_KERNEL_MATRIX !== 'wide' ? { L7BPF_MATRIX_SUITE: 'narrow' } : {};
    return { name, release: k.release, run: runGuest(k, script, GUEST_MS, { ...env, ...narrow }) };
  });
  const rows: Row[] = [host];
  for (const g of guests) {
    const row: Row = { kernel: g.name, release: g.release, run: await g.run };
    rows.push(row);
    await t.test(`${g.name} ${g.release}`, () => check(row));
  }
  t.diagnostic(`\n${rows.map(rowText).join('\n')}`);
});
