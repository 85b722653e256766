// `l7bpf observe [--follow] [--output jsonpb|text] [--verdict V] [--pod P] [--method M]`:
// the kernel's events as Hubble jsonpb lines or the replay summary table.
import { openLibbpf, pinPaths, openEvents, records, decodeEvent, EVENT_SIZE } from '../loader/index.ts';
import { listStates, readState, inventoryFromState, type DeployState } from '../deploy/state.ts';
import { clockOffsetNs, observe, podsOf, type Observed, type ObserveContext } from '../replay/observe-flow.ts';
import { flowJsonLine } from '../flow/build.ts';
import { Summary } from '../replay/summary.ts';
import { deployEnv } from './deploy.ts';
import { BadInputError, exitCodeOf } from './exit.ts';

export interface ObserveOptions {
  readonly name?: string;
  readonly follow?: boolean;
  readonly output?: 'jsonpb' | 'text';
  readonly verdict?: 'allowed' | 'denied';
  readonly pod?: string;
  readonly method?: string;
  readonly nodeName?: string;
}

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

export function matches(o: Observed, opts: ObserveOptions): boolean {
  if (opts.verdict && (opts.verdict === 'allowed') !== o.record.allowed) return false;
  if (opts.pod && !podsOf(o).includes(opts.pod)) return false;
  if (opts.method && o.record.request?.method !== opts.method.toUpperCase()) return false;
  return true;
}

export async function observeCommand(opts: ObserveOptions): Promise<number> {
  const env = deployEnv();
  let reader: ReturnType<typeof openEvents> | null = null;
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  try {
    const s = pickDeployment(opts.name, env.stateDir);
    const ctx: ObserveContext = { inventory: inventoryFromState(s.inventory), rules: s.rules, httpRules: s.httpRules, nodeName: opts.nodeName ?? 'l7bpf', clockOffsetNs: clockOffsetNs() };
    reader = openEvents(openLibbpf(), pinPaths(env.pinRoot, s.name).events);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const summary = new Summary();
    const table = opts.output === 'text';
    for await (const buf of records(reader, opts.follow === true, abort.signal)) {
      if (buf.length < EVENT_SIZE) continue;
      const o = observe(ctx, decodeEvent(buf));
      if (!matches(o, opts)) continue;
      if (o.kind === 'request') summary.addRequest(o.row);
      else if (o.kind === 'connection') summary.addConnection(o.row);
      if (!table) for (const f of o.flows) process.stdout.write(flowJsonLine(f) + '\n');
      else if (opts.follow) process.stdout.write(`${o.record.allowed ? 'allowed' : 'DENIED '} ${o.kind.padEnd(10)} ${o.kind === 'drop' ? '' : o.row.pair} ${o.kind === 'request' ? `${o.row.line} ${o.row.reason}` : ''}\n`);
    }
    if (table) process.stdout.write(summary.render());
    return 0;
  } catch (e) {
    console.error(`l7bpf observe: ${(e as Error).message}`);
    return exitCodeOf(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    reader?.close();
  }
}
