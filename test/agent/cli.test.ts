// `l7bpf agent` as a command: bad settings are bad input (exit 2) with the reason; a running
// agent with nothing to serve and nothing deployed stays up until SIGTERM and exits 0.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv, l7bpf } from '../helpers/cli.ts';

describe('l7bpf agent (command)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'l7bpf-agent-cli-'));
  const env = { ...process.env, L7BPF_STATE_DIR: join(dir, 'state'), L7BPF_PIN_ROOT: join(dir, 'pins') };
  const quiet = ['--metrics', '', '--hubble-socket', '', '--hubble-listen', ''];

  it('says what is wrong with its settings (exit 2)', () => {
    const cases: [string[], RegExp][] = [
      [[...quiet], /no source: pass --dir DIR/],
      [['--dir', dir, '--kubernetes', ...quiet], /--dir and --kubernetes: choose one source/],
      [['--dir', dir, '--debounce', 'soon', ...quiet], /--debounce soon: expected a duration/],
      [['--dir', dir, '--config', join(dir, 'nope.yaml'), ...quiet], /--config .*nope\.yaml/],
    ];
    writeFileSync(join(dir, 'bad.yaml'), 'audti: true\n');
    cases.push([['--dir', dir, '--config', join(dir, 'bad.yaml'), ...quiet], /unknown setting\(s\) audti/]);
    for (const [args, message] of cases) {
      const r = l7bpf(['agent', ...args], env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
    }
  });

  it('stays up with nothing to serve and nothing deployed, and stops on SIGTERM', async () => {
    mkdirSync(join(dir, 'policies'), { recursive: true });
    const child = spawn(process.execPath, [...cliArgv(), 'agent', '--dir', dir, '--node-name', 'n', ...quiet], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const early = await Promise.race([exited, new Promise((r) => setTimeout(() => r('running'), 2500))]);
    assert.equal(early, 'running', `the agent exited early: ${log}`);
    assert.match(log, /watching directory/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log);
    assert.match(log, /stopping/);
    rmSync(dir, { recursive: true, force: true });
  });
});
