// The drain lock: one process at a time moves the kernel's ring buffer into the history (two
// consumers of one BPF ring buffer would split or repeat its records). A lock file made with
// O_EXCL names its holder; Node has no flock(), so a crashed holder is recognized instead: its
// pid is gone (same host), or it stopped refreshing the file's mtime (another pid namespace or
// host). Taking a stale lock over is a rename, atomic; a holder checks it still holds the lock
// before each append, so two processes that race for a stale lock overlap one drain at most.
import { readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** a holder that has not refreshed for this long is gone (drainers refresh every poll, < 1 s) */
export const LOCK_STALE_MS = 30_000;

export interface DrainLock {
  readonly path: string;
  /** still ours (another process may have taken it over as stale) */
  held(): boolean;
  /** the heartbeat: tells others the holder lives */
  refresh(): void;
  release(): void;
}

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

export interface LockEnv {
  readonly pid: number;
  readonly host: string;
  readonly now: () => number;
  readonly alive: (pid: number) => boolean;
  readonly staleMs: number;
}

export const defaultLockEnv = (): LockEnv => ({ pid: process.pid, host: hostname(), now: Date.now, alive: pidAlive, staleMs: LOCK_STALE_MS });

/** The lock, or null when a live process holds it. */
export function tryLock(path: string, env: LockEnv = defaultLockEnv()): DrainLock | null {
  const me: Holder = { pid: env.pid, host: env.host, token: randomBytes(8).toString('hex') };
  const text = JSON.stringify(me) + '\n';
  try {
    writeFileSync(path, text, { flag: 'wx' });
    return lockOf(path, me.token, env);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  if (!isStale(path, env)) return null;
  const tmp = `${path}.${me.token}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
  return readHolder(path)?.token === me.token ? lockOf(path, me.token, env) : null;
}

function lockOf(path: string, token: string, env: LockEnv): DrainLock {
  const held = () => readHolder(path)?.token === token;
  return {
    path,
    held,
    refresh() {
      const now = new Date(env.now());
      if (held()) utimesSync(path, now, now);
    },
    release() {
      if (held()) unlinkSync(path);
    },
  };
}

/** A holder whose process is gone, or that stopped refreshing. A file being written (empty,
 * half a line) is not stale while its mtime is fresh. */
export function isStale(path: string, env: LockEnv): boolean {
  let mtime: number;
  try {
    mtime = statSync(path).mtimeMs;
  } catch {
    return true; // released meanwhile
  }
  if (env.now() - mtime > env.staleMs) return true;
  const h = readHolder(path);
  return h !== null && h.host === env.host && !env.alive(h.pid);
}

function readHolder(path: string): Holder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.token === 'string' && typeof h.host === 'string' ? (h as Holder) : null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
