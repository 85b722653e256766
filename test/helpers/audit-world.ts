// A small audit-mode world shared by the audit tests: backend's ingress from frontend on port 80
// allows GET /api/.* only, by an audited policy (`audited`) and/or an enforced one (`enforced`).
import { parsePolicies, hasErrors, formatDiagnostic, type Policy } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import { resolveIp } from '../../src/verdict/index.ts';

export const AUDIT_INVENTORY = `endpoints:
  - {name: backend, namespace: default, labels: {app: backend}, ips: [10.0.1.10]}
  - {name: frontend, namespace: default, labels: {app: frontend}, ips: [10.0.0.1]}
  - {name: other, namespace: default, labels: {app: other}, ips: [10.0.0.2]}
`;

/** One CNP selecting backend; `audit` the annotation's value (null: none). */
export function auditPolicyYaml(name: string, audit: string | null, path = '/api/.*', from = 'frontend'): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: ${name}
  namespace: default${audit === null ? '' : `\n  annotations: {l7bpf.io/audit: "${audit}"}`}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: ${from}}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:
              - {method: GET, path: "${path}"}
`;
}

/** `yaml` with the audit annotation on the policies `names` (metadata in flow style, as the
 * differential tests' generated policies write it). */
export function annotateAudit(yaml: string, names: readonly string[]): string {
  return yaml.replace(/metadata: \{name: ([\w-]+), namespace: default\}/g, (m, name: string) =>
    (names.includes(name) ? `metadata: {name: ${name}, namespace: default, annotations: {l7bpf.io/audit: "true"}}` : m));
}

export function parseAll(yaml: string, file = 'audit.yaml'): Policy[] {
  const r = parsePolicies(yaml, file);
  if (hasErrors(r.diagnostics)) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return [...r.policies];
}

export const auditInventory = parseInventory(AUDIT_INVENTORY, 'audit-inventory.yaml').inventory;

export const peer = (ip: string) => resolveIp(auditInventory, ip);
export const FRONTEND = '10.0.0.1';
export const OTHER = '10.0.0.2';
export const BACKEND = '10.0.1.10';
