// `l7bpf undeploy [--name NAME]`: detach, unpin, forget. A deployment attached in another
// network namespace is undeployed there (this command again, under nsenter --net).
import { openLibbpf, type Libbpf } from '../loader/index.ts';
import { undeploy } from '../deploy/undeploy.ts';
import { readState } from '../deploy/state.ts';
import { currentNetns, describeNetns, netnsPath } from '../deploy/netns.ts';
import { DEFAULT_DEPLOYMENT, deployEnv } from './deploy.ts';
import { runInNetns } from './netns-exec.ts';

export function undeployCommand(o: { readonly name?: string }): number {
  try {
    const name = o.name ?? DEFAULT_DEPLOYMENT;
    const elsewhere = otherNetns(name);
    if (elsewhere !== null) return elsewhere();
    const r = undeploy(openLibbpf(), name, deployEnv());
    console.log(`undeployed ${r.name}: detached from ${r.detached.join(', ') || 'no interface (all gone)'}` + (r.removedQdiscs.length ? `; removed clsact from ${r.removedQdiscs.join(', ')}` : ''));
    return 0;
  } catch (e) {
    console.error(`l7bpf undeploy: ${(e as Error).message}`);
    return 1;
  }
}

/** When the deployment is attached in another network namespace: how to undeploy it, else null. */
function otherNetns(name: string): (() => number) | null {
  const env = deployEnv();
  const s = readState(name, env.stateDir);
  const here = currentNetns();
  if (!s?.netns || !here || s.netns.inode === here.inode) return null;
  const path = netnsPath(s.netns);
  if (path !== null) {
    return () => {
      const r = runInNetns(path, ['undeploy', '--name', name]);
      process.stdout.write(r.out);
      process.stderr.write(r.err);
      return r.code;
    };
  }
  // the namespace is gone, and its interfaces and filters with it: undeploy the rest (pins,
  // record, history) seeing no interface, so none of this namespace's is touched by name
  return () => {
    undeploy(withoutInterfaces(openLibbpf()), name, env);
    console.log(`undeployed ${name}: its network namespace ${describeNetns(s.netns)} is gone (its filters with it); removed the pins and the record`);
    return 0;
  };
}

/** The library as seen from a namespace that has no interfaces. */
function withoutInterfaces(lib: Libbpf): Libbpf {
  return new Proxy(lib, { get: (target, key) => (key === 'ifIndex' ? () => 0 : Reflect.get(target, key)) });
}
