// The lint of audit mode: an audited and an enforced policy selecting the same endpoints in one
// direction. The enforced one decides there alone (allows are a union: an audited policy must
// never loosen an enforced one), so the audited policy's rules audit nothing for those endpoints.
import type { Endpoint } from '../endpoints/types.ts';
import { selectorMatches } from '../verdict/peers.ts';
import { selectsFor } from '../verdict/direction.ts';
import { describeSelector } from '../policy/selectors.ts';
import { AUDIT_ANNOTATION, type Policy, type PolicySpec, type SelectorSpec } from '../policy/types.ts';
import type { Diagnostic } from '../source/diagnostics.ts';

const DIRECTIONS = ['ingress', 'egress'] as const;

/** One warning per audited spec, direction and enforced policy selecting some of the same
 * endpoints: known ones when an inventory is given, else any the two selectors may share. */
export function auditOverridden(policies: readonly Policy[], endpoints?: readonly Endpoint[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const enforced = policies.filter((p) => !p.audit);
  for (const p of policies.filter((x) => x.audit)) {
    for (const spec of p.specs) {
      for (const dir of DIRECTIONS) {
        if (!selectsFor(spec, dir)) continue;
        for (const q of enforced) {
          if (q.specs.some((t) => selectsFor(t, dir) && overlap(spec, t, endpoints))) out.push(warning(p, spec, dir, q));
        }
      }
    }
  }
  return out;
}

function warning(p: Policy, spec: PolicySpec, dir: string, q: Policy): Diagnostic {
  return {
    severity: 'warning', code: 'audit-overridden', pos: spec.pos,
    message: `audited policy ${nameOf(p)} selects ${describeSelector(spec.endpointSelector)} for ${dir}, and so does enforced policy ${nameOf(q)}: there the enforced policy decides alone and this one's rules are left out`,
    hint: `annotate ${nameOf(q)} with ${AUDIT_ANNOTATION}: "true" too to audit those endpoints, or narrow one endpointSelector`,
  };
}

const nameOf = (p: Policy): string => (p.namespace ? `${p.namespace}/${p.name}` : p.name);

function overlap(a: PolicySpec, b: PolicySpec, endpoints?: readonly Endpoint[]): boolean {
  const [x, y] = [a.endpointSelector, b.endpointSelector];
  if (endpoints) return endpoints.some((e) => selectorMatches(x, e.labels) && selectorMatches(y, e.labels));
  return mayOverlap(x, y) && mayOverlap(y, x);
}

/** False when no label set can match both: a label `x` requires that `y` excludes. */
function mayOverlap(x: SelectorSpec, y: SelectorSpec): boolean {
  for (const [k, v] of Object.entries(x.matchLabels)) {
    const other = y.matchLabels[k];
    if (other !== undefined && other !== v) return false;
    for (const e of y.matchExpressions) {
      if (e.key !== k) continue;
      if (e.operator === 'DoesNotExist' || (e.operator === 'In' && !e.values.includes(v)) || (e.operator === 'NotIn' && e.values.includes(v))) return false;
    }
  }
  return true;
}
