// The oracle: (policies, flow, request?) -> Verdict. Egress is decided at the source
// endpoint, ingress at the destination endpoint; both must allow. Requests are judged only
// where some direction enforces http rules.
import type { Policy } from '../policy/types.ts';
import { decideDirection } from './direction.ts';
import { matchHttpRule } from './match.ts';
import { describePeer } from './peers.ts';
import { STRICT_RULES } from './strict.ts';
import type { DirectionDecision, Flow, L7Input, Reason, RuleRef, Verdict } from './types.ts';

/** L3/L4 decisions of both directions (the connection decision the kernel takes at SYN). */
export function decideConnection(policies: readonly Policy[], flow: Flow): DirectionDecision[] {
  const out: DirectionDecision[] = [];
  const portOwner = flow.dst.kind === 'endpoint' ? flow.dst.endpoint : null;
  const common = { port: flow.dstPort, protocol: flow.protocol, portOwner };
  if (flow.src.kind === 'endpoint') out.push(decideDirection(policies, { ...common, direction: 'egress', local: flow.src.endpoint, peer: flow.dst }));
  if (flow.dst.kind === 'endpoint') out.push(decideDirection(policies, { ...common, direction: 'ingress', local: flow.dst.endpoint, peer: flow.src }));
  return out;
}

export function decide(policies: readonly Policy[], flow: Flow, input?: L7Input): Verdict {
  return verdictFor(flow, decideConnection(policies, flow), input);
}

/** The verdict from a connection's direction decisions (computed once per connection). */
export function verdictFor(flow: Flow, dirs: readonly DirectionDecision[], input?: L7Input, explain = true): Verdict {
  // the chain of reasons is for people (explain); replay judges many requests and skips it
  const chain = explain ? [`${describePeer(flow.src)} -> ${describePeer(flow.dst)}:${flow.dstPort}/${flow.protocol}`, ...dirs.flatMap((d) => d.chain)] : [];
  const inspected = dirs.some((d) => d.l7 !== null);
  const base = { chain, directions: dirs, inspected, violation: null };
  const denied = dirs.find((d) => !d.allowed);
  if (denied) {
    return { ...base, allowed: false, reason: denied.reason, deniedBy: denied.direction, rules: denied.rules, summary: `denied at L3/L4 (${denied.direction}): ${reasonText(denied.reason)}` };
  }
  const allRules = dirs.flatMap((d) => d.rules);
  if (!inspected || input === undefined) {
    const reason = dirs.find((d) => d.reason === 'allowed')?.reason ?? dirs.find((d) => d.reason !== 'no-policy')?.reason ?? 'no-policy';
    const what = inspected ? 'connection allowed; requests are checked against http rules' : `allowed: ${reasonText(reason)}`;
    return { ...base, allowed: true, reason: inspected ? 'l7-allowed' : reason, deniedBy: null, rules: allRules, summary: what };
  }
  if (input.kind === 'violation') {
    const v = input.violation;
    chain.push(`strict request rule broken: ${STRICT_RULES[v.rule]} (${v.detail}, byte ${v.offset})`);
    const d = dirs.find((x) => x.l7 !== null) as DirectionDecision;
    return { ...base, violation: v, allowed: false, reason: 'strict', deniedBy: d.direction, rules: allRules, summary: `denied: ${STRICT_RULES[v.rule]} (${v.detail})` };
  }
  return judgeRequest(dirs, input.request, base, explain ? chain : null);
}

function judgeRequest(dirs: readonly DirectionDecision[], req: import('./http.ts').HttpRequest, base: Omit<Verdict, 'allowed' | 'reason' | 'deniedBy' | 'rules' | 'summary'>, chain: string[] | null): Verdict {
  const line = `${req.method} ${req.target}`;
  const matched: RuleRef[] = [];
  for (const d of dirs) {
    if (d.l7 === null) continue;
    const hit = d.l7.find((h) => {
      const m = matchHttpRule(h.rule, req, chain !== null);
      chain?.push(`${d.direction}: ${h.ref.text} at ${h.ref.source}: ${m.ok ? 'matches' : m.why}`);
      return m.ok;
    });
    if (!hit) {
      return { ...base, allowed: false, reason: 'l7-denied', deniedBy: d.direction, rules: d.rules, summary: `denied: ${line} matched no http rule (${d.direction} of ${d.endpoint.namespace}/${d.endpoint.name})` };
    }
    matched.push(hit.ref);
  }
  return { ...base, allowed: true, reason: 'l7-allowed', deniedBy: null, rules: matched, summary: `allowed: ${line} matches ${matched.map((r) => r.source).join(', ')}` };
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
  }
}
