// `l7bpf compile` + `l7bpf replay --kernel`: real captures through the real object with
// BPF_PROG_TEST_RUN, packet by packet against the simulator (root; never skipped in CI).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kernelSkip } from '../helpers/kernel.ts';
import { cliArgv } from '../helpers/cli.ts';

const skip = kernelSkip();
const seed = 'examples/seed';
const corpora = resolve(process.cwd(), process.env.L7BPF_CORPORA ?? '../shared/corpora', 'pcaps');
const corporaSkip = existsSync(corpora) ? false : `corpora not found at ${corpora} (set L7BPF_CORPORA)`;

function l7bpf(...args: string[]) {
  const r = spawnSync(process.execPath, [...cliArgv(), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('replay --kernel', { skip }, () => {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-kreplay-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the seed capture: the object and the simulator agree on every packet', () => {
    const out = join(dir, 'corrected');
    assert.equal(l7bpf('compile', '--policy', `${seed}/corrected-policy.yaml`, '-o', out).code, 0);
    const r = l7bpf('replay', `${seed}/seed-traffic.pcap`, '--kernel', out, '--endpoints', `${seed}/endpoints.yaml`, '--expect', `${seed}/expected-verdicts.txt`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /kernel: 30 packet\(s\) run through the object, 30 agree with the simulator, 0 disagree/);
    assert.match(r.out, /examples\/seed\/corrected-policy\.yaml:21/, 'rules cite the original policy file');
  });

  it('a capture recorded without enforcement: after a connection ends (denied at its SYN) the packets where the two differ are counted apart, not disagreements (issue 15)', () => {
    // a policy that opens another port: every connection of the capture is denied at its SYN,
    // yet the capture goes on with the SYN-ACK, the requests and the FIN no node would have seen
    const policy = join(dir, 'other-port.yaml');
    writeFileSync(policy, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: other-port}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
`);
    const inv = join(dir, 'inv-deny.yaml');
    writeFileSync(inv, 'endpoints:\n  - {name: client, labels: {app: client}, ips: [10.200.0.2]}\n  - {name: server, labels: {app: server}, ips: [10.200.0.1]}\n');
    const out = join(dir, 'other-port');
    assert.equal(l7bpf('compile', '--policy', policy, '-o', out).code, 0);
    const r = l7bpf('replay', 'sim/fixtures/node-http.pcap', '--kernel', out, '--endpoints', inv);
    assert.equal(r.code, 0, r.err + r.out);
    assert.match(r.out, /kernel: 30 packet\(s\) run through the object, 16 agree with the simulator, 0 disagree/);
    assert.match(r.out, /kernel: 14 packet\(s\) of 2 connection\(s\) differ after their connection ended \(denied or reset\)/);
  });

  it('a recorded capture with keep-alive, pipelining and a chunked POST agrees too', () => {
    const policy = join(dir, 'any.yaml');
    writeFileSync(policy, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: any-get}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - toPorts: [{ports: [{port: "8080", protocol: TCP}], rules: {http: [{method: GET}]}}]
`);
    const inv = join(dir, 'inv.yaml');
    writeFileSync(inv, 'endpoints:\n  - {name: client, labels: {app: client}, ips: [10.200.0.2]}\n  - {name: server, labels: {app: server}, ips: [10.200.0.1]}\n');
    const out = join(dir, 'any');
    assert.equal(l7bpf('compile', '--policy', policy, '-o', out).code, 0);
    const r = l7bpf('replay', 'sim/fixtures/node-http.pcap', '--kernel', out, '--endpoints', inv);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, / 0 disagree/);
    assert.match(r.out, /denied/);
  });

  it('the http2-* captures of the corpora agree too (prior knowledge, CONTINUATION, gRPC)', { skip: corporaSkip }, () => {
    const policy = join(dir, 'h2.yaml');
    writeFileSync(policy, `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: h2-server}
spec:
  endpointSelector: {matchLabels: {app: server}}
  ingress:
    - toPorts:
        - ports: [{port: "8080", protocol: TCP}, {port: "8443", protocol: TCP}, {port: "6233", protocol: TCP}, {port: "8888", protocol: TCP}]
          rules:
            http: [{method: GET, path: /tata}, {method: GET, path: /}]
            grpc: [{service: helloworld.GreeterService}]
`);
    const inv = join(dir, 'h2-inv.yaml');
    writeFileSync(inv, 'endpoints:\n  - {name: server, labels: {app: server}, ips: [127.0.0.1, 10.0.0.2]}\n  - {name: client, labels: {app: client}, ips: [10.0.0.1]}\n');
    const out = join(dir, 'h2');
    assert.equal(l7bpf('compile', '--policy', policy, '-o', out).code, 0);
    const verdicts: string[] = [];
    for (const name of ['http2-continuation', 'http2-errorcode', 'http2-long-frame']) {
      const r = l7bpf('replay', join(corpora, name, 'input.pcap'), '--kernel', out, '--endpoints', inv);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, / 0 disagree/, `${name}:\n${r.out}`);
      verdicts.push(r.out);
    }
    // GET /malware/payload.exe on the long-frame capture's second stream is denied
    assert.match(verdicts[2]!, /denied/);
  });

  it('refuses an object compiled from other policies than --policy', () => {
    const out = join(dir, 'seed');
    assert.equal(l7bpf('compile', '--policy', `${seed}/seed-policy.yaml`, '-o', out).code, 0);
    const r = l7bpf('replay', `${seed}/seed-traffic.pcap`, '--kernel', out, '--policy', `${seed}/corrected-policy.yaml`, '--endpoints', `${seed}/endpoints.yaml`);
    assert.equal(r.code, 1);
    assert.match(r.err, /compiled from other policies/);
  });
});
