// The CLI as a user runs it: a child process, its exit code and both streams. Under
// scripts/test.mjs that is the esbuild bundle it built from the sources at the start of the run
// (L7BPF_CLI_BUNDLE: starts in a third of tsx's time, which a suite of CLI calls pays again and
// again); otherwise `node --import tsx src/cli/main.ts`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');

/** node's arguments that run the CLI (prefix them to the CLI's own). */
export function cliArgv(): string[] {
  const bundle = process.env.L7BPF_CLI_BUNDLE;
  return bundle && existsSync(bundle) ? [bundle] : ['--import', 'tsx', join(REPO, 'src/cli/main.ts')];
}

export function l7bpf(args: readonly string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...cliArgv(), ...args], { encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
