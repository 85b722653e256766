// Kernel events -> the flow records `replay` prints (Hubble jsonpb lines, summary rows), so
// what the kernel did and what the simulator predicts read the same way.
import { requestLine, type FlowRecord } from '../flow/build.ts';
import type { RequestRow } from './records.ts';
import type { ConnRow } from './summary.ts';
import type { Inventory } from '../endpoints/types.ts';
import { describePeer, resolveIp, type PeerRef } from '../verdict/peers.ts';
import type { RuleRef } from '../verdict/types.ts';
import type { HttpRequest, HttpVersion } from '../verdict/http.ts';
import { formatIp } from '../net/ip.ts';
import { EVENT_KIND, POLICY_DIR, REASON, REASON_NAMES, VERDICT, type RawEvent } from '../loader/index.ts';
import { DROP_REASON } from '../flow/proto.ts';
import type { DeployState } from '../deploy/state.ts';

export type Observed =
  | { readonly kind: 'connection'; readonly record: FlowRecord; readonly row: ConnRow; readonly event: RawEvent }
  | { readonly kind: 'request'; readonly record: FlowRecord; readonly row: RequestRow; readonly event: RawEvent }
  | { readonly kind: 'drop'; readonly record: FlowRecord; readonly event: RawEvent };

export interface ObserveContext {
  readonly inventory: Inventory;
  readonly rules: DeployState['rules'];
  readonly httpRules: DeployState['httpRules'];
  readonly nodeName: string;
  /** wall clock ns minus CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
  readonly clockOffsetNs: bigint;
}

/** Offset that turns bpf_ktime_get_ns() into ns since the epoch (libuv's hrtime is CLOCK_MONOTONIC). */
export function clockOffsetNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;

export function tcpFlagsOf(byte: number): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  TCP_FLAGS.forEach((name, i) => {
    if (byte & (1 << i)) out[name] = true;
  });
  return out;
}

// the datapath stores IPv4 as ::ffff:a.b.c.d
const addrOf = (bytes: Uint8Array, family: number): string => formatIp(family === 4 ? bytes.subarray(12, 16) : bytes);

/** "GET /x HTTP/1.1" (the first bytes of the request line), or an HTTP/2 stream's ":method
 * :path" (httpVersion 2) -> a request without headers. */
export function requestFromLine(line: Uint8Array, len: number, httpVersion = 0): HttpRequest | undefined {
  if (len === 0) return undefined;
  const text = Buffer.from(line.subarray(0, Math.min(len, line.length))).toString('latin1').split('\r')[0] ?? '';
  const [method = '', target = '', version = ''] = text.split(' ');
  if (httpVersion === 2) return { method, target, version: 'HTTP/2', headers: [] };
  return { method, target, version: (version.startsWith('HTTP/') ? version : 'HTTP/1.1') as HttpVersion, headers: [] };
}

/** The Hubble DropReason closest to a datapath reason (the Summary names ours exactly). */
export function hubbleDropReason(code: number): number {
  switch (code) {
    case REASON.POLICY_DENY: return DROP_REASON.policyDeny;
    case REASON.NO_MATCH: case REASON.L7_NO_RULE: case REASON.FLOW_DENIED: return DROP_REASON.policyDenied;
    case REASON.SPOOFED_SOURCE: return DROP_REASON.invalidSourceIp;
    case REASON.NO_FLOW_STATE: return DROP_REASON.noConntrackEntry;
    case REASON.UNSUPPORTED: return DROP_REASON.fragmentation;
    case REASON.BAD_IP_HEADER: return DROP_REASON.invalidHeader;
    case REASON.INSERTION: return DROP_REASON.missingTcpAck;
    case REASON.RATE_LIMITED: return DROP_REASON.rateLimited;
    default: return code >= 16 ? DROP_REASON.policyDenied : DROP_REASON.invalidPacket; // strict rules deny by policy
  }
}

/** What the client of a denied request got (the event's verdict). */
function denialText(verdict: number, version: number): string {
  if (verdict === VERDICT.ANSWERED) return version === 2 ? 'answered grpc-status 7, GOAWAY' : 'answered 403';
  return verdict === VERDICT.DROPPED ? 'answer due after the responses before it' : 'reset';
}

export function reasonName(code: number): string {
  return (REASON_NAMES[code] ?? `reason ${code}`).toLowerCase().replace(/_/g, '-');
}

