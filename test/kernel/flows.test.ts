// Flow state across connections: kernel == simulator per packet when connections share a
// tuple. A SYN is always judged, also when it comes from the other end of a live flow (the
// simulator calls that connection reuse); replies of a live flow pass unjudged.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../helpers/kernel.ts';
import { inspectAll } from '../helpers/inspect-all.ts';
import { tcpConn, type FixturePacket } from '../../sim/index.ts';
import { actionsAgree, buildWorld, comparable, describeActions, runKernel, runSim, type KernelWorld } from '../helpers/kernel-world.ts';

const skip = kernelSkip();

// the server accepts the client on port 80 only; the server's own egress is not enforced
const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: server-in, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
`;
let world: KernelWorld | null = null;
after(() => world?.close());

test('a SYN from the other end of a live flow is judged by the policy (kernel == simulator)', { skip }, () => {
  const { policies, inv, client, server } = inspectAll(POLICY);
  world = buildWorld(policies, inv, []);
  // 1. the server opens 10.0.0.2:41000 -> 10.0.0.1:9999 (allowed: egress not enforced), data both ways
  const out: FixturePacket[] = [...tcpConn({ client: '10.0.0.2:41000', server: '10.0.0.1:9999' }).handshake().send('hello').recv('hi').list];
  // 2. while it lives, the client opens the same tuple the other way round: port 41000 of the
  //    server is not in its ingress policy
  const back: FixturePacket[] = [...tcpConn({ client: '10.0.0.1:9999', server: '10.0.0.2:41000' }).handshake().list];
  const k1 = runKernel(world, server, client, out);
  const k2 = runKernel(world, client, server, back);
  const kernel = [...k1.actions, ...k2.actions];
  const sim = runSim(policies, inv, [...out, ...back]).actions;
  const why = describeActions([...out, ...back], kernel, sim);
  assert.deepEqual(k1.actions, sim.slice(0, out.length), why);
  // after a dropped SYN the peer's packets cannot exist on a wire (skipped), the sender's must
  // not pass: not by the old flow's entry either
  assert.ok(actionsAgree(k2.actions, sim.slice(out.length), comparable(back, k2.actions)), why);
  assert.deepEqual(k1.actions, ['pass', 'pass', 'pass', 'pass', 'pass'], 'the first connection and its replies pass');
  assert.deepEqual(k2.actions.filter((_, i) => back[i]!.from === 'client'), ['drop', 'drop'], 'the reversed SYN and the ACK after it are dropped');
});
