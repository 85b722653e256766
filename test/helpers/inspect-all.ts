// A client and a server pod on port 80 with one http rule that allows every request: every
// byte of the client's stream goes through the framer, so only the strict rules and the
// stream's framing decide. Used by the llhttp corpus and connection-lifetime kernel tests.
import { parsePolicies, type Policy } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import type { Inventory } from '../../src/endpoints/types.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: inspect-all, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: client}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules: {http: [{}]}
`;
const ENDPOINTS = `endpoints:
  - {name: client, namespace: default, labels: {app: client}, ips: [10.0.0.1]}
  - {name: server, namespace: default, labels: {app: server}, ips: [10.0.0.2]}
`;

export interface InspectAll {
  readonly policies: readonly Policy[];
  readonly inv: Inventory;
  readonly client: PeerRef;
  readonly server: PeerRef;
}

export function inspectAll(): InspectAll {
  const policies = parsePolicies(POLICY, 'inspect-all.yaml').policies;
  const inv = parseInventory(ENDPOINTS, 'inspect-all(endpoints)').inventory;
  const peer = (name: string): PeerRef => {
    const ep = inv.endpoints.find((e) => e.name === name)!;
    return { kind: 'endpoint', endpoint: ep, ip: ep.ips[0]! };
  };
  return { policies, inv, client: peer('client'), server: peer('server') };
}
