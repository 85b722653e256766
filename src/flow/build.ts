// Flow records (what l7bpf saw and decided) -> Hubble flow.Flow messages and jsonpb lines,
// shaped like `hubble observe -o json` output so `hubble observe --input-file` can read them.
import { create } from '@bufbuild/protobuf';
import { messageJson } from './json.ts';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { FlowSchema, EVENT_TYPE, DROP_REASON, POLICY_MATCH } from './proto.ts';
import type { PeerRef } from '../verdict/peers.ts';
import type { Direction, RuleRef } from '../verdict/types.ts';
import type { HttpRequest } from '../verdict/http.ts';
import { RESERVED_IDENTITY } from '../endpoints/types.ts';

export interface FlowSide {
  readonly ip: string;
  readonly port: number;
  readonly peer: PeerRef;
}

export interface FlowRecord {
  /** capture or kernel time, ns since the epoch */
  readonly timeNs: bigint;
  readonly nodeName: string;
  readonly src: FlowSide;
  readonly dst: FlowSide;
  readonly kind: 'l3l4' | 'l7-request' | 'l7-response';
  readonly allowed: boolean;
  /** the decision was taken by a deny rule (POLICY_DENY) rather than default deny */
  readonly denyRule: boolean;
  readonly direction: Direction;
  /** L4 protocol; default TCP. Others (ICMP...) get no l4 section. */
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP' | 'OTHER';
  readonly isReply: boolean;
  readonly tcpFlags?: Readonly<Record<string, boolean>>;
  readonly request?: HttpRequest;
  readonly status?: number;
  /** a response's own fields where the protocol gives them (HTTP/2: head and trailers, grpc-status) */
  readonly responseHeaders?: readonly (readonly [string, string])[];
  readonly latencyNs?: bigint;
  /** policies that allowed or denied it (names the rules' policies) */
  readonly policies: readonly RuleRef[];
  readonly summary?: string;
  /** Hubble DropReason when not a policy's (stream integrity drops); default from denyRule. */
  readonly dropReason?: number;
  /** Hubble's AUDIT verdict: allowed, but a shadow rate limit would have denied it; or, with
   * allowed false, a denial audit mode let pass (reported as the denial: reason, *_denied_by) */
  readonly audit?: boolean;
}

/** Hubble's verdict of a record (flow.Verdict's name). */
export function flowVerdict(r: Pick<FlowRecord, 'audit' | 'allowed'>): 'AUDIT' | 'FORWARDED' | 'DROPPED' {
  return r.audit ? 'AUDIT' : r.allowed ? 'FORWARDED' : 'DROPPED';
}

const VERDICT_NUMBER = { FORWARDED: 1, DROPPED: 2, AUDIT: 4 } as const;

/** The Hubble flow.Flow of a record. */
export function flowMessage(r: FlowRecord) {
  return create(FlowSchema, flowInit(r) as never);
}

/** The record as flow.Flow's init object (`create()`'s argument; json.ts prints it directly). */
function flowInit(r: FlowRecord): Record<string, unknown> {
  const ms = Number(r.timeNs / 1_000_000n);
  const ts = timestampFromMs(ms);
  ts.nanos = Number(r.timeNs % 1_000_000_000n);
  const policyList = uniquePolicies(r.policies);
  const l7 = r.kind !== 'l3l4';
  const allowedKey = r.direction === 'ingress' ? 'ingressAllowedBy' : 'egressAllowedBy';
  const deniedKey = r.direction === 'ingress' ? 'ingressDeniedBy' : 'egressDeniedBy';
  // Hubble writes a reply with the server as source (its proxy logs what it forwards)
  const [src, dst] = r.isReply ? [r.dst, r.src] : [r.src, r.dst];
  return {
    time: ts,
    verdict: VERDICT_NUMBER[flowVerdict(r)],
    // Hubble's L7 flows carry no drop reason: the proxy, not the datapath, refused them
    ...(r.allowed || l7 ? {} : dropReason(r)),
    IP: { source: src.ip, destination: dst.ip, ipVersion: src.ip.includes(':') ? 2 : 1 },
    ...layer4(r, src, dst),
    source: endpointMessage(src.peer),
    destination: endpointMessage(dst.peer),
    Type: l7 ? 2 : 1,
    nodeName: r.nodeName,
    ...(l7 ? { l7: layer7(r) } : {}),
    reply: r.isReply,
    eventType: eventType(r),
    trafficDirection: r.direction === 'ingress' ? 1 : 2,
    ...(r.kind === 'l3l4' && r.allowed ? { policyMatchType: policyMatchType(r) } : {}),
    isReply: r.isReply,
    Summary: r.summary ?? summary(r),
    [r.allowed ? allowedKey : deniedKey]: policyList,
  };
}

/** Cilium's monitor event: an access-log record (L7), a policy verdict, or a drop whose sub-type is
 * its drop reason (as Cilium's datapath writes it). An audited denial dropped nothing: a policy
 * verdict, as Cilium's audit mode sends. */
function eventType(r: FlowRecord) {
  if (r.kind !== 'l3l4') return { type: EVENT_TYPE.l7 };
  if (r.allowed || r.audit) return { type: EVENT_TYPE.policyVerdict };
  return { type: EVENT_TYPE.drop, subType: dropCode(r) };
}

/** Cilium's PolicyMatchType of the allowing rule (monitor/api): L3-only 1, L3-L4 2, L4-only 3, all 4.
 * With no rule (no policy selects the endpoints) everything is allowed: all. */
