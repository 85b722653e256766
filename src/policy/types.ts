// Typed, readonly AST of CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy as l7bpf
// understands them. Built by src/policy/parse.ts; every node keeps its source position so
// verdicts and diagnostics can name `file:line`.

/** Label selector in the form the oracle uses (keys without source prefix). */
export interface SelectorSpec {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly {
    readonly key: string;
    readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    readonly values: readonly string[];
  }[];
}

export type { SourcePos } from '../source/diagnostics.ts';
import type { SourcePos } from '../source/diagnostics.ts';

export type PolicyKind = 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
export type Section = 'ingress' | 'egress' | 'ingressDeny' | 'egressDeny';
export type L4Protocol = 'TCP' | 'UDP' | 'SCTP' | 'ANY';

export const ENTITIES = [
  'all', 'world', 'cluster', 'host', 'remote-node', 'kube-apiserver', 'health', 'init',
  'unmanaged', 'ingress', 'none',
] as const;
export type Entity = (typeof ENTITIES)[number];

export interface CidrRule {
  readonly cidr: string;
  readonly except: readonly string[];
}

/** Who a rule's traffic comes from (ingress) or goes to (egress). */
export type Peer =
  /** no peer field but toPorts: every peer */
  | { readonly kind: 'any' }
  /** `fromEndpoints: []`, or a rule with neither peer nor ports (`ingress: [{}]`) */
  | { readonly kind: 'none' }
  | { readonly kind: 'endpoints'; readonly selectors: readonly SelectorSpec[] }
  | { readonly kind: 'entities'; readonly entities: readonly Entity[] }
  | { readonly kind: 'cidr'; readonly cidrs: readonly CidrRule[] };

export interface PortProtocol {
  /** number, or a named port resolved against the inventory */
  readonly port: number | string;
  /** inclusive end of a range; null = single port (or all ports when port is 0) */
  readonly endPort: number | null;
  readonly protocol: L4Protocol;
  readonly pos: SourcePos;
}

export interface HeaderMatch {
  /** header name as written; compared case-insensitively */
  readonly name: string;
  /** exact value (OWS trimmed); null = presence only */
  readonly value: string | null;
}

/**
 * `rateLimit` on an http or grpc rule (l7bpf extension, Envoy's local rate limit as the model):
 * a token bucket of `burst` tokens refilled at `requestsPerSecond`, one per node per subject
 * (docs/semantics.md, "Rate limits").
 */
export interface RateLimit {
  readonly requestsPerSecond: number;
  readonly burst: number;
  /** one bucket per source identity, one for the whole rule, or one per connection */
  readonly per: 'source' | 'rule' | 'connection';
  /** shadow: count and report what would be limited, let it pass */
  readonly mode: 'enforce' | 'shadow';
  /** 16 hex digits naming the rule's buckets, stable while the rule is unchanged (src/policy/ratelimit.ts) */
  readonly id: string;
}

/** One http rule; a grpc rule is lowered to this form (POST, `/service/method`, HTTP/2 only). */
export interface HttpRule {
  readonly method: string | null;
  readonly path: string | null;
  readonly host: string | null;
  readonly headers: readonly HeaderMatch[];
  readonly origin: 'http' | 'grpc';
  readonly rateLimit: RateLimit | null;
  readonly pos: SourcePos;
}

export interface PortRule {
  /** empty = every port and protocol */
  readonly ports: readonly PortProtocol[];
  /** null = L4 only (no rules.http / rules.grpc) */
  readonly http: readonly HttpRule[] | null;
  readonly pos: SourcePos;
}

export interface Rule {
  readonly section: Section;
  readonly peer: Peer;
  /** null = every port */
  readonly toPorts: readonly PortRule[] | null;
  readonly pos: SourcePos;
}

export interface PolicySpec {
  /** already scoped to the policy's namespace for CiliumNetworkPolicy */
  readonly endpointSelector: SelectorSpec;
  readonly rules: readonly Rule[];
  /** which directions this spec turns default-deny on for the endpoints it selects */
  readonly defaultDeny: { readonly ingress: boolean; readonly egress: boolean };
  readonly pos: SourcePos;
}

export interface Policy {
  readonly kind: PolicyKind;
  readonly name: string;
  /** null for the clusterwide kind */
  readonly namespace: string | null;
  readonly specs: readonly PolicySpec[];
  /** annotation `l7bpf.io/audit: "true"`: what it denies passes and is reported (Hubble AUDIT);
   * an enforced policy selecting the same endpoint-direction decides alone (docs/semantics.md) */
  readonly audit: boolean;
  readonly pos: SourcePos;
}

/** The annotation that puts a policy in audit mode. */
export const AUDIT_ANNOTATION = 'l7bpf.io/audit';

export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
