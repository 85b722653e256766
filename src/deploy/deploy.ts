// `deploy`: load a compiled object, fill its policy maps from the inventory, pin it and
// attach it to every endpoint's host-side veth; when the deployment exists, swap the
// programs in place (atomic per hook) and keep the flow state. Order of a swap:
//   1. load the new object, reusing the pinned flows/events maps when their layout matches;
//   2. fill its own fresh ipcache + selectors (the old programs keep reading theirs);
//   3. pin it as generation N+1;
//   4. per interface and hook: bpf_tc_attach with BPF_TC_F_REPLACE on our handle/priority;
//   5. record the state, unpin generation N.
// A failure in 1-3 changes nothing in the kernel; a failure in 4 puts the old programs back
// on the hooks already swapped. Either way the error says why (the verifier's lines for 1).
import { createHash } from 'node:crypto';
import { closeSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Inventory, Endpoint } from '../endpoints/types.ts';
import type { Manifest } from '../../codegen/emit/index.ts';
import type { AnswerMode } from '../net/answers.ts';
import type { Libbpf, TcSlot } from '../loader/index.ts';
import { fillConfig, fillIfaces, fillIpcache, fillSelectors, program, ensureBpffs, pin, pinPaths, pinned, unpinDir, type PinPaths } from '../loader/index.ts';
import { loadForDeploy, type ReuseCandidate } from './load.ts';
import { planMaps } from '../plan/plan.ts';
import { attachAt, detachAt, ensureClsact, HOOKS, slotOf, DEFAULT_HANDLE, DEFAULT_PRIORITY } from './attach.ts';
import { inventoryToState, readState, writeState, type AttachedIface, type DeployState } from './state.ts';
import type { NetnsId } from './netns.ts';
import { DEFAULT_HISTORY_BYTES } from '../observe/history.ts';

export interface DeployRequest {
  /** directory written by l7bpf compile */
  readonly dir: string;
  readonly inventory: Inventory;
  /** pod (name or namespace/name) -> host-side interface; overrides the inventory's iface */
  readonly ifaceOf?: Readonly<Record<string, string>>;
  readonly name: string;
  /** how denials are answered (default auto: the highest stage the object has) */
  readonly answer?: AnswerMode;
  /** budget of the flow history (src/observe/history.ts); default: what the deployment had, else DEFAULT_HISTORY_BYTES */
  readonly historyBytes?: number;
  /** audit mode (`--audit`, the agent's audit): every denial passes, reported with verdict AUDIT;
   * a setting in l7cfg, not in the object: deploying without it enforces again */
  readonly audit?: boolean;
}

export interface DeployEnv {
  readonly pinRoot: string;
  readonly stateDir: string;
  /** the network namespace deploy attaches in (recorded for status and undeploy) */
  readonly netns?: NetnsId | null;
  /** a private mount namespace with no host bpffs in reach: pins would vanish (src/deploy/netns.ts) */
  readonly privateBpffs?: boolean;
}

export interface DeployResult {
  readonly state: DeployState;
  readonly swapped: boolean;
  readonly reused: readonly string[];
  readonly fresh: readonly string[];
  readonly mountedBpffs: boolean;
}

export class DeployError extends Error {
  constructor(what: string, hint: string) {
    super(`deploy: ${what} (hint: ${hint})`);
    this.name = 'DeployError';
  }
}

interface Target {
  readonly pod: string;
  readonly iface: string;
  readonly ifindex: number;
  /** The endpoint's addresses (source validation). */
  readonly addrs: readonly string[];
}

