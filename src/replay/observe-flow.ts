// Kernel events -> the flow records `replay` prints (Hubble jsonpb lines, summary rows), so
// what the kernel did and what the simulator predicts read the same way.
import type { FlowRecord } from '../flow/build.ts';
import { requestFromHead, type RequestRow } from './records.ts';
import type { ConnRow } from './summary.ts';
import type { Inventory } from '../endpoints/types.ts';
import { describePeer, resolveIp, type PeerRef } from '../verdict/peers.ts';
import type { RuleRef } from '../verdict/types.ts';
import type { HttpRequest } from '../verdict/http.ts';
import { formatIp } from '../net/ip.ts';
import { EVENT_KIND, POLICY_DIR, REASON, REASON_NAMES, VERDICT, type RawEvent } from '../loader/index.ts';
import { DROP_REASON } from '../flow/proto.ts';
import type { DeployState } from '../deploy/state.ts';
import { grpcAnswerFields } from '../net/answers.ts';
import { noteRequest, responseFlow } from './observe-response.ts';

/** One kernel event read: its main record, and `flows`, the Hubble flows it stands for (a
 * request answered at once is a request and a response; link-local housekeeping is none). */
export type Observed =
  | { readonly kind: 'connection'; readonly record: FlowRecord; readonly flows: readonly FlowRecord[]; readonly row: ConnRow; readonly event: RawEvent }
  | { readonly kind: 'request'; readonly record: FlowRecord; readonly flows: readonly FlowRecord[]; readonly row: RequestRow; readonly event: RawEvent }
  | { readonly kind: 'drop'; readonly record: FlowRecord; readonly flows: readonly FlowRecord[]; readonly event: RawEvent }
  | { readonly kind: 'response'; readonly record: FlowRecord; readonly flows: readonly FlowRecord[]; readonly row: { readonly pair: string }; readonly event: RawEvent };

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
  const req = requestFromHead(line.subarray(0, Math.min(len, line.length)));
  return req && httpVersion === 2 ? { ...req, version: 'HTTP/2' } : req;
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

export function reasonName(code: number): string {
  return (REASON_NAMES[code] ?? `reason ${code}`).toLowerCase().replace(/_/g, '-');
}

/** The rule behind an event as replay names it: the http entry that allowed a request, else
 * the policy rule entry (a deny entry, or the rule whose http rules did not match). */
