// The seed scenario for real: frontend -> backend:8080 across veths with the corrected
// policy deployed by `l7bpf deploy`; what the client sees, what `l7bpf observe` reports and
// what `replay` of a tcpdump capture predicts must agree.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, compilePolicies, e2eSkip, inventoryYaml, Topology } from '../helpers/netns.ts';
import { loadPolicies } from '../../src/policy/index.ts';
import { loadInventory } from '../../src/endpoints/index.ts';
import { readCapture, replaySync } from '../../sim/index.ts';
import { oracleJudge } from '../../src/replay/judge.ts';
import { requestRow } from '../../src/replay/records.ts';
import { replayCapture } from '../../src/replay/run.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping e2e seed: ${skip}`);

interface Res {
  status?: number;
  body?: string;
  error?: string;
  ms?: number;
  localPort?: number;
}

const POLICY = 'examples/seed/corrected-policy.yaml';
const GET_USERS = { method: 'GET', path: '/api/v1/users' };
const POST_USERS = { method: 'POST', path: '/api/v1/users', body: '{"name":"eve"}' };
const GET_PRODUCTS = { method: 'GET', path: '/api/v1/products' };

/** Flows both replay and observe know whole: HTTP requests, responses, the answers to denied
 * ones and the policy verdicts of connections to the backend, without times, latencies, headers and the
 * URL's authority (the kernel's event has the request line only: observe names the address,
 * replay the Host as sent; docs/flows.md). */
function comparable(jsonpb: string): string[] {
  const flows = jsonpb.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).flow);
  const wanted = flows.filter((f) => f.l4?.TCP?.destination_port === 8080 || f.l4?.TCP?.source_port === 8080)
    .filter((f) => f.Type === 'L7' || f.event_type?.type === 5);
  return wanted.map((f) => {
    const { time: _t, node_name: _n, ...rest } = f;
    if (rest.l7) {
      const { latency_ns: _l, ...l7 } = rest.l7;
      const { headers: _h, ...http } = l7.http;
      const authority = /^http:\/\/[^/]+/;
      rest.l7 = { ...l7, http: { ...http, url: (http.url ?? '').replace(authority, 'http://HOST') } };
      rest.Summary = rest.Summary.replace(/ \d+ms /, ' Nms ').replace(/http:\/\/[^/]+/, 'http://HOST');
    }
    return JSON.stringify(rest);
  }).sort();
}

/** "allowed GET /x" per HTTP event of `observe --output jsonpb`, in order. */
function kernelRequests(jsonpb: string): string[] {
  return jsonpb.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).flow).filter((f) => f.Type === 'L7' && f.l7?.type !== 'RESPONSE' && f.l4?.TCP?.destination_port === 8080)
    .map((f) => `${f.verdict === 'FORWARDED' ? 'allowed' : 'denied'} ${f.l7.http.method} ${new URL(f.l7.http.url).pathname}`);
}

