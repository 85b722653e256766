// `l7bpf agent (--dir DIR | --kubernetes) [--config FILE] [...]`: reconcile this node until
// SIGTERM. Settings come from --config (YAML, the options' camelCase names) and the command line,
// which wins.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { startAgent } from '../agent/agent.ts';
import { DirectorySource, readInterfaces } from '../agent/dir-source.ts';
import type { AgentSource } from '../agent/types.ts';
import { ANSWER_MODES, type AnswerMode } from '../net/answers.ts';
import { parseDurationNs, parseSize } from '../observe/units.ts';
import { BadInputError, exitCodeOf } from './exit.ts';
import { DEFAULT_DEPLOYMENT } from './deploy.ts';
import { defaultHubbleSocket } from '../hubble/address.ts';
import pkg from '../../package.json' with { type: 'json' };

export interface AgentCliOptions {
  readonly config?: string;
  readonly dir?: string;
  readonly kubernetes?: boolean;
  readonly kubeconfig?: string;
  readonly nodeName?: string;
  readonly name?: string;
  readonly audit?: boolean;
  readonly denyAnswer?: string;
  readonly objects?: string;
  readonly historySize?: string | number;
  readonly debounce?: string;
  readonly metrics?: string;
  readonly hubbleSocket?: string;
  readonly hubbleListen?: string;
  readonly interfaceMap?: string;
}

export const AGENT_DEFAULTS = {
  debounce: '250ms',
  metrics: '0.0.0.0:9962',
  /** defaultHubbleSocket() (env L7BPF_HUBBLE_SOCKET) */
  hubbleSocket: '/var/run/l7bpf/hubble.sock',
  hubbleListen: '0.0.0.0:4244',
} as const;

const CONFIG_KEYS = ['dir', 'kubernetes', 'kubeconfig', 'nodeName', 'name', 'audit', 'denyAnswer', 'objects', 'historySize', 'debounce', 'metrics', 'hubbleSocket', 'hubbleListen', 'interfaceMap'] as const;

/** --config's settings under the command line's. */
export function mergeConfig(cli: AgentCliOptions): AgentCliOptions {
  if (!cli.config) return cli;
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(cli.config, 'utf8'));
  } catch (e) {
    throw new BadInputError(`--config ${cli.config}: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return cli;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new BadInputError(`--config ${cli.config}: expected a map of settings (${CONFIG_KEYS.join(', ')})`);
  const unknown = Object.keys(doc).filter((k) => !(CONFIG_KEYS as readonly string[]).includes(k));
  if (unknown.length) throw new BadInputError(`--config ${cli.config}: unknown setting(s) ${unknown.join(', ')} (known: ${CONFIG_KEYS.join(', ')})`);
  const defined = Object.fromEntries(Object.entries(cli).filter(([, v]) => v !== undefined));
  return { ...(doc as AgentCliOptions), ...defined };
}

async function sourceOf(o: AgentCliOptions, nodeName: string, interfaceMap: Readonly<Record<string, string>> | undefined): Promise<AgentSource> {
  if (o.dir && o.kubernetes) throw new BadInputError('--dir and --kubernetes: choose one source');
  if (o.dir) return new DirectorySource(o.dir);
  if (!o.kubernetes) throw new BadInputError('no source: pass --dir DIR (policies/, endpoints.yaml) or --kubernetes');
  // loaded only when chosen: @kubernetes/client-node takes most of a second to import
  const { KubernetesSource, kubeConfigFrom } = await import('../agent/kubernetes/index.ts');
  return new KubernetesSource({ kubeConfig: kubeConfigFrom(o.kubeconfig), nodeName, ...(interfaceMap ? { interfaceMap } : {}) });
}

function answerOf(v: string | undefined): AnswerMode {
  const mode = v ?? 'auto';
  if (!(ANSWER_MODES as readonly string[]).includes(mode)) throw new BadInputError(`--deny-answer ${mode}: expected one of ${ANSWER_MODES.join(', ')}`);
  return mode as AnswerMode;
}

function debounceMs(v: string): number {
  const ns = parseDurationNs(v);
  if (ns === null) throw new BadInputError(`--debounce ${v}: expected a duration such as 250ms or 1s`);
  return Number(ns / 1_000_000n);
}

function interfaceMapOf(file: string): Record<string, string> {
  try {
    return readInterfaces(file, true);
  } catch (e) {
    throw new BadInputError(`--interface-map: ${(e as Error).message}`);
  }
}

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} l7bpf agent: ${line}\n`);

export async function agentCommand(cli: AgentCliOptions): Promise<number> {
  let agent: Awaited<ReturnType<typeof startAgent>> | null = null;
  try {
    const o = mergeConfig(cli);
    // the DaemonSet passes spec.nodeName as NODE_NAME (deploy/kubernetes/daemonset.yaml)
    const nodeName = o.nodeName ?? process.env.NODE_NAME ?? hostname();
    const interfaceMap = o.interfaceMap ? interfaceMapOf(o.interfaceMap) : undefined;
    agent = await startAgent({
      source: await sourceOf(o, nodeName, interfaceMap), name: o.name ?? DEFAULT_DEPLOYMENT, nodeName, audit: o.audit === true,
      answer: answerOf(o.denyAnswer), debounceMs: debounceMs(o.debounce ?? AGENT_DEFAULTS.debounce),
      metricsListen: o.metrics === '' ? null : o.metrics ?? AGENT_DEFAULTS.metrics, log,
      hubbleSocket: o.hubbleSocket === '' ? null : o.hubbleSocket ?? defaultHubbleSocket(),
      hubbleListen: o.hubbleListen === '' ? null : o.hubbleListen ?? AGENT_DEFAULTS.hubbleListen,
      version: `l7bpf ${pkg.version}`,
      ...(o.objects ? { objectsDir: o.objects } : {}),
      ...(interfaceMap ? { interfaceMap } : {}),
      ...(o.historySize !== undefined ? { historyBytes: typeof o.historySize === 'number' ? o.historySize : parseSize(o.historySize) } : {}),
    });
    if (agent.metricsPort !== null) log(`metrics, healthz, readyz on port ${agent.metricsPort}`);
    if (agent.hubble?.socket) log(`Hubble Observer API on unix://${agent.hubble.socket}`);
    if (agent.hubble?.tcp) log(`Hubble Observer API on ${agent.hubble.tcp.host}:${agent.hubble.tcp.port} (hubble observe --server)`);
    // until signalled, even with nothing else pending (no listeners, no deployment yet)
    const alive = setInterval(() => {}, 1 << 30);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    clearInterval(alive);
    log('stopping (the programs stay attached; l7bpf undeploy removes them)');
    await agent.stop();
    return 0;
  } catch (e) {
    log((e as Error).message);
    await agent?.stop();
    return exitCodeOf(e);
  }
}
