// `l7bpf agent --kubernetes` on the real kernel, against a replayed API server (still no live
// cluster): a node of network namespaces, the agent in it, and an API server in this process
// that lists the topology's Pods and Node and streams CiliumNetworkPolicy watch events. An ADDED
// policy is enforced, a MODIFIED one swapped in, a DELETED one leaves nothing to enforce, and a
// watch that ends in 410 Gone is relisted and the agent converges on what the list says.
//
// Where the API server listens: the agent runs in the node's namespace, which has no link to
// this one. A fixture run there (test/e2e/fixtures/listen-in-netns.mjs) opens a listening socket
// on the node's 127.0.0.1 and hands it over the IPC channel; the ReplayServer serves on it from
// this process, so the test pushes events directly (no proxy, no extra link or address).
//
// Interfaces: no --interface-map. The node has a /32 route per pod straight through the pod's
// host-side veth, which is what the source's default RouteTableResolver reads (`ip -j route` in
// the agent's namespace); the first test checks that it placed both pods.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { compilePolicies, e2eSkip, FIXTURES, Topology } from '../helpers/netns.ts';
import { PATH } from './kubernetes/harness.ts';
import { ReplayServer, watchLines } from './kubernetes/replay-server.ts';
import { cnpObject, list, nodeObject, podsOf, watchEvent } from './kubernetes/topology-api.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping agent --kubernetes e2e: ${skip}`);

const NODE = 'node-a';
const NODE_IP = '192.0.2.10';
type PolicyDoc = Parameters<typeof cnpObject>[0];
const SEED = readFileSync('examples/seed/corrected-policy.yaml', 'utf8');
const USERS = parseYaml(SEED) as PolicyDoc;
const USERS_AND_PRODUCTS = parseYaml(SEED.replace('                path: "/api/v1/users"', '                path: "/api/v1/users"\n              - method: "GET"\n                path: "/api/v1/products"')) as PolicyDoc;
const [EXPIRED] = watchLines('watch-expired.ndjson') as [string];

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A listening socket in the node's namespace, for a server of this process. */
function socketInNode(t: Topology): Promise<NetServer> {
  const child = spawn('nsenter', [`--net=/run/netns/${t.node}`, '--', process.execPath, join(FIXTURES, 'listen-in-netns.mjs')], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no socket from the node's namespace within 10 s: ${err}`));
    }, 10_000);
    child.stderr!.on('data', (d) => (err += d));
    child.once('message', (_m, handle) => {
      clearTimeout(timer);
      resolve(handle as NetServer);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`listen-in-netns exited ${code}: ${err}`));
    });
  });
}

/** plain http: client-node 1.4's applyToHTTPSOptions refuses an http:// server ("HTTP protocol
 * is not allowed when skipTLSVerify is not set") unless insecure-skip-tls-verify is set */
