// Verdicts of the reference semantics (the oracle).
import type { Endpoint } from '../endpoints/types.ts';
import type { HttpRule, RateLimit, Section } from '../policy/types.ts';
import type { HttpRequest } from './http.ts';
import type { PeerRef } from './peers.ts';
import type { StrictViolation } from './http1-strict.ts';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Direction = 'ingress' | 'egress';

export interface Flow {
  readonly src: PeerRef;
  readonly dst: PeerRef;
  readonly dstPort: number;
  readonly protocol: Protocol;
}

/** What the L7 parser saw: a request, or a strict-request violation before one was complete. */
export type L7Input =
  | { readonly kind: 'request'; readonly request: HttpRequest }
  | { readonly kind: 'violation'; readonly violation: StrictViolation };

export type Reason =
  /** allowed: no policy selects the endpoint for this direction */
  | 'no-policy'
  /** allowed at L3/L4 by a rule without an L7 part (L7 wildcarding) */
  | 'allowed'
  /** allowed: some http rule matched */
  | 'l7-allowed'
  /** allowed: enableDefaultDeny is off and nothing denies (L7 rules only observe) */
  | 'default-deny-off'
  /** denied at L3/L4: no allow rule matches (Hubble POLICY_DENIED, 133) */
  | 'default-deny'
  /** denied by an ingressDeny/egressDeny rule (Hubble POLICY_DENY, 181) */
  | 'deny-rule'
  /** denied: the connection is L7-inspected and no http rule matched */
  | 'l7-denied'
  /** denied: strict-request violation */
  | 'strict'
  /** denied: every http rule that matched has a rate limit and no token left */
  | 'rate-limited';

export interface RuleRef {
  readonly policy: string;
  readonly namespace: string | null;
  readonly section: Section;
  /** `file:line` */
  readonly source: string;
  /** short text, e.g. `fromEndpoints app=frontend toPorts 8080/TCP` or `http {method: GET, path: /x}` */
  readonly text: string;
  /** Cilium's PolicyMatchType of an L3/L4 rule (flow.policy_match_type): L3-only 1, L3-L4 2, L4-only 3, all 4 */
  readonly match?: number;
}

/** An http rule that applies to a connection, with the policy rule it came from. */
export interface ApplicableHttpRule {
  readonly rule: HttpRule;
  readonly ref: RuleRef;
}

/** The L3/L4 decision for one direction at one endpoint. */
export interface DirectionDecision {
  readonly direction: Direction;
  readonly endpoint: Endpoint;
  readonly allowed: boolean;
  readonly reason: Reason;
  /** in audit mode (every policy selecting it here is audited, or the deployment is): a denial
   * passes, reported with Hubble's verdict AUDIT */
  readonly audit: boolean;
  /** http rules requests must match (null: no L7 enforcement in this direction) */
  readonly l7: readonly ApplicableHttpRule[] | null;
  readonly rules: readonly RuleRef[];
  readonly chain: readonly string[];
}

/** What a rate limit did to a request (src/verdict/ratelimit.ts). */
export interface LimitOutcome {
  readonly ref: RuleRef;
  readonly rule: HttpRule;
  readonly limit: RateLimit;
  /** took a token; limited (denied); shadow (would be limited, passed); applies (explain: no bucket state) */
  readonly outcome: 'took' | 'limited' | 'shadow' | 'applies';
}

export interface Verdict {
  /** whether the traffic passes (true for a denial audit mode lets pass) */
  readonly allowed: boolean;
  /** a denial audit mode let pass: reason, rules, deniedBy, summary, violation and limit are the
   * denial's, reported with Hubble's verdict AUDIT */
  readonly audit: boolean;
  readonly reason: Reason;
  /** one line, e.g. `denied: POST /api/v1/users matched no http rule of backend-allow-frontend-users` */
  readonly summary: string;
  /** the reasoning, step by step */
  readonly chain: readonly string[];
  readonly rules: readonly RuleRef[];
  /** the direction that denied (null when allowed; the audited direction when audit) */
  readonly deniedBy: Direction | null;
  /** whether requests on this connection are parsed (L7 enforcement in some direction) */
  readonly inspected: boolean;
  readonly violation: StrictViolation | null;
  readonly directions: readonly DirectionDecision[];
  /** the rate limit that decided or was charged (limited or shadow before took), null when none */
  readonly limit: LimitOutcome | null;
}
