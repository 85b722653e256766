// Issue 16's "must show": a gRPC client built from Hubble's observer.proto receives from GetFlows
// the flows `observe --output jsonpb` prints, with filters applied. Over one history written
// with History (no kernel): GetFlows (grpc-js, requests as hubble observe builds them from its
// flags) against what observe selects; random filter combinations against buildFilter; and the
// CLI itself, reading the history and reading the agent's socket, byte for byte.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { status as grpcStatus } from '@grpc/grpc-js';
import { History, historyDir, START } from '../../src/observe/history.ts';
import { readHistory } from '../../src/observe/query.ts';
import { buildFilter, FilterError, type FilterFlags } from '../../src/observe/filters.ts';
import { queryOf, type ObserveOptions } from '../../src/cli/observe.ts';
import { FlowHub } from '../../src/hubble/hub.ts';
import { startHubbleServer, type HubbleServer } from '../../src/hubble/server.ts';
import { cliArgv } from '../helpers/cli.ts';
import { comparable, comparableLine, getFlows, observerClient, sampleEntries, T0, type ObserverStub } from './fixtures.ts';

const run = promisify(execFile);

describe('GetFlows gives the flows observe --output jsonpb prints', () => {
  let dir: string;
  let history: History;
  let server: HubbleServer;
  let client: ObserverStub;
  let hub: FlowHub;
  const entries = sampleEntries(40, 11);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-same-'));
    history = new History(historyDir(join(dir, 'state'), 'default'), 1 << 20);
    // an agent's hub over a history that had flows before it started, with a small ring
    history.append(entries.slice(0, 25));
    hub = new FlowHub(history, 6);
    hub.append(entries.slice(25));
    server = await startHubbleServer({ hub, nodeName: 'node-a', version: 'test', socketPath: join(dir, 'hubble.sock'), listen: '127.0.0.1:0' });
    client = observerClient(`unix://${server.address.socket}`);
  });
  after(async () => {
    client.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** what observe prints from the history for these options */
  const observed = (o: ObserveOptions) => {
    const out: string[] = [];
    readHistory(history, START, queryOf(o), (s) => out.push(s.line));
    return out;
  };

  it('for the flags of hubble observe, as hubble builds its request from them', async () => {
    const cases: [ObserveOptions, object][] = [
      [{}, {}],
      [{ last: 7 }, { number: 7 }],
      [{ verdict: ['DROPPED'] }, { whitelist: [{ verdict: ['DROPPED'] }] }],
      [{ verdict: ['denied', 'AUDIT'], last: 4 }, { number: 4, whitelist: [{ verdict: ['DROPPED', 'AUDIT'] }] }],
      [{ fromPod: ['frontend'] }, { whitelist: [{ source_pod: ['frontend'] }] }],
      [{ toPod: ['shop/'], type: ['l7'] }, { whitelist: [{ destination_pod: ['shop/'], event_type: [{ type: 129 }] }] }],
      // --pod X: from X or to X, as two filters
      [{ pod: ['default/backend'] }, { whitelist: [{ source_pod: ['default/backend'] }, { destination_pod: ['default/backend'] }] }],
      [{ type: ['drop:181'] }, { whitelist: [{ event_type: [{ type: 1, match_sub_type: true, sub_type: 181 }] }] }],
      [{ httpStatus: ['4+'] }, { whitelist: [{ http_status_code: ['4+'] }] }],
      [{ httpMethod: ['post'], httpPath: ['^/api/'] }, { whitelist: [{ http_method: ['post'], http_path: ['^/api/'] }] }],
    ];
    for (const [flags, req] of cases) {
      const want = observed(flags);
      assert.ok(want.length > 0, `${JSON.stringify(flags)} selects some flows`);
      const got = await getFlows(client, req);
      assert.deepEqual(got.map(comparable), want.map(comparableLine), `observe ${JSON.stringify(flags)} vs GetFlows ${JSON.stringify(req)}`);
    }
  });

  it('property: random whitelists and blacklists select via gRPC what buildFilter selects', async () => {
    const filter = fc.record({
      source_pod: fc.subarray(['frontend', 'default/backend', 'shop/', 'kube-system/core']),
      destination_pod: fc.subarray(['backend', 'shop/db', 'default/']),
      verdict: fc.subarray(['FORWARDED', 'DROPPED', 'AUDIT']),
      event_type: fc.subarray([{ type: 129 }, { type: 1 }, { type: 5 }, { type: 1, match_sub_type: true, sub_type: 133 }, { type: 0 }]),
      http_status_code: fc.subarray(['200', '4+', '50+']),
      http_method: fc.subarray(['GET', 'delete']),
      http_path: fc.subarray(['^/api', 'admin$']),
    }, { requiredKeys: [] });
    type Filter = typeof filter extends fc.Arbitrary<infer F> ? F : never;
    // the same filter as observe's flags (Hubble's FlowFilter -> hubble observe's flags)
    const flagsOf = (f: Filter): FilterFlags => ({
      fromPod: f.source_pod, toPod: f.destination_pod, verdict: f.verdict,
      type: f.event_type?.map((t) => ('match_sub_type' in t ? `${t.type}:${t.sub_type}` : `${t.type}`)),
      httpStatus: f.http_status_code, httpMethod: f.http_method, httpPath: f.http_path,
    });
    const all = entries.flatMap((e) => e.flows);
    const flowOf = (line: string) => JSON.parse(line).flow;
    await fc.assert(fc.asyncProperty(fc.array(filter, { maxLength: 2 }), fc.array(filter, { maxLength: 2 }), async (white, black) => {
      let want: string[] | 'invalid';
      try {
        const w = white.map((f) => buildFilter(flagsOf(f)));
        const b = black.map((f) => buildFilter(flagsOf(f)));
        want = all.filter((l) => (w.length === 0 || w.some((p) => p(flowOf(l)))) && !b.some((p) => p(flowOf(l))));
      } catch (e) {
        if (!(e instanceof FilterError)) throw e;
        want = 'invalid'; // HTTP fields with event types that exclude l7: Hubble refuses them too
      }
      const got = await getFlows(client, { whitelist: white, blacklist: black }).catch((e: { code: number }) => {
        assert.equal(e.code, grpcStatus.INVALID_ARGUMENT);
        return 'invalid' as const;
      });
      if (want === 'invalid' || got === 'invalid') return assert.equal(got, want);
      assert.deepEqual(got.map(comparable), want.map(comparableLine));
    }), { numRuns: 40 });
  });

  describe('the CLI', () => {
    /** a deployment record observe accepts; its ring buffer is not pinned: the history only */
    const envFor = (socket: string) => {
      const state = join(dir, 'state');
      mkdirSync(state, { recursive: true });
      writeFileSync(join(state, 'default.json'), JSON.stringify({
        version: 1, name: 'default', generation: 1, objectPath: '', objectSha256: '', handle: 1, priority: 1, ifaces: [], rules: [], httpRules: [],
        inventory: { endpoints: [], reserved: [] }, deployedAt: '', flowsReused: false, answer: 'reset', historyBytes: 1 << 20,
      }));
      return { ...process.env, L7BPF_STATE_DIR: state, L7BPF_PIN_ROOT: join(dir, 'pins'), L7BPF_HUBBLE_SOCKET: socket };
    };
    const observe = async (args: string[], socket = join(dir, 'no-agent.sock')) => {
      try {
        const { stdout } = await run(process.execPath, [...cliArgv(), 'observe', ...args], { env: envFor(socket), timeout: 60_000 });
        return { code: 0, out: stdout };
      } catch (e) {
        const x = e as { code: number; stdout: string; stderr: string };
        return { code: x.code, out: x.stdout, err: x.stderr };
      }
    };

    it('prints the same lines, byte for byte, from the history and from the agent (its socket found, or --server)', async () => {
      const tcp = `127.0.0.1:${server.address.tcp!.port}`;
      for (const args of [['--last', '9'], ['--pod', 'default/backend', '--http-status', '2+']]) {
        const [fromHistory, viaSocket, viaTcp] = await Promise.all([observe(args), observe(args, server.address.socket!), observe([...args, '--server', tcp])]);
        assert.equal(fromHistory.code, 0, fromHistory.err);
        assert.ok(fromHistory.out.split('\n').length > 2, `${args.join(' ')}: some flows`);
        assert.equal(viaSocket.out, fromHistory.out, `${args.join(' ')}: the agent's socket`);
        assert.equal(viaTcp.out, fromHistory.out, `${args.join(' ')}: --server ${tcp}`);
      }
    });

    it('--follow through the agent: new flows as they come, until interrupted (exit 0)', async () => {
      // since a time after the history's flows and before the new ones: whether they arrive
      // before or after the call starts, they are printed once
      const since = new Date(Number((T0 + 50_000_000_000n) / 1_000_000n)).toISOString();
      const child = spawn(process.execPath, [...cliArgv(), 'observe', '--follow', '--since', since, '--server', `unix://${server.address.socket}`], { env: envFor(join(dir, 'no-agent.sock')) });
      let out = '';
      const next = sampleEntries(2, 11, 60);
      const want = next.flatMap((e) => e.flows).join('\n') + '\n';
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      hub.append(next);
      await new Promise<void>((resolve) => child.stdout.on('data', (d: Buffer) => ((out += d), out.length >= want.length && resolve())));
      child.kill('SIGINT');
      assert.equal(await exited, 0);
      assert.equal(out, want);
    });

    it('--pod with --from-pod is no GetFlows whitelist: the history is read, or --server refuses it', async () => {
      const args = ['--pod', 'default/backend', '--from-pod', 'frontend'];
      const [viaSocket, fromHistory, refused] = await Promise.all([observe(args, server.address.socket!), observe(args), observe([...args, '--server', `unix://${server.address.socket}`])]);
      assert.equal(viaSocket.out, fromHistory.out);
      assert.equal(refused.code, 2);
      assert.match(refused.err ?? '', /--pod cannot be combined with --from-pod/);
    });
  });
});
