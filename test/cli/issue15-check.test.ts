// Issue 15, check: `--output json`, every file's diagnostics even when another file has
// errors, and --output's one vocabulary (text, json, jsonpb) across commands.
import { l7bpf } from '../helpers/cli.ts';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SEED = 'examples/seed';

let dir = '';
before(() => (dir = mkdtempSync(join(tmpdir(), 'l7bpf-issue15-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A valid policy whose http path looks like a glob: check warns (glob-regex). */
const GLOB_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: glob, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: frontend}}]
      toPorts:
        - ports: [{port: "8080", protocol: TCP}]
          rules: {http: [{method: GET, path: "/api/v1/*"}]}
`;

describe('check --output json, and one --output vocabulary', () => {
  it('check --output json: every diagnostic with file, line, col, severity, code, message, hint', () => {
    const good = join(dir, 'glob.yaml');
    writeFileSync(good, GLOB_POLICY);
    const r = l7bpf(['check', '--output', 'json', good, 'test/fixtures/policies/bad/invalid-cidr.yaml']);
    assert.equal(r.code, 1);
    assert.equal(r.err, '', 'JSON mode writes nothing on stderr');
    const doc = JSON.parse(r.out) as { files: number; policies: number; errors: number; warnings: number; diagnostics: Record<string, unknown>[] };
    assert.deepEqual([doc.files, doc.policies, doc.errors, doc.warnings], [2, 1, 4, 1]);
    for (const d of doc.diagnostics) assert.deepEqual(Object.keys(d), ['file', 'line', 'col', 'severity', 'code', 'message', 'hint']);
    assert.ok(doc.diagnostics.some((d) => d['file'] === 'test/fixtures/policies/bad/invalid-cidr.yaml' && d['line'] === 8 && d['col'] === 18 && d['severity'] === 'error'), r.out);
    assert.ok(doc.diagnostics.some((d) => d['file'] === good && d['code'] === 'glob-regex' && d['severity'] === 'warning' && d['hint'] === 'write "/api/v1/.*"'), r.out);
  });

  it("every command's --output choices come from text, json, jsonpb", () => {
    const vocabulary = ['text', 'json', 'jsonpb'];
    const want: Record<string, string[]> = { check: ['text', 'json'], explain: ['text', 'json'], replay: ['text', 'jsonpb'], status: ['text', 'json'], observe: ['jsonpb', 'text'] };
    for (const [cmd, formats] of Object.entries(want)) {
      const help = l7bpf([cmd, '--help']).out.replace(/\s+/g, ' ');
      const m = /--output <format> .*?\(choices: ([^)]*?), default/.exec(help);
      assert.ok(m, `${cmd} --help has --output with choices: ${help}`);
      const choices = [...m[1]!.matchAll(/"(\w+)"/g)].map((c) => c[1]!);
      assert.deepEqual(choices, formats, cmd);
      assert.ok(choices.every((c) => vocabulary.includes(c)), `${cmd}: ${choices.join(', ')}`);
    }
  });

  it('replay --output text is the table; table still works; an unknown format exits 2', () => {
    const base = ['replay', `${SEED}/seed-traffic.pcap`, '--policy', `${SEED}/corrected-policy.yaml`, '--endpoints', `${SEED}/endpoints.yaml`];
    const text = l7bpf([...base, '--output', 'text']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /3 request\(s\): 1 allowed, 2 denied/);
    assert.equal(l7bpf([...base, '--output', 'table']).out, text.out);
    const bad = l7bpf([...base, '--output', 'json']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /argument 'json' is invalid\. Allowed choices are text, jsonpb/);
  });
});

describe('check reports every file', () => {
  it("another file's error does not drop this file's lint warnings", () => {
    const good = join(dir, 'glob-text.yaml');
    writeFileSync(good, GLOB_POLICY);
    const alone = l7bpf(['check', good]);
    assert.match(alone.err, /warning: path "\/api\/v1\/\*" is a regex, not a glob/);
    const r = l7bpf(['check', good, 'test/fixtures/policies/bad/invalid-cidr.yaml']);
    assert.equal(r.code, 1);
    assert.match(r.err, /invalid-cidr\.yaml:8:18: error: invalid CIDR/);
    assert.ok(r.err.includes(alone.err.trim()), `the warnings of ${good} alone:\n${alone.err}\nwith the bad file:\n${r.err}`);
    assert.match(r.out, /2 file\(s\), 1 valid policy, 4 error\(s\), 1 warning\(s\)/);
  });
});
