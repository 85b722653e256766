// `l7bpf deploy DIR --endpoints INV [--iface-of POD=IFACE ...] [--name NAME]`: attach (or
// atomically swap) a compiled object on the endpoints' host-side veths.
import { loadInventory } from '../endpoints/index.ts';
import { openLibbpf } from '../loader/index.ts';
import { deploy } from '../deploy/deploy.ts';
import { describeNetns } from '../deploy/netns.ts';
import { deployEnv } from '../deploy/env.ts';
import { hostname } from 'node:os';
import type { AnswerMode } from '../net/answers.ts';
import { BadInputError, exitCodeOf } from './exit.ts';
import { DEFAULT_HISTORY_BYTES, historyDir } from '../observe/history.ts';
import { formatSize } from '../observe/units.ts';

export interface DeployOptions {
  readonly endpoints: string;
  readonly ifaceOf?: readonly string[];
  readonly name?: string;
  readonly denyAnswer?: AnswerMode;
  /** this node in the inventory (default: the hostname) */
  readonly nodeName?: string;
  /** budget of the flow history in bytes (default: what the deployment had, else 16 MiB) */
  readonly historySize?: number;
  /** audit mode: every denial passes, reported with verdict AUDIT */
  readonly audit?: boolean;
}

export const DEFAULT_DEPLOYMENT = 'default';

/** Pins in the host's bpffs even under `ip netns exec` (src/deploy/env.ts); the netns is recorded. */
export { deployEnv } from '../deploy/env.ts';

export function parseIfaceOf(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0 || eq === p.length - 1) throw new BadInputError(`--iface-of "${p}": expected POD=IFACE (hint: --iface-of default/backend-1=lxc12ab)`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

/** What a deployment's denials look like to the client. */
export function answerText(mode: AnswerMode): string {
  if (mode === 'reset') return 'reset both ways (--deny-answer reset)';
  const h2 = 'HTTP/2 403 + grpc-status 7 and GOAWAY, the server\'s side reset';
  return mode === 'auto'
    ? `answered (--deny-answer auto): HTTP/1 403 on a connection that goes on (the request cut; else 403 and FIN), ${h2}`
    : `answered (--deny-answer close): HTTP/1 403 and FIN, ${h2}`;
}

export function deployCommand(dir: string, o: DeployOptions): number {
  const name = o.name ?? DEFAULT_DEPLOYMENT;
  try {
    const inventory = loadInventory(o.endpoints, { localNode: o.nodeName ?? hostname(), localNodeFrom: o.nodeName ? '--node-name' : 'the hostname; pass --node-name' });
    const env = deployEnv();
    const r = deploy(openLibbpf(), { dir, inventory, ifaceOf: parseIfaceOf(o.ifaceOf ?? []), name, answer: o.denyAnswer ?? 'auto', ...(o.audit ? { audit: true } : {}), ...(o.historySize ? { historyBytes: o.historySize } : {}) }, env);
    const s = r.state;
    if (r.mountedBpffs) console.log('mounted bpffs at /sys/fs/bpf');
    if (env.pinRoot.startsWith('/proc/')) console.log(`pinned in the host's bpffs through ${env.pinRoot} (this process has its own mount namespace)`);
    console.log(`${r.swapped ? 'swapped' : 'deployed'} ${name} generation ${s.generation}: ${s.objectPath} (sha256 ${s.objectSha256})`);
    console.log(`  denials: ${s.audit ? 'audit mode (--audit): every denial passes, reported with verdict AUDIT' : answerText(s.answer)}`);
    console.log(`  flow history: ${formatSize(s.historyBytes ?? DEFAULT_HISTORY_BYTES)} at most, in ${historyDir(env.stateDir, name)} (observe reads it)`);
    console.log(`  network namespace: ${describeNetns(s.netns)}`);
    for (const i of s.ifaces) console.log(`  ${i.iface} (${i.pod}): tc ingress l7_from_pod, tc egress l7_to_pod`);
    if (r.reused.length) console.log(`  kept: ${r.reused.join(', ')} (existing flows keep their state)`);
    if (r.swapped && r.fresh.length) console.log(`  new: ${r.fresh.join('; ')}`);
    return 0;
  } catch (e) {
    console.error(`l7bpf deploy: ${(e as Error).message}`);
    console.error(`l7bpf deploy: nothing changed; ${name} keeps what it had`);
    return exitCodeOf(e);
  }
}