function policyMatchType(r: FlowRecord): number {
  return r.policies.find((p) => p.match !== undefined)?.match ?? POLICY_MATCH.all;
}

function dropCode(r: FlowRecord): number {
  return r.dropReason ?? (r.denyRule ? DROP_REASON.policyDeny : DROP_REASON.policyDenied);
}

/** Hubble's drop reason: the policy's, or the stream-integrity check's (FlowRecord.dropReason). */
function dropReason(r: FlowRecord) {
  const code = dropCode(r);
  return { dropReason: code, dropReasonDesc: code };
}

function layer4(r: FlowRecord, src: FlowSide, dst: FlowSide) {
  const proto = r.protocol ?? 'TCP';
  if (proto === 'OTHER') return {};
  const ports = { sourcePort: src.port, destinationPort: dst.port };
  const value = proto === 'TCP' && r.tcpFlags ? { ...ports, flags: r.tcpFlags } : ports;
  return { l4: { protocol: { case: proto, value } } };
}

function layer7(r: FlowRecord) {
  const req = r.request;
  const response = r.kind === 'l7-response';
  return {
    type: response ? 2 : 1,
    latencyNs: r.latencyNs ?? 0n,
    record: {
      case: 'http',
      value: {
        // Hubble sets a code on responses only
        code: response ? r.status ?? 0 : 0,
        method: req?.method ?? '',
        url: req ? urlOf(req, r.dst) : '',
        protocol: req?.version ?? 'HTTP/1.1',
        // a response shows its own fields (none when the protocol gave us none), a request its own
        headers: sortedHeaders(response ? r.responseHeaders ?? [] : req?.headers ?? []),
      },
    },
  };
}

/** Hubble sorts header fields by name (bytewise, as Go's sort.Strings), values in their order. */
export function sortedHeaders(fields: readonly (readonly [string, string])[]): { key: string; value: string }[] {
  return fields.map(([key, value], i) => ({ key, value, i }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.i - b.i))
    .map(({ key, value }) => ({ key, value }));
}

/** A request as Hubble's Summary names it: `HTTP/1.1 GET http://host/path`. */
export function requestLine(req: HttpRequest | undefined, dst: FlowSide): string {
  return `${req?.version ?? 'HTTP/1.1'} ${req ? `${req.method} ${urlOf(req, dst)}` : ''}`;
}

/** Hubble's URL: the Host (HTTP/2: :authority) as sent; without one, the server's address, with
 * its port unless it is 80 (what a Host header for that address would say). */
export function urlOf(req: HttpRequest, dst: FlowSide): string {
  const host = req.headers.find(([n]) => n.toLowerCase() === (req.version === 'HTTP/2' ? ':authority' : 'host'))?.[1];
  const ip = dst.ip.includes(':') ? `[${dst.ip}]` : dst.ip;
  const authority = host || (dst.port === 80 ? ip : `${ip}:${dst.port}`);
  return `http://${authority}${req.target}`;
}

function endpointMessage(p: PeerRef) {
  switch (p.kind) {
    case 'endpoint':
      return {
        identity: p.endpoint.identity,
        namespace: p.endpoint.namespace,
        labels: Object.entries(p.endpoint.labels).map(([k, v]) => `k8s:${k}=${v}`).sort(),
        podName: p.endpoint.name,
      };
    case 'reserved':
      return { identity: RESERVED_IDENTITY[p.entity], labels: [`reserved:${p.entity}`] };
    case 'world':
      return { identity: RESERVED_IDENTITY.world, labels: ['reserved:world'] };
  }
}

function uniquePolicies(refs: readonly RuleRef[]) {
  const seen = new Map<string, { name: string; namespace: string; kind: string }>();
  for (const r of refs) {
    const key = `${r.namespace ?? ''}/${r.policy}`;
    if (!seen.has(key)) seen.set(key, { name: r.policy, namespace: r.namespace ?? '', kind: r.namespace ? 'CiliumNetworkPolicy' : 'CiliumClusterwideNetworkPolicy' });
  }
  return [...seen.values()];
}

/** Hubble's Summary strings: `TCP Flags: SYN`, `HTTP/1.1 GET http://h/p`, `HTTP/1.1 200 3ms (GET http://h/p)`. */
function summary(r: FlowRecord): string {
  if (r.kind === 'l3l4' && (r.protocol ?? 'TCP') !== 'TCP') return r.protocol === 'OTHER' ? 'IP' : (r.protocol ?? 'TCP');
  if (r.kind === 'l3l4') {
    const flags = Object.entries(r.tcpFlags ?? {}).filter(([, v]) => v).map(([k]) => k).join(', ');
    return `TCP Flags: ${flags}`;
  }
  const req = r.request;
  if (r.kind === 'l7-request') return requestLine(req, r.dst);
  const what = req ? `${req.method} ${urlOf(req, r.dst)}` : '';
  // whole milliseconds, rounded down, as Hubble's %dms of a Duration
  return `${req?.version ?? 'HTTP/1.1'} ${r.status ?? 0} ${(r.latencyNs ?? 0n) / 1_000_000n}ms (${what})`;
}

/** One `hubble observe -o json` line: {"flow":{...},"node_name":...,"time":...}. */
export function flowJsonLine(r: FlowRecord): string {
  const flow = messageJson(FlowSchema, flowInit(r));
  return JSON.stringify({ flow, node_name: r.nodeName, time: flow['time'] });
}
