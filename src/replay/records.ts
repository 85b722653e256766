// Replay events -> flow records (Hubble shape) and the per-request rows the summary uses.
import { DROP_REASON } from '../flow/proto.ts';
import { requestLine, type FlowRecord, type FlowSide } from '../flow/build.ts';
import type { ConnInfo, RequestRecord } from '../../sim/index.ts';
import { describePeer } from '../verdict/peers.ts';
import { strictRuleText } from '../verdict/h2-request.ts';
import type { Direction, Verdict } from '../verdict/types.ts';
import type { OracleConnVerdict, OracleRequestVerdict } from './judge.ts';

export interface RequestRow {
  readonly pair: string;
  readonly line: string;
  readonly allowed: boolean;
  readonly reason: string;
  readonly rule: string;
}

function sides(conn: ConnInfo, cv: OracleConnVerdict): { src: FlowSide; dst: FlowSide } {
  return { src: { ip: conn.srcIp, port: conn.srcPort, peer: cv.src }, dst: { ip: conn.dstIp, port: conn.dstPort, peer: cv.dst } };
}

function directionOf(v: Verdict, cv: OracleConnVerdict): Direction {
  return v.deniedBy ?? cv.directions.find((d) => d.l7 !== null)?.direction ?? cv.directions.at(-1)?.direction ?? 'ingress';
}

export function connectionFlow(conn: ConnInfo, cv: OracleConnVerdict, nodeName: string): FlowRecord {
  const v = cv.verdict;
  return {
    timeNs: conn.startTs, nodeName, ...sides(conn, cv), kind: 'l3l4', allowed: v.allowed, denyRule: v.reason === 'deny-rule',
    direction: directionOf(v, cv), isReply: false, tcpFlags: { SYN: true }, policies: v.rules,
  };
}

export function requestFlows(r: RequestRecord<OracleConnVerdict, OracleRequestVerdict>, nodeName: string): FlowRecord[] {
  const v = r.verdict.verdict;
  const req = r.verdict.input.kind === 'request' ? r.verdict.input.request : undefined;
  const base = { nodeName, ...sides(r.conn, r.connVerdict), denyRule: false, direction: directionOf(v, r.connVerdict), policies: v.rules, ...(req ? { request: req } : {}) };
  // a denied request is answered (the simulator pairs it with the 403 or gRPC status it got) or reset
  const answered = !v.allowed && r.response ? r.response.status : undefined;
  const grpc = r.response?.headers?.find(([n]) => n === 'grpc-status')?.[1];
  // Hubble's request line, then why and what the client got
  const line = req ? requestLine(req, base.dst) : 'request';
  const denial = answered ? { status: answered, summary: `${line} denied: ${v.summary}; answered ${grpc ? `grpc-status ${grpc}` : answered}` }
    : { summary: `${line} denied: ${v.summary}; reset` };
  const limited = v.reason === 'rate-limited' ? { dropReason: DROP_REASON.rateLimited } : {};
  // a shadow limit's request passes; Hubble's AUDIT says the policy would have dropped it
  const shadow = v.allowed && v.limit?.outcome === 'shadow' ? { audit: true, summary: `${line} ${v.summary}` } : {};
  const out: FlowRecord[] = [{ ...base, timeNs: r.ts, kind: 'l7-request', allowed: v.allowed, isReply: false, ...(v.allowed ? shadow : { ...denial, ...limited }) }];
  if (r.response) {
    const headers = r.response.headers;
    out.push({ ...base, timeNs: r.ts + r.response.latencyNs, kind: 'l7-response', allowed: true, isReply: true, status: r.response.status, latencyNs: r.response.latencyNs, ...(headers ? { responseHeaders: headers } : {}) });
  }
  return out;
}

export function requestRow(r: RequestRecord<OracleConnVerdict, OracleRequestVerdict>): RequestRow {
  const v = r.verdict.verdict;
  const input = r.verdict.input;
  const line = input.kind === 'request' ? `${input.request.method} ${input.request.target}` : `<${input.violation.rule}>`;
  const reason = v.reason === 'strict' && v.violation ? `strict: ${strictRuleText(v.violation.rule)} (${v.violation.detail})` : v.reason;
  return {
    pair: `${describePeer(r.connVerdict.src)} -> ${describePeer(r.connVerdict.dst)}:${r.conn.dstPort}`,
    line,
    allowed: v.allowed,
    reason,
    rule: v.rules.map((x) => x.source).join(',') || '-',
  };
}
