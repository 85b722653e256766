// PolicyIR: the endpoint-agnostic, lowered form of a policy set. Produced by lower()
// (codegen/ir/lower.ts) from the policy AST, consumed by codegen/emit (C header + tables)
// and by the loader (which evaluates `selectors` against the inventory at deploy time).
// Everything here is plain data: deterministic, JSON-serialisable except the DFA tables.
import type { DfaTables } from '../regex/index.ts';
import type { SelectorSpec } from '../../src/policy/types.ts';

export type { SelectorSpec };

export type Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY';
export type Direction = 'ingress' | 'egress';

/** A selector the kernel tests as one bit. Bit i of an identity's bitset = selectors[i] matches it. */
export interface SelectorIR {
  readonly index: number;
  /** human text, e.g. `app=frontend,io.kubernetes.pod.namespace=default` or `entity:world` or `cidr:10.0.0.0/8 except 10.1.0.0/16` */
  readonly description: string;
  /** what the loader evaluates against identities / addresses */
  readonly match:
    | { readonly kind: 'labels'; readonly selector: SelectorSpec }
    | { readonly kind: 'entity'; readonly entity: string }
    | { readonly kind: 'cidr'; readonly cidr: string; readonly except: readonly string[] };
}

export type ActionIR =
  | { readonly kind: 'deny' }
  | { readonly kind: 'allow' }
  /** allowed at L4, requests must match some http rule of l7Sets[set] */
  | { readonly kind: 'l7'; readonly set: number };

/** One (local selector, peer selector, port range, protocol) -> action row. */
export interface PortEntryIR {
  /** selector index the local (policy-selected) endpoint must match */
  readonly local: number;
  /** selector index the peer must match; -1 = any peer (a rule with toPorts and no peer field) */
  readonly peer: number;
  /** inclusive range; 0..65535 means any port */
  readonly portLo: number;
  readonly portHi: number;
  readonly proto: Protocol;
  readonly action: ActionIR;
  /** index into PolicyIR.rules */
  readonly rule: number;
  /** the rule is an audited policy's: left out where an enforced policy selects the local endpoint */
  readonly audit?: boolean;
}

export interface DirectionIR {
  /** selector indices: a local endpoint matching any of them is default-deny in this direction
   * (enforced policies'; audited ones' are in `audit.enforced`) */
  readonly enforced: readonly number[];
  readonly entries: readonly PortEntryIR[];
  /** absent when no audited policy has this direction */
  readonly audit?: AuditIR;
}

/**
 * Audit mode of a direction (docs/semantics.md, "Audit mode"), as selector indices. A local
 * endpoint matching some `selectors` and none of `strict` is audited: a denial passes,
 * reported; `enforced` then turns its default deny on. Matching some of `strict` (an enforced
 * policy selects it), the audited entries and selectors are left out for it.
 */
export interface AuditIR {
  /** audited policies' specs with this direction */
  readonly selectors: readonly number[];
  /** ... that turn default deny on */
  readonly enforced: readonly number[];
  /** enforced policies' specs with this direction */
  readonly strict: readonly number[];
}

/** One http rule (or grpc rule lowered to one). Fields are ANDed; null = any. */
export interface HttpRuleIR {
  readonly index: number;
  /** index into PolicyIR.rules */
  readonly rule: number;
  /** pattern index in matchers.method / path / host (each DFA has one pattern per http rule; absent fields use `.*` or are skipped via `anyMethod` etc.) */
  readonly method: string | null;
  readonly path: string | null;
  readonly host: string | null;
  /** indices into PolicyIR.headerReqs that must all be satisfied */
  readonly headers: readonly number[];
  /** gRPC rules only match HTTP/2 requests */
  readonly http2Only: boolean;
  /** the rule's token bucket (src/verdict/ratelimit.ts), null = no limit */
  readonly rateLimit: RateLimitIR | null;
  /** `file:line` of the http entry (flows name the rule that allowed a request) */
  readonly source: string;
}

export interface RateLimitIR {
  /** 16 hex digits: the bucket map's key part naming the rule (src/policy/ratelimit.ts) */
  readonly id: string;
  readonly requestsPerSecond: number;
  readonly burst: number;
  readonly per: 'source' | 'rule' | 'connection';
  readonly mode: 'enforce' | 'shadow';
  /** nanoseconds per token, and how far the bucket's arrival time may run ahead of now */
  readonly intervalNs: number;
  readonly toleranceNs: number;
}

/** `name` (lowercase) present, with `value` exactly when value !== null (OWS trimmed). */
export interface HeaderReqIR {
  readonly index: number;
  readonly name: string;
  readonly value: string | null;
}

export interface L7SetIR {
  readonly index: number;
  /** indices into PolicyIR.httpRules */
  readonly httpRules: readonly number[];
}

export interface RuleRefIR {
  readonly index: number;
  readonly policy: string;
  readonly namespace: string | null;
  readonly section: 'ingress' | 'egress' | 'ingressDeny' | 'egressDeny';
  /** `file:line` of the rule */
  readonly source: string;
  /** Cilium's PolicyMatchType (src/verdict/refs.ts policyMatch); absent in older manifests */
  readonly match?: number;
}

/**
 * Multi-pattern DFAs, one pattern per http rule (pattern i = httpRules[i]'s field, `.*` when null),
 * so one pass over a field yields the bitset of rules whose field matches.
 * headerName: one pattern per headerReq (case-insensitive literal name);
 * headerValue: one pattern per headerReq (literal value; `.*` for presence-only).
 */
export interface MatchersIR {
  readonly method: DfaTables;
  readonly path: DfaTables;
  readonly host: DfaTables;
  readonly headerName: DfaTables;
  readonly headerValue: DfaTables;
}

export interface PolicyIR {
  readonly selectors: readonly SelectorIR[];
  readonly ingress: DirectionIR;
  readonly egress: DirectionIR;
  readonly httpRules: readonly HttpRuleIR[];
  readonly headerReqs: readonly HeaderReqIR[];
  readonly l7Sets: readonly L7SetIR[];
  readonly matchers: MatchersIR;
  readonly rules: readonly RuleRefIR[];
}
