// `l7bpf replay` and `l7bpf explain --grpc` on gRPC over HTTP/2: a call allowed and one
// denied (built with the packet builder: preface, SETTINGS, HEADERS, DATA; the server's
// head and grpc-status trailers). Flows as Hubble shows HTTP/2: protocol "HTTP/2", method
// POST, url http://<authority>/<service>/<method>, the response's :status as code and its
// grpc-status among its headers; explain gives the same verdict for the same call.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pcapBytes, tcpConn } from '../../sim/index.ts';
import { FLAG, FRAME, frame, headers, PREFACE, requestFields, settings } from '../helpers/h2-wire.ts';
import { HpackEncoder } from '../helpers/hpack-encode.ts';
import { cliArgv } from '../helpers/cli.ts';

const seed = 'examples/seed';
const base = ['--endpoints', `${seed}/endpoints.yaml`];

function l7bpf(...args: string[]) {
  const r = spawnSync(process.execPath, [...cliArgv(), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: users-grpc, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts:
        - ports: [{port: "9090", protocol: TCP}]
          rules:
            grpc: [{service: demo.v1.UserService, method: GetUsers}]
`;

/** One connection: GetUsers (answered, grpc-status 0), then DeleteUser. */
function capture(): Uint8Array {
  const cli = new HpackEncoder();
  const srv = new HpackEncoder();
  const call = (m: string) => cli.encode(requestFields('POST', `/demo.v1.UserService/${m}`, '10.0.0.2:9090', [['content-type', 'application/grpc'], ['te', 'trailers']]));
  const conn = tcpConn({ client: '10.0.0.1:40000', server: '10.0.0.2:9090' }).handshake();
  conn.recv(settings());
  conn.send(Buffer.concat([PREFACE, settings(), headers(1, call('GetUsers')), frame(FRAME.DATA, FLAG.END_STREAM, 1, new Uint8Array(7))]));
  conn.recv(Buffer.concat([headers(1, srv.encode([[':status', '200'], ['content-type', 'application/grpc']])), frame(FRAME.DATA, 0, 1, new Uint8Array(12))]));
  conn.recv(headers(1, srv.encode([['grpc-status', '0'], ['grpc-message', 'OK']]), { endStream: true }));
  conn.send(headers(3, call('DeleteUser')));
  return pcapBytes(conn.list.map((p) => ({ ts: p.ts, data: p.frame })));
}

describe('l7bpf replay and explain on gRPC', () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-h2cli-'));
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    writeFileSync(join(dir, 'grpc.pcap'), capture());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('flows: HTTP/2 requests and a response with its grpc-status', () => {
    const r = l7bpf('replay', join(dir, 'grpc.pcap'), '--policy', join(dir, 'policy.yaml'), ...base, '--output', 'jsonpb');
    assert.equal(r.code, 0, r.err);
    const flows = r.out.trim().split('\n').map((l) => (JSON.parse(l) as { flow: Record<string, any> }).flow).filter((f) => f['Type'] === 'L7');
    const requests = flows.filter((f) => f['l7'].type === 'REQUEST');
    assert.deepEqual(requests.map((f) => [f['verdict'], f['l7'].http.protocol, f['l7'].http.method, f['l7'].http.url]), [
      ['FORWARDED', 'HTTP/2', 'POST', 'http://10.0.0.2:9090/demo.v1.UserService/GetUsers'],
      ['DROPPED', 'HTTP/2', 'POST', 'http://10.0.0.2:9090/demo.v1.UserService/DeleteUser'],
    ]);
    assert.equal(requests[0]!['Summary'], 'HTTP/2 POST http://10.0.0.2:9090/demo.v1.UserService/GetUsers');
    const response = flows.find((f) => f['l7'].type === 'RESPONSE')!;
    assert.equal(response['l7'].http.code, 200);
    assert.deepEqual(response['l7'].http.headers.find((h: { key: string }) => h.key === 'grpc-status'), { key: 'grpc-status', value: '0' });
  });

  it('explain --grpc gives the verdict replay gives', () => {
    const explain = (m: string) => l7bpf('explain', '--policy', join(dir, 'policy.yaml'), ...base, '--from', 'frontend-1', '--to', 'backend-1:9090', '--grpc', `demo.v1.UserService/${m}`, '--host', '10.0.0.2:9090');
    const allowed = explain('GetUsers');
    assert.match(allowed.out, /^ALLOWED: POST \/demo\.v1\.UserService\/GetUsers/, allowed.out + allowed.err);
    assert.equal(allowed.code, 0);
    const denied = explain('DeleteUser');
    assert.match(denied.out, /^DENIED: .*POST \/demo\.v1\.UserService\/DeleteUser/, denied.out + denied.err);
    assert.equal(denied.code, 1);
    const rows = l7bpf('replay', join(dir, 'grpc.pcap'), '--policy', join(dir, 'policy.yaml'), ...base);
    assert.match(rows.out, /2 request\(s\): 1 allowed, 1 denied/, rows.out);
  });
});
