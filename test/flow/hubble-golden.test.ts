// Golden flows: what Hubble itself writes for an HTTP request, its response, an L7 drop, an
// L3 drop and a policy verdict, written out field by field from Hubble's flow.proto and its
// parsers (cilium pkg/hubble/parser/seven for L7: no drop reason, a code on responses only,
// headers sorted by key, the reply with the server as source, `reply` and `is_reply`,
// policy_match_type 0, the Summary strings `PROTO METHOD URL` and `PROTO CODE Nms (METHOD URL)`;
// parser/threefour for L3/L4: drop events of type 1 whose sub_type is the drop reason, policy
// verdicts of type 5 with the rule's match type). `hubble observe -o json` prints protojson:
// enum names, uint64 as strings, zero values left out, a BoolValue always.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { flowJsonLine, type FlowRecord } from '../../src/flow/build.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';
import type { RuleRef } from '../../src/verdict/types.ts';
import { ruleRef } from '../../src/verdict/refs.ts';
import { parsePolicies } from '../../src/policy/index.ts';
import { lower } from '../../codegen/ir/lower.ts';

const endpoint = (name: string, app: string, identity: number): PeerRef => ({
  kind: 'endpoint',
  endpoint: { name, namespace: 'default', labels: { app, 'io.kubernetes.pod.namespace': 'default' }, ips: [], identity } as never,
  ip: null,
});
const client = { ip: '10.0.0.1', port: 44006, peer: endpoint('frontend-1', 'frontend', 46682) };
const server = { ip: '10.0.0.2', port: 8080, peer: endpoint('backend-1', 'backend', 63064) };
const rule: RuleRef = { policy: 'backend-allow', namespace: 'default', section: 'ingress', source: 'p.yaml:12', text: '', match: 2 };
const http: RuleRef = { ...rule, source: 'p.yaml:21', match: undefined };
const T0 = 1_764_165_003_120_145_000n; // 2025-11-26T13:50:03.120145Z
const request = {
  method: 'GET', target: '/api/v1/users', version: 'HTTP/1.1' as const,
  headers: [['host', 'backend:8080'], ['user-agent', 'frontend/1.0'], ['Accept', '*/*']] as [string, string][],
};
const base = { nodeName: 'node-a', src: client, dst: server, denyRule: false, direction: 'ingress' as const };

const flow = (r: FlowRecord) => JSON.parse(flowJsonLine(r)) as unknown;

const frontend = { identity: 46682, namespace: 'default', labels: ['k8s:app=frontend', 'k8s:io.kubernetes.pod.namespace=default'], pod_name: 'frontend-1' };
const backend = { identity: 63064, namespace: 'default', labels: ['k8s:app=backend', 'k8s:io.kubernetes.pod.namespace=default'], pod_name: 'backend-1' };
const policy = [{ name: 'backend-allow', namespace: 'default', kind: 'CiliumNetworkPolicy' }];
const line = (time: string, f: Record<string, unknown>) => ({ flow: { time, ...f }, node_name: 'node-a', time });

it('an allowed HTTP request: L7 REQUEST, no code, headers sorted by key, Hubble Summary', () => {
  assert.deepEqual(flow({ ...base, timeNs: T0, kind: 'l7-request', allowed: true, isReply: false, request, policies: [http] }), line('2025-11-26T13:50:03.120145Z', {
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 44006, destination_port: 8080 } },
    source: frontend, destination: backend,
    Type: 'L7', node_name: 'node-a',
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://backend:8080/api/v1/users', protocol: 'HTTP/1.1', headers: [
      { key: 'Accept', value: '*/*' }, { key: 'host', value: 'backend:8080' }, { key: 'user-agent', value: 'frontend/1.0' },
    ] } },
    event_type: { type: 129 },
    traffic_direction: 'INGRESS',
    is_reply: false,
    ingress_allowed_by: policy,
    Summary: 'HTTP/1.1 GET http://backend:8080/api/v1/users',
  }));
});

it('its response: the server is the source, reply and is_reply, code and latency, whole milliseconds in the Summary', () => {
  const r: FlowRecord = { ...base, timeNs: T0 + 3_670_000n, kind: 'l7-response', allowed: true, isReply: true, request, status: 200, latencyNs: 3_670_000n, responseHeaders: [['content-type', 'application/json']], policies: [http] };
  assert.deepEqual(flow(r), line('2025-11-26T13:50:03.123815Z', {
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.2', destination: '10.0.0.1', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 8080, destination_port: 44006 } },
    source: backend, destination: frontend,
    Type: 'L7', node_name: 'node-a',
    l7: { type: 'RESPONSE', latency_ns: '3670000', http: { code: 200, method: 'GET', url: 'http://backend:8080/api/v1/users', protocol: 'HTTP/1.1', headers: [{ key: 'content-type', value: 'application/json' }] } },
    reply: true,
    event_type: { type: 129 },
    traffic_direction: 'INGRESS',
    is_reply: true,
    ingress_allowed_by: policy,
    Summary: 'HTTP/1.1 200 3ms (GET http://backend:8080/api/v1/users)',
  }));
});

