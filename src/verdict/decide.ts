// The oracle: (policies, flow, request?) -> Verdict. Egress is decided at the source
// endpoint, ingress at the destination endpoint; both must allow. Requests are judged only
// where some direction enforces http rules.
import type { Policy } from '../policy/types.ts';
import { decideDirection } from './direction.ts';
import { matchHttpRule } from './match.ts';
import { describePeer } from './peers.ts';
import { strictRuleText } from './h2-request.ts';
import { admit, describeLimit, identityOf, type RateContext, type Buckets } from './ratelimit.ts';
import type { ApplicableHttpRule, DirectionDecision, Flow, L7Input, LimitOutcome, Reason, RuleRef, Verdict } from './types.ts';
import type { HttpRequest } from './http.ts';

/** Deployment-wide settings the verdict depends on. */
export interface DecideOptions {
  /** audit mode (`--audit`): every denial passes, reported with Hubble's verdict AUDIT */
  readonly audit?: boolean;
}

/** L3/L4 decisions of both directions (the connection decision the kernel takes at SYN). */
export function decideConnection(policies: readonly Policy[], flow: Flow, opts: DecideOptions = {}): DirectionDecision[] {
  const out: DirectionDecision[] = [];
  const portOwner = flow.dst.kind === 'endpoint' ? flow.dst.endpoint : null;
  const common = { port: flow.dstPort, protocol: flow.protocol, portOwner, audit: opts.audit === true };
  if (flow.src.kind === 'endpoint') out.push(decideDirection(policies, { ...common, direction: 'egress', local: flow.src.endpoint, peer: flow.dst }));
  if (flow.dst.kind === 'endpoint') out.push(decideDirection(policies, { ...common, direction: 'ingress', local: flow.dst.endpoint, peer: flow.src }));
  return out;
}

export function decide(policies: readonly Policy[], flow: Flow, input?: L7Input, opts: DecideOptions = {}): Verdict {
  return verdictFor(flow, decideConnection(policies, flow, opts), input);
}

/** Shared fields of one verdict computation. */
interface Base {
  readonly chain: string[];
  readonly directions: readonly DirectionDecision[];
  readonly inspected: boolean;
}

// every field written out: object spread of a shared base is the slowest way V8 builds these
function make(b: Base, allowed: boolean, reason: Reason, deniedBy: Verdict['deniedBy'], rules: readonly RuleRef[], summary: string, violation: Verdict['violation'] = null, limit: LimitOutcome | null = null, audit = false): Verdict {
  return { allowed, audit, reason, summary, chain: b.chain, rules, deniedBy, inspected: b.inspected, violation, directions: b.directions, limit };
}

/** A denial in an audited direction: the traffic passes, the denial is what is reported. */
function audited(v: Verdict): Verdict {
  return { ...v, allowed: true, audit: true };
}

/** Buckets and clock for requests judged with rate limits (replay); without them limits only show. */
export interface RateInput {
  readonly buckets: Buckets;
  readonly now: bigint;
  /** the connection, for `per: connection` */
  readonly conn: number;
}

/** The verdict from a connection's direction decisions (computed once per connection). */
export function verdictFor(flow: Flow, dirs: readonly DirectionDecision[], input?: L7Input, explain = true, rate: RateInput | null = null): Verdict {
  // the chain of reasons is for people (explain); replay judges many requests and skips it
  const chain = explain ? [`${describePeer(flow.src)} -> ${describePeer(flow.dst)}:${flow.dstPort}/${flow.protocol}`, ...dirs.flatMap((d) => d.chain)] : [];
  let inspected = false;
  let denied: DirectionDecision | null = null;
  let passed: DirectionDecision | null = null;
  for (const d of dirs) {
    if (d.l7 !== null) inspected = true;
    if (!d.allowed && d.audit) passed ??= d;
    else if (!d.allowed) denied ??= d;
  }
  const b: Base = { chain, directions: dirs, inspected };
  if (denied) return l4Denial(b, denied);
  const allRules: RuleRef[] = [];
  for (const d of dirs) allRules.push(...d.rules);
  // a request on the connection is judged by the other direction; the L3/L4 audit is the connection's
  if (passed && (!inspected || input === undefined)) return audited(l4Denial(b, passed));
  if (!inspected || input === undefined) {
    const reason = dirs.find((d) => d.reason === 'allowed')?.reason ?? dirs.find((d) => d.reason !== 'no-policy')?.reason ?? 'no-policy';
    const what = inspected ? 'connection allowed; requests are checked against http rules' : `allowed: ${reasonText(reason)}`;
    return make(b, true, inspected ? 'l7-allowed' : reason, null, allRules, what);
  }
  if (input.kind === 'violation') {
    const v = input.violation;
    if (explain) chain.push(`strict request rule broken: ${strictRuleText(v.rule)} (${v.detail}, byte ${v.offset})`);
    // every inspecting direction meets it: an enforced one denies, else the first audits it
    const d = dirs.find((x) => x.l7 !== null && !x.audit) ?? (dirs.find((x) => x.l7 !== null) as DirectionDecision);
    const strict = make(b, false, 'strict', d.direction, allRules, `denied: ${strictRuleText(v.rule)} (${v.detail})`, v);
    return d.audit ? audited(strict) : strict;
  }
  const ctx = rate && { buckets: rate.buckets, now: rate.now, conn: rate.conn, source: identityOf(flow.src) };
  return judgeRequest(dirs, input.request, b, explain ? chain : null, ctx);
}

