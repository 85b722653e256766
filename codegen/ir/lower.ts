// lower(policies) -> PolicyIR: selectors numbered in first-use order, per-direction port
// tables, http rules with their header requirements, and one multi-pattern DFA per field.
// Pure and deterministic: the same policies always give the same IR.
import { compile, TooManyStatesError } from '../regex/index.ts';
import { describeSelector } from '../../src/policy/selectors.ts';
import type { HttpRule, Policy, PolicySpec, PortProtocol, Rule, SelectorSpec } from '../../src/policy/types.ts';
import { selectsFor } from '../../src/verdict/direction.ts';
import type {
  ActionIR, AuditIR, Direction, DirectionIR, HeaderReqIR, HttpRuleIR, L7SetIR, MatchersIR, PolicyIR, PortEntryIR, RuleRefIR, SelectorIR,
} from './types.ts';
import { DEFAULT_IR_LIMITS, LowerError, type IrLimits } from './limits.ts';
import { intervalNs, toleranceNs } from '../../src/verdict/ratelimit.ts';
import { policyMatch } from '../../src/verdict/refs.ts';

class Builder {
  readonly selectors: SelectorIR[] = [];
  private readonly selectorIndex = new Map<string, number>();
  readonly entries: Record<Direction, PortEntryIR[]> = { ingress: [], egress: [] };
  readonly enforced: Record<Direction, Set<number>> = { ingress: new Set(), egress: new Set() };
  /** per direction: audited specs' selectors, their default-deny ones, enforced specs' selectors */
  readonly audit: Record<Direction, Record<keyof AuditIR, Set<number>>> = { ingress: auditSets(), egress: auditSets() };
  readonly httpRules: HttpRuleIR[] = [];
  readonly headerReqs: HeaderReqIR[] = [];
  private readonly headerIndex = new Map<string, number>();
  readonly l7Sets: L7SetIR[] = [];
  readonly rules: RuleRefIR[] = [];

  selector(match: SelectorIR['match'], description: string): number {
    const key = JSON.stringify(match);
    let i = this.selectorIndex.get(key);
    if (i === undefined) {
      i = this.selectors.length;
      this.selectors.push({ index: i, description, match });
      this.selectorIndex.set(key, i);
    }
    return i;
  }

  header(name: string, value: string | null): number {
    const key = `${name.toLowerCase()}\0${value ?? '\u0001'}`;
    let i = this.headerIndex.get(key);
    if (i === undefined) {
      i = this.headerReqs.length;
      this.headerReqs.push({ index: i, name: name.toLowerCase(), value });
      this.headerIndex.set(key, i);
    }
    return i;
  }
}

export function lower(policies: readonly Policy[], limits: IrLimits = DEFAULT_IR_LIMITS): PolicyIR {
  const b = new Builder();
  for (const policy of policies) for (const spec of policy.specs) lowerSpec(b, policy, spec);
  return {
    selectors: b.selectors,
    ingress: directionIR(b, 'ingress'),
    egress: directionIR(b, 'egress'),
    httpRules: b.httpRules,
    headerReqs: b.headerReqs,
    l7Sets: b.l7Sets,
    matchers: buildMatchers(b.httpRules, b.headerReqs, limits),
    rules: b.rules,
  };
}

const auditSets = (): Record<keyof AuditIR, Set<number>> => ({ selectors: new Set(), enforced: new Set(), strict: new Set() });
const sorted = (s: ReadonlySet<number>): number[] => [...s].sort((x, y) => x - y);

function directionIR(b: Builder, dir: Direction): DirectionIR {
  const a = b.audit[dir];
  const base = { enforced: sorted(b.enforced[dir]), entries: b.entries[dir] };
  if (a.selectors.size === 0) return base;
  return { ...base, audit: { selectors: sorted(a.selectors), enforced: sorted(a.enforced), strict: sorted(a.strict) } };
}

function labelsSelector(b: Builder, s: SelectorSpec): number {
  return b.selector({ kind: 'labels', selector: s }, describeSelector(s));
}

function lowerSpec(b: Builder, policy: Policy, spec: PolicySpec): void {
  const local = labelsSelector(b, spec.endpointSelector);
  for (const dir of ['ingress', 'egress'] as const) {
    if (!selectsFor(spec, dir)) continue;
    const a = b.audit[dir];
    (policy.audit ? a.selectors : a.strict).add(local);
    if (spec.defaultDeny[dir]) (policy.audit ? a.enforced : b.enforced[dir]).add(local);
  }
  for (const rule of spec.rules) lowerRule(b, policy, rule, local);
}

