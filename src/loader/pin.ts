// bpffs: where a deployment's programs and maps outlive the process that loaded them.
// Layout under <root>/<deployment>/:
//   flows, events, buckets     shared by every generation (flow state and the event stream
//                              survive a policy swap; observers keep their ring buffer)
//   g<N>/l7_from_pod, g<N>/l7_to_pod, g<N>/ipcache, g<N>/selectors
//                              one policy revision; removed once the next one is attached
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Libbpf } from './types.ts';

export const BPFFS = '/sys/fs/bpf';

export class PinError extends Error {
  constructor(what: string, hint: string) {
    super(`pin: ${what} (hint: ${hint})`);
    this.name = 'PinError';
  }
}

/** <root> for pins: env L7BPF_PIN_ROOT, else /sys/fs/bpf/l7bpf. */
export function pinRoot(): string {
  return process.env.L7BPF_PIN_ROOT ?? join(BPFFS, 'l7bpf');
}

export interface PinPaths {
  readonly dir: string;
  readonly flows: string;
  readonly l7flows: string;
  readonly rings: string;
  readonly events: string;
  /** rate-limit buckets: an unchanged rule keeps its buckets across deploys */
  readonly buckets: string;
  generation(n: number): { readonly dir: string; readonly prog: (name: string) => string; readonly map: (name: string) => string };
}

export function pinPaths(root: string, deployment: string): PinPaths {
  const dir = join(root, deployment);
  return {
    dir,
    flows: join(dir, 'flows'),
    l7flows: join(dir, 'l7flows'),
    rings: join(dir, 'rings'),
    events: join(dir, 'events'),
    buckets: join(dir, 'buckets'),
    generation(n) {
      const g = join(dir, `g${n}`);
      return { dir: g, prog: (name) => join(g, name), map: (name) => join(g, name) };
    },
  };
}

/** Whether some bpf filesystem is mounted at `path` (per /proc/self/mounts). */
export function bpffsMounted(path = BPFFS): boolean {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  return mounts.some((l) => {
    const [, where, type] = l.split(' ');
    return where === path && type === 'bpf';
  });
}

/**
 * Mounts bpffs at /sys/fs/bpf when nothing is mounted there (fresh VMs, containers).
 * Returns true when it mounted. Note: `ip netns exec` remounts /sys in a private mount
 * namespace, so pins made there would vanish with the command: the CLI pins in the host's
 * bpffs through /proc/<pid>/root instead (src/deploy/netns.ts), a root this does not mount.
 */
export function ensureBpffs(root = pinRoot()): boolean {
  if (!root.startsWith(BPFFS + '/') || bpffsMounted(BPFFS)) return false;
  mkdirSync(BPFFS, { recursive: true });
  const r = spawnSync('mount', ['-t', 'bpf', 'bpf', BPFFS], { encoding: 'utf8' });
  if (r.status !== 0) throw new PinError(`cannot mount bpffs at ${BPFFS}: ${(r.stderr || r.error?.message || '').trim()}`, 'run as root');
  return true;
}

export function pin(lib: Libbpf, fd: number, path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  if (existsSync(path)) rmSync(path);
  const r = lib.objPin(fd, path);
  if (r !== 0) throw new PinError(`bpf_obj_pin(${path}) failed (errno ${-r})`, `is ${BPFFS} a bpf filesystem? (mount -t bpf bpf ${BPFFS})`);
}

/** fd of a pinned object, or null when nothing is pinned there. Caller closes it. */
export function pinned(lib: Libbpf, path: string): number | null {
  const fd = lib.objGet(path);
  return fd >= 0 ? fd : null;
}

export function unpinDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
