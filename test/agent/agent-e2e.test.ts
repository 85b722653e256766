// `l7bpf agent --dir` on a node of network namespaces, driven as an operator would: write a
// policy file and it is enforced; change it under wrk and no allowed request fails; break it and
// the old program stays while /readyz says why; audit it and denied requests pass as AUDIT;
// /metrics, parsed as Prometheus text, counts what the flows show.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { compilePolicies, e2eSkip, inventoryYaml, run, Topology } from '../helpers/netns.ts';
import { comparable, comparableLine, getFlows, observerClient } from '../hubble/fixtures.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping agent e2e: ${skip}`);

const USERS = readFileSync('examples/seed/corrected-policy.yaml', 'utf8');
const USERS_AND_PRODUCTS = USERS.replace('                path: "/api/v1/users"', '                path: "/api/v1/users"\n              - method: "GET"\n                path: "/api/v1/products"');
const BAD_REGEX = USERS.replace('path: "/api/v1/users"', 'path: "/api/v1/(users"');
const AUDITED = USERS.replace('  namespace: default\n', '  namespace: default\n  annotations:\n    l7bpf.io/audit: "true"\n');

// a path of its own per run: the first policy misses the object cache, so the latency measured
// includes a real clang run
const FIRST = USERS.replace('                path: "/api/v1/users"', `                path: "/api/v1/users"\n              - method: "GET"\n                path: "/probe-${process.pid}-${Date.now()}"`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('e2e: l7bpf agent with a directory source', { skip: skip || undefined, timeout: 240_000 }, () => {
  let t: Topology;
  let dir: string;
  let agent: ChildProcess;
  let log = '';
  const policy = (text: string) => writeFileSync(join(dir, 'policies', 'backend.yaml'), text);
  /** curl in the node's namespace (the agent's metrics listen there) */
  const node = (path: string) => run('ip', ['netns', 'exec', t.node, 'curl', '-s', '--max-time', '5', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`]);
  let port = 0;
  const status = (method: string, path: string, seconds = 3) =>
    run('ip', ['netns', 'exec', t.pod('frontend').netns, 'curl', '-s', '-o', '/dev/null', '--max-time', String(seconds), '-X', method, '-w', '%{http_code}', `http://10.0.0.2:8080${path}`], { allowFail: true }).trim();
  const readyz = () => {
    const out = node('/readyz').trimEnd();
    const code = Number(out.slice(out.lastIndexOf('\n') + 1));
    return { code, body: out.slice(0, out.lastIndexOf('\n')) };
  };
  async function until<T>(what: string, f: () => T | null | undefined | false, ms = 30_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; agent log:\n${log}`);
      await sleep(50);
    }
  }

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1' }, { name: 'backend', v4: '10.0.0.2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-agent-e2e-'));
    mkdirSync(join(dir, 'policies'));
    writeFileSync(join(dir, 'endpoints.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    await t.server('backend');
    // the second policy as CI would build it: the agent deploys it without compiling
    const objects = join(dir, 'objects');
    writeFileSync(join(dir, 'b.yaml'), USERS_AND_PRODUCTS);
    await compilePolicies([join(dir, 'b.yaml')], join(objects, 'b'));
    // (debugging the datapath with L7BPF_E2E_TEMPLATES: the first one too)
    if (process.env.L7BPF_E2E_TEMPLATES) {
      writeFileSync(join(dir, 'a.yaml'), FIRST);
      await compilePolicies([join(dir, 'a.yaml')], join(objects, 'a'));
    }
    agent = t.spawnCli(['agent', '--dir', dir, '--node-name', 'node-a', '--metrics', '127.0.0.1:0', '--debounce', '100ms', '--objects', objects,
      '--hubble-socket', join(dir, 'hubble.sock'), '--hubble-listen', '']);
    agent.stderr!.on('data', (d) => (log += d));
    port = Number((await until('the metrics port', () => /on port (\d+)/.exec(log)))[1]);
  });

  after(() => {
    agent?.kill('SIGTERM');
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('enforces a policy written into the directory', async () => {
    assert.equal(status('GET', '/api/v1/products'), '200', 'no policy yet: everything passes');
    const t0 = performance.now();
    policy(FIRST);
    await until('enforcement', () => status('GET', '/api/v1/products') === '403');
    const ms = performance.now() - t0;
    console.log(`# policy file written -> enforced in ${ms.toFixed(0)} ms (compile included: ${/compiled in/.test(log)})`);
    assert.equal(status('GET', '/api/v1/users'), '200');
    assert.equal(readyz().code, 200);
    assert.match(readyz().body, /enforcing generation 1/);
  });

  it('serves /metrics that count what the flows show', async () => {
    const scrape = () => parsePrometheusTextFormat(node("/metrics").replace(/\n\d+$/, "\n"));
    const requests = (verdict: string) => scrape().find((f) => f.name === 'l7bpf_requests_total')?.metrics.filter((m) => m.labels?.verdict === verdict).reduce((a, m) => a + Number(m.value), 0) ?? 0;
    // what observe prints from the history the agent fills
    const flows = () => t.cli(['observe', '--output', 'jsonpb']).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).flow);
    const counted = (verdict: string) => flows().filter((f) => f.l7?.type === 'REQUEST' && !f.is_reply && f.verdict === verdict).length;
    for (const path of ['/api/v1/users', '/api/v1/products', '/api/v1/users', '/api/v1/orders']) status('GET', path);
    await until('flows drained', () => counted('DROPPED') >= 3);
    await sleep(500);
    assert.equal(requests('denied'), counted('DROPPED'));
    assert.equal(requests('allowed'), counted('FORWARDED'));
    const names = scrape().map((f) => f.name);
    for (const n of ['l7bpf_drops_total', 'l7bpf_compile_duration_seconds', 'l7bpf_swap_duration_seconds', 'l7bpf_reconcile_failures_total', 'l7bpf_ringbuf_lost_events', 'l7bpf_flow_map_entries', 'l7bpf_ready']) {
      assert.ok(names.includes(n), `${n} missing from /metrics`);
    }
  });

  it('serves GetFlows to a client built from Hubble\'s observer.proto: the flows observe prints, filtered', async () => {
    const client = observerClient(`unix://${join(dir, 'hubble.sock')}`);
    try {
      const filter = ['--verdict', 'DROPPED', '--http-path', '^/api/v1/']; // hubble observe's flags
      const viaGrpc = await getFlows(client, { whitelist: [{ verdict: ['DROPPED'], http_path: ['^/api/v1/'] }] });
      const fromHistory = t.cli(['observe', '--name', 'default', '--output', 'jsonpb', ...filter]).stdout.trim().split('\n');
      assert.ok(viaGrpc.length >= 3, `${viaGrpc.length} denied flows`);
      assert.deepEqual(viaGrpc.map(comparable), fromHistory.map(comparableLine));
      // observe through the agent's socket prints the same bytes as from the history
      assert.equal(t.cli(['observe', '--server', `unix://${join(dir, 'hubble.sock')}`, '--output', 'jsonpb', ...filter]).stdout.trim(), fromHistory.join('\n'));
    } finally {
      client.close();
    }
  });

  it('swaps under wrk load with no failed allowed request', async () => {
    const wrk = new Promise<string>((resolve, reject) => {
      const child = t.spawnIn(t.pod('frontend').netns, 'wrk', ['-t1', '-c4', '-d3s', '--timeout', '2s', 'http://10.0.0.2:8080/api/v1/users']);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (out += d));
      child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited ${code}: ${out}`))));
    });
    await sleep(700);
    policy(USERS_AND_PRODUCTS);
    await until('generation 2', () => /enforcing generation 2/.test(readyz().body));
    await until('the swap logged', () => /generation 2 in place in [\d.]+ s \(CI-built object\)/.test(log));
    const out = await wrk;
    const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
    console.log(`# wrk during the swap: ${requests} requests`);
    assert.ok(requests > 100, `wrk made only ${requests} requests:\n${out}`);
    assert.doesNotMatch(out, /Non-2xx|Socket errors/, `failed requests during the swap:\n${out}`);
    assert.equal(status('GET', '/api/v1/products'), '200', 'the new policy allows products');
    assert.equal(status('POST', '/api/v1/users'), '403');
  });

  it('keeps the running program when the policy breaks, and /readyz says why', async () => {
    policy(BAD_REGEX);
    const r = await until('not ready', () => { const x = readyz(); return x.code === 503 ? x : null; });
    assert.match(r.body, /backend\.yaml:\d+:\d+: error: .*regex|backend\.yaml:\d+:\d+: error/i, r.body);
    assert.match(r.body, /generation 2 stays in place/);
    assert.equal(status('GET', '/api/v1/products'), '200', 'generation 2 still enforces');
    assert.equal(status('POST', '/api/v1/users'), '403');
    const metrics = node('/metrics');
    assert.match(metrics, /^l7bpf_reconcile_failures_total 1$/m);
    assert.match(metrics, /^l7bpf_last_reconcile_error\{reason=".*backend\.yaml:\d+:\d+: error: invalid RE2 regex.*"\} 1$/m);
    assert.match(metrics, /^l7bpf_ready 0$/m);
    policy(USERS_AND_PRODUCTS);
    await until('ready again', () => readyz().code === 200);
    assert.doesNotMatch(node('/metrics'), /^l7bpf_last_reconcile_error\{/m, 'the error clears with the fix');
  });

  it('an endpoint change refills the maps without compiling', async () => {
    const compiles = (log.match(/compiled in/g) ?? []).length;
    // frontend loses the label the policy allows: denied at L3/L4, then back
    writeFileSync(join(dir, 'endpoints.yaml'), inventoryYaml(t, { frontend: { app: 'intruder' }, backend: { app: 'backend' } }));
    // denied at L3/L4: the SYN is dropped, so the client gives up after a second
    await until('the relabel enforced', () => status('GET', '/api/v1/users', 1) === '000');
    assert.match(readyz().body, /object [0-9a-f]{12}, (CI-built|compiled before)\)/, 'the object of the running policies');
    writeFileSync(join(dir, 'endpoints.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    await until('the label back', () => status('GET', '/api/v1/users') === '200');
    assert.equal((log.match(/compiled in/g) ?? []).length, compiles, 'no clang run for an endpoint change');
  });

  it('audits: with the annotation, denied requests pass and are reported as AUDIT', async () => {
    policy(AUDITED);
    const generation = () => Number(/enforcing generation (\d+)/.exec(readyz().body)?.[1]);
    const before = generation();
    await until('the audited generation', () => generation() > before);
    assert.equal(status('POST', '/api/v1/users'), '200', 'the policy would deny it; audit lets it through');
    assert.equal(status('GET', '/api/v1/products'), '200');
    const audited = () => t.cli(['observe', '--name', 'default', '--output', 'jsonpb', '--verdict', 'AUDIT', '--type', 'l7']).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).flow);
    const flows = await until('AUDIT flows', () => { const f = audited().filter((x) => x.l7?.type === 'REQUEST'); return f.length >= 2 ? f : null; });
    assert.deepEqual(flows.map((f) => `${f.l7.http.method} ${new URL(f.l7.http.url).pathname}`).sort(), ['GET /api/v1/products', 'POST /api/v1/users']);
    assert.ok(flows.every((f) => f.ingress_denied_by?.[0]?.name === 'backend-allow-frontend-users'), 'reported as the denial it would have been');
    const audits = parsePrometheusTextFormat(node('/metrics').replace(/\n\d+$/, '\n')).find((f) => f.name === 'l7bpf_requests_total')?.metrics.filter((m) => m.labels?.verdict === 'audited') ?? [];
    assert.equal(audits.reduce((a, m) => a + Number(m.value), 0), 2, 'l7bpf_requests_total{verdict="audited"}');
    assert.ok(audits.every((m) => m.labels?.policy === 'default/backend-allow-frontend-users'));
    // turning audit off is a policy change like any other
    policy(USERS);
    await until('audit off', () => generation() > before + 1);
    assert.equal(status('POST', '/api/v1/users'), '403');
  });

});
