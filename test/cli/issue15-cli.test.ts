// Issue 15, the CLI as a whole: status/observe --name of no deployment, --version, one name
// for the inspection limit, examples in --help, exit codes (0 ok, 1 denied / failed check /
// disagreement, 2 bad input) documented in README and followed.
import { l7bpf } from '../helpers/cli.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clangAvailable } from '../../codegen/emit/index.ts';

const SEED = 'examples/seed';
const EXPLAIN = ['explain', '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`, '--from', 'frontend-1'];

let dir = '';
before(() => (dir = mkdtempSync(join(tmpdir(), 'l7bpf-issue15-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('status and observe --name of no deployment', () => {
  it('exit 2 with a message', () => {
    const env = { ...process.env, L7BPF_STATE_DIR: join(dir, 'state') };
    const status = l7bpf(['status', '--name', 'nope'], env);
    assert.equal(status.code, 2, status.err);
    assert.match(status.err, /l7bpf status: no deployment named nope/);
    const observe = l7bpf(['observe', '--name', 'nope'], env);
    assert.equal(observe.code, 2, observe.err);
    assert.match(observe.err, /no deployment named nope/);
  });
});

describe('--version', () => {
  it("prints package.json's version", () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = l7bpf([flag]);
      assert.equal(r.code, 0);
      assert.equal(r.out, `${version}\n`);
    }
  });
});

describe('one name for the inspection limit', () => {
  it('--inspection-limit in compile and replay; --inspect-window hidden', () => {
    for (const cmd of ['compile', 'replay']) assert.match(l7bpf([cmd, '--help']).out, /--inspection-limit <bytes>/, cmd);
    assert.doesNotMatch(l7bpf(['compile', '--help']).out, /inspect-window/);
    const bad = l7bpf(['replay', `${SEED}/seed-traffic.pcap`, '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`, '--inspection-limit', 'lots']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--inspection-limit <bytes>' argument 'lots' is invalid/);
  });

  it('compile takes both names', { skip: clangAvailable() ? false : 'clang not found' }, () => {
    for (const flag of ['--inspection-limit', '--inspect-window']) {
      const out = join(dir, `limit${flag}`);
      const r = l7bpf(['compile', '--policy', `${SEED}/corrected-policy.yaml`, '-o', out, flag, '4096']);
      assert.equal(r.code, 0, r.err);
      assert.equal((JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { limits: { inspectWindow: number } }).limits.inspectWindow, 4096, flag);
    }
  });
});

describe('--help shows examples', () => {
  it('the main help and the main commands end with Examples', () => {
    assert.match(l7bpf(['--help']).out, /\nExamples:\n {2}\$ l7bpf check /);
    for (const cmd of ['check', 'explain', 'replay', 'compile', 'deploy', 'observe']) {
      const help = l7bpf([cmd, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.out, new RegExp(`\\nExamples:\\n {2}\\$ (sudo )?l7bpf ${cmd} `), cmd);
    }
  });
});

describe('exit codes: 0 ok, 1 denied / failed check / disagreement, 2 bad input', () => {
  it('README documents them', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('### Exit codes'));
    assert.ok(readme.includes('### Exit codes'));
    for (const code of ['0', '1', '2']) assert.match(section, new RegExp(`^\\| ${code} \\| `, 'm'), code);
    assert.match(section, /^\| 2 \| bad input/m);
  });

  it('usage errors and bad input exit 2, not 1', () => {
    const cases: [string, string[]][] = [
      ['unknown option', ['check', '--nope', `${SEED}/corrected-policy.yaml`]],
      ['unknown command', ['nope']],
      ['missing required option', ['explain', '--policy', `${SEED}/corrected-policy.yaml`]],
      ['missing capture', ['replay', join(dir, 'none.pcap'), '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`]],
      ['missing inventory', [...EXPLAIN.slice(0, 3), '--endpoints', join(dir, 'none.yaml'), '--from', 'frontend-1', '--to', 'backend-1:8080']],
      ['invalid policy', ['compile', '--policy', 'test/fixtures/policies/bad/invalid-cidr.yaml', '-o', join(dir, 'bad')]],
    ];
    for (const [what, args] of cases) assert.equal(l7bpf(args).code, 2, what);
  });
});
