// The CLI as a user runs it: a child process (`node --import tsx src/cli/main.ts ...`), its exit
// code and both streams.
import { spawnSync } from 'node:child_process';

export function l7bpf(args: readonly string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
