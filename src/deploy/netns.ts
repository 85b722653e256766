// Namespaces a deployment lives in.
//
// Network: the tc filters are attached in the network namespace deploy ran in (the node's);
// the record keeps its inode (and its /run/netns name when it has one), so status and
// undeploy run from any namespace can enter it (src/cli/netns-exec.ts) to check or detach.
//
// Mount: `ip netns exec` runs the command in a new mount namespace with a fresh /sys, where
// /sys/fs/bpf is not the host's bpffs: pins made there vanish with the process while the
// programs stay attached. Pins go to the host's bpffs instead, reached through
// /proc/<pid>/root of a process in another mount namespace: init when we may look at it,
// else the nearest ancestor (the shell that ran `ip netns exec`).
import { existsSync, readdirSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const BPFFS = '/sys/fs/bpf';
const BPF_FS_MAGIC = 0xcafe4a11;

export interface NetnsId {
  /** inode of the namespace (nsfs), as `ip netns identify` and /proc/PID/ns/net show it */
  readonly inode: number;
  /** its name under /run/netns when it has one (`ip netns add`), else null */
  readonly name: string | null;
}

const inodeOf = (path: string): number | null => {
  try {
    return statSync(path).ino;
  } catch {
    return null; // gone, or not ours to look at
  }
};

/** This process's network namespace. */
export function currentNetns(): NetnsId | null {
  const inode = inodeOf('/proc/self/ns/net');
  return inode === null ? null : { inode, name: netnsName(inode) };
}

export function netnsName(inode: number): string | null {
  if (!existsSync('/run/netns')) return null;
  return readdirSync('/run/netns').sort().find((n) => inodeOf(join('/run/netns', n)) === inode) ?? null;
}

/** A path that enters the namespace (for nsenter --net=): its /run/netns name, else any process in it; null when it is gone. */
export function netnsPath(id: NetnsId): string | null {
  if (id.name !== null && inodeOf(join('/run/netns', id.name)) === id.inode) return join('/run/netns', id.name);
  const byName = netnsName(id.inode);
  if (byName !== null) return join('/run/netns', byName);
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (inodeOf(`/proc/${pid}/ns/net`) === id.inode) return `/proc/${pid}/ns/net`;
  }
  return null;
}

export const describeNetns = (id: NetnsId | null | undefined): string => (id ? `${id.name ?? '(unnamed)'} [net:${id.inode}]` : 'unknown (recorded before l7bpf kept it)');

function parentOf(pid: number | 'self'): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : null;
  } catch {
    return null;
  }
}

function isBpffs(path: string): boolean {
  try {
    return statfsSync(path).type === BPF_FS_MAGIC;
  } catch {
    return false;
  }
}

/** Init, then our ancestors nearest first: processes whose mount namespace may be the host's. */
function candidates(): number[] {
  const out = [1];
  for (let p = parentOf('self'), hops = 0; p !== null && p > 1 && hops < 32; p = parentOf(p), hops++) out.push(p);
  return out;
}

/**
 * Where the host's bpffs is seen from here: /sys/fs/bpf when we share the mount namespace of
 * init (or of our ancestors), else /proc/<pid>/root/sys/fs/bpf of the first that has a bpffs.
 * `private`: we are in a mount namespace of our own and found no bpffs to reach (pins would
 * not outlive the process).
 */
export function hostBpffs(): { readonly path: string; readonly private: boolean } {
  const mine = inodeOf('/proc/self/ns/mnt');
  let other = false;
  for (const pid of candidates()) {
    const theirs = inodeOf(`/proc/${pid}/ns/mnt`);
    if (theirs === null || mine === null) continue;
    if (theirs === mine) return { path: BPFFS, private: false };
    other = true;
    const path = `/proc/${pid}/root${BPFFS}`;
    if (isBpffs(path)) return { path, private: false };
  }
  return { path: BPFFS, private: other };
}

/** A pin root under /sys/fs/bpf as seen from this process (see hostBpffs). */
export function hostPinRoot(root: string, host = hostBpffs()): string {
  return root === BPFFS || root.startsWith(BPFFS + '/') ? host.path + root.slice(BPFFS.length) : root;
}
