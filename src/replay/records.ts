// Replay events -> flow records (Hubble shape) and the per-request rows the summary uses.
import type { FlowRecord, FlowSide } from '../flow/build.ts';
import type { ConnInfo, RequestRecord } from '../../sim/index.ts';
import { describePeer } from '../verdict/peers.ts';
import type { HttpRequest, HttpVersion } from '../verdict/http.ts';
import type { Direction, Verdict } from '../verdict/types.ts';
import type { OracleConnVerdict, OracleRequestVerdict } from './judge.ts';

export interface RequestRow {
  readonly pair: string;
  readonly line: string;
  /** passed (true for a denial audit mode let pass: then `audit`, and reason names the denial) */
  readonly allowed: boolean;
  readonly audit?: boolean;
  readonly reason: string;
  readonly rule: string;
}

function sides(conn: ConnInfo, cv: OracleConnVerdict): { src: FlowSide; dst: FlowSide } {
  return { src: { ip: conn.srcIp, port: conn.srcPort, peer: cv.src }, dst: { ip: conn.dstIp, port: conn.dstPort, peer: cv.dst } };
}

function directionOf(v: Verdict, cv: OracleConnVerdict): Direction {
  return v.deniedBy ?? cv.directions.find((d) => d.l7 !== null)?.direction ?? cv.directions.at(-1)?.direction ?? 'ingress';
}

/** Cilium's policy verdicts for a new connection: one per direction a policy governs (the
 * source's egress, then the destination's ingress), as the datapath decides each on its own
 * hook; none where no policy selects (Cilium sends no verdict there). A denial ends the list:
 * the packet never reaches the next hook. */
export function connectionFlows(conn: ConnInfo, cv: OracleConnVerdict, nodeName: string): FlowRecord[] {
  const out: FlowRecord[] = [];
  const order = [...cv.directions].sort((a, b) => (a.direction === b.direction ? 0 : a.direction === 'egress' ? -1 : 1));
  for (const d of order) {
    if (d.reason === 'no-policy') continue;
    const audit = !d.allowed && d.audit;
    out.push({
      timeNs: conn.startTs, nodeName, ...sides(conn, cv), kind: 'l3l4', allowed: d.allowed, denyRule: d.reason === 'deny-rule',
      direction: d.direction, isReply: false, tcpFlags: { SYN: true }, policies: d.rules, ...(audit ? { audit } : {}),
    });
    if (!d.allowed && !audit) break;
  }
  return out;
}

export function requestFlows(r: RequestRecord<OracleConnVerdict, OracleRequestVerdict>, nodeName: string): FlowRecord[] {
  const v = r.verdict.verdict;
  const req = requestOf(r);
  const base = { nodeName, ...sides(r.conn, r.connVerdict), denyRule: false, direction: directionOf(v, r.connVerdict), ...(req ? { request: req } : {}) };
  // a shadow limit's request passes, and so does a denial in audit mode: Hubble's AUDIT says the
  // policy would have dropped it (audit mode reports it as the denial)
  const audit = v.audit || (v.allowed && v.limit?.outcome === 'shadow') ? { audit: true } : {};
  const out: FlowRecord[] = [{ ...base, policies: v.rules, timeNs: r.ts, kind: 'l7-request', allowed: v.allowed && !v.audit, isReply: false, ...audit }];
  if (r.response) {
    // the server's response, or the answer to a denied request (403, 429, a gRPC status): no
    // policy allowed that one, the datapath wrote it
    const headers = r.response.headers;
    out.push({
      ...base, policies: v.allowed && !v.audit ? v.rules : [], timeNs: r.ts + r.response.latencyNs, kind: 'l7-response', allowed: true, isReply: true,
      status: r.response.status, latencyNs: r.response.latencyNs, ...(headers ? { responseHeaders: headers } : {}),
    });
  }
  return out;
}

/** The request as read; a head that broke a strict rule still names its method and target
 * when its request line was read (the kernel's event line holds the same bytes). */
function requestOf(r: RequestRecord<OracleConnVerdict, OracleRequestVerdict>): HttpRequest | undefined {
  const input = r.verdict.input;
  if (input.kind === 'request') return input.request;
  const head = 'head' in r.request ? r.request.head : undefined;
  return head ? requestFromHead(head) : undefined;
}

/** `GET /x HTTP/1.1` (up to the first CR or LF) -> a request without headers; undefined when
 * the line has no method and target. */
export function requestFromHead(head: Uint8Array): HttpRequest | undefined {
  let end = head.indexOf(13);
  const lf = head.indexOf(10);
  if (end < 0 || (lf >= 0 && lf < end)) end = lf;
  const text = Buffer.from(head.subarray(0, end < 0 ? head.length : end)).toString('latin1');
  const [method = '', target = '', version = ''] = text.split(' ');
  if (!method || !target) return undefined;
  return { method, target, version: (version.startsWith('HTTP/') ? version : 'HTTP/1.1') as HttpVersion, headers: [] };
}

/** The kernel's name of why a request was allowed or denied (REASON_NAMES, lowercased), so
 * replay and observe tables say the same. */
export function requestReason(v: Verdict): string {
  switch (v.reason) {
    case 'l7-denied': return 'l7-no-rule';
    case 'default-deny': return 'no-match';
    case 'deny-rule': return 'policy-deny';
    case 'rate-limited': return 'rate-limited';
    case 'strict': return v.violation ? v.violation.rule : 'malformed';
    default: return 'allowed';
  }
}

export function requestRow(r: RequestRecord<OracleConnVerdict, OracleRequestVerdict>): RequestRow {
  const v = r.verdict.verdict;
  const input = r.verdict.input;
  const req = requestOf(r);
  const line = req ? `${req.method} ${req.target}` : `<${input.kind === 'violation' ? input.violation.rule : 'request'}>`;
  return {
    pair: `${describePeer(r.connVerdict.src)} -> ${describePeer(r.connVerdict.dst)}:${r.conn.dstPort}`,
    line,
    allowed: v.allowed,
    ...(v.audit ? { audit: true } : {}),
    reason: requestReason(v),
    rule: v.rules.map((x) => x.source).join(',') || '-',
  };
}
