// Replay with rate limits: the buckets run on the capture's timestamps, a limited request is a
// DROPPED flow with its own drop reason and its rule's policy, answered 429 (stage 3 here); a
// shadow limit's request passes as AUDIT.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaySync, tcpConn, type PacketEvent } from '../../sim/index.ts';
import { records } from '../helpers/spec-packets.ts';
import { oracleJudge } from '../../src/replay/judge.ts';
import { parsePolicies } from '../../src/policy/index.ts';
import { parseInventory } from '../../src/endpoints/index.ts';
import { replayCapture } from '../../src/replay/run.ts';
import { HTTP1_LIMITED_KEEP } from '../../src/net/answers.ts';

const dir = mkdtempSync(join(tmpdir(), 'l7bpf-rl-replay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const policy = (mode: string) => parsePolicies(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: limited}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:
              - {path: "/api/.*", rateLimit: {requestsPerSecond: 2, burst: 1, mode: ${mode}}}
`, 'limited.yaml').policies;
const inv = parseInventory(`endpoints:
  - {name: backend, namespace: default, labels: {app: backend}, ips: [10.0.1.10]}
  - {name: fe, namespace: default, labels: {app: frontend}, ips: [10.0.0.1]}
`, 'inv').inventory;

/** Three requests on one keep-alive connection, the second 100 ms after the first, the third
 * 600 ms after it; the server answers what reaches it (shadow: all three). */
function capture(shadow: boolean): string {
  const get = 'GET /api/x HTTP/1.1\r\nHost: backend\r\n\r\n';
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const c = tcpConn({ client: '10.0.0.1:40000', server: '10.0.1.10:80', stepNs: 25_000_000n }).handshake();
  // the second request has no token (2/s, burst 1): cut, answered with the 429 (the server saw
  // only the first); the third, 600 ms after the first, has one again
  c.send(get).recv(ok).ackOnly('client').send(get);
  if (shadow) c.recv(ok);
  else c.received(HTTP1_LIMITED_KEEP.length);
  c.ackOnly('client').ackOnly('client').ackOnly('client')
    .ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client')
    .ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client').ackOnly('client')
    .send(get).recv(ok).ackOnly('client');
  const path = join(dir, 'c.pcap');
  writeFileSync(path, c.pcap());
  return path;
}

function flows(mode: string, type = 'REQUEST'): Record<string, unknown>[] {
  const lines: string[] = [];
  replayCapture(capture(mode === 'shadow'), { policies: policy(mode), inventory: inv, onFlowLine: (l) => lines.push(l) });
  return lines.map((l) => JSON.parse(l).flow).filter((f) => f.l7?.type === type);
}

test('replay: the request over the limit is DROPPED (as Hubble, no drop reason on an L7 flow) and its answer is a 429 response (stage 3)', () => {
  const reqs = flows('enforce');
  assert.deepEqual(reqs.map((f) => f['verdict']), ['FORWARDED', 'DROPPED', 'FORWARDED']);
  const limited = reqs[1] as { drop_reason_desc?: string; ingress_denied_by: { name: string }[]; l7: { http: { code?: number } }; Summary: string };
  assert.equal(limited.drop_reason_desc, undefined);
  assert.equal(limited.l7.http.code, undefined);
  assert.deepEqual(limited.ingress_denied_by.map((p) => p.name), ['limited']);
  assert.equal(limited.Summary, 'HTTP/1.1 GET http://backend/api/x');
  assert.deepEqual(flows('enforce', 'RESPONSE').map((f) => (f['l7'] as { http: { code: number } }).http.code), [200, 429, 200]);
});

test('replay: shadow mode lets it pass as AUDIT', () => {
  assert.deepEqual(flows('shadow').map((f) => f['verdict']), ['FORWARDED', 'AUDIT', 'FORWARDED']);
});

test('replay: a limited request resent after later allowed ones is answered again, and that answer is known as the 429 (the kind is the denial\'s, not the latest request\'s)', () => {
  const policies = parsePolicies(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: limited}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http:
              - {path: "/api/.*", rateLimit: {requestsPerSecond: 2, burst: 1}}
              - {path: "/free"}
`, 'limited.yaml').policies;
  const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: backend\r\n\r\n`;
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const c = tcpConn({ client: '10.0.0.1:40001', server: '10.0.1.10:80' }).handshake();
  c.send(get('/api/x')).recv(ok).ackOnly('client');
  const cutAt = get('/api/x').length;
  // the second /api/ request has no token: cut, answered 429; /free goes on; then the client
  // sends the cut request again (its 429 lost on the way) and the kernel's answer to it passes
  // the hook on its way back, at the place of the first
  c.send(get('/api/x')).received(HTTP1_LIMITED_KEEP.length).send(get('/free')).recv(ok).ackOnly('client');
  c.segmentAt('client', cutAt, get('/api/x'));
  c.craft('server', ok.length, HTTP1_LIMITED_KEEP, { description: 'the 429 again' });
  const events: PacketEvent[] = [];
  replaySync(records(c.list), { judge: oracleJudge(policies, inv), onPacket: (p) => events.push(p) });
  const resent = events.at(-2)!;
  assert.deepEqual([resent.action, resent.reason, resent.answer?.limited], ['answer', 'retransmission', true]);
  assert.deepEqual([events.at(-1)!.action, events.at(-1)!.reason], ['pass', 'answer'], 'the 429 is the datapath\'s own answer');
});
