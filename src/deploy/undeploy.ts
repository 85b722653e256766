// `undeploy`: remove our tc filters, the clsact qdisc where we created it, the pins, the
// record and the flow history. Idempotent: interfaces that vanished with their pod are skipped.
import type { Libbpf } from '../loader/index.ts';
import { pinPaths, unpinDir } from '../loader/index.ts';
import { detachIface, DeployError, type DeployEnv } from './deploy.ts';
import { readState, removeState } from './state.ts';
import { historyDir, removeHistory } from '../observe/history.ts';

export interface UndeployResult {
  readonly name: string;
  readonly detached: readonly string[];
  readonly removedQdiscs: readonly string[];
}

/** `keepHistory`: the agent keeps serving the flows a deployment had after removing it. */
export function undeploy(lib: Libbpf, name: string, env: DeployEnv, opts: { readonly keepHistory?: boolean } = {}): UndeployResult {
  const s = readState(name, env.stateDir);
  if (!s) throw new DeployError(`no deployment named ${name}`, 'see l7bpf status');
  const present = s.ifaces.filter((i) => lib.ifIndex(i.iface) === i.ifindex);
  for (const i of s.ifaces) detachIface(lib, s, i);
  unpinDir(pinPaths(env.pinRoot, name).dir);
  removeState(name, env.stateDir);
  // the history is the deployment's: a later deployment of the same name starts empty
  if (!opts.keepHistory) removeHistory(historyDir(env.stateDir, name));
  return { name, detached: present.map((i) => i.iface), removedQdiscs: present.filter((i) => i.createdClsact).map((i) => i.iface) };
}
