// `l7bpf check` lints: classic mistakes that are valid policy but rarely what was meant.
import type { Endpoint } from '../endpoints/types.ts';
import { selectorMatches } from '../verdict/peers.ts';
import { auditOverridden } from './audit.ts';
import { describeSelector } from '../policy/selectors.ts';
import type { Diagnostic } from '../source/diagnostics.ts';
import { lower } from '../../codegen/ir/lower.ts';
import { DEFAULT_IR_LIMITS, LowerError } from '../../codegen/ir/limits.ts';
import { checkLimits, LimitExceededError } from '../../codegen/emit/limits.ts';
import type { HttpRule, Policy, PolicySpec, PortRule, Rule, SourcePos } from '../policy/types.ts';

/**
 * wholeSet false: `policies` are what is left of a set after files with errors, so whether
 * the set fits the kernel is not judged (the set that will compile is another one).
 */
export function lintPolicies(policies: readonly Policy[], endpoints?: readonly Endpoint[], { wholeSet = true } = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const p of policies) {
    for (const spec of p.specs) {
      for (const rule of spec.rules) for (const pr of rule.toPorts ?? []) for (const h of pr.http ?? []) out.push(...lintHttp(h));
      out.push(...shadowed(policies, spec));
      if (endpoints) out.push(...unmatchedSelectors(spec, endpoints));
    }
  }
  out.push(...duplicateNames(policies));
  out.push(...auditOverridden(policies, endpoints));
  if (wholeSet) out.push(...kernelFit(policies));
  return out;
}

/**
 * Two policies of one kind with one name in one namespace: Kubernetes keeps the last one
 * applied, l7bpf would enforce both, so the set means something else in the cluster.
 */
function duplicateNames(policies: readonly Policy[]): Diagnostic[] {
  const first = new Map<string, Policy>();
  const out: Diagnostic[] = [];
  for (const p of policies) {
    const key = `${p.kind}/${p.namespace ?? ''}/${p.name}`;
    const before = first.get(key);
    if (!before) first.set(key, p);
    else out.push({ severity: 'error', code: 'duplicate-policy', pos: p.pos, message: `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} is also defined at ${before.pos.file}:${before.pos.line}:${before.pos.col}; Kubernetes keeps only the one applied last, l7bpf would enforce both`, hint: 'rename one of them, or merge their rules into one policy' });
  }
  return out;
}

/** Whether the set compiles for the kernel, and DFAs close to the state limit. */
function kernelFit(policies: readonly Policy[]): Diagnostic[] {
  const first = policies[0]?.pos ?? { file: '<policies>', line: 1, col: 1 };
  try {
    const ir = lower(policies);
    checkLimits(ir);
    const limit = DEFAULT_IR_LIMITS.dfaStates;
    return Object.entries(ir.matchers)
      .filter(([, t]) => t.numStates > limit * 0.75)
      .map(([field, t]) => warn(first, 'dfa-size', `the ${field} DFA of this policy set has ${t.numStates} states, near the limit of ${limit}`, 'simplify regexes that begin or end with .*, or split the policy set'));
  } catch (e) {
    if (!(e instanceof LowerError) && !(e instanceof LimitExceededError)) throw e;
    return [warn(first, 'not-compilable', `this policy set cannot be compiled for the kernel: ${e.message}`)];
  }
}

function warn(pos: SourcePos, code: string, message: string, hint?: string): Diagnostic {
  return { severity: 'warning', code, pos, message, ...(hint ? { hint } : {}) };
}

function lintHttp(h: HttpRule): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (h.path !== null && h.origin === 'http' && /\/\*/.test(h.path) && !/\.\*/.test(h.path)) {
    const fixed = h.path.replace(/\/\*/g, '/.*');
    out.push(warn(h.pos, 'glob-regex', `path "${h.path}" is a regex, not a glob: it matches "${h.path.replace(/\/\*/g, '///')}" but not "${h.path.replace(/\/\*.*$/, '/users')}"`, `write "${fixed}"`));
  }
  if (h.host !== null && hasUnescapedDot(h.host)) {
    out.push(warn(h.pos, 'host-dot', `host "${h.host}" has an unescaped "." that matches any character`, `write "${escapeDots(h.host)}"`));
  }
  return out;
}

/** A "." outside a character class and not escaped. */
export function hasUnescapedDot(re: string): boolean {
  let inClass = false;
  for (let i = 0; i < re.length; i++) {
    const c = re[i];
    if (c === '\\') i++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '.' && !inClass && re[i + 1] !== '*' && re[i + 1] !== '+') return true;
  }
  return false;
}

function escapeDots(re: string): string {
  return re.replace(/(^|[^\\])\.(?![*+])/g, '$1\\.');
}

/** http rules made moot by an L4-only allow of the same endpoints, peer and port. */
function shadowed(policies: readonly Policy[], spec: PolicySpec): Diagnostic[] {
  const out: Diagnostic[] = [];
  const sameLocal = policies.flatMap((p) => p.specs).filter((s) => sameJson(s.endpointSelector, spec.endpointSelector));
  for (const rule of spec.rules) {
    for (const pr of rule.toPorts ?? []) {
      if (!pr.http) continue;
      const by = sameLocal.flatMap((s) => s.rules).find((r) => r.section === rule.section && l4OnlyCovers(r, rule, pr));
      if (by) out.push(warn(pr.pos, 'shadowed', `http rules here never restrict anything: the L4-only rule at ${by.pos.file}:${by.pos.line} allows every request from the same peers on this port`, 'add http rules to that rule too, or narrow its peers or ports'));
    }
  }
  return out;
}

function l4OnlyCovers(r: Rule, l7rule: Rule, pr: PortRule): boolean {
  if (r.peer.kind !== 'any' && !sameJson(r.peer, l7rule.peer)) return false;
  if (r.toPorts === null) return r.peer.kind !== 'none';
  return r.toPorts.some((x) => x.http === null && (x.ports.length === 0 || pr.ports.every((p) => x.ports.some((q) => q.protocol !== 'UDP' && q.protocol !== 'SCTP' && (q.port === 0 || (q.port === p.port && q.endPort === p.endPort))))));
}

function unmatchedSelectors(spec: PolicySpec, endpoints: readonly Endpoint[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  if (!endpoints.some((e) => selectorMatches(spec.endpointSelector, e.labels))) {
    out.push(warn(spec.pos, 'no-endpoint', `endpointSelector ${describeSelector(spec.endpointSelector)} selects no known endpoint`));
  }
  for (const rule of spec.rules) {
    if (rule.peer.kind !== 'endpoints') continue;
    for (const s of rule.peer.selectors) {
      if (!endpoints.some((e) => selectorMatches(s, e.labels))) {
        out.push(warn(rule.pos, 'no-endpoint', `peer selector ${describeSelector(s)} selects no known endpoint`));
      }
    }
  }
  return out;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
