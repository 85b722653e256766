// `l7bpf observe [--follow] [--since T] [--last N] [--output jsonpb|text] [Hubble's filters]`:
// the deployment's flows as Hubble jsonpb lines or the replay summary table. Every run first
// moves what the kernel's ring buffer holds into the deployment's history (when no other
// observe does: src/observe/drain.ts), then prints from the history, so every run sees the
// same flows (docs/deploy.md, observe). When an agent runs (its Hubble socket answers) or
// --server names a Hubble server, jsonpb comes from its Observer API instead (docs/hubble.md).
import { openLibbpf, pinPaths, openEvents, EventsUnavailableError } from '../loader/index.ts';
import { listStates, readState, inventoryFromState, type DeployState } from '../deploy/state.ts';
import { clockOffsetNs, type ObserveContext } from '../replay/observe-flow.ts';
import { entryOf, type EntryRow } from '../replay/observe-entry.ts';
import { Summary } from '../replay/summary.ts';
import { DEFAULT_HISTORY_BYTES, History, historyDir, START, type Cursor, type HistoryEntry } from '../observe/history.ts';
import { Drainer, type EventSource } from '../observe/drain.ts';
import { buildFilter, FilterError, type FilterFlags } from '../observe/filters.ts';
import { readHistory, type FlowQuery, type Selected } from '../observe/query.ts';
import { parseSince, UnitError } from '../observe/units.ts';
import { defaultHubbleSocket, formatServerAddress, parseServerAddress, socketAnswers, type ServerAddress } from '../hubble/address.ts';
import { requestOf, streamFlowLines } from '../hubble/client.ts';
import { Code, ConnectError } from '@connectrpc/connect';
import { deployEnv } from './deploy.ts';
import { BadInputError, exitCodeOf } from './exit.ts';

export interface ObserveOptions {
  readonly name?: string;
  readonly follow?: boolean;
  readonly output?: 'jsonpb' | 'text';
  readonly since?: string;
  readonly last?: number;
  readonly verdict?: readonly string[];
  readonly type?: readonly string[];
  readonly pod?: readonly string[];
  readonly fromPod?: readonly string[];
  readonly toPod?: readonly string[];
  readonly httpStatus?: readonly string[];
  readonly httpMethod?: readonly string[];
  /** the older name of --http-method */
  readonly method?: readonly string[];
  readonly httpPath?: readonly string[];
  readonly nodeName?: string;
  /** a Hubble server (hubble's --server: unix:///path or host:port) to read jsonpb from */
  readonly server?: string;
}

const POLL_MS = 200;

function pickDeployment(name: string | undefined, dir: string): DeployState {
  if (name) {
    const s = readState(name, dir);
    if (!s) throw new BadInputError(`no deployment named ${name} (hint: see l7bpf status)`);
    return s;
  }
  const all = listStates(dir);
  if (all.length === 1 && all[0]) return all[0];
  throw new Error(all.length ? `several deployments (${all.map((s) => s.name).join(', ')}): pass --name` : 'no deployment (hint: l7bpf deploy first)');
}

/** The command line's since, last and filters; a bad value is bad input (exit 2). */
export function queryOf(o: ObserveOptions, nowNs = BigInt(Date.now()) * 1_000_000n): FlowQuery {
  try {
    const match = buildFilter(filterFlagsOf(o));
    return { match, ...(o.since !== undefined ? { sinceNs: parseSince(o.since, nowNs) } : {}), ...(o.last !== undefined ? { last: o.last } : {}) };
  } catch (e) {
    if (e instanceof FilterError || e instanceof UnitError) throw new BadInputError(e.message);
    throw e;
  }
}

function filterFlagsOf(o: ObserveOptions): FilterFlags {
  return {
    verdict: o.verdict, type: o.type, pod: o.pod, fromPod: o.fromPod, toPod: o.toPod,
    httpStatus: o.httpStatus, httpMethod: [...(o.httpMethod ?? []), ...(o.method ?? [])], httpPath: o.httpPath,
  };
}

/** Prints selected flows: jsonpb lines as they are, or summary rows (one per event; while
 * following, a line per event too) and the table at the end. */
class Printer {
  private readonly summary = new Summary();
  private lastEntry: HistoryEntry | null = null;

  constructor(private readonly table: boolean, private readonly follow: boolean) {}

  flow(s: Selected): void {
    if (!this.table) return void process.stdout.write(s.line + '\n');
    if (s.entry === this.lastEntry) return; // the event's other flow
    this.lastEntry = s.entry;
    const row = s.entry.row as EntryRow | undefined;
    if (row?.kind === 'request') this.summary.addRequest(row);
    else if (row?.kind === 'connection') this.summary.addConnection(row);
    if (this.follow && row) process.stdout.write(eventLine(row));
  }

  finish(): void {
    if (this.table) process.stdout.write(this.summary.render());
  }
}

