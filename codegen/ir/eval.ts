// A direct interpreter of PolicyIR: what the kernel program decides, in TypeScript. Used to
// hold lower() to the oracle (same verdicts on every spec case and random policies) and by
// the loader to compute each identity's selector bits.
import { accepts, step, START, type DfaTables } from '../regex/tables.ts';
import { cidrMatches, entityMatches, selectorMatches, type PeerRef } from '../../src/verdict/peers.ts';
import type { HttpRequest } from '../../src/verdict/http.ts';
import type { Entity } from '../../src/policy/types.ts';
import type { Direction, PolicyIR, Protocol, SelectorIR } from './types.ts';

export type IrDecision = ({ readonly kind: 'deny' } | { readonly kind: 'allow' } | { readonly kind: 'l7'; readonly httpRules: readonly number[] }) & {
  /** the local endpoint is audited in this direction (l7_decide_conn's q->audit) */
  readonly audit?: boolean;
};

export function selectorMatchesPeer(s: SelectorIR, peer: PeerRef): boolean {
  switch (s.match.kind) {
    case 'labels':
      return peer.kind === 'endpoint' && selectorMatches(s.match.selector, peer.endpoint.labels);
    case 'entity':
      return entityMatches(s.match.entity as Entity, peer);
    case 'cidr':
      return cidrMatches({ cidr: s.match.cidr, except: s.match.except }, peer);
  }
}

/** Indices of the selectors that match a peer (the bitset the `selectors` map holds). */
export function selectorBits(ir: PolicyIR, peer: PeerRef): Set<number> {
  return new Set(ir.selectors.filter((s) => selectorMatchesPeer(s, peer)).map((s) => s.index));
}

/** `deployAudit`: the deployment is in audit mode (l7cfg) */
export function decideIR(ir: PolicyIR, dir: Direction, local: ReadonlySet<number>, peer: ReadonlySet<number>, port: number, proto: Exclude<Protocol, 'ANY'>, deployAudit = false): IrDecision {
  const d = decideTable(ir, dir, local, peer, port, proto);
  const audit = deployAudit || auditOf(ir[dir], local) === 'audited';
  return audit ? { ...d, audit } : d;
}

/** An endpoint-direction under audited policies only, or one an enforced policy selects (its
 * audited entries are left out), or none of them. */
function auditOf(table: PolicyIR['ingress'], local: ReadonlySet<number>): 'audited' | 'strict' | 'none' {
  const a = table.audit;
  if (!a) return 'none';
  if (a.strict.some((i) => local.has(i))) return 'strict';
  return a.selectors.some((i) => local.has(i)) ? 'audited' : 'none';
}

function decideTable(ir: PolicyIR, dir: Direction, local: ReadonlySet<number>, peer: ReadonlySet<number>, port: number, proto: Exclude<Protocol, 'ANY'>): IrDecision {
  const table = ir[dir];
  const mode = auditOf(table, local);
  const enforced = table.enforced.some((i) => local.has(i)) || (mode === 'audited' && table.audit!.enforced.some((i) => local.has(i)));
  const hits = table.entries.filter(
    (e) => !(e.audit && mode === 'strict') && local.has(e.local) && (e.peer < 0 || peer.has(e.peer)) && port >= e.portLo && port <= e.portHi && (e.proto === 'ANY' || e.proto === proto),
  );
  if (hits.some((e) => e.action.kind === 'deny')) return { kind: 'deny' };
  if (hits.some((e) => e.action.kind === 'allow')) return { kind: 'allow' };
  const sets = hits.flatMap((e) => (e.action.kind === 'l7' ? [e.action.set] : []));
  if (sets.length) {
    // without default deny, http rules only observe
    if (!enforced) return { kind: 'allow' };
    const rules = new Set(sets.flatMap((s) => ir.l7Sets[s]?.httpRules ?? []));
    return { kind: 'l7', httpRules: [...rules].sort((a, b) => a - b) };
  }
  return enforced ? { kind: 'deny' } : { kind: 'allow' };
}

const latin1 = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));

function matchSet(t: DfaTables, input: string): Set<number> {
  return new Set(accepts(t, step(t, START, latin1(input))));
}

/** Whether some of `httpRules` matches the request, through the field DFAs as the kernel runs them. */
export function requestAllowedIR(ir: PolicyIR, httpRules: readonly number[], req: HttpRequest): boolean {
  const m = ir.matchers;
  const method = matchSet(m.method, req.method);
  const path = matchSet(m.path, req.target);
  const hostName = req.version === 'HTTP/2' ? ':authority' : 'host';
  const hostValue = req.headers.find(([n]) => n.toLowerCase() === hostName)?.[1];
  const host = hostValue === undefined ? new Set<number>() : matchSet(m.host, hostValue);
  // a requirement with a value is met by exactly one occurrence of its header with that value
  const seen = new Map<number, number>();
  const valueOk = new Set<number>();
  for (const [name, value] of req.headers) {
    const values = matchSet(m.headerValue, value);
    for (const n of matchSet(m.headerName, name)) {
      seen.set(n, (seen.get(n) ?? 0) + 1);
      if (values.has(n)) valueOk.add(n);
    }
  }
  const satisfied = new Set([...seen.keys()].filter((n) => ir.headerReqs[n]?.value === null || (seen.get(n) === 1 && valueOk.has(n))));
  return httpRules.some((i) => {
    const r = ir.httpRules[i];
    if (!r) return false;
    if (r.http2Only && req.version !== 'HTTP/2') return false;
    const hostOk = r.host === null || host.has(i);
    return method.has(i) && path.has(i) && hostOk && r.headers.every((h) => satisfied.has(h));
  });
}
