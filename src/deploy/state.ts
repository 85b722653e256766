// A deployment's record on the node: what is attached where, which object, which endpoints
// (so `status`, `observe` and `undeploy` work from a fresh process). JSON under
// env L7BPF_STATE_DIR or /run/l7bpf (tmpfs: it goes with a reboot, as the tc filters do).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Inventory, ReservedEntity } from '../endpoints/types.ts';
import { parseIp, type IpAddr } from '../net/ip.ts';
import type { RateLimitIR, RuleRefIR } from '../../codegen/ir/types.ts';
import type { AnswerMode } from '../net/answers.ts';
import type { NetnsId } from './netns.ts';

export interface AttachedIface {
  /** namespace/name of the endpoint */
  readonly pod: string;
  readonly iface: string;
  readonly ifindex: number;
  /** the clsact qdisc was created by l7bpf (undeploy removes it then, and only then) */
  readonly createdClsact: boolean;
}

export interface HttpRuleRef {
  readonly index: number;
  readonly rule: number;
  readonly method: string | null;
  readonly path: string | null;
  /** the rule's rate limit (status shows its buckets and counts) */
  readonly rateLimit?: RateLimitIR;
  /** `file:line` of the http entry (observe names the rule that allowed a request) */
  readonly source?: string;
}

export interface StateInventory {
  readonly endpoints: readonly { name: string; namespace: string; labels: Record<string, string>; ips: string[]; identity: number; iface: string | null }[];
  readonly reserved: readonly { entity: ReservedEntity; ips: string[] }[];
}

export interface DeployState {
  readonly version: 1;
  readonly name: string;
  /** increases with every successful swap; names the pin directory g<N> */
  readonly generation: number;
  readonly objectPath: string;
  readonly objectSha256: string;
  readonly handle: number;
  readonly priority: number;
  readonly ifaces: readonly AttachedIface[];
  readonly rules: readonly RuleRefIR[];
  readonly httpRules: readonly HttpRuleRef[];
  readonly inventory: StateInventory;
  readonly deployedAt: string;
  readonly flowsReused: boolean;
  /** how denials are answered (`deploy --deny-answer`); absent in states written before it: reset */
  readonly answer: AnswerMode;
  /** audit mode (`deploy --audit`): denials pass, reported with verdict AUDIT; absent: enforced */
  readonly audit?: boolean;
  /** the network namespace the filters were attached in; absent in records written before it */
  readonly netns?: NetnsId;
  /** budget of the flow history in bytes (`deploy --history-size`); absent in records written before it: the default */
  readonly historyBytes?: number;
}

export function stateDir(): string {
  return process.env.L7BPF_STATE_DIR ?? '/run/l7bpf';
}

const fileOf = (dir: string, name: string) => join(dir, `${name}.json`);

export function readState(name: string, dir = stateDir()): DeployState | null {
  const f = fileOf(dir, name);
  if (!existsSync(f)) return null;
  return JSON.parse(readFileSync(f, 'utf8')) as DeployState;
}

/** Written to a temp file and renamed: a crash never leaves half a record. */
export function writeState(s: DeployState, dir = stateDir()): void {
  mkdirSync(dir, { recursive: true });
  const tmp = fileOf(dir, `.${s.name}.tmp`);
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  renameSync(tmp, fileOf(dir, s.name));
}

export function removeState(name: string, dir = stateDir()): void {
  rmSync(fileOf(dir, name), { force: true });
}

export function listStates(dir = stateDir()): DeployState[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as DeployState);
}

export function inventoryToState(inv: Inventory): StateInventory {
  return {
    endpoints: inv.endpoints.map((e) => ({ name: e.name, namespace: e.namespace, labels: { ...e.labels }, ips: e.ips.map((i) => i.text), identity: e.identity, iface: e.iface })),
    reserved: inv.reserved.map((r) => ({ entity: r.entity, ips: r.ips.map((i) => i.text) })),
  };
}

const ips = (texts: readonly string[]): IpAddr[] => texts.map(parseIp).filter((x): x is IpAddr => x !== null);

export function inventoryFromState(s: StateInventory): Inventory {
  return {
    endpoints: s.endpoints.map((e) => ({ ...e, ips: ips(e.ips), namedPorts: {} })),
    reserved: s.reserved.map((r) => ({ entity: r.entity, ips: ips(r.ips) })),
  };
}
