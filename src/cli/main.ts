// l7bpf command line: one file per command; this file only wires them.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import { checkCommand } from './check.ts';
import { explainCommand } from './explain.ts';
import { replayCommand } from './replay.ts';
import { compileCommand } from './compile.ts';
import { verifyCommand } from './verify.ts';
import { PolicyError } from '../source/diagnostics.ts';
import { DEFAULT_LIMITS } from '../verdict/limits.ts';
import { deployCommand } from './deploy.ts';
import { ANSWER_MODES } from '../net/answers.ts';
import { undeployCommand } from './undeploy.ts';
import { statusCommand } from './status.ts';
import { observeCommand } from './observe.ts';
import { agentCommand, AGENT_DEFAULTS } from './agent.ts';
import { exitCodeOf } from './exit.ts';
import { DEFAULT_HISTORY_BYTES, MIN_HISTORY_BYTES } from '../observe/history.ts';
import { formatSize, parseSize, UnitError } from '../observe/units.ts';
import { EXAMPLES, examples } from './examples.ts';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * --output, one vocabulary for every command: text (for people: a report or a table), json (one
 * JSON document), jsonpb (Hubble flow lines); each command takes those that apply. `table`,
 * the old name of replay's and observe's text, is still accepted.
 */
function outputOption(formats: readonly string[], def: string, what = 'output format'): Option {
  const parse = (v: string) => {
    const f = v === 'table' ? 'text' : v;
    if (!formats.includes(f)) throw new InvalidArgumentError(`Allowed choices are ${formats.join(', ')}.`);
    return f;
  };
  return new Option('--output <format>', what).choices(formats).argParser(parse).default(def);
}

/** --history-size: bytes with an optional unit, at least MIN_HISTORY_BYTES. */
function historySize(v: string): number {
  try {
    const n = parseSize(v);
    if (n < MIN_HISTORY_BYTES) throw new UnitError(`${v}: the history needs at least ${formatSize(MIN_HISTORY_BYTES)}`);
    return n;
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
}

/** --last: a whole number from 0. */
function wholeNumber(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number.');
  return Number(v);
}

/** A positive whole number of bytes. */
function bytes(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1) throw new InvalidArgumentError('expected a number of bytes.');
  return n;
}

const inspectionLimit = () => new Option('--inspection-limit <bytes>', `longest request head inspected (default ${DEFAULT_LIMITS.headBytes})`).argParser(bytes);

