// Datapath limits. The same defaults are in bpf-templates/l7_limits.h (test/emit/limits-header
// holds them equal); emit refuses an IR beyond them with a typed error instead of letting clang
// or the verifier fail later.
import type { PolicyIR } from '../ir/types.ts';
import { DEFAULT_LIMITS as SEMANTIC_LIMITS } from '../../src/verdict/limits.ts';

export interface Limits {
  /** bytes of request line + header block inspected per request */
  readonly inspectWindow: number;
  /** states per generated DFA */
  readonly dfaStates: number;
  readonly httpRules: number;
  readonly headerReqs: number;
  readonly selectors: number;
  /** port-table rows per direction */
  readonly portEntries: number;
  /** the test build: rate-limit buckets run on the skb's timestamp (BPF_PROG_TEST_RUN's ctx),
   * not the kernel's clock, so replayed captures drive them (bpf-templates/l7_ratelimit.h);
   * deploy refuses such an object */
  readonly testClock?: boolean;
}

export const DEFAULT_LIMITS: Limits = {
  /** the oracle's head limit: the kernel inspects what the semantics judge */
  inspectWindow: SEMANTIC_LIMITS.headBytes,
  dfaStates: 4096,
  httpRules: 256,
  headerReqs: 64,
  selectors: 1024,
  portEntries: 4096,
};

export class LimitExceededError extends Error {
  readonly limit: keyof Limits;
  readonly value: number;
  readonly max: number;
  constructor(limit: keyof Limits, value: number, max: number, where: string, hint: string) {
    super(`emit: ${where}: ${value} exceeds the ${limit} limit of ${max} (hint: ${hint})`);
    this.name = 'LimitExceededError';
    this.limit = limit;
    this.value = value;
    this.max = max;
  }
}

/** Throws LimitExceededError for the first limit the IR exceeds. */
export function checkLimits(ir: PolicyIR, limits: Limits = DEFAULT_LIMITS): void {
  const check = (limit: Exclude<keyof Limits, 'testClock'>, value: number, where: string, hint: string) => {
    if (value > limits[limit]) throw new LimitExceededError(limit, value, limits[limit], where, hint);
  };
  check('selectors', ir.selectors.length, 'selectors', 'merge policies selecting the same endpoints, or raise L7_MAX_SELECTORS');
  check('httpRules', ir.httpRules.length, 'http rules', 'fewer, broader http rules (regex alternation) fit in one rule');
  check('headerReqs', ir.headerReqs.length, 'header requirements', 'share header requirements between rules');
  check('portEntries', ir.ingress.entries.length, 'ingress port table', 'use port ranges (endPort)');
  check('portEntries', ir.egress.entries.length, 'egress port table', 'use port ranges (endPort)');
  for (const [name, t] of Object.entries(ir.matchers)) {
    check('dfaStates', t.numStates, `${name} DFA`, 'simplify the regexes (avoid long bounded repeats and .* in the middle)');
  }
  if (limits.inspectWindow < 64 || limits.inspectWindow > 65535) {
    throw new LimitExceededError('inspectWindow', limits.inspectWindow, 65535, 'inspection window', 'choose 64..65535 bytes');
  }
}