function lowerRule(b: Builder, policy: Policy, rule: Rule, local: number): void {
  const dir: Direction = rule.section.startsWith('ingress') ? 'ingress' : 'egress';
  const ruleIndex = b.rules.length;
  b.rules.push({ index: ruleIndex, policy: policy.name, namespace: policy.namespace, section: rule.section, source: `${rule.pos.file}:${rule.pos.line}`, match: policyMatch(rule) });
  const peers = peerSelectors(b, rule);
  const deny = rule.section.endsWith('Deny');
  const add = (peer: number, lo: number, hi: number, proto: PortEntryIR['proto'], action: ActionIR) =>
    b.entries[dir].push({ local, peer, portLo: lo, portHi: hi, proto, action, rule: ruleIndex, ...(policy.audit ? { audit: true } : {}) });
  for (const pr of rule.toPorts ?? [null]) {
    const action: ActionIR = deny ? { kind: 'deny' } : !pr || pr.http === null ? { kind: 'allow' } : { kind: 'l7', set: l7Set(b, pr.http, ruleIndex) };
    const ranges = pr && pr.ports.length ? pr.ports.map(portRange) : [{ lo: 0, hi: 65535, proto: 'ANY' as const }];
    for (const peer of peers) for (const r of ranges) add(peer, r.lo, r.hi, r.proto, action);
  }
}

function peerSelectors(b: Builder, rule: Rule): number[] {
  const p = rule.peer;
  switch (p.kind) {
    case 'any':
      return [-1];
    case 'none':
      return [];
    case 'endpoints':
      return p.selectors.map((s) => labelsSelector(b, s));
    case 'entities':
      return p.entities.filter((e) => e !== 'none').map((e) => b.selector({ kind: 'entity', entity: e }, `entity:${e}`));
    case 'cidr':
      return p.cidrs.map((c) => b.selector({ kind: 'cidr', cidr: c.cidr, except: c.except }, `cidr:${c.cidr}${c.except.length ? ` except ${c.except.join(',')}` : ''}`));
  }
}

function portRange(p: PortProtocol): { lo: number; hi: number; proto: PortEntryIR['proto'] } {
  if (typeof p.port !== 'number') {
    throw new LowerError(`${p.pos.file}:${p.pos.line}:${p.pos.col}: named port "${p.port}" cannot be compiled into an endpoint-agnostic object`, 'write the port number');
  }
  if (p.port === 0) return { lo: 0, hi: 65535, proto: p.protocol };
  return { lo: p.port, hi: p.endPort ?? p.port, proto: p.protocol };
}

function l7Set(b: Builder, rules: readonly HttpRule[], ruleIndex: number): number {
  const indices = rules.map((h) => {
    const index = b.httpRules.length;
    const headers = h.headers.map((x) => {
      // the kernel matches one occurrence; Envoy compares repeated headers joined with ","
      if (x.value?.includes(',')) throw new LowerError(`${h.pos.file}:${h.pos.line}:${h.pos.col}: header value "${x.value}" contains ","; the kernel cannot match it like Envoy does for repeated headers`, 'require the header without the comma-separated part');
      return b.header(x.name, x.value);
    });
    const rl = h.rateLimit;
    const rateLimit = rl && { ...rl, intervalNs: Number(intervalNs(rl)), toleranceNs: Number(toleranceNs(rl)) };
    b.httpRules.push({ index, rule: ruleIndex, method: h.method, path: h.path, host: h.host, headers, http2Only: h.origin === 'grpc', rateLimit, source: `${h.pos.file}:${h.pos.line}` });
    return index;
  });
  const set = b.l7Sets.length;
  b.l7Sets.push({ index: set, httpRules: indices });
  return set;
}

/** RE2 literal for an exact string. */
export function literalRegex(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

function buildMatchers(rules: readonly HttpRuleIR[], headers: readonly HeaderReqIR[], limits: IrLimits): MatchersIR {
  const field = (name: string, patterns: string[]) => {
    try {
      return compile(patterns, { maxStates: limits.dfaStates }).tables;
    } catch (e) {
      if (e instanceof TooManyStatesError) throw new LowerError(`the ${name} rules need more than ${limits.dfaStates} DFA states`, 'split the policy, or simplify regexes that start or end with .*');
      throw e;
    }
  };
  return {
    method: field('method', rules.map((r) => r.method ?? '.*')),
    path: field('path', rules.map((r) => r.path ?? '.*')),
    host: field('host', rules.map((r) => r.host ?? '.*')),
    headerName: field('header name', headers.map((h) => `(?i)${literalRegex(h.name)}`)),
    headerValue: field('header value', headers.map((h) => (h.value === null ? '.*' : literalRegex(h.value)))),
  };
}
