// A client pod (10.0.0.1) and a server pod (10.0.0.2) under a policy: by default one http
// rule on port 80 that allows every request, so every byte of the client's stream goes
// through the framer and only the strict rules and the stream's framing decide. Used by the
// llhttp corpus, connection-lifetime and flow kernel tests.
import { parsePolicies, type Policy } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import type { Inventory } from '../../src/endpoints/types.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';

/** The server's ingress from the client on port 80 under these http rules (flow YAML). */
export const serverPolicy = (http: string, name = 'inspect-all') => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules: {http: ${http}}
`;

const POLICY = serverPolicy('[{}]');
const ENDPOINTS = `endpoints:
  - {name: client, namespace: default, labels: {app: client}, ips: [10.0.0.1, "fd00::1"]}
  - {name: server, namespace: default, labels: {app: server}, ips: [10.0.0.2, "fd00::2"]}
`;

export interface InspectAll {
  readonly policies: readonly Policy[];
  readonly inv: Inventory;
  /** the IPv4 peers */
  readonly client: PeerRef;
  readonly server: PeerRef;
  /** a peer with its address of one family */
  peer(name: 'client' | 'server', v6: boolean): PeerRef;
}

export function inspectAll(policy = POLICY): InspectAll {
  const policies = parsePolicies(policy, 'client-server.yaml').policies;
  const inv = parseInventory(ENDPOINTS, 'inspect-all(endpoints)').inventory;
  const peer = (name: string, v6: boolean): PeerRef => {
    const ep = inv.endpoints.find((e) => e.name === name)!;
    return { kind: 'endpoint', endpoint: ep, ip: ep.ips.find((a) => a.text.includes(':') === v6)! };
  };
  return { policies, inv, client: peer('client', false), server: peer('server', false), peer };
}
