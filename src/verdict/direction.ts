// L3/L4 decision for one direction at one local endpoint (docs/semantics.md: default deny once a
// selecting policy has that section; deny wins; an L4-only allow wildcards L7; otherwise
// the union of applicable http rules).
import type { Endpoint } from '../endpoints/types.ts';
import { AUDIT_ANNOTATION, type Policy, type PolicySpec, type PortProtocol, type PortRule, type Rule } from '../policy/types.ts';
import { describePeer, peerMatches, selectorMatches, type PeerRef } from './peers.ts';
import { ruleRef, httpRef, portsText } from './refs.ts';
import type { ApplicableHttpRule, Direction, DirectionDecision, Protocol, RuleRef } from './types.ts';

interface Selected {
  readonly policy: Policy;
  readonly spec: PolicySpec;
}

export interface DirectionQuery {
  readonly direction: Direction;
  readonly local: Endpoint;
  readonly peer: PeerRef;
  /** destination port of the connection */
  readonly port: number;
  readonly protocol: Protocol;
  /** the endpoint that owns named ports (the destination) */
  readonly portOwner: Endpoint | null;
  /** the deployment is in audit mode (`--audit`): every denial passes, reported */
  readonly audit?: boolean;
}

export function decideDirection(policies: readonly Policy[], q: DirectionQuery): DirectionDecision {
  const who = `${q.direction} ${q.direction === 'ingress' ? 'to' : 'from'} ${q.local.namespace}/${q.local.name}`;
  const selected = selecting(policies, q.local);
  const all = selected.filter((s) => selectsFor(s.spec, q.direction));
  const { relevant, audit, left } = auditSplit(all, q.audit === true);
  const base = { direction: q.direction, endpoint: q.local, audit };
  if (relevant.length === 0) {
    return { ...base, allowed: true, reason: 'no-policy', l7: null, rules: [], chain: [`${who}: no policy selects it for ${q.direction} (default allow)`] };
  }
  const enforced = relevant.some((s) => s.spec.defaultDeny[q.direction]);
  const chain = [`${who}: selected by ${relevant.map((s) => policyName(s.policy)).join(', ')}; ${enforced ? `default deny for ${q.direction}` : 'enableDefaultDeny is off (default allow)'}`];
  if (left.length) chain.push(`audited ${left.map(policyName).join(', ')} left out: the enforced policies decide ${q.direction} alone`);
  if (audit) chain.push(`${q.direction} is in audit mode (${q.audit ? '--audit' : `${AUDIT_ANNOTATION}: "true"`}): a denial passes, reported with verdict AUDIT`);
  const rules = relevant.flatMap((s) => s.spec.rules.filter((r) => sectionDir(r) === q.direction).map((r) => ({ s, r })));

  const denies = rules.filter(({ r }) => r.section.endsWith('Deny') && matchesL4(r, q));
  if (denies.length) {
    const refs = denies.map(({ s, r }) => ruleRef(s.policy, r));
    chain.push(...refs.map((ref) => `deny rule ${ref.source} (${ref.policy}) matches ${describePeer(q.peer)} on ${q.port}/${q.protocol}`));
    return { ...base, allowed: false, reason: 'deny-rule', l7: null, rules: refs, chain };
  }
  const allows = rules.filter(({ r }) => !r.section.endsWith('Deny'));
  const l4Only: RuleRef[] = [];
  const l7: ApplicableHttpRule[] = [];
  const l7Refs: RuleRef[] = [];
  for (const { s, r } of allows) {
    if (!peerMatches(r.peer, q.peer)) continue;
    for (const pr of r.toPorts ?? [null]) {
      if (pr && !portRuleMatches(pr, q)) continue;
      const ref = ruleRef(s.policy, r, pr);
      if (!pr || pr.http === null) l4Only.push(ref);
      else {
        l7Refs.push(ref);
        l7.push(...pr.http.map((h) => ({ rule: h, ref: httpRef(s.policy, r, h) })));
      }
    }
  }
  if (l4Only.length) {
    chain.push(...l4Only.map((ref) => `rule ${ref.source} (${ref.policy}) allows ${describePeer(q.peer)} on ${q.port}/${q.protocol} without L7 rules`));
    if (l7Refs.length) chain.push(`the http rules of ${l7Refs.map((r) => r.source).join(', ')} do not restrict this connection (an L4-only rule on the same port wildcards L7)`);
    return { ...base, allowed: true, reason: 'allowed', l7: null, rules: [...l4Only, ...l7Refs], chain };
  }
  if (l7Refs.length) {
    chain.push(...l7Refs.map((ref) => `rule ${ref.source} (${ref.policy}) allows ${describePeer(q.peer)} on ${q.port}/${q.protocol} with http rules`));
    if (!enforced) {
      chain.push('its http rules only observe (enableDefaultDeny is off)');
      return { ...base, allowed: true, reason: 'default-deny-off', l7: null, rules: l7Refs, chain };
    }
    return { ...base, allowed: true, reason: 'l7-allowed', l7, rules: l7Refs, chain };
  }
  if (!enforced) {
    chain.push('no rule matches; allowed because enableDefaultDeny is off');
    return { ...base, allowed: true, reason: 'default-deny-off', l7: null, rules: [], chain };
  }
  chain.push(`no ${q.direction} rule allows ${describePeer(q.peer)} on ${q.port}/${q.protocol}`);
  const refs = rules.map(({ s, r }) => ruleRef(s.policy, r));
  return { ...base, allowed: false, reason: 'default-deny', l7: null, rules: refs, chain };
}

