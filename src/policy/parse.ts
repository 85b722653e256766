// YAML text -> Policy AST. Multi-document YAML and `kind: List`; every problem of a file
// is reported (file:line:col) in one pass; a policy with errors is left out of the result.
import { assignRateLimitIds } from './ratelimit.ts';
import { isMap, isScalar, LineCounter, parseAllDocuments, type Node } from 'yaml';
import type { Diagnostic } from '../source/diagnostics.ts';
import { Reader, yamlMessage, type YNode } from '../source/yaml-reader.ts';
import { parseRules } from './parse-rules.ts';
import { parseSelector, scopeLocalSelector } from './selectors.ts';
import { AUDIT_ANNOTATION, type Policy, type PolicyKind, type PolicySpec, type Rule, type Section } from './types.ts';

export interface ParseResult {
  readonly policies: readonly Policy[];
  readonly diagnostics: readonly Diagnostic[];
}

const KINDS: readonly PolicyKind[] = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy'];
const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'status'];
const META_FIELDS = [
  'name', 'namespace', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation',
  'creationTimestamp', 'managedFields', 'selfLink',
];
const SPEC_FIELDS = [
  'endpointSelector', 'nodeSelector', 'ingress', 'egress', 'ingressDeny', 'egressDeny',
  'description', 'labels', 'enableDefaultDeny',
];
const SECTIONS: readonly Section[] = ['ingress', 'egress', 'ingressDeny', 'egressDeny'];
/** Kubernetes NetworkPolicy's spec fields: a user writing them knows that schema, not Cilium's. */
const NETWORK_POLICY_SPEC: Readonly<Record<string, string>> = {
  podSelector: 'podSelector is Kubernetes NetworkPolicy\'s field; a CiliumNetworkPolicy selects its pods with endpointSelector (same matchLabels/matchExpressions)',
  policyTypes: 'policyTypes is Kubernetes NetworkPolicy\'s field; in a CiliumNetworkPolicy an ingress or egress section turns default deny on for that direction (enableDefaultDeny tunes it)',
};

export function parsePolicies(text: string, file: string): ParseResult {
  const lines = new LineCounter();
  const r = new Reader(file, lines);
  const policies: Policy[] = [];
  for (const doc of parseAllDocuments(text, { lineCounter: lines })) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) r.error(null, `YAML: ${yamlMessage(e.message)}`, undefined, r.posAt(e.pos[0]));
      continue;
    }
    if (doc.contents === null) continue;
    parseObject(r, doc.contents as Node, policies);
  }
  return { policies, diagnostics: r.diagnostics };
}

function parseObject(r: Reader, node: YNode, out: Policy[]): void {
  const kindNode = findKey(node, 'kind');
  if (kindNode !== undefined && r.scalarSource(kindNode) === 'List') {
    const m = r.map(node, 'List', ['apiVersion', 'kind', 'items', 'metadata']);
    const items = m && r.seq(m.get('items'), 'List items');
    for (const item of items ?? []) parseObject(r, item, out);
    return;
  }
  const before = r.diagnostics.filter((d) => d.severity === 'error').length;
  const policy = parsePolicy(r, node);
  const after = r.diagnostics.filter((d) => d.severity === 'error').length;
  if (policy && after === before) out.push(policy);
}

function parsePolicy(r: Reader, node: YNode): Policy | null {
  const m = r.map(node, 'policy', TOP_FIELDS);
  if (!m) return null;
  checkApiVersion(r, m.get('apiVersion'), node);
  if (!m.has('kind')) {
    r.error(node, 'not a policy: missing kind', 'add kind: CiliumNetworkPolicy');
    return null;
  }
  const kind = r.string(m.get('kind'), 'kind');
  if (kind === null) return null;
  if (!KINDS.includes(kind as PolicyKind)) {
    r.error(m.get('kind'), `unsupported kind "${kind}"`, 'use CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy');
    return null;
  }
  const meta = r.map(m.get('metadata'), 'metadata', META_FIELDS);
  const name = meta ? r.string(meta.get('name'), 'metadata.name') : null;
  const clusterwide = kind === 'CiliumClusterwideNetworkPolicy';
  const nsNode = meta?.get('namespace');
  if (clusterwide && nsNode) r.error(nsNode, 'a CiliumClusterwideNetworkPolicy has no namespace');
  const namespace = clusterwide ? null : nsNode ? r.string(nsNode, 'metadata.namespace') : 'default';
  const specs = parseSpecs(r, m, clusterwide ? null : namespace ?? 'default', node);
  const audit = parseAudit(r, meta?.get('annotations'));
  if (name === null) return null;
  const policy: Policy = { kind: kind as PolicyKind, name, namespace, specs, audit, pos: r.pos(node) };
  assignRateLimitIds(policy);
  return policy;
}

