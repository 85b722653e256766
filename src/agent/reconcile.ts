// The agent's reconcile loop: a source's Snapshot -> policies and inventory parsed -> the IR ->
// an object (a CI-built one whose manifest matches, one compiled before, or a fresh compile)
// -> deploy (an atomic swap when a deployment exists). One run at a time; snapshots that arrive
// meanwhile are debounced into the next run. Any failure leaves the programs in the kernel as
// they were (deploy's guarantee) and is kept as the reason /readyz gives.
//
// What changes what: the policies decide the object (policyHash); the inventory and the
// interfaces only what the maps hold, so an endpoint change redeploys the same object (its maps
// refilled, no clang run).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parsePolicies, hasErrors, formatDiagnostic, type Diagnostic, type Policy } from '../policy/index.ts';
import { parseInventory, type Inventory } from '../endpoints/index.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { policyHash } from '../../codegen/emit/manifest.ts';
import type { PolicyIR } from '../../codegen/ir/types.ts';
import type { Snapshot } from './types.ts';

/** The kernel side of a reconcile, injectable (tests use a fake; agent.ts the real one). */
export interface Applier {
  /** compile the IR into `outDir` (clang; asynchronous so the agent keeps serving) */
  compile(ir: PolicyIR, outDir: string): Promise<void>;
  /** deploy or swap; throws with the reason (verifier lines, missing interface, ...) */
  deploy(req: ApplyRequest): { readonly generation: number };
  /** remove the deployment (nothing left to enforce on this node) */
  undeploy(): void;
  /** a deployment is in place (from an earlier agent run, say) */
  deployed(): boolean;
}

export interface ApplyRequest {
  readonly dir: string;
  readonly inventory: Inventory;
  readonly ifaceOf: Readonly<Record<string, string>>;
}

export interface ReconcileSettings {
  readonly nodeName: string;
  /** where compiled objects are kept, by policy hash */
  readonly cacheDir: string;
  /** CI-built objects (`l7bpf compile` output dirs) reused when their manifest matches */
  readonly objectsDir?: string;
  readonly debounceMs: number;
  /** settings that change a deployment without changing the object (audit, deny answer) */
  readonly deploySettings: string;
}

export type ObjectOrigin = 'compiled' | 'compiled before' | 'CI-built';

export interface ReconcileState {
  readonly ready: boolean;
  /** why not ready, or what is enforced */
  readonly reason: string;
  readonly generation: number | null;
  readonly appliedAt: string | null;
  readonly lastError: { readonly at: string; readonly message: string } | null;
}

/** What the metrics and logs hear about. */
export interface ReconcileEvents {
  compiled?(seconds: number): void;
  swapped?(seconds: number, generation: number, origin: ObjectOrigin): void;
  failed?(message: string): void;
  unchanged?(): void;
  warning?(message: string): void;
  /** the inventory of a snapshot that parsed without errors (the agent's Hubble peers) */
  inventory?(inventory: Inventory): void;
}

export class ReconcileError extends Error {}

export class Reconciler {
  private pending: Snapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private appliedKey: string | null = null;
  private state: ReconcileState = { ready: false, reason: 'waiting for the first snapshot of the source', generation: null, appliedAt: null, lastError: null };
  private idleWaiters: (() => void)[] = [];
  /** the state of the last successful run (what the kernel enforces now) */
  private applied: ReconcileState | null = null;

  constructor(private readonly applier: Applier, private readonly settings: ReconcileSettings, private readonly events: ReconcileEvents = {}) {}

  get status(): ReconcileState {
    return this.state;
  }

