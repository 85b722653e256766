// The directory source of `l7bpf agent --dir DIR`: the desired state as files.
//   DIR/policies/*.yaml|*.yml|*.json   CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy documents
//   DIR/endpoints.yaml                 the inventory (ours, or a `kubectl get ... -o json` List; nodes too)
//   DIR/interfaces.yaml                optional: "namespace/pod: host-side interface" per line
// fs.watch says that something changed, not what, and misses events on some file systems
// (and a ConfigMap mount swaps a symlink): every notice re-reads the whole directory, and a
// slow rescan catches what no notice reported. The reconciler compares snapshots, so a
// spurious read costs a hash.
import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { AgentSource, Snapshot, SourceText } from './types.ts';

const POLICY_FILE = /\.(ya?ml|json)$/;
export const INVENTORY_FILE = 'endpoints.yaml';
export const INTERFACES_FILE = 'interfaces.yaml';
export const POLICIES_DIR = 'policies';
/** the safety net under fs.watch */
const RESCAN_MS = 5_000;

export class DirectorySource implements AgentSource {
  readonly name: string;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastText = '';

  constructor(private readonly dir: string, private readonly rescanMs = RESCAN_MS) {
    this.name = `directory ${dir}`;
  }

  async start(update: (s: Snapshot) => void, problem: (reason: string) => void): Promise<void> {
    const read = () => {
      try {
        this.rewatch(read);
        const s = readDirectory(this.dir);
        // fs.watch fires several times per write: hand on only what differs
        const text = JSON.stringify(s);
        if (text === this.lastText) return;
        this.lastText = text;
        update(s);
      } catch (e) {
        problem((e as Error).message);
      }
    };
    read();
    this.timer = setInterval(read, this.rescanMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  /** Watches DIR and DIR/policies; the latter may come and go, so it is watched anew each read. */
  private rewatch(onChange: () => void): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    for (const d of [this.dir, join(this.dir, POLICIES_DIR)]) {
      if (!isDir(d)) continue;
      const w = watch(d, { persistent: false }, () => onChange());
      w.on('error', () => {}); // a watched directory removed: the next read sees it
      this.watchers.push(w);
    }
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The directory as a Snapshot (files in name order, so the same files give the same snapshot). */
export function readDirectory(dir: string): Snapshot {
  if (!isDir(dir)) throw new Error(`${dir}: not a directory (hint: --dir names a folder with policies/ and ${INVENTORY_FILE})`);
  const policyDir = join(dir, POLICIES_DIR);
  const names = isDir(policyDir) ? readdirSync(policyDir).filter((n) => POLICY_FILE.test(n) && !n.startsWith('.')).sort() : [];
  const policies: SourceText[] = names.flatMap((n) => readText(join(policyDir, n)) ?? []);
  const inventory = readText(join(dir, INVENTORY_FILE));
  const ifaceOf = readInterfaces(join(dir, INTERFACES_FILE));
  const describe = `${policies.length} policy file(s)${inventory ? '' : `, no ${INVENTORY_FILE}`}`;
  return { policies, inventory, ifaceOf, describe };
}

/** A file's text, or null when it is not there (removed between the listing and the read). */
function readText(path: string): SourceText | null {
  try {
    return { name: path, text: readFileSync(path, 'utf8') };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** "namespace/pod: interface" lines; an absent file is an empty map unless `required`. */
export function readInterfaces(path: string, required = false): Record<string, string> {
  if (!required && !existsSync(path)) return {};
  const doc: unknown = parseYaml(readFileSync(path, 'utf8'));
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${path}: expected a map of pod (namespace/name) to interface, e.g. "default/web-1: lxc1a2b3c"`);
  const out: Record<string, string> = {};
  for (const [pod, iface] of Object.entries(doc)) {
    if (typeof iface !== 'string' || iface === '') throw new Error(`${path}: ${pod}: the interface must be a name, e.g. lxc1a2b3c`);
    out[pod] = iface;
  }
  return out;
}
