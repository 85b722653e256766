// The simulator's judge backed by the oracle: connection decisions at SYN, request verdicts
// from the raw head bytes (strict rules first, then http rules). It also turns what it
// judged into flow records.
import type { Inventory } from '../endpoints/types.ts';
import type { Policy } from '../policy/types.ts';
import { verdictFor, decideConnection, type DecideOptions, h2Request, headerValues, parseRequestHead, resolveIp, type DirectionDecision, type L7Input, type Verdict } from '../verdict/index.ts';
import type { PeerRef } from '../verdict/peers.ts';
import { Buckets } from '../verdict/ratelimit.ts';
import type { ConnInfo, Judge, RequestEvent } from '../../sim/index.ts';

export interface OracleConnVerdict {
  readonly allowed: boolean;
  readonly inspect: boolean;
  readonly inspectsBeforeForwarding?: boolean;
  readonly audited?: boolean;
  readonly src: PeerRef;
  readonly dst: PeerRef;
  readonly directions: readonly DirectionDecision[];
  readonly verdict: Verdict;
}

export interface OracleRequestVerdict {
  readonly allowed: boolean;
  readonly ruleDenied: boolean;
  readonly limited: boolean;
  readonly audited?: 'request' | 'stream';
  readonly verdict: Verdict;
  readonly input: L7Input;
}

/** `buckets`: the rate limits' state, driven by the capture's timestamps (one per replay);
 * `opts.audit`: the deployment is in audit mode (replay --audit). */
export function oracleJudge(policies: readonly Policy[], inv: Inventory, limit?: number, buckets = new Buckets(), opts: DecideOptions = {}): Judge<OracleConnVerdict, OracleRequestVerdict> {
  return {
    connection(conn: ConnInfo): OracleConnVerdict {
      const src = resolveIp(inv, conn.srcIp);
      const dst = resolveIp(inv, conn.dstIp);
      const flow = { src, dst, dstPort: conn.dstPort, protocol: 'TCP' as const };
      const directions = decideConnection(policies, flow, opts);
      const verdict = verdictFor(flow, directions);
      const inspect = verdict.allowed && directions.some((d) => d.l7 !== null);
      const inspectsBeforeForwarding = inspect && directions.some((d) => d.l7 !== null && d.direction === 'egress');
      const audited = inspect && directions.every((d) => d.l7 === null || d.audit);
      return { allowed: verdict.allowed, inspect, inspectsBeforeForwarding, ...(audited ? { audited } : {}), src, dst, directions, verdict };
    },
    partial(conn: ConnInfo, head: Uint8Array, cv: OracleConnVerdict): OracleRequestVerdict | null {
      const h = parseRequestHead(head, limit);
      if (h.kind !== 'violation') return null;
      const input: L7Input = { kind: 'violation', violation: h.violation };
      const verdict = verdictFor({ src: cv.src, dst: cv.dst, dstPort: conn.dstPort, protocol: 'TCP' }, cv.directions, input, false);
      return { allowed: verdict.allowed, ruleDenied: false, limited: false, ...auditOf(verdict, input), verdict, input };
    },
    request(conn: ConnInfo, req: RequestEvent, cv: OracleConnVerdict, ts: bigint): OracleRequestVerdict {
      const input = l7InputOf(req, limit);
      const verdict = verdictFor({ src: cv.src, dst: cv.dst, dstPort: conn.dstPort, protocol: 'TCP' }, cv.directions, input, false, { buckets, now: ts, conn: conn.id });
      return { allowed: verdict.allowed, ruleDenied: !verdict.allowed && input.kind === 'request', limited: verdict.reason === 'rate-limited', ...auditOf(verdict, input), verdict, input };
    },
  };
}

/** What audit mode let pass: a request the rules denied, or a stream that broke a strict rule. */
function auditOf(v: Verdict, input: L7Input): { audited?: 'request' | 'stream' } {
  return v.audit ? { audited: input.kind === 'request' ? 'request' : 'stream' } : {};
}

/** What the oracle judges for a request event: our strict parse of the raw head decides. */
export function l7InputOf(req: RequestEvent, limit?: number): L7Input {
  if (req.kind === 'h2-error') return { kind: 'violation', violation: { rule: req.rule, detail: req.detail, offset: req.offset } };
  if (req.kind === 'h2-request') {
    const r = h2Request(req.fields);
    return r.kind === 'ok' ? { kind: 'request', request: r.request } : { kind: 'violation', violation: r.violation };
  }
  if (req.kind === 'violation' && req.code === 'head-too-long') {
    return { kind: 'violation', violation: { rule: 'head-too-long', detail: req.detail, offset: req.offset } };
  }
  // the stream rule of protocol upgrades (docs/datapath.md): the client waits for the answer
  if (req.kind === 'violation' && req.code === 'data-before-upgrade') {
    return { kind: 'violation', violation: { rule: 'upgrade', detail: req.detail, offset: req.offset } };
  }
  const head = parseRequestHead(req.head, limit);
  if (head.kind === 'violation') return { kind: 'violation', violation: head.violation };
  if (head.kind === 'ok' && req.kind === 'request') {
    // ... and a websocket handshake (the only Upgrade a valid head has) is the first request
    if (req.headStart > 0 && headerValues(head.request, 'upgrade').length > 0) {
      return { kind: 'violation', violation: { rule: 'upgrade', detail: 'websocket handshake after the first request of the connection', offset: head.length - 1 } };
    }
    return { kind: 'request', request: head.request };
  }
  const detail = req.kind === 'parse-error' ? `${req.code}: ${req.reason}` : req.kind === 'violation' ? req.detail : 'request head not understood';
  const offset = req.kind === 'request' ? 0 : req.offset;
  return { kind: 'violation', violation: { rule: 'malformed', detail, offset } };
}
