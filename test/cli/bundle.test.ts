// The esbuild bundle (the package's `l7bpf` bin) runs on its own.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

it('the bundled CLI checks and replays the seed example', () => {
  // inside the package, as an installed bin is: undici and koffi resolve from node_modules
  mkdirSync('.tmp', { recursive: true });
  const dir = mkdtempSync(join('.tmp', 'bundle-'));
  try {
    const out = join(dir, 'l7bpf.mjs');
    execFileSync(process.execPath, ['scripts/build.mjs', out]);
    const check = execFileSync(process.execPath, [out, 'check', 'examples/seed/corrected-policy.yaml'], { encoding: 'utf8' });
    assert.match(check, /1 valid policy, 0 error\(s\)/);
    const replay = execFileSync(process.execPath, [out, 'replay', 'examples/seed/seed-traffic.pcap', '--policy', 'examples/seed/corrected-policy.yaml', '--endpoints', 'examples/seed/endpoints.yaml', '--expect', 'examples/seed/expected-verdicts.txt'], { encoding: 'utf8' });
    assert.match(replay, /3 request\(s\): 1 allowed, 2 denied/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
