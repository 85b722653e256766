// `l7bpf agent`: one long-running process per node. A source (a directory or the Kubernetes
// API) says what should be enforced; the reconciler compiles (or reuses an object) and swaps;
// the flow pump moves the kernel's events into the history; the HTTP endpoint serves metrics
// and health; the Hubble server serves the flows.
import { join } from 'node:path';
import type { Server } from 'node:http';
import { openLibbpf, type Libbpf } from '../loader/index.ts';
import { deploy, type DeployEnv } from '../deploy/deploy.ts';
import { undeploy } from '../deploy/undeploy.ts';
import { readState } from '../deploy/state.ts';
import { deploymentStatus } from '../deploy/status.ts';
import { deployEnv } from '../deploy/env.ts';
import { emitObjectAsync, DEFAULT_LIMITS } from '../../codegen/emit/index.ts';
import type { AnswerMode } from '../net/answers.ts';
import type { AgentSource } from './types.ts';
import { Reconciler, type Applier, type ApplyRequest } from './reconcile.ts';
import { AgentMetrics, type DatapathSample } from './metrics.ts';
import { FlowPump } from './flows.ts';
import { startHttp } from './http.ts';
import { DEFAULT_HISTORY_BYTES, History, historyDir } from '../observe/history.ts';
import { FlowHub } from '../hubble/hub.ts';
import { startHubbleServer, type HubbleServer } from '../hubble/server.ts';
import { nodePeers, PeerSet } from '../hubble/peers.ts';

export interface AgentOptions {
  readonly source: AgentSource;
  /** the deployment's name (default "default") */
  readonly name: string;
  readonly nodeName: string;
  readonly audit: boolean;
  readonly answer: AnswerMode;
  readonly historyBytes?: number;
  readonly objectsDir?: string;
  readonly debounceMs: number;
  /** host:port of /metrics, /healthz, /readyz (null: none) */
  readonly metricsListen: string | null;
  /** Hubble's Observer API: a unix socket and host:port (null: none) */
  readonly hubbleSocket: string | null;
  readonly hubbleListen: string | null;
  /** ServerStatus and GetNodes say it */
  readonly version: string;
  /** pod -> host-side interface over what the source says (--interface-map) */
  readonly interfaceMap?: Readonly<Record<string, string>>;
  readonly log: (line: string) => void;
}

export interface RunningAgent {
  readonly metricsPort: number | null;
  readonly hubble: HubbleServer['address'] | null;
  readonly hub: FlowHub;
  readonly reconciler: Reconciler;
  readonly pump: FlowPump;
  readonly metrics: AgentMetrics;
  stop(): Promise<void>;
}

const FLOW_MAP_CAPACITY = 2 * 65536; // flows + l7flows (codegen/emit/manifest.ts mapLayout)

