// `l7bpf status [--name NAME] [--output json]`: deployments, checked against the kernel.
import { openLibbpf } from '../loader/index.ts';
import { allStatus, formatStatus } from '../deploy/status.ts';
import { listStates } from '../deploy/state.ts';
import { deployEnv } from './deploy.ts';
import { BadInputError, exitCodeOf } from './exit.ts';

export function statusCommand(o: { readonly name?: string; readonly output?: 'text' | 'json' }): number {
  try {
    const env = deployEnv();
    if (o.name) knownDeployment(o.name, env.stateDir);
    const list = allStatus(openLibbpf(), env).filter((d) => !o.name || d.name === o.name);
    process.stdout.write(o.output === 'json' ? JSON.stringify(list, null, 2) + '\n' : formatStatus(list));
    // exit 1 when a hook lost its program (someone else replaced or removed it)
    return list.some((d) => d.hooks.some((h) => !h.ours)) ? 1 : 0;
  } catch (e) {
    console.error(`l7bpf status: ${(e as Error).message}`);
    return exitCodeOf(e);
  }
}

/** A name that no deployment has is bad input (exit 2), not an empty list. */
function knownDeployment(name: string, dir: string): void {
  const names = listStates(dir).map((s) => s.name);
  if (!names.includes(name)) throw new BadInputError(`no deployment named ${name} (${names.length ? `deployments: ${names.join(', ')}` : 'there is none; hint: l7bpf deploy first'})`);
}