export function deploy(lib: Libbpf, req: DeployRequest, env: DeployEnv): DeployResult {
  const manifest = readManifest(req.dir);
  const objectPath = resolve(req.dir, manifest.object);
  if (manifest.limits?.testClock) throw new DeployError(`${req.dir}: built with --test-clock: its rate limits run on packet timestamps, not the kernel's clock`, 'compile it again without --test-clock');
  const targets = resolveTargets(lib, req);
  if (env.privateBpffs) throw new DeployError('this process has a mount namespace of its own (ip netns exec?) and no host bpffs in reach: pins made here would vanish with it while the programs stay attached', 'mount bpffs on the host (mount -t bpf bpf /sys/fs/bpf), or run nsenter --net=/run/netns/NS l7bpf deploy ...');
  const mountedBpffs = ensureBpffs(env.pinRoot);
  const old = readState(req.name, env.stateDir);
  const paths = pinPaths(env.pinRoot, req.name);
  if (!old) unpinDir(paths.dir); // leftovers of a crashed deploy: nothing references them
  const generation = old ? old.generation + 1 : 1;
  const load = withReuse(lib, paths, (reuse) => loadForDeploy(lib, objectPath, reuse));
  const obj = load.obj;
  try {
    const maps = planMaps(manifest.selectors, req.inventory);
    fillIpcache(obj, maps.ipcache);
    fillSelectors(obj, maps.selectors);
    // source validation; objects built before it existed have no such map
    if (obj.maps.has('ifaces')) fillIfaces(obj, targets.map((t) => ({ ifindex: t.ifindex, addrs: t.addrs })));
    // objects built before answers existed reset: say so rather than claim an answer
    const answer = fillConfig(obj, req.answer ?? 'auto', false, req.audit === true) ? req.answer ?? 'auto' : 'reset';
    pinGeneration(lib, obj, paths, generation);
    const ifaces = attachAll(lib, obj, targets, old, paths);
    const state: DeployState = {
      version: 1, name: req.name, generation, objectPath, objectSha256: sha256File(objectPath),
      handle: DEFAULT_HANDLE, priority: DEFAULT_PRIORITY, ifaces,
      rules: manifest.rules, httpRules: manifest.httpRules.map((h) => ({ index: h.index, rule: h.rule, method: h.method, path: h.path, ...(h.source ? { source: h.source } : {}), ...(h.rateLimit ? { rateLimit: h.rateLimit } : {}) })),
      inventory: inventoryToState(req.inventory), deployedAt: new Date().toISOString(), flowsReused: load.reused.includes('flows'), answer,
      ...(env.netns ? { netns: env.netns } : {}),
      ...(req.audit ? { audit: true } : {}),
      historyBytes: req.historyBytes ?? old?.historyBytes ?? DEFAULT_HISTORY_BYTES,
    };
    if (old) retire(lib, old, ifaces, paths);
    writeState(state, env.stateDir);
    return { state, swapped: old !== null, reused: load.reused, fresh: load.fresh, mountedBpffs };
  } catch (e) {
    unpinDir(paths.generation(generation).dir);
    if (!old) unpinDir(paths.dir);
    throw e;
  } finally {
    obj.close();
  }
}

function readManifest(dir: string): Manifest {
  try {
    return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  } catch (e) {
    throw new DeployError(`${dir}: cannot read manifest.json (${(e as Error).message})`, `run l7bpf compile -o ${dir} first`);
  }
}

export const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Endpoints with a host-side interface, resolved to ifindex in this network namespace. */
export function resolveTargets(lib: Libbpf, req: DeployRequest): Target[] {
  const overrides = new Map(Object.entries(req.ifaceOf ?? {}));
  const used = new Set<string>();
  const ifaceFor = (e: Endpoint): string | null => {
    for (const key of [`${e.namespace}/${e.name}`, e.name]) {
      const v = overrides.get(key);
      if (v !== undefined) {
        used.add(key);
        return v;
      }
    }
    return e.iface;
  };
  const targets = req.inventory.endpoints.flatMap((e) => {
    const iface = ifaceFor(e);
    if (iface === null) return [];
    const ifindex = lib.ifIndex(iface);
    if (ifindex === 0) throw new DeployError(`no interface ${iface} (endpoint ${e.namespace}/${e.name}) in this network namespace`, 'run l7bpf in the node\'s network namespace (ip netns exec NODE l7bpf deploy ..., or nsenter --net=/run/netns/NODE l7bpf deploy ...)');
    return [{ pod: `${e.namespace}/${e.name}`, iface, ifindex, addrs: e.ips.map((a) => a.text) }];
  });
  const unknown = [...overrides.keys()].filter((k) => !used.has(k));
  if (unknown.length) throw new DeployError(`--iface-of names unknown endpoint(s): ${unknown.join(', ')}`, 'use a pod name or namespace/name from the inventory');
  if (targets.length === 0) throw new DeployError('no endpoint has a host-side interface', 'set `iface:` in the inventory or pass --iface-of POD=IFACE');
  return targets;
}

/** Opens the pinned shared maps (if any), runs the load, closes them. */
function withReuse<T>(lib: Libbpf, paths: PinPaths, run: (reuse: ReuseCandidate[]) => T): T {
  const reuse: ReuseCandidate[] = [];
  for (const [name, path] of sharedMaps(paths)) {
    const fd = pinned(lib, path);
    if (fd !== null) reuse.push({ name, fd });
  }
  try {
    return run(reuse);
  } finally {
    for (const r of reuse) closeFd(r.fd);
  }
}

/** Maps shared by every generation of a deployment: flow state (L7 apart), client-byte rings,
 * events, rate-limit buckets. */