export async function startAgent(o: AgentOptions, lib: Libbpf = openLibbpf(), env: DeployEnv = deployEnv()): Promise<RunningAgent> {
  const warn = (m: string) => o.log(`warning: ${m}`);
  // an agent restarted over its own deployment goes on with its history and drains it at once
  const existing = readState(o.name, env.stateDir);
  const historyBytes = o.historyBytes ?? existing?.historyBytes ?? DEFAULT_HISTORY_BYTES;
  const hub = new FlowHub(new History(historyDir(env.stateDir, o.name), historyBytes, warn));
  const pump = new FlowPump({ lib, pinRoot: env.pinRoot, nodeName: o.nodeName, onEntry: (e, records) => metrics.entry(e, records), warn }, hub);
  const applier = kernelApplier(lib, env, { ...o, historyBytes }, pump);
  // Hubble Relay's view of the cluster (peer.Peer): the nodes of the last inventory that parsed
  const peers = new PeerSet();
  const reconciler = new Reconciler(applier, {
    nodeName: o.nodeName, cacheDir: join(env.stateDir, 'agent', 'objects'), debounceMs: o.debounceMs,
    deploySettings: JSON.stringify([o.audit, o.answer, historyBytes]), ...(o.objectsDir ? { objectsDir: o.objectsDir } : {}),
  }, {
    compiled: (s) => { metrics.compiled(s); o.log(`compiled in ${s.toFixed(2)} s`); },
    swapped: (s, g, origin) => { metrics.swapped(s, origin); o.log(`generation ${g} in place in ${s.toFixed(2)} s (${origin} object)`); },
    failed: (m) => { metrics.failed(m); o.log(`not applied, the running programs stay: ${m}`); },
    // back to what already runs (a broken policy reverted): the error no longer stands
    unchanged: () => metrics.succeeded(),
    warning: (m) => o.log(m),
    inventory: (inv) => hubble?.address.tcp && peers.set(nodePeers(inv.nodes ?? [], hubble.address.tcp.port)),
  });
  const metrics = new AgentMetrics(() => sample(lib, env, o.name), () => reconciler.status);
  if (existing) pump.deployed(existing, true);
  let http: { server: Server; port: number } | null = null;
  if (o.metricsListen !== null) http = await startHttp(o.metricsListen, { metrics: () => metrics.text(), ready: () => reconciler.status });
  const hubble = o.hubbleSocket === null && o.hubbleListen === null ? null
    : await startHubbleServer({ hub, nodeName: o.nodeName, version: o.version, socketPath: o.hubbleSocket ?? false, listen: o.hubbleListen ?? false, peers });
  const overrides = o.interfaceMap ?? {};
  await o.source.start((s) => reconciler.offer({ ...s, ifaceOf: { ...s.ifaceOf, ...overrides } }), (reason) => { o.log(`source: ${reason}`); reconciler.sourceProblem(reason); });
  o.log(`watching ${o.source.name}; deployment ${o.name} on node ${o.nodeName}${o.audit ? ' (audit: nothing is denied)' : ''}`);
  return {
    metricsPort: http?.port ?? null, hubble: hubble?.address ?? null, hub, reconciler, pump, metrics,
    async stop() {
      await o.source.stop();
      reconciler.stop();
      await reconciler.idle();
      await pump.stop();
      await hubble?.close();
      await new Promise<void>((r) => (http ? http.server.close(() => r()) : r()));
    },
  };
}

/** The reconciler's kernel side: clang, deploy (swap), undeploy; tells the pump. */
function kernelApplier(lib: Libbpf, env: DeployEnv, o: AgentOptions & { readonly historyBytes: number }, pump: FlowPump): Applier {
  return {
    compile: async (ir, outDir) => void (await emitObjectAsync(ir, outDir, DEFAULT_LIMITS)),
    deploy: (req: ApplyRequest) => {
      const r = deploy(lib, { ...req, name: o.name, answer: o.answer, historyBytes: o.historyBytes, audit: o.audit }, env);
      // the programs are in place now: a failure past this point is the flows', not the swap's
      try {
        pump.deployed(r.state, !r.swapped);
      } catch (e) {
        o.log(`warning: generation ${r.state.generation} is in place, but its events cannot be read: ${(e as Error).message}`);
      }
      return { generation: r.state.generation };
    },
    undeploy: () => {
      pump.undeployed();
      // the flows stay: GetFlows and observe keep serving what happened before
      undeploy(lib, o.name, env, { keepHistory: true });
    },
    deployed: () => readState(o.name, env.stateDir) !== null,
  };
}

function sample(lib: Libbpf, env: DeployEnv, name: string): DatapathSample | null {
  const s = readState(name, env.stateDir);
  if (!s) return null;
  const d = deploymentStatus(lib, s, env);
  return { eventsLost: d.counters?.eventsLost ?? 0, flowEntries: d.flows?.total ?? 0, flowCapacity: FLOW_MAP_CAPACITY, generation: d.generation };
}