/** `metadata.annotations["l7bpf.io/audit"]`: "true" audits, "false" or absent enforces. */
function parseAudit(r: Reader, annotations: YNode): boolean {
  if (annotations === undefined || annotations === null) return false;
  if (!isMap(annotations)) {
    r.error(annotations, 'metadata.annotations must be a mapping of strings');
    return false;
  }
  const v = findKey(annotations, AUDIT_ANNOTATION);
  if (v === undefined) return false;
  const value = isScalar(v) ? v.value : undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  // Kubernetes annotations are strings: an unquoted true is a YAML boolean the API server rejects
  const hint = typeof value === 'boolean' ? `quote it: ${AUDIT_ANNOTATION}: "${value}" (annotations are strings)` : '"true" reports denials and lets them pass; "false" (or no annotation) enforces';
  r.error(v, `annotation ${AUDIT_ANNOTATION} must be "true" or "false", got ${typeof value === 'string' ? JSON.stringify(value) : r.scalarSource(v) ?? 'a mapping or list'}`, hint);
  return false;
}

function checkApiVersion(r: Reader, v: YNode, node: YNode): void {
  const version = v === undefined ? null : r.string(v, 'apiVersion');
  if (version === 'cilium.io/v2') return;
  if (version === 'cilium.io/v1alpha1') {
    r.note(v, 'api-alias', 'apiVersion cilium.io/v1alpha1 is not a Cilium version; read as cilium.io/v2');
  } else if (version !== null) {
    r.error(v, `unsupported apiVersion "${version}"`, 'use cilium.io/v2');
  } else if (v === undefined) {
    r.error(node, 'missing apiVersion', 'add apiVersion: cilium.io/v2');
  }
}

function parseSpecs(r: Reader, m: Map<string, Node | null>, ns: string | null, node: YNode): PolicySpec[] {
  const out: PolicySpec[] = [];
  if (m.has('spec')) {
    const s = parseSpec(r, m.get('spec'), ns);
    if (s) out.push(s);
  }
  if (m.has('specs')) {
    for (const item of r.seq(m.get('specs'), 'specs') ?? []) {
      const s = parseSpec(r, item, ns);
      if (s) out.push(s);
    }
  }
  if (!m.has('spec') && !m.has('specs')) r.error(node, 'policy has neither spec nor specs');
  return out;
}

function parseSpec(r: Reader, node: YNode, ns: string | null): PolicySpec | null {
  const m = r.map(node, 'spec', SPEC_FIELDS, NETWORK_POLICY_SPEC);
  if (!m) return null;
  if (m.has('nodeSelector')) r.error(m.get('nodeSelector'), 'nodeSelector (host policies) is not supported by l7bpf', 'select pods with endpointSelector');
  // a podSelector was already told to be endpointSelector
  if (!m.has('endpointSelector') && findKey(node, 'podSelector') === undefined) r.error(node, 'spec has no endpointSelector', 'add endpointSelector: {} to select every endpoint');
  const selector = parseSelector(r, m.get('endpointSelector') ?? null, 'endpointSelector');
  if (Object.keys(selector.matchLabels).some((k) => k.startsWith('reserved:'))) {
    r.error(m.get('endpointSelector'), 'selecting reserved identities (host policies) is not supported by l7bpf', 'select pods by their labels');
  }
  if (!SECTIONS.some((s) => m.has(s))) {
    r.error(node, 'rule must have at least one of ingress, ingressDeny, egress, egressDeny');
  }
  const rules: Rule[] = [];
  for (const section of SECTIONS) {
    if (m.has(section)) rules.push(...parseRules(r, m.get(section), section, ns));
  }
  const optOut = parseDefaultDeny(r, m.get('enableDefaultDeny'));
  const has = (a: Section, b: Section) => rules.some((x) => x.section === a || x.section === b);
  return {
    endpointSelector: scopeLocalSelector(selector, ns),
    rules,
    defaultDeny: {
      ingress: has('ingress', 'ingressDeny') && optOut.ingress,
      egress: has('egress', 'egressDeny') && optOut.egress,
    },
    pos: r.pos(node),
  };
}

function parseDefaultDeny(r: Reader, node: YNode): { ingress: boolean; egress: boolean } {
  if (node === undefined || node === null) return { ingress: true, egress: true };
  const m = r.map(node, 'enableDefaultDeny', ['ingress', 'egress']);
  const get = (k: string) => (m?.has(k) ? r.bool(m.get(k), `enableDefaultDeny.${k}`) ?? true : true);
  return { ingress: get('ingress'), egress: get('egress') };
}

function findKey(node: YNode, key: string): Node | null | undefined {
  const items = (node as { items?: { key: unknown; value: unknown }[] } | null | undefined)?.items;
  if (!Array.isArray(items)) return undefined;
  const item = items.find((i) => (i.key as { value?: unknown } | null)?.value === key);
  return item ? (item.value as Node | null) : undefined;
}
