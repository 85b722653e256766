// Running this same l7bpf command line in another network namespace: status and undeploy of
// a deployment attached elsewhere (tc filters and ifindexes are per network namespace; pins,
// maps and the record are not). nsenter --net keeps the mount namespace, so the child sees
// the same bpffs and state directory.
import { spawnSync } from 'node:child_process';

export interface ChildRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export function runInNetns(nsPath: string, args: readonly string[]): ChildRun {
  const self = process.argv[1];
  if (!self) throw new Error('cannot tell how l7bpf was started (no script path)');
  const r = spawnSync('nsenter', [`--net=${nsPath}`, '--', process.execPath, ...process.execArgv, self, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`nsenter --net=${nsPath}: ${r.error.message} (hint: install util-linux's nsenter, or run l7bpf in that namespace)`);
  return { code: r.status ?? 1, out: r.stdout, err: r.stderr };
}
