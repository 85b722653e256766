// Runs every test/**/*.test.ts with node's test runner (Node 20 has no --test globs).
// Usage: node scripts/test.mjs [substring...]  (only files whose path contains one of them)
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.ts') ? [p] : [];
  });
}

const filters = process.argv.slice(2);
const files = walk('test').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s))).sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// objects by content (codegen/emit/clang.ts): tests that build the same policy share one
// clang run, and the kernel matrix's guests load what the host built
// the CLI tests run the bundle (test/helpers/cli.ts), built here from the sources of this run:
// a suite of CLI calls then starts in a third of tsx's time
const bundle = join(process.cwd(), 'dist/l7bpf.mjs');
const built = spawnSync(process.execPath, ['scripts/build.mjs', bundle], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
const env = { L7BPF_OBJECT_CACHE: join(process.cwd(), 'node_modules/.cache/l7bpf-objects'), L7BPF_CLI_BUNDLE: bundle, ...process.env };
const run = (list, stdio) => spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...list], { stdio, env });
const exited = (child) => new Promise((resolve) => child.on('close', (status) => resolve(status ?? 1)));

// the kernel matrix's guests are mostly waiting on emulation (qemu runs them niced): they run
// beside the other files, and their report follows the others'
const matrix = files.filter((f) => f.startsWith(join('test', 'matrix')));
const rest = files.filter((f) => !matrix.includes(f));
let matrixOut = '';
const side = matrix.length && rest.length ? run(matrix, ['ignore', 'pipe', 'pipe']) : null;
side?.stdout.on('data', (d) => (matrixOut += d));
side?.stderr.on('data', (d) => (matrixOut += d));
// its exit is awaited from now: a matrix that ends before the other files must not be missed
const sideExit = side ? exited(side) : Promise.resolve(0);
const status = await exited(run(side ? rest : files, 'inherit'));
const sideStatus = await sideExit;
if (side) process.stdout.write(`\n# kernel matrix (ran beside the files above)\n${matrixOut}`);
process.exit(status || sideStatus);