describe('e2e: seed scenario through the kernel', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  let dump: { stop(): Promise<void> };
  const seen: string[] = [];
  const expectSeen = (req: { method: string; path: string }, r: Res) => seen.push(`${r.status === 200 ? 'allowed' : 'denied'} ${req.method} ${req.path}`);
  const expectVerdict = (verdict: 'allowed' | 'denied', req: { method: string; path: string }) => seen.push(`${verdict} ${req.method} ${req.path}`);

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1', v6: 'fd00::1' }, { name: 'backend', v4: '10.0.0.2', v6: 'fd00::2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-seed-'));
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    await compilePolicies([POLICY], join(dir, 'obj'));
    await t.server('backend');
    dump = await capture(t, t.node, t.pod('frontend').hostIf, join(dir, 'seed.pcap'));
    t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'seed']);
  });

  after(async () => {
    await dump?.stop();
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const client = (spec: Record<string, unknown>) => t.client<Res[]>('frontend', { host: '10.0.0.2', port: 8080, timeoutMs: 2000, ...spec });

  it('allows GET /api/v1/users and answers the rest 403 within 100 ms', async () => {
    const reqs = [GET_USERS, POST_USERS, GET_PRODUCTS];
    const res = await client({ op: 'each', requests: reqs });
    reqs.forEach((q, i) => expectSeen(q, res[i] ?? {}));
    assert.equal(res[0]?.status, 200, `GET /api/v1/users: ${JSON.stringify(res[0])}`);
    for (const r of res.slice(1)) {
      assert.deepEqual([r.status, r.body], [403, 'Access denied\r\n'], `denied request should be answered: ${JSON.stringify(r)}`);
      assert.ok((r.ms ?? Infinity) < 100, `answer seen after ${r.ms} ms (want < 100)`);
    }
  });

  it('reuses a keep-alive connection for several allowed requests', async () => {
    const res = await client({ op: 'sequence', requests: [GET_USERS, GET_USERS, GET_USERS, GET_USERS, GET_USERS] });
    for (const r of res) expectSeen(GET_USERS, r);
    assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(new Set(res.map((r) => r.localPort)).size, 1, 'all on one connection');
  });

  it('answers a pipeline in order: 200, 403 for the denied request, 200 on the same connection (stage 3)', async () => {
    // separate segments: the allowed request reaches the server before the denied one; the
    // third waits for the 403 (its segment is dropped until then) and then reaches the server
    const res = await client({ op: 'pipeline', gapMs: 30, requests: [GET_USERS, GET_PRODUCTS, GET_USERS] });
    expectSeen(GET_USERS, res[0] ?? {});
    expectSeen(GET_PRODUCTS, res[1] ?? {});
    expectSeen(GET_USERS, res[2] ?? {});
    assert.deepEqual(res.map((r) => r.status ?? r.error), [200, 403, 200], JSON.stringify(res));
  });

  it('a one-segment pipeline: the allowed request goes on alone (the packet is trimmed), the denied one is answered after its response', async () => {
    const res = await client({ op: 'pipeline', requests: [GET_USERS, GET_PRODUCTS] });
    expectVerdict('allowed', GET_USERS);
    expectVerdict('denied', GET_PRODUCTS);
    assert.deepEqual(res.map((r) => r.status ?? r.error), [200, 403], JSON.stringify(res));
  });

  it('passes a 10 MB chunked upload on an allowed request', async () => {
    const r = await t.client<{ status?: number; body?: string; error?: string }>('frontend', { op: 'upload', method: 'GET', host: '10.0.0.2', port: 8080, size: 10 << 20, path: '/api/v1/users', timeoutMs: 20_000 });
    expectSeen(GET_USERS, r);
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.equal(JSON.parse(r.body ?? '{}').received, 10 << 20);
  });

  it('enforces the same policy over IPv6', async () => {
    const res = await t.client<Res[]>('frontend', { op: 'each', host: 'fd00::2', port: 8080, timeoutMs: 2000, requests: [GET_USERS, GET_PRODUCTS] });
    expectSeen(GET_USERS, res[0] ?? {});
    expectSeen(GET_PRODUCTS, res[1] ?? {});
    assert.equal(res[0]?.status, 200, JSON.stringify(res));
    assert.equal(res[1]?.status, 403, JSON.stringify(res));
  });

  it('observe reports what the client saw; replay of the capture gives the same verdicts', async () => {
    const jsonpb = t.cli(['observe', '--output', 'jsonpb', '--pod', 'backend']).stdout;
    const observed = kernelRequests(jsonpb);
    assert.deepEqual(observed, seen, 'kernel events (observe) vs client outcomes');
    await dump.stop();
    const inv = loadInventory(join(dir, 'inventory.yaml'));
    const replayed: { at: number; text: string }[] = [];
    replaySync(readCapture(join(dir, 'seed.pcap')), {
      judge: oracleJudge(loadPolicies([POLICY]), inv),
      capturePoint: 'client', // the frontend's veth: server packets with stage 3's offsets
      onRequest: (r) => {
        const row = requestRow(r);
        replayed.push({ at: r.packetIndex, text: `${row.allowed ? 'allowed' : 'denied'} ${row.line}` });
      },
    });
    // in the order of the packets that decided them, as the kernel's events are (the replay
    // reports an allowed request when its response comes, or at the end when none was captured)
    const inOrder = replayed.sort((a, b) => a.at - b.at).map((r) => r.text);
    assert.deepEqual(inOrder, observed, 'replay of the tcpdump capture vs kernel events');

    // and the flows themselves: what `replay --output jsonpb` prints for the capture is what
    // `observe` printed for the traffic, field by field, but for what only one side can know
    // (times, latencies, headers: the kernel event carries the request line only)
    const lines: string[] = [];
    replayCapture(join(dir, 'seed.pcap'), { policies: loadPolicies([POLICY]), inventory: inv, capturePoint: 'client', nodeName: 'l7bpf', onFlowLine: (l) => lines.push(l) });
    assert.deepEqual(comparable(lines.join('\n')), comparable(jsonpb), 'replay --output jsonpb vs observe --output jsonpb');
  });

  it('status shows the deployment attached; undeploy removes filters and qdiscs', () => {
    const status = t.cli(['status', '--name', 'seed']).stdout;
    assert.match(status, /lxc1backend\s+tc egress\s+l7_to_pod\s+prog id \d+/);
    assert.doesNotMatch(status, /NOT/);
    t.cli(['undeploy', '--name', 'seed']);
    assert.match(t.cli(['status']).stdout, /no deployments/);
  });
});
