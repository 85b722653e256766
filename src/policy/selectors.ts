// Label selectors: parsing, and Cilium's namespace scoping of namespaced policies.
import type { Node } from 'yaml';
import { Reader, type YNode } from '../source/yaml-reader.ts';
import { NAMESPACE_LABEL, type SelectorSpec } from './types.ts';

type Expr = SelectorSpec['matchExpressions'][number];
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
/** Cilium label sources that a selector key may carry (`k8s:app`); matching ignores them. */
const SOURCE_PREFIX = /^(k8s|any|container|unspec):/;
const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';

export const EMPTY_SELECTOR: SelectorSpec = { matchLabels: {}, matchExpressions: [] };

export function parseSelector(r: Reader, node: YNode, what: string): SelectorSpec {
  if (node === null || node === undefined) return EMPTY_SELECTOR;
  const m = r.map(node, what, ['matchLabels', 'matchExpressions']);
  if (!m) return EMPTY_SELECTOR;
  const labels = m.has('matchLabels') ? r.stringMap(m.get('matchLabels'), `${what}.matchLabels`) ?? {} : {};
  const matchLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) matchLabels[stripSource(k)] = v;
  const exprs = m.has('matchExpressions') ? r.seq(m.get('matchExpressions'), `${what}.matchExpressions`) ?? [] : [];
  const matchExpressions = exprs.map((e) => parseExpression(r, e, what)).filter((e): e is Expr => e !== null);
  return { matchLabels, matchExpressions };
}

function parseExpression(r: Reader, node: Node, what: string): Expr | null {
  const m = r.map(node, `${what}.matchExpressions[]`, ['key', 'operator', 'values']);
  if (!m) return null;
  const key = r.string(m.get('key'), 'matchExpressions key');
  const op = r.string(m.get('operator'), 'matchExpressions operator');
  const values = m.has('values') ? (r.seq(m.get('values'), 'values') ?? []).map((v) => r.string(v, 'value') ?? '') : [];
  if (key === null || op === null) return null;
  if (!(OPERATORS as readonly string[]).includes(op)) {
    r.error(m.get('operator'), `unknown operator "${op}"`, `use one of ${OPERATORS.join(', ')}`);
    return null;
  }
  const needsValues = op === 'In' || op === 'NotIn';
  if (needsValues && values.length === 0) r.error(node, `operator ${op} needs a non-empty values list`);
  if (!needsValues && values.length > 0) r.error(m.get('values'), `operator ${op} takes no values`);
  return { key: stripSource(key), operator: op as Expr['operator'], values };
}

export function stripSource(key: string): string {
  return key.replace(SOURCE_PREFIX, '');
}

/** A CNP's endpointSelector only ever selects endpoints of its own namespace. */
export function scopeLocalSelector(s: SelectorSpec, ns: string | null): SelectorSpec {
  if (ns === null) return s;
  return { matchLabels: { ...s.matchLabels, [NAMESPACE_LABEL]: ns }, matchExpressions: s.matchExpressions };
}

/**
 * Peer selectors: in a CNP they default to the policy's namespace unless they name the
 * namespace (or namespace labels); in a CCNP they select endpoints of any namespace
 * ("namespace exists"), never reserved identities.
 */
export function scopePeerSelector(s: SelectorSpec, ns: string | null): SelectorSpec {
  const keys = [...Object.keys(s.matchLabels), ...s.matchExpressions.map((e) => e.key)];
  if (keys.some((k) => k === NAMESPACE_LABEL || k.startsWith(NAMESPACE_LABELS_PREFIX))) return s;
  if (ns !== null) return { matchLabels: { ...s.matchLabels, [NAMESPACE_LABEL]: ns }, matchExpressions: s.matchExpressions };
  return {
    matchLabels: s.matchLabels,
    matchExpressions: [...s.matchExpressions, { key: NAMESPACE_LABEL, operator: 'Exists', values: [] }],
  };
}

export function describeSelector(s: SelectorSpec): string {
  const parts = Object.entries(s.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions) {
    parts.push(e.values.length ? `${e.key} ${e.operator} (${e.values.join(',')})` : `${e.operator === 'Exists' ? '' : '!'}${e.key}`);
  }
  return parts.length ? parts.join(',') : '<all>';
}
