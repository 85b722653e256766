// Hand-built PolicyIR values (until codegen/ir lower() is used everywhere), with real DFAs.
import { compile } from '../../codegen/regex/index.ts';
import type { DirectionIR, HeaderReqIR, HttpRuleIR, PolicyIR, RateLimitIR, PortEntryIR, SelectorIR } from '../../codegen/ir/types.ts';

export interface HttpRuleSpec {
  readonly method?: string;
  readonly path?: string;
  readonly host?: string;
  /** "Name" or "Name: value" */
  readonly headers?: readonly string[];
  readonly http2Only?: boolean;
  readonly rateLimit?: RateLimitIR;
}

export interface IrSpec {
  readonly selectors: readonly string[];
  readonly ingress?: Partial<DirectionIR>;
  readonly egress?: Partial<DirectionIR>;
  /** one L7 set per inner list */
  readonly l7Sets?: readonly (readonly HttpRuleSpec[])[];
  /** rule names (policy) per rule index; defaults to rule-<i> */
  readonly rules?: readonly string[];
}

const escape = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

function selector(description: string, index: number): SelectorIR {
  const [k = '', v = ''] = description.split('=');
  return { index, description, match: { kind: 'labels', selector: { matchLabels: { [k]: v }, matchExpressions: [] } } };
}

function headerReq(spec: string, index: number): HeaderReqIR {
  const i = spec.indexOf(':');
  return i < 0
    ? { index, name: spec.trim().toLowerCase(), value: null }
    : { index, name: spec.slice(0, i).trim().toLowerCase(), value: spec.slice(i + 1).trim() };
}

export function buildIR(spec: IrSpec): PolicyIR {
  const httpRules: HttpRuleIR[] = [];
  const headerReqs: HeaderReqIR[] = [];
  const l7Sets = (spec.l7Sets ?? []).map((set, si) => ({
    index: si,
    httpRules: set.map((r) => {
      const headers = (r.headers ?? []).map((h) => {
        const req = headerReq(h, headerReqs.length);
        headerReqs.push(req);
        return req.index;
      });
      const index = httpRules.length;
      httpRules.push({ index, rule: 0, method: r.method ?? null, path: r.path ?? null, host: r.host ?? null, headers, http2Only: r.http2Only ?? false, rateLimit: r.rateLimit ?? null, source: `fixture:${index}` });
      return index;
    }),
  }));
  const ruleCount = Math.max(1, spec.rules?.length ?? 0, ...[spec.ingress, spec.egress].flatMap((d) => (d?.entries ?? []).map((e) => e.rule + 1)));
  return {
    selectors: spec.selectors.map(selector),
    ingress: { enforced: spec.ingress?.enforced ?? [], entries: spec.ingress?.entries ?? [] },
    egress: { enforced: spec.egress?.enforced ?? [], entries: spec.egress?.entries ?? [] },
    httpRules,
    headerReqs,
    l7Sets,
    matchers: {
      method: compile(httpRules.map((r) => r.method ?? '.*')).tables,
      path: compile(httpRules.map((r) => r.path ?? '.*')).tables,
      host: compile(httpRules.map((r) => r.host ?? '.*')).tables,
      headerName: compile(headerReqs.map((h) => escape(h.name)), { caseInsensitive: true }).tables,
      headerValue: compile(headerReqs.map((h) => (h.value === null ? '.*' : escape(h.value)))).tables,
    },
    rules: Array.from({ length: ruleCount }, (_, i) => ({
      index: i, policy: spec.rules?.[i] ?? `rule-${i}`, namespace: 'default', section: 'ingress' as const, source: `policy.yaml:${10 + i}`,
    })),
  };
}

export const entry = (e: Partial<PortEntryIR> & Pick<PortEntryIR, 'local' | 'action'>): PortEntryIR => ({
  peer: -1, portLo: 0, portHi: 65535, proto: 'TCP', rule: 0, ...e,
});

/** Selector indices of the standard scenario. */
export const SEL = { backend: 0, frontend: 1, other: 2 } as const;
/** Identities and addresses of the standard scenario. */
export const ID = { frontend: 1000, backend: 2000, other: 3000 } as const;
export const ADDR = {
  frontend: '10.0.0.1', backend: '10.0.0.2', other: '10.0.0.3',
  frontend6: 'fd00::1', backend6: 'fd00::2', other6: 'fd00::3',
} as const;

/** "frontend may GET /api/v1/users on backend:8080" (+ optional extra http rules in the same set). */
export function frontendBackendIR(extra: readonly HttpRuleSpec[] = []): PolicyIR {
  return buildIR({
    selectors: ['app=backend', 'app=frontend', 'app=other'],
    ingress: {
      enforced: [SEL.backend],
      entries: [entry({ local: SEL.backend, peer: SEL.frontend, portLo: 8080, portHi: 8080, action: { kind: 'l7', set: 0 }, rule: 0 })],
    },
    l7Sets: [[{ method: 'GET', path: '/api/v1/users' }, ...extra]],
    rules: ['allow-frontend-get'],
  });
}

/** An L4 scenario: frontend may reach backend:80 (any request), other is denied by a deny rule. */
export function l4IR(): PolicyIR {
  return buildIR({
    selectors: ['app=backend', 'app=frontend', 'app=other'],
    ingress: {
      enforced: [SEL.backend],
      entries: [
        entry({ local: SEL.backend, peer: SEL.frontend, portLo: 80, portHi: 80, action: { kind: 'allow' }, rule: 0 }),
        entry({ local: SEL.backend, peer: SEL.other, action: { kind: 'deny' }, rule: 1 }),
      ],
    },
    rules: ['allow-frontend-80', 'deny-other'],
  });
}

/** 100 http rules (two 64-bit rule words: bigger flow and decision structs, the stack's worst case). */
export function hundredRuleIR(): PolicyIR {
  const methods = ['GET', 'POST', 'PUT', 'DELETE'];
  const set = Array.from({ length: 100 }, (_, i) => ({ method: methods[i % 4]!, path: `/api/v${i}/[a-z]+(/[0-9]+)?` }));
  const entries = Array.from({ length: 100 }, (_, i) => entry({ local: SEL.backend, peer: SEL.frontend, portLo: 8000 + i, portHi: 8000 + i, action: { kind: 'l7', set: 0 }, rule: i }));
  return buildIR({ selectors: ['app=backend', 'app=frontend', 'app=other'], ingress: { enforced: [SEL.backend], entries }, l7Sets: [set], rules: entries.map((_, i) => `r${i}`) });
}