export function buildCli(): Command {
  // exitOverride: usage errors come back to main() as CommanderErrors, for exit code 2
  const program = new Command('l7bpf').description('L7 (HTTP/gRPC) network policy in eBPF, with a capture simulator')
    .version(pkg.version).showHelpAfterError().exitOverride().addHelpText('after', EXAMPLES);
  program
    .command('check')
    .description('validate policies and warn about classic mistakes (exit 1 on errors)')
    .argument('<files...>', 'policy YAML files')
    .option('--endpoints <file>', 'inventory, to warn about selectors that match nothing')
    .addOption(outputOption(['text', 'json'], 'text', 'diagnostics as text on stderr, or one JSON document on stdout'))
    .addHelpText('after', examples('check'))
    .action((files: string[], o) => exit(checkCommand(files, o)));
  program
    .command('explain')
    .description('the verdict for one flow/request, with reasons and the rules involved')
    .requiredOption('--policy <file>', 'policy file (repeatable)', collect)
    .requiredOption('--endpoints <file>', 'inventory (YAML or kubectl get pods -A -o json)')
    .requiredOption('--from <pod>', 'source: name, namespace/name or IP')
    .requiredOption('--to <pod:port>', 'destination and port: POD:PORT, svc:[NAMESPACE/]SERVICE:PORT (its pods on the targetPort), node:NODE:PORT or IP:PORT')
    .option('--protocol <proto>', 'TCP, UDP or SCTP', 'TCP')
    .option('--method <method>', 'HTTP method')
    .option('--path <path>', 'request-target, query included')
    .option('--host <host>', 'Host header')
    .option('--header <header>', "'Name: value' (repeatable)", collect)
    .option('--grpc <service/method>', 'a gRPC call (HTTP/2 POST /service/method)')
    .option('--node-name <node>', "the node judged from: its addresses are the host entity, other nodes' remote-node (default: the inventory's only node)")
    .option('--audit', 'judge as a deployment in audit mode (deploy --audit): a denial passes, reported with verdict AUDIT')
    .addOption(outputOption(['text', 'json'], 'text'))
    .addHelpText('after', examples('explain'))
    .action((o) => exit(explainCommand(o)));
  program
    .command('replay')
    .description('replay a pcap/pcapng capture through the policies: what would the kernel do?')
    .argument('<capture>', 'pcap or pcapng file')
    .option('--policy <file>', 'policy file (repeatable; with --kernel, default: the policies saved in DIR)', collect)
    .requiredOption('--endpoints <file>', 'inventory (YAML or kubectl get pods -A -o json)')
    .option('--kernel <dir>', 'also run every packet through the object l7bpf compile wrote (root); report disagreements')
    .addOption(outputOption(['text', 'jsonpb'], 'text', 'summary table or Hubble jsonpb lines'))
    .option('--fail-on-deny', 'exit 1 when anything is denied')
    .option('--expect <file>', 'expected verdicts ("allowed GET /x" per line); exit 1 on any difference')
    .option('--node-name <name>', 'node_name in flows')
    .addOption(inspectionLimit())
    .addOption(new Option('--deny-answer <mode>', 'how the deployment answers denials (deploy --deny-answer): the packets it rewrites').choices([...ANSWER_MODES]).default('auto'))
    .option('--audit', 'the deployment is in audit mode (deploy --audit): every denial passes, reported with verdict AUDIT')
    .addOption(new Option('--capture-point <where>', "where the capture was taken: hook (as the tc program sees packets: the server's before a keep-alive 403's offsets) or client (the client's side, e.g. its pod or veth: the server's packets with them)").choices(['hook', 'client']).default('hook'))
    .option('--workers <n>', 'threads replaying the capture, by flow hash (default: from 64 MiB of capture on, one per core; 1: one)', (v: string) => {
      if (!/^[1-9][0-9]*$/.test(v)) throw new InvalidArgumentError('a whole number from 1.');
      return Number(v);
    })
    .addHelpText('after', examples('replay'))
    .action(async (capture: string, o) => exit(await replayCommand(capture, o)));
  program
    .command('compile')
    .description('compile policies into a verified-ready BPF object, its C header and manifest.json')
    .requiredOption('--policy <file>', 'policy file (repeatable)', collect)
    .requiredOption('-o, --out <dir>', 'output directory')
    .addOption(inspectionLimit())
    // the old name, for scripts
    .addOption(new Option('--inspect-window <bytes>').argParser(bytes).hideHelp())
    .option('--test-clock', 'test build: rate limits run on packet timestamps (replay --kernel of captures); deploy refuses it')
    .addHelpText('after', examples('compile'))
    .action((o) => exit(compileCommand(o)));
  program
    .command('verify')
    .description('load a compiled object into the kernel without attaching it; report verifier instructions and maps')
    .argument('<dir>', 'directory written by l7bpf compile')
    .action((dir: string) => exit(verifyCommand(dir)));
  // deploy / status / undeploy / observe (src/loader: tc attach, pins, ring buffer)
  program
    .command('deploy')
    .description("attach a compiled object to the endpoints' host-side veths; swap it in place when the deployment exists")
    .argument('<dir>', 'directory written by l7bpf compile')
    .requiredOption('--endpoints <file>', 'inventory (YAML or kubectl get pods -A -o json); `iface:` names the host-side veth')
    .option('--iface-of <pod=iface>', 'host-side interface of an endpoint (repeatable)', collect)
    .option('--name <deployment>', 'deployment name (pins under /sys/fs/bpf/l7bpf/<name>)', 'default')
    .option('--node-name <node>', "this node in the inventory's nodes: its addresses are the host entity, other nodes' remote-node (default: the hostname)")
    .option('--history-size <size>', `budget of the flow history observe reads, on disk under the state directory (65536, 512KiB, 64MiB; default ${formatSize(DEFAULT_HISTORY_BYTES)}, or what the deployment had)`, historySize)
    .addOption(new Option('--deny-answer <mode>', 'how a denied request is answered: auto (the highest stage that works: HTTP/1 403 on a connection that goes on, the request cut; else 403 and FIN to the client, reset to the server), close (403 and FIN always), reset (RST both ways)').choices([...ANSWER_MODES]).default('auto'))
    .option('--audit', 'audit mode: every denial passes and is reported with verdict AUDIT (a setting of the deployment: no recompile; deploy again without it to enforce)')
    .addHelpText('after', examples('deploy'))
    .action((dir: string, o) => exit(deployCommand(dir, o)));
  program
    .command('status')
    .description('deployments: what is attached where, object sha256, flows, event counters')
    .option('--name <deployment>', 'only this deployment')
    .addOption(outputOption(['text', 'json'], 'text'))
    .action((o) => exit(statusCommand(o)));
  program
    .command('undeploy')
    .description('detach a deployment and remove its pins (and the clsact qdisc where l7bpf created it)')
    .option('--name <deployment>', 'deployment name', 'default')
    .action((o) => exit(undeployCommand(o)));
  program
    .command('agent')
    .description('run on a node: watch a source of policies and endpoints, compile or reuse an object, swap it in atomically, keep the old program on any failure; serve metrics, health and Hubble\'s Observer API')
    .option('--dir <dir>', 'directory source: policies/*.yaml, endpoints.yaml (the inventory, nodes too), interfaces.yaml (pod: host-side interface), watched')
    .option('--kubernetes', 'Kubernetes API source: CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, Pods, Nodes, Services (in-cluster config, or --kubeconfig)')
    .option('--kubeconfig <file>', 'kubeconfig for --kubernetes outside a cluster')
    .option('--config <file>', 'YAML settings with these options\' camelCase names (the command line wins)')
    .option('--node-name <node>', 'this node (default: the hostname): its endpoints are enforced, its addresses are the host entity')
    .option('--name <deployment>', 'deployment name (pins under /sys/fs/bpf/l7bpf/<name>)')
    .option('--audit', 'audit the whole deployment: denials are reported with verdict AUDIT and the traffic passes')
    .addOption(new Option('--deny-answer <mode>', 'how a denied request is answered (as deploy)').choices([...ANSWER_MODES]))
    .option('--objects <dir>', 'CI-built objects (l7bpf compile output dirs): one whose manifest matches the policies is deployed without compiling')
    .option('--history-size <size>', 'budget of the flow history (as deploy)')
    .option('--debounce <duration>', `quiet time after a change before reconciling (default ${AGENT_DEFAULTS.debounce})`)
    .option('--metrics <addr>', `host:port of /metrics, /healthz, /readyz (default ${AGENT_DEFAULTS.metrics}; "" for none)`)
    .option('--interface-map <file>', 'YAML map pod (namespace/name) -> host-side interface, over the source\'s own')
    .option('--hubble-socket <path>', `Hubble's Observer API on a unix socket (default ${AGENT_DEFAULTS.hubbleSocket}; "" for none); observe reads through it`)
    .option('--hubble-listen <addr>', `Hubble's Observer API on host:port for hubble observe --server (default ${AGENT_DEFAULTS.hubbleListen}; "" for none)`)
    .addHelpText('after', examples('agent'))
    .action(async (o) => exit(await agentCommand(o)));
  program
    .command('observe')
    .description("the deployment's flows (its on-disk history, fed from the kernel) as Hubble jsonpb lines or the replay summary table; filters as hubble observe's (repeated: any of them; different: all)")
    .option('--name <deployment>', 'deployment (default: the only one)')
    .option('--follow', 'keep reading until interrupted (alone: only flows not yet in the history)')
    .option('--since <time>', 'flows since a duration ago (5m, 1h30m) or an RFC 3339 time')
    .option('--last <n>', 'the last N flows of the history (after filters)', wholeNumber)
    .addOption(outputOption(['jsonpb', 'text'], 'jsonpb', 'Hubble jsonpb lines or a summary table'))
    .option('--verdict <verdict>', 'FORWARDED, DROPPED, AUDIT, ... (Hubble\'s names; allowed = FORWARDED or AUDIT, denied = DROPPED)', collect)
    .option('--type <type[:subtype]>', 'event type: l7, drop, policy-verdict, trace, ... or a number', collect)
    .option('--from-pod <[ns/]pod>', 'source pod name prefix (no namespace: default; ns/ alone: the whole namespace)', collect)
    .option('--to-pod <[ns/]pod>', 'destination pod name prefix, as --from-pod', collect)
    .option('--pod <[ns/]pod>', 'source or destination pod, as --from-pod', collect)
    .option('--http-status <code>', 'HTTP response status: 403, or a prefix 4+ / 40+', collect)
    .option('--http-method <method>', 'HTTP method (any case)', collect)
    .option('--method <method>', 'the older name of --http-method', collect)
    .option('--http-path <regex>', 'HTTP path (RE2 regex, unanchored, query excluded)', collect)
    .option('--node-name <name>', 'node_name in flows')
    .option('--server <address>', "a Hubble server to read jsonpb from (hubble's --server: unix:///path/hubble.sock or host:port); default: the agent's socket (/var/run/l7bpf/hubble.sock) when it answers and --name is not given. --output text always reads the history (the agent appends to it)")
    .addHelpText('after', examples('observe'))
    .action(async (o) => exit(await observeCommand(o)));
  return program;
}

function exit(code: number): void {
  process.exitCode = code;
}

export async function main(argv: readonly string[]): Promise<void> {
  try {
    await buildCli().parseAsync([...argv]);
  } catch (e) {
    process.exitCode = exitCodeOf(e);
    // commander has printed its own errors (and the help or version)
    if (e instanceof CommanderError) return;
    process.stderr.write(e instanceof PolicyError ? e.message + '\n' : `l7bpf: error: ${(e as Error).message}\n`);
  }
}

// `l7bpf replay ... | head` must end quietly
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});
await main(process.argv);