it('an L7 drop: DROPPED with no drop reason and no code, the denying policy, the request line as Summary', () => {
  const post = { ...request, method: 'POST', headers: [['host', 'backend:8080']] as [string, string][] };
  assert.deepEqual(flow({ ...base, timeNs: T0, kind: 'l7-request', allowed: false, isReply: false, request: post, policies: [rule] }), line('2025-11-26T13:50:03.120145Z', {
    verdict: 'DROPPED',
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 44006, destination_port: 8080 } },
    source: frontend, destination: backend,
    Type: 'L7', node_name: 'node-a',
    l7: { type: 'REQUEST', http: { method: 'POST', url: 'http://backend:8080/api/v1/users', protocol: 'HTTP/1.1', headers: [{ key: 'host', value: 'backend:8080' }] } },
    event_type: { type: 129 },
    traffic_direction: 'INGRESS',
    is_reply: false,
    ingress_denied_by: policy,
    Summary: 'HTTP/1.1 POST http://backend:8080/api/v1/users',
  }));
});

it('an L3 drop: a drop event whose sub_type is the drop reason, POLICY_DENIED, TCP flags', () => {
  const r: FlowRecord = { ...base, timeNs: T0, kind: 'l3l4', allowed: false, isReply: false, tcpFlags: { SYN: true }, policies: [] };
  assert.deepEqual(flow(r), line('2025-11-26T13:50:03.120145Z', {
    verdict: 'DROPPED',
    drop_reason: 133,
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 44006, destination_port: 8080, flags: { SYN: true } } },
    source: frontend, destination: backend,
    Type: 'L3_L4', node_name: 'node-a',
    event_type: { type: 1, sub_type: 133 },
    traffic_direction: 'INGRESS',
    drop_reason_desc: 'POLICY_DENIED',
    is_reply: false,
    Summary: 'TCP Flags: SYN',
  }));
});

it('a policy verdict: type 5, the allowing rule\'s match type (L3-L4), the allowing policy', () => {
  const r: FlowRecord = { ...base, timeNs: T0, kind: 'l3l4', allowed: true, isReply: false, tcpFlags: { SYN: true }, policies: [rule] };
  assert.deepEqual(flow(r), line('2025-11-26T13:50:03.120145Z', {
    verdict: 'FORWARDED',
    IP: { source: '10.0.0.1', destination: '10.0.0.2', ipVersion: 'IPv4' },
    l4: { TCP: { source_port: 44006, destination_port: 8080, flags: { SYN: true } } },
    source: frontend, destination: backend,
    Type: 'L3_L4', node_name: 'node-a',
    event_type: { type: 5 },
    traffic_direction: 'INGRESS',
    policy_match_type: 2,
    is_reply: false,
    ingress_allowed_by: policy,
    Summary: 'TCP Flags: SYN',
  }));
});

it('one URL form: the Host as sent, else the address with its port unless 80', () => {
  const noHost = { ...request, headers: [] };
  const url = (port: number, ip = '10.0.0.2') => (flow({ ...base, dst: { ...server, ip, port }, timeNs: T0, kind: 'l7-request', allowed: true, isReply: false, request: noHost, policies: [] }) as { flow: { l7: { http: { url: string } } } }).flow.l7.http.url;
  assert.equal(url(80), 'http://10.0.0.2/api/v1/users');
  assert.equal(url(8080), 'http://10.0.0.2:8080/api/v1/users');
  assert.equal(url(8080, 'fd00::2'), 'http://[fd00::2]:8080/api/v1/users');
});

it('policy_match_type follows the rule: peers and ports L3-L4, peers only L3-only, ports only L4-only, neither all', () => {
  const { policies } = parsePolicies(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: m, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
    - fromEndpoints: [{matchLabels: {app: frontend}}]
    - toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
    - fromEntities: [all]
`, 'm.yaml');
  const p = policies[0]!;
  const rules = p.specs[0]!.rules;
  assert.deepEqual(rules.map((r) => ruleRef(p, r).match), [2, 1, 3, 1]);
  // the kernel's rule table says the same (observe reads it from the deployment's state)
  assert.deepEqual(lower(policies).rules.map((r) => r.match), [2, 1, 3, 1]);
});