/**
 * Audit mode of an endpoint-direction: audited when every policy selecting it there is (or the
 * deployment is). Audited and enforced policies together: the enforced ones decide alone, as
 * allows are a union and an audited policy must never loosen an enforced one.
 */
function auditSplit(all: readonly Selected[], deployment: boolean): { relevant: readonly Selected[]; audit: boolean; left: readonly Policy[] } {
  const enforcing = all.filter((s) => !s.policy.audit);
  if (enforcing.length === 0) return { relevant: all, audit: deployment || all.length > 0, left: [] };
  const left = [...new Set(all.filter((s) => s.policy.audit).map((s) => s.policy))];
  return { relevant: enforcing, audit: deployment, left };
}

/** Whether a spec selecting an endpoint governs its `dir` (a rule there, or default deny). */
export function selectsFor(spec: PolicySpec, dir: Direction): boolean {
  return spec.rules.some((r) => sectionDir(r) === dir) || spec.defaultDeny[dir];
}

function selecting(policies: readonly Policy[], ep: Endpoint): Selected[] {
  return policies.flatMap((policy) => policy.specs.filter((spec) => selectorMatches(spec.endpointSelector, ep.labels)).map((spec) => ({ policy, spec })));
}

function sectionDir(r: Rule): Direction {
  return r.section.startsWith('ingress') ? 'ingress' : 'egress';
}

function policyName(p: Policy): string {
  return p.namespace ? `${p.namespace}/${p.name}` : p.name;
}

function matchesL4(r: Rule, q: DirectionQuery): boolean {
  return peerMatches(r.peer, q.peer) && (r.toPorts === null || r.toPorts.some((pr) => portRuleMatches(pr, q)));
}

function portRuleMatches(pr: PortRule, q: DirectionQuery): boolean {
  return pr.ports.length === 0 || pr.ports.some((p) => portMatches(p, q));
}

export function portMatches(p: PortProtocol, q: Pick<DirectionQuery, 'port' | 'protocol' | 'portOwner'>): boolean {
  if (p.protocol !== 'ANY' && p.protocol !== q.protocol) return false;
  const port = typeof p.port === 'number' ? p.port : q.portOwner?.namedPorts[p.port];
  if (port === undefined) return false;
  if (port === 0) return true;
  return q.port >= port && q.port <= (p.endPort ?? port);
}

export { portsText };
