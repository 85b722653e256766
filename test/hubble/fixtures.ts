// Flows for the Hubble API tests: history entries whose jsonpb lines src/flow/build.ts renders
// from varied flow records (pods, verdicts, kinds, codes, methods, paths, ports, times), the
// test protos loaded by @grpc/proto-loader, and grpc-js clients of Observer and Peer.
import { join } from 'node:path';
import fc from 'fast-check';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { flowJsonLine, type FlowRecord } from '../../src/flow/build.ts';
import type { HistoryEntry } from '../../src/observe/history.ts';
import type { PeerRef } from '../../src/verdict/peers.ts';

export const T0 = 1_800_000_000_000_000_000n;

const pods = [['default', 'frontend-1'], ['default', 'backend-7f'], ['shop', 'db-0'], ['kube-system', 'coredns-x']] as const;
const peer: fc.Arbitrary<PeerRef> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...pods).map(([namespace, name]) => ({ kind: 'endpoint', endpoint: { name, namespace, identity: 256 + name.length, labels: { app: name.split('-')[0]! }, ips: [] }, ip: null }) as unknown as PeerRef) },
  { weight: 1, arbitrary: fc.constant({ kind: 'world', ip: null } as unknown as PeerRef) },
);
const side = fc.record({ ip: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.1.7', 'fd00::2'), port: fc.constantFrom(80, 8080, 43210, 53), peer });
const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'DELETE'), target: fc.constantFrom('/', '/api/v1/users', '/admin', '/api/v2/x?y=1'),
  version: fc.constantFrom('HTTP/1.1' as const, 'HTTP/2' as const), headers: fc.constant([] as [string, string][]),
});

/** A flow record at `timeNs` (kinds, verdicts and fields vary; no l7bpf-only drop reason). */
export const flowRecord = (timeNs: bigint): fc.Arbitrary<FlowRecord> => fc.record({
  timeNs: fc.constant(timeNs), nodeName: fc.constant('node-a'), src: side, dst: side,
  kind: fc.constantFrom('l3l4' as const, 'l7-request' as const, 'l7-response' as const),
  allowed: fc.boolean(), denyRule: fc.boolean(), direction: fc.constantFrom('ingress' as const, 'egress' as const),
  protocol: fc.constantFrom('TCP' as const, 'UDP' as const), isReply: fc.boolean(),
  tcpFlags: fc.constantFrom<Record<string, boolean>>({ SYN: true }, { SYN: true, ACK: true }, { FIN: true }), request,
  status: fc.constantFrom(200, 204, 403, 404, 429, 503), latencyNs: fc.bigInt({ min: 0n, max: 5_000_000n }),
  policies: fc.constant([]), audit: fc.boolean(),
});

/** One entry per event: one flow, or a request and its answer (as observe's entries hold). */
const entryAt = (i: number): fc.Arbitrary<HistoryEntry> => {
  const t = T0 + BigInt(i) * 1_000_000_123n;
  return fc.array(flowRecord(t), { minLength: 1, maxLength: 2 }).map((rs) => ({ t: String(t), flows: rs.map(flowJsonLine) }));
};

export const entriesArb = (n: number): fc.Arbitrary<HistoryEntry[]> => fc.tuple(...Array.from({ length: n }, (_, i) => entryAt(i)));

/** A fixed, varied set of `n` entries (seeded). */
export function sampleEntries(n: number, seed = 7, from = 0): HistoryEntry[] {
  return Array.from({ length: n }, (_, i) => fc.sample(entryAt(from + i), { numRuns: 1, seed: seed + from + i })[0]!);
}

// the test's own Observer and Peer clients, from test/hubble/*.proto (Hubble's subset)
const load = (file: string) => grpc.loadPackageDefinition(loader.loadSync(join(import.meta.dirname, file), {
  keepCase: true, longs: String, enums: String, defaults: false, oneofs: false, includeDirs: [import.meta.dirname],
}));
const ObserverClient = (load('observer.proto') as unknown as { observer: { Observer: grpc.ServiceClientConstructor } }).observer.Observer;
const PeerClient = (load('peer.proto') as unknown as { peer: { Peer: grpc.ServiceClientConstructor } }).peer.Peer;

export interface ObserverStub extends grpc.Client {
  GetFlows(req: object): grpc.ClientReadableStream<GrpcResponse>;
  ServerStatus(req: object, cb: (e: grpc.ServiceError | null, r: Record<string, unknown>) => void): void;
  GetNodes(req: object, cb: (e: grpc.ServiceError | null, r: { nodes: Record<string, unknown>[] }) => void): void;
  GetNamespaces(req: object, cb: (e: grpc.ServiceError | null, r: { namespaces?: { cluster?: string; namespace?: string }[] }) => void): void;
  GetAgentEvents(req: object): grpc.ClientReadableStream<unknown>;
}

/** peer.ChangeNotification as grpc-js decodes it (enums as names, unset fields absent) */
export interface ChangeNotification {
  readonly name?: string;
  readonly address?: string;
  readonly type?: 'PEER_ADDED' | 'PEER_DELETED' | 'PEER_UPDATED';
  readonly tls?: { server_name?: string };
}

export interface PeerStub extends grpc.Client {
  Notify(req: object): grpc.ClientReadableStream<ChangeNotification>;
}

export interface GrpcResponse {
  readonly flow?: Record<string, unknown>;
  readonly node_name?: string;
  readonly time?: { seconds: string; nanos?: number };
}

/** `target` as grpc-js takes it: unix:///path or host:port */
export const observerClient = (target: string): ObserverStub => new ObserverClient(target, grpc.credentials.createInsecure()) as unknown as ObserverStub;
export const peerClient = (target: string): PeerStub => new PeerClient(target, grpc.credentials.createInsecure()) as unknown as PeerStub;

/** Every response of a GetFlows call that ends by itself. */
export function getFlows(client: ObserverStub, req: object): Promise<GrpcResponse[]> {
  return new Promise((resolve, reject) => {
    const out: GrpcResponse[] = [];
    const call = client.GetFlows(req);
    call.on('data', (r: GrpcResponse) => out.push(r));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

export const unary = <R>(f: (req: object, cb: (e: grpc.ServiceError | null, r: R) => void) => void, req: object = {}): Promise<R> =>
  new Promise((resolve, reject) => f(req, (e, r) => (e ? reject(e) : resolve(r))));

/** A GetFlowsResponse, from grpc-js or a jsonpb line, in one comparable form: times as ns since
 * the epoch, BoolValue as its value (protojson writes both unwrapped). */
export function comparable(resp: GrpcResponse): unknown {
  return normalize(resp);
}

export function comparableLine(line: string): unknown {
  return normalize(JSON.parse(line));
}

function normalize(v: unknown, key = ''): unknown {
  if (key === 'time') return typeof v === 'string' ? String(rfc3339Ns(v)) : String(BigInt((v as { seconds: string }).seconds) * 1_000_000_000n + BigInt((v as { nanos?: number }).nanos ?? 0));
  if (key === 'is_reply') return typeof v === 'boolean' ? v : (v as { value?: boolean }).value ?? false;
  if (Array.isArray(v)) return v.map((x) => normalize(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x, k)]));
  return v;
}

/** RFC 3339 with up to 9 fraction digits, UTC (what protojson writes) -> ns */
function rfc3339Ns(text: string): bigint {
  const m = /^(.{19})(?:\.(\d{1,9}))?Z$/.exec(text);
  if (!m) throw new Error(`not a protojson time: ${text}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