  /** A new snapshot: applied after `debounceMs` without another one. */
  offer(s: Snapshot): void {
    this.pending = s;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, this.settings.debounceMs);
  }

  /** The source cannot be read: keep what runs, say so (until its next snapshot). */
  sourceProblem(reason: string): void {
    this.fail(`source: ${reason}`);
  }

  /** Resolves when no run is pending or in progress (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.timer && !this.running && !this.pending) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
  }

  private kick(): void {
    if (this.running || !this.pending) return this.settle();
    const s = this.pending;
    this.pending = null;
    this.running = this.apply(s).finally(() => {
      this.running = null;
      if (this.pending && !this.timer) this.kick();
      else this.settle();
    });
  }

  private settle(): void {
    if (this.timer || this.running || this.pending) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async apply(s: Snapshot): Promise<void> {
    try {
      const { policies, inventory } = this.parse(s);
      if (policies.length === 0) return this.nothingToEnforce(s, 'no policies');
      const ir = lower(policies);
      const hash = policyHash(ir);
      const key = sha(JSON.stringify([hash, s.inventory?.text, s.ifaceOf, this.settings.deploySettings]));
      if (key === this.appliedKey) return this.unchanged();
      const { dir, origin } = await this.objectFor(ir, hash);
      if (!inventory || !hasInterfaces(inventory, s.ifaceOf)) return this.nothingToEnforce(s, 'no endpoint of this node has a host-side interface', key);
      const t0 = performance.now();
      const { generation } = this.applier.deploy({ dir, inventory, ifaceOf: s.ifaceOf });
      this.events.swapped?.((performance.now() - t0) / 1000, generation, origin);
      this.appliedKey = key;
      this.succeed({ ready: true, reason: `enforcing generation ${generation} (${s.describe}; object ${hash.slice(0, 12)}, ${origin})`, generation, appliedAt: new Date().toISOString(), lastError: null });
    } catch (e) {
      this.fail((e as Error).message);
    }
  }

  private parse(s: Snapshot): { policies: Policy[]; inventory: Inventory | null } {
    const policies: Policy[] = [];
    const diagnostics: Diagnostic[] = [];
    for (const t of s.policies) {
      const r = parsePolicies(t.text, t.name);
      policies.push(...r.policies);
      diagnostics.push(...r.diagnostics);
    }
    let inventory: Inventory | null = null;
    if (s.inventory) {
      const r = parseInventory(s.inventory.text, s.inventory.name, { localNode: this.settings.nodeName, localNodeFrom: '--node-name' });
      diagnostics.push(...r.diagnostics);
      inventory = r.inventory;
    }
    if (hasErrors(diagnostics)) throw new ReconcileError(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic).join('\n'));
    for (const d of diagnostics) this.events.warning?.(formatDiagnostic(d));
    if (inventory) this.events.inventory?.(inventory);
    if (policies.length > 0 && !inventory) throw new ReconcileError('no inventory yet (the source has no endpoints)');
    return { policies, inventory };
  }

  /** The object for this IR: a CI-built one, one compiled before, or compiled now. */
  private async objectFor(ir: PolicyIR, hash: string): Promise<{ dir: string; origin: ObjectOrigin }> {
    const ci = this.settings.objectsDir ? findObject(this.settings.objectsDir, hash) : null;
    if (ci) return { dir: ci, origin: 'CI-built' };
    const dir = join(this.settings.cacheDir, hash);
    if (manifestInput(dir) === hash) return { dir, origin: 'compiled before' };
    // compiled aside and renamed: a crash mid-compile never leaves a half object under the hash
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(this.settings.cacheDir, { recursive: true });
    const t0 = performance.now();
    await this.applier.compile(ir, tmp);
    this.events.compiled?.((performance.now() - t0) / 1000);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return { dir, origin: 'compiled' };
  }

  private nothingToEnforce(s: Snapshot, why: string, key: string | null = null): void {
    if (this.applier.deployed()) this.applier.undeploy();
    this.appliedKey = key;
    this.succeed({ ready: true, reason: `nothing to enforce: ${why} (${s.describe})`, generation: null, appliedAt: new Date().toISOString(), lastError: null });
  }

  private succeed(state: ReconcileState): void {
    this.state = state;
    this.applied = state;
  }

  private unchanged(): void {
    this.events.unchanged?.();
    // back to what runs (a broken policy reverted, the source reachable again): ready again
    if (!this.state.ready && this.applied) this.state = this.applied;
  }

  private fail(message: string): void {
    this.events.failed?.(message);
    const kept = this.state.generation !== null ? `generation ${this.state.generation} stays in place` : 'nothing was deployed';
    this.state = { ...this.state, ready: false, reason: `not applied: ${message}\n(${kept})`, lastError: { at: new Date().toISOString(), message } };
  }
}

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function hasInterfaces(inv: Inventory, ifaceOf: Readonly<Record<string, string>>): boolean {
  return Object.keys(ifaceOf).length > 0 || inv.endpoints.some((e) => e.iface !== null);
}

function manifestInput(dir: string): string | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { sha256?: { input?: string }; limits?: { testClock?: boolean } };
    // a --test-clock object runs its rate limits on packet times: never deployed
    return m.limits?.testClock ? null : m.sha256?.input ?? null;
  } catch {
    return null;
  }
}

/** A compile output dir under `root` (or `root` itself) built from the same policies. */
export function findObject(root: string, hash: string): string | null {
  if (!existsSync(root)) return null;
  const dirs = [root, ...readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, d.name))];
  return dirs.find((d) => manifestInput(d) === hash) ?? null;
}
