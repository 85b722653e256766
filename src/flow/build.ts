// Flow records (what l7bpf saw and decided) -> Hubble flow.Flow messages and jsonpb lines,
// shaped like `hubble observe -o json` output so `hubble observe --input-file` can read them.
import { create, toJson, type JsonObject } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { FlowSchema, registryForJson, EVENT_TYPE, DROP_REASON } from './proto.ts';
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
  /** allowed, but the policy would have denied it (a shadow rate limit): Hubble's AUDIT verdict */
  readonly audit?: boolean;
}

export function flowMessage(r: FlowRecord) {
  const ms = Number(r.timeNs / 1_000_000n);
  const ts = timestampFromMs(ms);
  ts.nanos = Number(r.timeNs % 1_000_000_000n);
  const policyList = uniquePolicies(r.policies);
  const l7 = r.kind !== 'l3l4';
  const allowedKey = r.direction === 'ingress' ? 'ingressAllowedBy' : 'egressAllowedBy';
  const deniedKey = r.direction === 'ingress' ? 'ingressDeniedBy' : 'egressDeniedBy';
  return create(FlowSchema, {
    time: ts,
    verdict: r.audit ? 4 : r.allowed ? 1 : 2,
    ...(r.allowed ? {} : dropReason(r)),
    IP: { source: r.src.ip, destination: r.dst.ip, ipVersion: r.src.ip.includes(':') ? 2 : 1 },
    ...layer4(r),
    source: endpointMessage(r.src.peer),
    destination: endpointMessage(r.dst.peer),
    Type: l7 ? 2 : 1,
    nodeName: r.nodeName,
    ...(l7 ? { l7: layer7(r) } : {}),
    eventType: { type: l7 ? EVENT_TYPE.l7 : r.allowed ? EVENT_TYPE.policyVerdict : EVENT_TYPE.drop },
    trafficDirection: r.direction === 'ingress' ? 1 : 2,
    isReply: r.isReply,
    Summary: r.summary ?? summary(r),
    [r.allowed ? allowedKey : deniedKey]: policyList,
  } as never);
}

/** Hubble's drop reason: the policy's, or the stream-integrity check's (FlowRecord.dropReason). */
function dropReason(r: FlowRecord) {
  const code = r.dropReason ?? (r.denyRule ? DROP_REASON.policyDeny : DROP_REASON.policyDenied);
  return { dropReason: code, dropReasonDesc: code };
}

function layer4(r: FlowRecord) {
  const proto = r.protocol ?? 'TCP';
  if (proto === 'OTHER') return {};
  const ports = { sourcePort: r.src.port, destinationPort: r.dst.port };
  const value = proto === 'TCP' && r.tcpFlags ? { ...ports, flags: r.tcpFlags } : ports;
  return { l4: { protocol: { case: proto, value } } };
}

function layer7(r: FlowRecord) {
  const req = r.request;
  return {
    type: r.kind === 'l7-request' ? 1 : 2,
    latencyNs: r.latencyNs ?? 0n,
    record: {
      case: 'http',
      value: {
        // a denied request's code is the answer it got (403), none when it was reset
        code: r.status ?? 0,
        method: req?.method ?? '',
        url: req ? urlOf(req, r.dst) : '',
        protocol: req?.version ?? 'HTTP/1.1',
        headers: (r.responseHeaders ?? req?.headers ?? []).map(([key, value]) => ({ key, value })),
      },
    },
  };
}

/** A request as Hubble's Summary names it: `HTTP/1.1 GET http://host/path`. */
export function requestLine(req: HttpRequest | undefined, dst: FlowSide): string {
  return `${req?.version ?? 'HTTP/1.1'} ${req ? `${req.method} ${urlOf(req, dst)}` : ''}`;
}

export function urlOf(req: HttpRequest, dst: FlowSide): string {
  const host = req.headers.find(([n]) => n.toLowerCase() === (req.version === 'HTTP/2' ? ':authority' : 'host'))?.[1];
  const authority = host || (dst.ip.includes(':') ? `[${dst.ip}]:${dst.port}` : `${dst.ip}:${dst.port}`);
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

function summary(r: FlowRecord): string {
  if (r.kind === 'l3l4' && (r.protocol ?? 'TCP') !== 'TCP') return r.protocol === 'OTHER' ? 'IP' : (r.protocol ?? 'TCP');
  if (r.kind === 'l3l4') {
    const flags = Object.entries(r.tcpFlags ?? {}).filter(([, v]) => v).map(([k]) => k).join(', ');
    return `TCP Flags: ${flags}`;
  }
  const req = r.request;
  const what = req ? `${req.method} ${urlOf(req, r.dst)}` : '';
  if (r.kind === 'l7-request') return requestLine(req, r.dst);
  const ms = r.latencyNs !== undefined ? `${Number(r.latencyNs / 1000n) / 1000}ms` : '';
  return `${req?.version ?? 'HTTP/1.1'} ${r.status ?? 0} ${ms} (${what})`;
}

/** One `hubble observe -o json` line: {"flow":{...},"node_name":...,"time":...}. */
export function flowJsonLine(r: FlowRecord): string {
  const flow = toJson(FlowSchema, flowMessage(r), { useProtoFieldName: true, registry: registryForJson }) as JsonObject;
  return JSON.stringify({ flow, node_name: r.nodeName, time: flow['time'] });
}