function l4Denial(b: Base, d: DirectionDecision): Verdict {
  return make(b, false, d.reason, d.direction, d.rules, `denied at L3/L4 (${d.direction}): ${reasonText(d.reason)}`);
}

/** Each inspecting direction in turn, as the datapath's hooks meet the request: an enforced
 * denial ends it; an audited one passes (the first is reported) and the next direction judges. */
function judgeRequest(dirs: readonly DirectionDecision[], req: HttpRequest, b: Base, chain: string[] | null, ctx: RateContext | null): Verdict {
  const matched: RuleRef[] = [];
  const j: Judged = { limit: null, by: null };
  let passed: Verdict | null = null;
  for (const d of dirs) {
    if (d.l7 === null) continue;
    const denial = judgeDirection(d, req, b, chain, ctx, j);
    if (denial === null) matched.push(j.by as RuleRef);
    else if (!d.audit) return denial;
    else passed ??= denial;
  }
  const limit = j.limit;
  if (passed) return audited(passed);
  return make(b, true, 'l7-allowed', null, matched, `allowed: ${req.method} ${req.target} matches ${matched.map((r) => r.source).join(', ')}${limit?.outcome === 'shadow' ? ' (over its rate limit: shadow mode)' : ''}`, null, limit);
}

/** What the directions judged so far: the rate limit that decided or was charged, the rule that admitted. */
interface Judged {
  limit: LimitOutcome | null;
  by: RuleRef | null;
}

/** One direction's judgement of a request: its denial, or null (the rule that admits it in j.by). */
function judgeDirection(d: DirectionDecision, req: HttpRequest, b: Base, chain: string[] | null, ctx: RateContext | null, j: Judged): Verdict | null {
  const where = `${d.direction} of ${d.endpoint.namespace}/${d.endpoint.name}`;
  const hits = matchingRules(d, req, chain);
  if (hits.length === 0) return make(b, false, 'l7-denied', d.direction, d.rules, `denied: ${req.method} ${req.target} matched no http rule (${where})`, null, j.limit);
  const a = admit(hits, ctx);
  const rl = a.by.rule.rateLimit;
  if (rl) {
    const outcome = a.kind === 'admitted' ? (ctx ? 'took' : 'applies') : a.shadow ? 'shadow' : 'limited';
    chain?.push(`${d.direction}: rate limit ${describeLimit(rl)} of ${a.by.ref.source}: ${outcome === 'applies' ? 'applies (a token per request)' : outcome === 'took' ? 'token taken' : outcome === 'shadow' ? 'no token; shadow mode lets it pass' : 'no token left'}`);
    if (!j.limit || j.limit.outcome === 'took' || j.limit.outcome === 'applies') j.limit = { ref: a.by.ref, rule: a.by.rule, limit: rl, outcome };
  }
  if (a.kind === 'limited' && !a.shadow) {
    return make(b, false, 'rate-limited', d.direction, [a.by.ref], `denied: ${req.method} ${req.target} rate-limited by ${a.by.ref.source} (${describeLimit(rl!)}; ${where})`, null, j.limit);
  }
  j.by = a.by.ref;
  return null;
}

/** The direction's rules that match, in policy order; only the first unless rate limits may skip it. */
function matchingRules(d: DirectionDecision, req: HttpRequest, chain: string[] | null): ApplicableHttpRule[] {
  const hits: ApplicableHttpRule[] = [];
  for (const h of d.l7 ?? []) {
    const m = matchHttpRule(h.rule, req, chain !== null);
    chain?.push(`${d.direction}: ${h.ref.text} at ${h.ref.source}: ${m.ok ? 'matches' : m.why}`);
    if (!m.ok) continue;
    hits.push(h);
    if (h.rule.rateLimit === null) break; // a rule without a limit admits it whatever follows
  }
  return hits;
}

export function reasonText(r: Reason): string {
  switch (r) {
    case 'no-policy':
      return 'no policy selects the endpoints';
    case 'allowed':
      return 'an L3/L4 rule allows it';
    case 'l7-allowed':
      return 'an http rule allows it';
    case 'default-deny-off':
      return 'enableDefaultDeny is off';
    case 'default-deny':
      return 'no rule allows it (default deny)';
    case 'deny-rule':
      return 'a deny rule matches';
    case 'l7-denied':
      return 'no http rule matches';
    case 'strict':
      return 'strict request rule broken';
    case 'rate-limited':
      return 'rate limit reached';
  }
}
