// `l7bpf undeploy [--name NAME]`: detach, unpin, forget.
import { openLibbpf } from '../loader/index.ts';
import { undeploy } from '../deploy/undeploy.ts';
import { DEFAULT_DEPLOYMENT, deployEnv } from './deploy.ts';

export function undeployCommand(o: { readonly name?: string }): number {
  try {
    const r = undeploy(openLibbpf(), o.name ?? DEFAULT_DEPLOYMENT, deployEnv());
    console.log(`undeployed ${r.name}: detached from ${r.detached.join(', ') || 'no interface (all gone)'}` + (r.removedQdiscs.length ? `; removed clsact from ${r.removedQdiscs.join(', ')}` : ''));
    return 0;
  } catch (e) {
    console.error(`l7bpf undeploy: ${(e as Error).message}`);
    return 1;
  }
}
