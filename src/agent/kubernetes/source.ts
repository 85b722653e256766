// `l7bpf agent`'s Kubernetes source: informers on CiliumNetworkPolicy,
// CiliumClusterwideNetworkPolicy, Pods, Nodes and Services; a full Snapshot once every kind
// has been listed, then on every change. docs/agent-kubernetes.md says what it needs (RBAC)
// and how it behaves; it has run against replayed API responses only, never a live cluster.
import { KubeConfig } from '@kubernetes/client-node';
import type { AgentSource, Snapshot } from '../types.ts';
import { KubeHttp } from './http.ts';
import { ALL_KINDS, CCNP, CNP, keyOf, NODE, POD, SERVICE, type KindDef, type KubeObject } from './kinds.ts';
import { resolveInterfaces, RouteTableResolver, type InterfaceResolver, type LocalEndpoint, type Resolution } from './interfaces.ts';
import { Reflector, type ReflectorTiming } from './reflector.ts';
import { inventoryText, policyText, sorted } from './render.ts';
import { Backoff, type BackoffTiming } from './backoff.ts';

export interface KubernetesSourceOptions {
  /** whose API server and credentials; kubeConfigFrom() builds the usual ones */
  readonly kubeConfig: KubeConfig;
  /** this node's name as the API knows it (the DaemonSet passes spec.nodeName by the downward API) */
  readonly nodeName: string;
  /** pod ("namespace/name", or a bare name in namespace default) -> host-side interface;
   * overrides the resolver for the pods it names */
  readonly interfaceMap?: Readonly<Record<string, string>>;
  /** finds the other pods' interfaces; default: the node's host routes (RouteTableResolver);
   * null: only the interface map */
  readonly resolver?: InterfaceResolver | null;
  readonly timing?: Partial<SourceTiming>;
}

export interface SourceTiming extends ReflectorTiming {
  /** pacing of new attempts for endpoints whose interface was not found */
  readonly interfaceRetry: BackoffTiming;
}

const DEFAULT_TIMING: SourceTiming = {
  backoff: { initialMs: 500, maxMs: 30_000 },
  watchTimeoutSeconds: () => Math.floor(300 + Math.random() * 300),
  quickCloseMs: 1000,
  interfaceRetry: { initialMs: 1000, maxMs: 30_000 },
};

/** The kubeconfig file given (--kubeconfig), else the pod's service account (in-cluster). */
export function kubeConfigFrom(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromCluster();
  return kc;
}

