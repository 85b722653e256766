// Where a deployment lives: pins in the host's bpffs (even under `ip netns exec`, through
// /proc/<pid>/root: src/deploy/netns.ts), the state dir, the network namespace it attaches in.
import { pinRoot } from '../loader/index.ts';
import { stateDir } from './state.ts';
import { currentNetns, hostBpffs, hostPinRoot } from './netns.ts';
import type { DeployEnv } from './deploy.ts';

export function deployEnv(): DeployEnv {
  const host = hostBpffs();
  return { pinRoot: hostPinRoot(pinRoot(), host), stateDir: stateDir(), netns: currentNetns(), privateBpffs: host.private };
}