function kubeconfig(file: string, server: string): void {
  writeFileSync(file, [
    'apiVersion: v1', 'kind: Config', 'current-context: replay',
    `clusters: [{name: replay, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
    'users: [{name: agent, user: {token: replay-token}}]',
    'contexts: [{name: replay, context: {cluster: replay, user: agent}}]',
  ].join('\n') + '\n');
}

describe('e2e: l7bpf agent --kubernetes against a replayed API server', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  let api: ReplayServer;
  let agent: ChildProcess;
  let log = '';
  let rv = 100;
  let metricsPort = 0;

  // curl runs asynchronously: the API server lives in this process and must answer meanwhile
  const netnsOut = async (netns: string, args: readonly string[]): Promise<string> => {
    try {
      return (await exec('ip', ['netns', 'exec', netns, ...args], { timeout: 10_000 })).stdout;
    } catch (e) {
      return (e as { stdout?: string }).stdout ?? '';
    }
  };
  const status = async (method: string, path: string) =>
    (await netnsOut(t.pod('frontend').netns, ['curl', '-s', '-o', '/dev/null', '--max-time', '3', '-X', method, '-w', '%{http_code}', `http://10.0.0.2:8080${path}`])).trim();
  const readyz = async () => {
    const out = (await netnsOut(t.node, ['curl', '-s', '--max-time', '3', '-w', '\n%{http_code}', `http://127.0.0.1:${metricsPort}/readyz`])).trimEnd();
    const cut = out.lastIndexOf('\n');
    return { code: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
  };
  async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}; agent log:\n${log}`);
      await sleep(50);
    }
  }
  const readyzMatching = (re: RegExp) => until(`/readyz 200 matching ${re}`, async () => {
    const r = await readyz();
    return r.code === 200 && re.test(r.body) && r;
  });
  /** pushes a CiliumNetworkPolicy watch event, waits until `enforced` holds and prints how long that took */
  async function pushed(line: string, what: string, enforced: () => Promise<boolean>): Promise<void> {
    await until('the policy watch open', async () => api.open(PATH.cnps).length === 1);
    const from = log.length;
    const t0 = performance.now();
    api.push(PATH.cnps, line);
    await until(what, async () => (await enforced()) || null);
    const ms = performance.now() - t0;
    // the agent's own figures for the same step: clang, and load + verify + fill + attach
    const steps = log.slice(from).match(/compiled in [\d.]+ s|generation \d+ in place in [\d.]+ s \([^)]*\)/g) ?? [];
    console.log(`# ${what}: ${ms.toFixed(0)} ms from the watch event${steps.length ? ` (agent: ${steps.join(', ')})` : ''}`);
  }
  const cnp = (doc: PolicyDoc, generation: number) => cnpObject(doc, ++rv, generation);

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1' }, { name: 'backend', v4: '10.0.0.2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-agent-k8s-e2e-'));
    await t.server('backend');
    api = new ReplayServer();
    const url = await api.listen(await socketInNode(t));
    api.setList(PATH.pods, list('PodList', 'v1', rv, podsOf(t, NODE, NODE_IP)));
    api.setList(PATH.nodes, list('NodeList', 'v1', rv, [nodeObject(NODE, NODE_IP)]));
    api.setList(PATH.services, list('ServiceList', 'v1', rv, []));
    api.setList(PATH.cnps, list('CiliumNetworkPolicyList', 'cilium.io/v2', rv, []));
    api.setList(PATH.ccnps, list('CiliumClusterwideNetworkPolicyList', 'cilium.io/v2', rv, []));
    kubeconfig(join(dir, 'kubeconfig'), url);
    // no Hubble server: its default socket is one path for the whole machine (another agent's)
    const args = ['agent', '--kubernetes', '--kubeconfig', join(dir, 'kubeconfig'), '--node-name', NODE, '--metrics', '127.0.0.1:0', '--debounce', '100ms', '--hubble-socket', '', '--hubble-listen', ''];
    // bpf-templates under edit (L7BPF_E2E_TEMPLATES=another copy): the objects come from there,
    // built as CI would, and the agent takes them instead of compiling
    if (process.env.L7BPF_E2E_TEMPLATES) args.push('--objects', await prebuilt([USERS, USERS_AND_PRODUCTS]));
    agent = t.spawnCli(args);
    agent.stderr!.on('data', (d) => (log += d));
    metricsPort = Number((await until('the metrics port', async () => /on port (\d+)/.exec(log)))[1]);
    await until('the agent watching all five kinds', async () => Object.values(PATH).every((p) => api.open(p).length === 1));
  });

  async function prebuilt(docs: readonly PolicyDoc[]): Promise<string> {
    const objects = join(dir, 'objects');
    for (const [i, doc] of docs.entries()) {
      const file = join(dir, `policy-${i}.json`);
      writeFileSync(file, JSON.stringify(doc, null, 2));
      await compilePolicies([file], join(objects, String(i)));
    }
    return objects;
  }

  after(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await Promise.race([new Promise((r) => agent.once('exit', r)), sleep(5000)]);
    }
    await api?.close();
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('with no CiliumNetworkPolicy: nothing to enforce, both pods placed by their host routes, traffic passes', async () => {
    const r = await readyzMatching(/nothing to enforce: no policies/);
    assert.match(r.body, /2 pods \(2 on this node\), 0 services/, 'the resolver did not place both pods on their veths');
    assert.doesNotMatch(log, /no host-side interface/);
    assert.equal(await status('GET', '/api/v1/products'), '200');
  });

  it('enforces a policy that arrives as a watch ADDED event', async () => {
    await pushed(watchEvent('ADDED', cnp(USERS, 1)), 'ADDED -> GET /api/v1/products denied', async () => (await status('GET', '/api/v1/products')) === '403');
    assert.equal(await status('GET', '/api/v1/users'), '200');
    assert.equal(await status('POST', '/api/v1/users'), '403');
    await readyzMatching(/enforcing generation 1 \(1 policies, 2 pods/);
    if (process.env.L7BPF_E2E_TEMPLATES) assert.match(log, /generation 1 in place .*\(CI-built object\)/, 'the prebuilt object was not taken');
  });

  it('swaps in a MODIFIED policy', async () => {
    await pushed(watchEvent('MODIFIED', cnp(USERS_AND_PRODUCTS, 2)), 'MODIFIED -> GET /api/v1/products allowed', async () => (await status('GET', '/api/v1/products')) === '200');
    await readyzMatching(/enforcing generation 2/);
    assert.equal(await status('GET', '/api/v1/orders'), '403', 'generation 2 still enforces');
    assert.equal(await status('GET', '/api/v1/users'), '200');
  });

  it('has nothing to enforce once the policy is DELETED', async () => {
    await pushed(watchEvent('DELETED', cnp(USERS_AND_PRODUCTS, 2)), 'DELETED -> nothing to enforce', async () => (await readyz()).body.includes('nothing to enforce: no policies'));
    assert.equal((await readyz()).code, 200);
    assert.equal(await status('GET', '/api/v1/orders'), '200', 'a request the deleted policy denied passes');
    assert.equal(await status('POST', '/api/v1/users'), '200');
  });

  it('relists after a watch ends in 410 Gone and converges on what the list says', async () => {
    // while the watch was away (too long for the server's history) the policy came back
    api.setList(PATH.cnps, list('CiliumNetworkPolicyList', 'cilium.io/v2', ++rv, [cnp(USERS, 1)]));
    const lists = api.requestsFor(PATH.cnps, 'list').length;
    await pushed(EXPIRED, 'ERROR 410 -> relisted, GET /api/v1/products denied', async () => (await status('GET', '/api/v1/products')) === '403');
    assert.equal(api.requestsFor(PATH.cnps, 'list').length, lists + 1, 'the 410 did not make the source relist');
    assert.equal(await status('GET', '/api/v1/users'), '200');
    await readyzMatching(/enforcing generation \d+ \(1 policies/);
    assert.equal(agent.exitCode, null, `the agent exited:\n${log}`);
  });
});