function ruleRefs(ctx: ObserveContext, ev: RawEvent): RuleRef[] {
  const idx = ev.http_rule >= 0 ? ctx.httpRules[ev.http_rule]?.rule ?? ev.rule : ev.rule;
  const r = idx >= 0 ? ctx.rules[idx] : undefined;
  return r ? [{ policy: r.policy, namespace: r.namespace, section: r.section, source: r.source, text: '' }] : [];
}

function protocolOf(proto: number): FlowRecord['protocol'] {
  return proto === 6 ? 'TCP' : proto === 17 ? 'UDP' : proto === 132 ? 'SCTP' : 'OTHER';
}

export function observe(ctx: ObserveContext, ev: RawEvent): Observed {
  const srcIp = addrOf(ev.saddr, ev.family);
  const dstIp = addrOf(ev.daddr, ev.family);
  const src: PeerRef = resolveIp(ctx.inventory, srcIp);
  const dst: PeerRef = resolveIp(ctx.inventory, dstIp);
  const allowed = ev.verdict === VERDICT.FORWARDED;
  const policies = ruleRefs(ctx, ev);
  const base = {
    timeNs: ev.ts_ns + ctx.clockOffsetNs, nodeName: ctx.nodeName,
    src: { ip: srcIp, port: ev.sport, peer: src }, dst: { ip: dstIp, port: ev.dport, peer: dst },
    allowed, denyRule: ev.reason === REASON.POLICY_DENY, direction: ev.dir === POLICY_DIR.EGRESS ? 'egress' : 'ingress',
    protocol: protocolOf(ev.proto), ...(ev.proto === 6 ? { tcpFlags: tcpFlagsOf(ev.tcp_flags) } : {}), policies,
  } as const;
  const pair = `${describePeer(src)} -> ${describePeer(dst)}:${ev.dport}`;
  const source = policies.map((p) => p.source).join(',') || '-';
  if (ev.kind === EVENT_KIND.HTTP) {
    const request = requestFromLine(ev.line, ev.line_len, ev.version);
    const line = request ? `${request.method} ${request.target}` : '<request>';
    const limited = ev.reason === REASON.RATE_LIMITED;
    const head = request ? requestLine(request, base.dst) : line;
    const record: FlowRecord = {
      ...base, kind: 'l7-request', isReply: false, ...(request ? { request } : {}),
      ...(ev.verdict === VERDICT.ANSWERED ? { status: limited ? 429 : 403 } : {}),
      ...(allowed ? {} : { ...(limited ? { dropReason: DROP_REASON.rateLimited } : {}), summary: `${head} denied: ${reasonName(ev.reason)}; ${denialText(ev.verdict, ev.version)}` }),
      // a shadow rate limit let it pass: Hubble's AUDIT
      ...(allowed && limited ? { audit: true, summary: `${head} over its rate limit (shadow mode)` } : {}),
    };
    return { kind: 'request', record, event: ev, row: { pair, line, allowed, reason: allowed ? 'allowed' : reasonName(ev.reason), rule: source } };
  }
  if (ev.kind === EVENT_KIND.ANSWER) {
    // the answer owed to a denied request above (DROPPED: answer due), sent or given up
    const summary = `${reasonName(ev.reason)}: ${ev.verdict === VERDICT.ANSWERED ? 'answered after the responses before it' : 'reset (the answer could not follow the responses)'}`;
    return { kind: 'drop', record: { ...base, kind: 'l3l4', isReply: false, allowed: false, dropReason: hubbleDropReason(ev.reason), summary }, event: ev };
  }
  const record: FlowRecord = { ...base, kind: 'l3l4', isReply: false, ...(allowed ? {} : { dropReason: hubbleDropReason(ev.reason) }) };
  if (ev.kind === EVENT_KIND.CONN) return { kind: 'connection', record, event: ev, row: { pair, allowed, reason: allowed ? 'allowed' : reasonName(ev.reason) } };
  const flags = Object.entries(base.tcpFlags ?? {}).filter(([, v]) => v).map(([k]) => k).join(', ');
  return { kind: 'drop', record: { ...record, allowed: false, summary: `${flags ? `TCP Flags: ${flags} ` : ''}dropped: ${reasonName(ev.reason)}` }, event: ev };
}

/** Names of the pods on either side (for --pod filters). */
export function podsOf(o: Observed): string[] {
  const names = (p: PeerRef) => (p.kind === 'endpoint' ? [p.endpoint.name, `${p.endpoint.namespace}/${p.endpoint.name}`] : []);
  return [...names(o.record.src.peer), ...names(o.record.dst.peer)];
}