function eventLine(row: EntryRow): string {
  const pair = row.kind === 'drop' ? '' : row.pair;
  const what = row.kind === 'request' ? `${row.line} ${row.reason}` : '';
  return `${row.allowed ? 'allowed' : 'DENIED '} ${row.kind.padEnd(10)} ${pair} ${what}\n`;
}

/** The ring buffer, or null (with a warning) when this process cannot reach its pin: the
 * history is still there to read. */
function eventsOf(pinRoot: string, name: string): () => EventSource | null {
  return () => {
    try {
      return openEvents(openLibbpf(), pinPaths(pinRoot, name).events);
    } catch (e) {
      if (!(e instanceof EventsUnavailableError)) throw e;
      console.error(`l7bpf observe: warning: ${e.message}; showing the history only`);
      return null;
    }
  };
}

export async function observeCommand(opts: ObserveOptions): Promise<number> {
  try {
    const server = await hubbleServerOf(opts);
    const fromServer = server ? await observeFromServer(server, opts) : null;
    if (fromServer !== null) return fromServer;
  } catch (e) {
    console.error(`l7bpf observe: ${(e as Error).message}`);
    return exitCodeOf(e);
  }
  return observeHistory(opts);
}

/** --server, else the agent's socket when it answers (jsonpb, no --name: the agent's flows). */
async function hubbleServerOf(opts: ObserveOptions): Promise<ServerAddress | null> {
  if (opts.server !== undefined) {
    if (opts.output === 'text') throw new BadInputError('--server gives Hubble flows (--output jsonpb); --output text reads the history (drop --server)');
    try {
      return parseServerAddress(opts.server);
    } catch (e) {
      throw new BadInputError((e as Error).message);
    }
  }
  if (opts.output === 'text' || opts.name !== undefined) return null;
  const socket = defaultHubbleSocket();
  return (await socketAnswers(socket)) ? { kind: 'unix', path: socket } : null;
}

/** jsonpb lines from GetFlows; null when the filters are not one GetFlows whitelist (--pod with
 * --from-pod or --to-pod) and the server was not asked for: the history has the same flows. */
async function observeFromServer(server: ServerAddress, opts: ObserveOptions): Promise<number | null> {
  const query = queryOf(opts);
  const req = requestOf({ filters: filterFlagsOf(opts), ...(query.sinceNs !== undefined ? { sinceNs: query.sinceNs } : {}), ...(opts.last !== undefined ? { last: opts.last } : {}), follow: opts.follow === true });
  if (!req) {
    if (opts.server === undefined) return null;
    throw new BadInputError('--pod cannot be combined with --from-pod or --to-pod with --server (as hubble observe); without --server the history is read');
  }
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await streamFlowLines(server, req, abort.signal, (line) => process.stdout.write(line + '\n'));
    return 0;
  } catch (e) {
    if (e instanceof ConnectError && e.code === Code.InvalidArgument) throw new BadInputError(`hubble server ${formatServerAddress(server)}: ${e.rawMessage}`);
    throw new Error(`hubble server ${formatServerAddress(server)}: ${e instanceof ConnectError ? e.rawMessage : (e as Error).message}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function observeHistory(opts: ObserveOptions): Promise<number> {
  const env = deployEnv();
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  let drainer: Drainer | null = null;
  // `observe | head` ends the process from main.ts's EPIPE handler: release the lock even then
  const onExit = () => drainer?.close();
  try {
    const s = pickDeployment(opts.name, env.stateDir);
    const query = queryOf(opts);
    const ctx: ObserveContext = { inventory: inventoryFromState(s.inventory), rules: s.rules, httpRules: s.httpRules, nodeName: opts.nodeName ?? 'l7bpf', clockOffsetNs: clockOffsetNs() };
    const history = new History(historyDir(env.stateDir, s.name), s.historyBytes ?? DEFAULT_HISTORY_BYTES, (m) => console.error(`l7bpf observe: warning: ${m}`));
    drainer = new Drainer(history, eventsOf(env.pinRoot, s.name), (bufs) => bufs.flatMap((b) => entryOf(ctx, b) ?? []));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', onExit);
    const printer = new Printer(opts.output === 'text', opts.follow === true);
    // --follow alone: the flows nobody had moved into the history yet, then new ones
    const from: Cursor = opts.follow && query.sinceNs === undefined && query.last === undefined ? history.end() : START;
    drainer.step();
    let cursor = readHistory(history, from, query, (f) => printer.flow(f));
    const { last: _, ...live } = query; // --last is the history's; then every new flow
    while (opts.follow && !abort.signal.aborted) {
      await drainer.wait(POLL_MS);
      drainer.step();
      cursor = readHistory(history, cursor, live, (f) => printer.flow(f));
    }
    printer.finish();
    return 0;
  } catch (e) {
    console.error(`l7bpf observe: ${(e as Error).message}`);
    return exitCodeOf(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
    drainer?.close();
  }
}
