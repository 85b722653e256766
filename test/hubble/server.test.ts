// The Observer service (src/hubble/server.ts) through an independent gRPC client: grpc-js with
// test/hubble/observer.proto (Hubble's own names and numbers), on the unix socket and on TCP.
// GetFlows' number/first/since/until/follow as Hubble's local observer has them, filters and
// what is refused, ServerStatus, GetNodes, GetNamespaces, what is not served, the socket's
// housekeeping.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import { History } from '../../src/observe/history.ts';
import { FlowHub } from '../../src/hubble/hub.ts';
import { startHubbleServer, type HubbleServer } from '../../src/hubble/server.ts';
import { comparable, comparableLine, getFlows, observerClient, sampleEntries, T0, unary, type GrpcResponse, type ObserverStub } from './fixtures.ts';

describe('Observer over gRPC', () => {
  let dir: string;
  let hub: FlowHub;
  let server: HubbleServer;
  let unix: ObserverStub;
  let tcp: ObserverStub;
  const entries = sampleEntries(30);
  const all = entries.flatMap((e) => e.flows);
  const same = (got: GrpcResponse[], want: readonly string[], what: string) =>
    assert.deepEqual(got.map(comparable), want.map(comparableLine), `${what}: ${got.length} flows, want ${want.length}`);
  const timeOf = (line: string) => (JSON.parse(line) as { flow: { time: string } }).flow.time;
  const ts = (ns: bigint) => ({ seconds: String(ns / 1_000_000_000n), nanos: Number(ns % 1_000_000_000n) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-hubble-'));
    hub = new FlowHub(new History(join(dir, 'default.history'), 1 << 20), 8);
    hub.append(entries);
    server = await startHubbleServer({ hub, nodeName: 'node-a', version: '0.1.0-test', socketPath: join(dir, 'run', 'hubble.sock'), listen: '127.0.0.1:0' });
    unix = observerClient(`unix://${server.address.socket}`);
    tcp = observerClient(`127.0.0.1:${server.address.tcp!.port}`);
  });
  after(async () => {
    unix.close();
    tcp.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('number: the last N flows (0: all); first: the oldest N', async () => {
    same(await getFlows(unix, { number: 5 }), all.slice(-5), 'last 5');
    same(await getFlows(unix, { number: 25 }), all.slice(-25), 'last 25 (past the memory ring)');
    same(await getFlows(unix, {}), all, 'number 0');
    same(await getFlows(unix, { number: 4, first: true }), all.slice(0, 4), 'first 4');
    same(await getFlows(tcp, { number: 3 }), all.slice(-3), 'last 3 over TCP');
  });

  it('since and until select by the flow time, to the nanosecond; since with number: the first N from then', async () => {
    const t10 = timeOf(entries[10]!.flows[0]!);
    const since = all.filter((l) => timeOf(l) >= t10);
    const sinceNs = T0 + 10n * 1_000_000_123n;
    same(await getFlows(unix, { since: ts(sinceNs) }), since, 'since entry 10');
    same(await getFlows(unix, { since: ts(sinceNs + 1n) }), all.filter((l) => timeOf(l) > t10), 'one ns later');
    same(await getFlows(unix, { since: ts(sinceNs), number: 2 }), since.slice(0, 2), 'since, first 2');
    same(await getFlows(unix, { until: ts(sinceNs) }), all.filter((l) => timeOf(l) <= t10), 'until entry 10');
  });

  it('whitelist filters are alternatives, blacklist filters exclude', async () => {
    const verdict = (l: string) => (JSON.parse(l) as { flow: { verdict?: string } }).flow.verdict;
    const type = (l: string) => (JSON.parse(l) as { flow: { event_type?: { type?: number } } }).flow.event_type?.type;
    same(await getFlows(unix, { whitelist: [{ verdict: ['DROPPED'] }] }), all.filter((l) => verdict(l) === 'DROPPED'), 'dropped');
    same(await getFlows(unix, { whitelist: [{ verdict: ['DROPPED'] }, { verdict: ['AUDIT'] }] }), all.filter((l) => ['DROPPED', 'AUDIT'].includes(verdict(l)!)), 'dropped or audit');
    same(await getFlows(unix, { blacklist: [{ event_type: [{ type: 129 }] }] }), all.filter((l) => type(l) !== 129), 'not l7');
    same(await getFlows(unix, { whitelist: [{ verdict: ['DROPPED'] }], blacklist: [{ event_type: [{ type: 129 }] }], number: 3 }),
      all.filter((l) => verdict(l) === 'DROPPED' && type(l) !== 129).slice(-3), 'last 3 dropped, not l7');
  });

  it('follow: the last N, then what is appended after the call, until the client cancels', async () => {
    const call = unix.GetFlows({ number: 2, follow: true });
    const got: GrpcResponse[] = [];
    const more = sampleEntries(3, 7, 30);
    const ended = new Promise<number>((resolve) => call.on('error', (e: { code: number }) => resolve(e.code)));
    await new Promise<void>((resolve) => {
      call.on('data', (r: GrpcResponse) => {
        got.push(r);
        if (got.length === 2) hub.append(more);
        if (got.length === 2 + more.flatMap((e) => e.flows).length) resolve();
      });
    });
    same(got, [...all.slice(-2), ...more.flatMap((e) => e.flows)], 'followed');
    call.cancel();
    assert.equal(await ended, grpcStatus.CANCELLED);
    all.push(...more.flatMap((e) => e.flows));
  });

  it('follow without number or since: only flows that come after the call', async () => {
    const call = unix.GetFlows({ follow: true, whitelist: [{ verdict: ['FORWARDED', 'DROPPED', 'AUDIT'] }] });
    const first = new Promise<GrpcResponse>((resolve) => call.once('data', resolve));
    call.on('error', () => {});
    // the call is served once its metadata is out; then an entry arrives
    await new Promise((r) => setTimeout(r, 100));
    const next = sampleEntries(1, 7, 40)[0]!;
    hub.append([next]);
    assert.deepEqual(comparable(await first), comparableLine(next.flows[0]!));
    call.cancel();
    all.push(...next.flows);
  });

  it('refuses with InvalidArgument, naming the cause: filter fields l7bpf does not evaluate, bad values, first with follow', async () => {
    const refused = async (req: object, message: RegExp) => {
      await assert.rejects(getFlows(unix, req), (e: { code: number; details: string }) => {
        assert.equal(e.code, grpcStatus.INVALID_ARGUMENT, e.details);
        // connect percent-encodes grpc-message with encodeURIComponent; grpc-js decodes it with
        // decodeURI, which leaves ":", "/", ";"... encoded (Go's grpc decodes them all)
        assert.match(decodeURIComponent(e.details), message);
        return true;
      });
    };
    await refused({ whitelist: [{ source_label: ['k8s:app=frontend'] }] }, /source_label is not supported/);
    await refused({ blacklist: [{ source_fqdn: ['example.com'] }] }, /source_fqdn is not supported/);
    await refused({ whitelist: [{ verdict: ['DROPPED'] }, { from_the_future: ['x'] }] }, /field number 4000 is not supported/);
    await refused({ whitelist: [{ http_status_code: ['600'] }] }, /600/);
    await refused({ whitelist: [{ protocol: ['quic'] }] }, /unknown protocol: "quic"/);
    await refused({ whitelist: [{ source_ip: ['10.0.0.0/33'] }] }, /invalid CIDR/);
    await refused({ whitelist: [{ http_method: ['GET'], event_type: [{ type: 1 }] }] }, /requires/);
    await refused({ first: true, follow: true }, /first cannot be specified with follow/);
  });

  it('the filters written from Hubble: IPs and CIDRs, ports, protocol, direction, identity, reply', async () => {
    const flow = (l: string) => (JSON.parse(l) as { flow: Record<string, any> }).flow;
    const cases: [object, (f: Record<string, any>) => boolean][] = [
      [{ source_ip: ['10.0.0.1'] }, (f) => f.IP?.source === '10.0.0.1'],
      [{ destination_ip: ['10.0.0.0/24', 'fd00::/64'] }, (f) => ['10.0.0.1', '10.0.0.2', 'fd00::2'].includes(f.IP?.destination)],
      [{ destination_port: ['80'] }, (f) => (f.l4?.TCP ?? f.l4?.UDP)?.destination_port === 80],
      [{ protocol: ['UDP', 'http'] }, (f) => f.l4?.UDP !== undefined || f.l7?.http !== undefined],
      [{ traffic_direction: ['EGRESS'] }, (f) => f.traffic_direction === 'EGRESS'],
      [{ source_identity: [266] }, (f) => f.source?.identity === 266],
      [{ reply: [true] }, (f) => f.is_reply === true],
      [{ ip_version: ['IPv6'] }, (f) => f.IP?.ipVersion === 'IPv6'],
    ];
    for (const [filter, want] of cases) {
      const expected = all.filter((l) => want(flow(l)));
      assert.ok(expected.length > 0 && expected.length < all.length, `${JSON.stringify(filter)} selects some`);
      same(await getFlows(unix, { whitelist: [filter] }), expected, JSON.stringify(filter));
    }
  });

  it('ServerStatus and GetNodes: this node, connected, its counters', async () => {
    const s = await unary<Record<string, any>>(tcp.ServerStatus.bind(tcp));
    assert.equal(s.version, '0.1.0-test');
    assert.equal(s.max_flows, '8');
    assert.equal(s.seen_flows, String(all.length));
    assert.equal(s.num_flows, String(hub.stats().ringEntries), 'the ring\'s fill, in entries');
    assert.deepEqual(s.num_connected_nodes, { value: 1 });
    assert.ok(BigInt(s.uptime_ns) > 0n);
    const { nodes } = await unary<{ nodes: Record<string, any>[] }>(unix.GetNodes.bind(unix));
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]!.name, 'node-a');
    assert.equal(nodes[0]!.state, 'NODE_CONNECTED');
    assert.equal(nodes[0]!.seen_flows, String(all.length));
  });

  it('GetNamespaces: the source and destination namespaces of the flows seen, sorted, no cluster name', async () => {
    const namespaces = (l: string) => {
      const f = (JSON.parse(l) as { flow: { source?: { namespace?: string }; destination?: { namespace?: string } } }).flow;
      return [f.source?.namespace, f.destination?.namespace].filter((n): n is string => !!n);
    };
    const want = [...new Set(all.flatMap(namespaces))].sort();
    assert.ok(want.length >= 2, 'the fixtures name several namespaces');
    const { namespaces: got } = await unary<{ namespaces?: { cluster?: string; namespace?: string }[] }>(tcp.GetNamespaces.bind(tcp));
    assert.deepEqual(got, want.map((namespace) => ({ namespace })), 'cluster "" (unset), as Hubble sends it with the default cluster name');
  });

  it('GetAgentEvents (and GetDebugEvents) are UNIMPLEMENTED', async () => {
    const code = await new Promise<number>((resolve) => {
      const call = unix.GetAgentEvents({});
      call.on('data', () => {});
      call.on('error', (e: { code: number }) => resolve(e.code));
    });
    assert.equal(code, grpcStatus.UNIMPLEMENTED);
  });

  it('the socket is 0660, a stale one is replaced, a live one is not taken over', async () => {
    assert.equal(statSync(server.address.socket!).mode & 0o777, 0o660);
    const stale = join(dir, 'stale.sock');
    // a process that died while listening leaves its socket behind
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.ok(statSync(stale).isSocket());
    const second = await startHubbleServer({ hub, nodeName: 'node-a', version: 'x', socketPath: stale, listen: false });
    await assert.rejects(startHubbleServer({ hub, nodeName: 'node-a', version: 'x', socketPath: stale, listen: false }), /another server listens/);
    await second.close();
    writeFileSync(stale, 'not a socket');
    await assert.rejects(startHubbleServer({ hub, nodeName: 'node-a', version: 'x', socketPath: stale, listen: false }), /not a socket/);
  });
});
