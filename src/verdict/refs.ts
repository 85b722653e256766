// Human references to the rules behind a verdict: policy, section, file:line and a short text.
import { describeLimit } from './ratelimit.ts';
import { describeSelector } from '../policy/selectors.ts';
import type { HttpRule, Peer, Policy, PortRule, Rule } from '../policy/types.ts';
import type { RuleRef } from './types.ts';

// the rule entry's line, not its port rule's: the kernel names rules by entry (PolicyIR.rules),
// so replay and observe name the same line for the same verdict
export function ruleRef(policy: Policy, rule: Rule, pr?: PortRule | null): RuleRef {
  const pos = rule.pos;
  const ports = pr ? ` toPorts ${portsText(pr)}` : rule.toPorts ? ` toPorts ${rule.toPorts.map(portsText).join(' | ')}` : '';
  return {
    policy: policy.name,
    namespace: policy.namespace,
    section: rule.section,
    source: `${pos.file}:${pos.line}`,
    text: `${rule.section} ${peerText(rule.peer, rule.section)}${ports}`,
    match: policyMatch(rule, pr),
  };
}

/** Cilium's PolicyMatchType for a rule: peers named (L3) or any, ports named (L4) or any.
 * The same for the kernel's rule table (codegen/ir/lower.ts), so observe reports what replay does. */
export function policyMatch(rule: Rule, pr?: PortRule | null): number {
  const l3 = rule.peer.kind !== 'any';
  const l4 = pr ? pr.ports.length > 0 : (rule.toPorts ?? []).some((p) => p.ports.length > 0);
  return l3 ? (l4 ? 2 : 1) : l4 ? 3 : 4;
}

export function httpRef(policy: Policy, rule: Rule, h: HttpRule): RuleRef {
  return {
    policy: policy.name,
    namespace: policy.namespace,
    section: rule.section,
    source: `${h.pos.file}:${h.pos.line}`,
    text: httpText(h),
  };
}

export function httpText(h: HttpRule): string {
  const parts: string[] = [];
  if (h.method !== null) parts.push(`method: ${h.method}`);
  if (h.path !== null) parts.push(`path: ${h.path}`);
  if (h.host !== null) parts.push(`host: ${h.host}`);
  for (const x of h.headers) parts.push(`header: ${x.value === null ? x.name : `${x.name}: ${x.value}`}`);
  if (h.rateLimit) parts.push(`rateLimit: ${describeLimit(h.rateLimit)}`);
  return `${h.origin} {${parts.join(', ')}}`;
}

export function portsText(pr: PortRule): string {
  if (pr.ports.length === 0) return 'any';
  return pr.ports.map((p) => `${p.port}${p.endPort !== null ? `-${p.endPort}` : ''}/${p.protocol}`).join(',');
}

function peerText(peer: Peer, section: string): string {
  const dir = section.startsWith('ingress') ? 'from' : 'to';
  switch (peer.kind) {
    case 'any':
      return `${dir} any`;
    case 'none':
      return `${dir} nothing`;
    case 'endpoints':
      return `${dir}Endpoints ${peer.selectors.map(describeSelector).join(' | ')}`;
    case 'entities':
      return `${dir}Entities ${peer.entities.join(',')}`;
    case 'cidr':
      return `${dir}CIDR ${peer.cidrs.map((c) => c.cidr + (c.except.length ? ` except ${c.except.join(',')}` : '')).join(',')}`;
  }
}