function ruleRefs(ctx: ObserveContext, ev: RawEvent, allowed: boolean): RuleRef[] {
  const http = ev.http_rule >= 0 ? ctx.httpRules[ev.http_rule] : undefined;
  const idx = http?.rule ?? ev.rule;
  const r = idx >= 0 ? ctx.rules[idx] : undefined;
  if (!r) return [];
  const source = allowed && http?.source ? http.source : r.source;
  return [{ policy: r.policy, namespace: r.namespace, section: r.section, source, text: '', ...(r.match !== undefined ? { match: r.match } : {}) }];
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
  // audit mode: the packet passed; the event is the denial's (reason, rule), Hubble's AUDIT
  const audit = ev.verdict === VERDICT.AUDIT;
  const policies = ruleRefs(ctx, ev, allowed);
  const base = {
    timeNs: ev.ts_ns + ctx.clockOffsetNs, nodeName: ctx.nodeName,
    src: { ip: srcIp, port: ev.sport, peer: src }, dst: { ip: dstIp, port: ev.dport, peer: dst },
    allowed, denyRule: ev.reason === REASON.POLICY_DENY, direction: ev.dir === POLICY_DIR.EGRESS ? 'egress' : 'ingress',
    protocol: protocolOf(ev.proto), ...(ev.proto === 6 ? { tcpFlags: tcpFlagsOf(ev.tcp_flags) } : {}), policies, ...(audit ? { audit } : {}),
  } as const;
  const auditRow = audit ? { audit } : {};
  const pair = `${describePeer(src)} -> ${describePeer(dst)}:${ev.dport}`;
  const source = policies.map((p) => p.source).join(',') || '-';
  if (ev.kind === EVENT_KIND.HTTP) {
    const request = requestFromLine(ev.line, ev.line_len, ev.version);
    const line = request ? `${request.method} ${request.target}` : '<request>';
    const { tcpFlags: _, ...l7 } = base;
    const shadow = allowed && ev.reason === REASON.RATE_LIMITED;
    const record: FlowRecord = { ...l7, kind: 'l7-request', isReply: false, ...(request ? { request } : {}), ...(shadow || audit ? { audit: true } : {}) };
    // answered at once: the client got the answer with this packet; else it is due once the
    // responses before it ended (an ANSWER event), which names it through this memo
    const answer = ev.verdict === VERDICT.ANSWERED ? [answerFlow(record, ev, 0n)] : [];
    if (ev.verdict === VERDICT.DROPPED) answersDue(ctx).set(`${srcIp}:${ev.sport}>${dstIp}:${ev.dport}`, { record, tsNs: ev.ts_ns });
    noteRequest(ctx, ev, record); // its response pairs with it (observe-response.ts)
    return { kind: 'request', record, flows: [record, ...answer], event: ev, row: { pair, line, allowed: allowed || audit, ...auditRow, reason: allowed ? 'allowed' : reasonName(ev.reason), rule: source } };
  }
  if (ev.kind === EVENT_KIND.RESPONSE) return { kind: 'response', ...responseFlow(ctx, ev, base), event: ev };
  if (ev.kind === EVENT_KIND.ANSWER) {
    // the answer owed to a denied request, sent once the responses before it ended (its
    // request flow was printed then), or given up for a reset: no flow of its own
    const { tcpFlags: _, ...l7 } = base;
    const key = `${srcIp}:${ev.sport}>${dstIp}:${ev.dport}`;
    const due = answersDue(ctx).get(key);
    answersDue(ctx).delete(key);
    const record: FlowRecord = due?.record ?? { ...l7, kind: 'l7-request', isReply: false, allowed: false };
    const latency = due && ev.ts_ns >= due.tsNs ? ev.ts_ns - due.tsNs : 0n;
    return { kind: 'drop', record, flows: ev.verdict === VERDICT.ANSWERED ? [answerFlow({ ...record, timeNs: base.timeNs }, ev, latency)] : [], event: ev };
  }
  const record: FlowRecord = { ...base, kind: 'l3l4', isReply: false, ...(allowed ? {} : { dropReason: hubbleDropReason(ev.reason) }) };
  // IPv6 neighbour discovery and multicast on the veth: not traffic any policy governs (Cilium
  // passes ICMPv6 ND without a verdict), so no flow
  // a connection no policy governs in this direction has no policy verdict (nor in Cilium)
  const ungoverned = ev.kind === EVENT_KIND.CONN && allowed && ev.rule < 0;
  const flows = housekeeping(ev, srcIp, dstIp) || ungoverned ? [] : [record];
  if (ev.kind === EVENT_KIND.CONN) return { kind: 'connection', record, flows, event: ev, row: { pair, allowed: allowed || audit, ...auditRow, reason: allowed ? 'allowed' : reasonName(ev.reason) } };
  return { kind: 'drop', record: { ...record, allowed: false }, flows: flows.map((f) => ({ ...f, allowed: false })), event: ev };
}

/** The response the datapath wrote for a denied request: 429 when a rate limit refused it, else
 * 403; on HTTP/2 with its fields (grpc-status...), as the simulator reports them. */
function answerFlow(request: FlowRecord, ev: RawEvent, latencyNs: bigint): FlowRecord {
  const kind = ev.reason === REASON.RATE_LIMITED ? 'limited' : 'denied';
  const fields = ev.version === 2 ? { responseHeaders: grpcAnswerFields(kind) } : {};
  return { ...request, kind: 'l7-response', isReply: true, allowed: true, policies: [], status: kind === 'limited' ? 429 : 403, latencyNs, ...fields };
}

/** denied requests whose answer waits for the responses before it, per connection, per observe
 * session (its context object); bounded: the oldest is forgotten (its answer then names no request) */
const MAX_ANSWERS_DUE = 4096;
const dueBySession = new WeakMap<object, Map<string, { record: FlowRecord; tsNs: bigint }>>();
function answersDue(ctx: ObserveContext): Map<string, { record: FlowRecord; tsNs: bigint }> {
  let m = dueBySession.get(ctx);
  if (!m) dueBySession.set(ctx, (m = new Map()));
  while (m.size >= MAX_ANSWERS_DUE) m.delete(m.keys().next().value!);
  return m;
}

function housekeeping(ev: RawEvent, srcIp: string, dstIp: string): boolean {
  if (ev.family !== 6 || ev.proto === 6 || ev.proto === 17) return false;
  const local = (ip: string) => /^fe[89ab]/i.test(ip) || /^ff/i.test(ip) || ip === '::';
  return local(srcIp) || local(dstIp);
}

/** Names of the pods on either side (for --pod filters). */
export function podsOf(o: Observed): string[] {
  const names = (p: PeerRef) => (p.kind === 'endpoint' ? [p.endpoint.name, `${p.endpoint.namespace}/${p.endpoint.name}`] : []);
  return [...names(o.record.src.peer), ...names(o.record.dst.peer)];
}
