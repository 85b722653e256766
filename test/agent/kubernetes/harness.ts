// Wiring for the Kubernetes source's tests: a ReplayServer loaded with the fixture lists, a
// KubeConfig pointing at it, a source for node-a with a fake `ip` (this node's routing
// table), and waits that fail with a sentence instead of hanging.
import { KubeConfig } from '@kubernetes/client-node';
import type { Snapshot } from '../../../src/agent/types.ts';
import { KubernetesSource, RouteTableResolver, type KubernetesSourceOptions, type RunCommand } from '../../../src/agent/kubernetes/index.ts';
import { fixture, ReplayServer } from './replay-server.ts';

export const PATH = {
  cnps: '/apis/cilium.io/v2/ciliumnetworkpolicies',
  ccnps: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies',
  pods: '/api/v1/pods',
  nodes: '/api/v1/nodes',
  services: '/api/v1/services',
} as const;

/** node-a as `ip -j` shows it with Cilium endpoint routes: a /32 per local pod through its lxc veth */
export const NODE_A_IP: Readonly<Record<string, unknown[]>> = {
  '-j -4 route show': [
    { dst: 'default', gateway: '192.168.10.1', dev: 'eth0', flags: [] },
    { dst: '10.0.1.0/24', gateway: '10.0.1.1', dev: 'cilium_host', flags: [] },
    { dst: '10.0.1.10', dev: 'lxc5a1f0e2b3c4d', scope: 'link', flags: [] },
    { dst: '10.0.1.20', dev: 'lxc9e8d7c6b5a41', scope: 'link', flags: [] },
    { dst: '10.0.1.21', dev: 'lxc0123456789ab', scope: 'link', flags: [] },
  ],
  '-j -6 route show': [],
  '-j -d link show': [
    { ifname: 'eth0', link_type: 'ether' },
    { ifname: 'cilium_host', linkinfo: { info_kind: 'veth' } },
    { ifname: 'lxc5a1f0e2b3c4d', linkinfo: { info_kind: 'veth' } },
    { ifname: 'lxc9e8d7c6b5a41', linkinfo: { info_kind: 'veth' } },
    { ifname: 'lxc0123456789ab', linkinfo: { info_kind: 'veth' } },
  ],
};

export const fakeIp = (tables: Readonly<Record<string, unknown[]>>): RunCommand => async (file, args) => {
  const out = tables[args.join(' ')];
  if (file !== 'ip' || !out) throw new Error(`unexpected command: ${file} ${args.join(' ')}`);
  return JSON.stringify(out);
};

/** fast, bounded retries: a test sees several reconnects within a second */
const FAST = { backoff: { initialMs: 20, maxMs: 100 }, watchTimeoutSeconds: () => 300, quickCloseMs: 500, interfaceRetry: { initialMs: 50, maxMs: 200 } };

export interface Harness {
  readonly server: ReplayServer;
  readonly source: KubernetesSource;
  readonly snapshots: Snapshot[];
  readonly problems: string[];
  /** answers the list held by harness({hold}) */
  release(): void;
  /** the nth Snapshot (1-based), once it has come */
  snapshot(n: number): Promise<Snapshot>;
  close(): Promise<void>;
}

export async function harness(opts: { hold?: string; options?: Partial<KubernetesSourceOptions> } = {}): Promise<Harness> {
  const server = new ReplayServer();
  const url = await server.listen();
  for (const [key, path] of Object.entries(PATH)) server.setList(path, fixture(`${key}.list.json`));
  const release = opts.hold ? server.holdList(opts.hold) : () => {};
  const source = new KubernetesSource({ kubeConfig: kubeConfigFor(url), nodeName: 'node-a', resolver: new RouteTableResolver(fakeIp(NODE_A_IP)), timing: FAST, ...opts.options });
  const snapshots: Snapshot[] = [];
  const problems: string[] = [];
  const started = source.start((s) => snapshots.push(s), (p) => problems.push(p));
  await started;
  // the first Snapshot may come before the last watch is open; tests push events after it
  if (!opts.hold) await server.until(() => Object.values(PATH).every((p) => server.open(p).length === 1), 'all five kinds watching');
  const snapshot = async (n: number) => {
    await server.until(() => snapshots.length >= n, `snapshot ${n} (have ${snapshots.length}; problems: ${problems.join(' | ')})`);
    return snapshots[n - 1]!;
  };
  const close = async () => {
    release();
    await source.stop();
    await server.close();
  };
  return { server, source, snapshots, problems, release, snapshot, close };
}

function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'replay', server, skipTLSVerify: true }],
    users: [{ name: 'agent', token: 'replay-token' }],
    contexts: [{ name: 'replay', cluster: 'replay', user: 'agent' }],
    currentContext: 'replay',
  });
  return kc;
}

/** lets pending I/O and timers run: for checking that something did NOT happen */
export const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));