function sharedMaps(paths: PinPaths): (readonly [string, string])[] {
  return [['flows', paths.flows], ['l7flows', paths.l7flows], ['rings', paths.rings], ['events', paths.events], ['buckets', paths.buckets]];
}

function closeFd(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // fake fds in unit tests
  }
}

function pinGeneration(lib: Libbpf, obj: ReturnType<typeof loadForDeploy>['obj'], paths: PinPaths, generation: number): void {
  const g = paths.generation(generation);
  for (const { prog } of HOOKS) pin(lib, program(obj, prog).fd, g.prog(prog));
  for (const name of ['ipcache', 'selectors']) pin(lib, mapFd(obj, name), g.map(name));
  // counters (lost events, ...) belong to one revision; objects built before they existed lack them
  for (const name of ['counters', 'rl_counts']) {
    const m = obj.maps.get(name);
    if (m) pin(lib, m.fd, g.map(name));
  }
  // shared maps: pinned once; a reused map is the pinned one already
  for (const [name, path] of sharedMaps(paths)) {
    if (!obj.maps.has(name)) continue; // an object built before the map existed
    const fd = pinned(lib, path);
    if (fd === null) pin(lib, mapFd(obj, name), path);
    else if (lib.mapInfo(fd)?.id !== lib.mapInfo(mapFd(obj, name))?.id) {
      closeFd(fd);
      pin(lib, mapFd(obj, name), path); // layout changed: the new map replaces the pin
    } else closeFd(fd);
  }
}

function mapFd(obj: ReturnType<typeof loadForDeploy>['obj'], name: string): number {
  const m = obj.maps.get(name);
  if (!m) throw new DeployError(`${obj.path}: no map ${name}`, 'was the object built by l7bpf compile?');
  return m.fd;
}

interface Step {
  readonly slot: TcSlot;
  readonly iface: string;
  /** program fd to put back on failure; null = detach */
  readonly previous: number | null;
}

/** Attaches or swaps every hook; on any failure undoes the steps already taken and rethrows. */
function attachAll(lib: Libbpf, obj: ReturnType<typeof loadForDeploy>['obj'], targets: readonly Target[], old: DeployState | null, paths: PinPaths): AttachedIface[] {
  const steps: Step[] = [];
  const created: { ifindex: number }[] = [];
  const oldProgs = old ? openOldPrograms(lib, paths, old.generation) : new Map<string, number>();
  try {
    const out: AttachedIface[] = [];
    for (const t of targets) {
      const was = old?.ifaces.find((i) => i.iface === t.iface && i.ifindex === t.ifindex);
      const createdNow = was ? false : ensureClsact(lib, t.ifindex, t.iface);
      if (createdNow) created.push({ ifindex: t.ifindex });
      for (const { point, prog } of HOOKS) {
        const slot = slotOf(t.ifindex, point, old?.handle, old?.priority);
        attachAt(lib, slot, program(obj, prog).fd, was !== undefined, t.iface);
        steps.push({ slot, iface: t.iface, previous: was ? oldProgs.get(prog) ?? null : null });
      }
      out.push({ pod: t.pod, iface: t.iface, ifindex: t.ifindex, createdClsact: was ? was.createdClsact : createdNow });
    }
    return out;
  } catch (e) {
    for (const s of steps.reverse()) {
      if (s.previous !== null) lib.tcAttach(s.slot, s.previous, true);
      else detachAt(lib, s.slot);
    }
    for (const c of created) lib.tcHookDestroy(c.ifindex);
    throw e;
  } finally {
    for (const fd of oldProgs.values()) closeFd(fd);
  }
}

function openOldPrograms(lib: Libbpf, paths: PinPaths, generation: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const { prog } of HOOKS) {
    const fd = pinned(lib, paths.generation(generation).prog(prog));
    if (fd !== null) out.set(prog, fd);
  }
  return out;
}

/** After a swap: detach from interfaces no longer in the inventory, drop the old generation's pins. */
function retire(lib: Libbpf, old: DeployState, now: readonly AttachedIface[], paths: PinPaths): void {
  for (const i of old.ifaces) {
    if (now.some((n) => n.iface === i.iface && n.ifindex === i.ifindex)) continue;
    detachIface(lib, old, i);
  }
  unpinDir(paths.generation(old.generation).dir);
}

export function detachIface(lib: Libbpf, s: DeployState, i: AttachedIface): void {
  // the interface may be gone or renumbered (pod deleted): only touch it when it is still ours
  if (lib.ifIndex(i.iface) !== i.ifindex) return;
  for (const { point } of HOOKS) detachAt(lib, slotOf(i.ifindex, point, s.handle, s.priority));
  if (i.createdClsact) lib.tcHookDestroy(i.ifindex);
}
