// `l7bpf status [--name NAME] [--output json]`: deployments of every network namespace,
// checked against the kernel. A deployment attached in another namespace is checked there
// (this command again, under nsenter --net: tc filters are per namespace).
import { openLibbpf, type Libbpf } from '../loader/index.ts';
import { deploymentStatus, formatStatus, type DeploymentStatus } from '../deploy/status.ts';
import { listStates, type DeployState } from '../deploy/state.ts';
import { currentNetns, describeNetns, netnsPath, type NetnsId } from '../deploy/netns.ts';
import type { DeployEnv } from '../deploy/deploy.ts';
import { deployEnv } from './deploy.ts';
import { runInNetns } from './netns-exec.ts';
import { BadInputError, exitCodeOf } from './exit.ts';

export function statusCommand(o: { readonly name?: string; readonly output?: 'text' | 'json' }): number {
  try {
    const env = deployEnv();
    if (o.name) knownDeployment(o.name, env.stateDir);
    const lib = openLibbpf();
    const here = currentNetns();
    const list = listStates(env.stateDir).filter((s) => !o.name || s.name === o.name).map((s) => statusOf(lib, s, env, here));
    process.stdout.write(o.output === 'json' ? JSON.stringify(list, null, 2) + '\n' : formatStatus(list));
    // exit 1 when a hook lost its program (someone else replaced or removed it)
    return list.some((d) => d.hooks.some((h) => !h.ours)) ? 1 : 0;
  } catch (e) {
    console.error(`l7bpf status: ${(e as Error).message}`);
    return exitCodeOf(e);
  }
}

function statusOf(lib: Libbpf, s: DeployState, env: DeployEnv, here: NetnsId | null): DeploymentStatus {
  const netns = describeNetns(s.netns);
  if (!s.netns || !here || s.netns.inode === here.inode) return { ...deploymentStatus(lib, s, env), netns };
  const path = netnsPath(s.netns);
  if (path === null) return detached(deploymentStatus(lib, s, env), `${netns}, gone: its interfaces and filters went with it`);
  let why: string;
  try {
    const child = runInNetns(path, ['status', '--name', s.name, '--output', 'json']);
    const [d] = JSON.parse(child.out || '[]') as DeploymentStatus[];
    if (d) return d;
    why = child.err.trim() || `exit ${child.code}`;
  } catch (e) {
    why = (e as Error).message;
  }
  return detached(deploymentStatus(lib, s, env), `${netns}, not checked: ${why}`);
}

/** Maps and pins read from here; the hooks could not be checked (an interface of the same name here is another one). */
function detached(d: DeploymentStatus, netns: string): DeploymentStatus {
  return { ...d, netns, hooks: d.hooks.map((h) => ({ ...h, attachedId: 0, ours: false })) };
}

/** A name that no deployment has is bad input (exit 2), not an empty list. */
function knownDeployment(name: string, dir: string): void {
  const names = listStates(dir).map((s) => s.name);
  if (!names.includes(name)) throw new BadInputError(`no deployment named ${name} (${names.length ? `deployments: ${names.join(', ')}` : 'there is none; hint: l7bpf deploy first'})`);
}
