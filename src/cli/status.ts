// `l7bpf status [--name NAME] [--output json]`: deployments, checked against the kernel.
import { openLibbpf } from '../loader/index.ts';
import { allStatus, formatStatus } from '../deploy/status.ts';
import { deployEnv } from './deploy.ts';

export function statusCommand(o: { readonly name?: string; readonly output?: 'text' | 'json' }): number {
  try {
    const list = allStatus(openLibbpf(), deployEnv()).filter((d) => !o.name || d.name === o.name);
    process.stdout.write(o.output === 'json' ? JSON.stringify(list, null, 2) + '\n' : formatStatus(list));
    // exit 1 when a hook lost its program (someone else replaced or removed it)
    return list.some((d) => d.hooks.some((h) => !h.ours)) ? 1 : 0;
  } catch (e) {
    console.error(`l7bpf status: ${(e as Error).message}`);
    return 1;
  }
}