export class KubernetesSource implements AgentSource {
  readonly name: string;
  private readonly api: KubeHttp;
  private readonly timing: SourceTiming;
  private readonly reflectors: ReadonlyMap<KindDef, Reflector>;
  private readonly retry: Backoff;
  private update: (s: Snapshot) => void = () => {};
  private problem: (reason: string) => void = () => {};
  private state: 'idle' | 'running' | 'stopped' = 'idle';
  private building = false;
  private dirty = false;
  /** after a problem, the next healthy moment re-sends the snapshot even if unchanged: it is how the agent learns the problem is over */
  private troubled = false;
  private lastContent = '';
  /** the last warning said per topic: a standing condition is reported when it changes, not on every build */
  private readonly said = new Map<string, string>();
  private readonly resolver: InterfaceResolver | null;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: KubernetesSourceOptions) {
    this.api = new KubeHttp(opts.kubeConfig);
    this.name = `kubernetes ${this.api.server}`;
    this.timing = { ...DEFAULT_TIMING, ...opts.timing };
    this.retry = new Backoff(this.timing.interfaceRetry);
    this.resolver = opts.resolver === undefined ? new RouteTableResolver() : opts.resolver;
    const events = { changed: () => this.schedule(), problem: (r: string) => this.report(r), healthy: () => this.healthy() };
    this.reflectors = new Map(ALL_KINDS.map((def) => [def, new Reflector(def, opts.kubeConfig, this.api, events, this.timing)]));
  }

  /** Returns at once (an unreachable API server must not hold up the agent's start); the
   * first Snapshot follows when every kind has been listed. */
  async start(update: (s: Snapshot) => void, problem: (reason: string) => void): Promise<void> {
    this.update = update;
    this.problem = problem;
    this.state = 'running';
    for (const r of this.reflectors.values()) void r.start().catch((e: Error) => this.report(`${r.def.path}: ${e.message}`));
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await Promise.all([...this.reflectors.values()].map((r) => r.stop()));
  }

  private objects(def: KindDef): readonly KubeObject[] {
    return this.reflectors.get(def)?.objects() ?? [];
  }

  /** A Snapshot now, unless some kind has not been listed yet: a view without all policies
   * would compile into wrong enforcement. Changes that arrive in one turn (a relist applies
   * all its differences in one) make one Snapshot. */
  private schedule(): void {
    if (this.state !== 'running' || ![...this.reflectors.values()].every((r) => r.isSynced)) return;
    this.dirty = true;
    if (!this.building) {
      this.building = true;
      setImmediate(() => void this.build());
    }
  }

  private async build(): Promise<void> {
    try {
      while (this.dirty && this.state === 'running') {
        this.dirty = false;
        const snapshot = await this.snapshot();
        if (this.state === 'running') this.emit(snapshot);
      }
    } catch (e) {
      this.report(`building the snapshot: ${(e as Error).message}`);
    } finally {
      this.building = false;
    }
  }

  /** The objects are read in one synchronous step; only the interface lookup waits. */
  private async snapshot(): Promise<Snapshot & { unresolved: Resolution['unresolved'] }> {
    const policies = [CNP, CCNP].flatMap((def) => sorted(this.objects(def)).map((o) => policyText(def, o)));
    const [pods, nodes, services] = [this.objects(POD), this.objects(NODE), this.objects(SERVICE)];
    const inventory = inventoryText({ pods, nodes, services });
    const local = localEndpoints(pods, this.opts.nodeName);
    const { ifaceOf, unresolved } = await resolveInterfaces(local, this.opts.interfaceMap ?? {}, this.resolver);
    const describe = describeSnapshot(policies.length, pods.length, local.length, services.length, unresolved.length, this.resourceVersion());
    const known = nodes.some((n) => n.metadata?.name === this.opts.nodeName);
    this.sayOnChange('node', known ? '' : `node "${this.opts.nodeName}" is not among the API's ${nodes.length} nodes (check the agent's node name)`);
    return { policies, inventory, ifaceOf, describe, unresolved };
  }

  private emit(s: Snapshot & { unresolved: Resolution['unresolved'] }): void {
    this.reportUnresolved(s.unresolved);
    const content = JSON.stringify([s.policies, s.inventory, s.ifaceOf]);
    if (content === this.lastContent && !this.troubled) return;
    this.lastContent = content;
    this.troubled = false;
    this.update({ policies: s.policies, inventory: s.inventory, ifaceOf: s.ifaceOf, describe: s.describe });
  }

  /** Endpoints whose interface was not found: said once per change of the set, tried again after a backoff. */
  private reportUnresolved(unresolved: Resolution['unresolved']): void {
    const text = unresolved.map((u) => `${u.key}: ${u.reason}`).join('; ');
    this.sayOnChange('interfaces', text && `no host-side interface for ${unresolved.length} pod(s) of node ${this.opts.nodeName}: ${text}`);
    if (!text) {
      this.retry.reset();
      return;
    }
    if (this.retryTimer || this.state !== 'running') return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.schedule();
    }, this.retry.next());
  }

  private sayOnChange(topic: string, text: string): void {
    if (text && text !== this.said.get(topic)) this.report(text);
    this.said.set(topic, text);
  }

  private report(reason: string): void {
    this.troubled = true;
    this.problem(reason);
  }

  private healthy(): void {
    if (this.troubled) this.schedule();
  }

  /** The highest of the kinds' resourceVersions: opaque to clients by the API's rules, shown
   * only so that a log line can be matched with the API server's state. */
  private resourceVersion(): string {
    const rvs = [...this.reflectors.values()].map((r) => r.resourceVersion);
    const numeric = rvs.every((v) => /^\d+$/.test(v));
    return numeric ? String(rvs.map(BigInt).reduce((a, b) => (b > a ? b : a), 0n)) : rvs.join(',');
  }
}

/** This node's pods that are endpoints: scheduled here, own network namespace, running with an address. */
export function localEndpoints(pods: readonly KubeObject[], nodeName: string): LocalEndpoint[] {
  return sorted(pods).flatMap((p) => {
    const spec = (p.spec ?? {}) as { nodeName?: string; hostNetwork?: boolean };
    const status = (p.status ?? {}) as { phase?: string; podIP?: string; podIPs?: { ip?: string }[] };
    const ips = (status.podIPs?.map((x) => x.ip) ?? [status.podIP]).filter((ip): ip is string => !!ip);
    const endpoint = spec.nodeName === nodeName && !spec.hostNetwork && status.phase === 'Running' && ips.length > 0;
    return endpoint ? [{ key: keyOf(p), ips }] : [];
  });
}

function describeSnapshot(policies: number, pods: number, local: number, services: number, unresolved: number, rv: string): string {
  const missing = unresolved ? `, ${unresolved} without an interface` : '';
  return `${policies} policies, ${pods} pods (${local} on this node${missing}), ${services} services, resourceVersion ${rv}`;
}
