// Rate limits (docs/semantics.md, "Rate limits"): which rule admits a request that rules with a
// `rateLimit` match, and the token buckets. A bucket is kept as its theoretical arrival time
// (GCRA): one nanosecond count per bucket, which the kernel updates with one compare-and-swap.
// Equivalent to a bucket of `burst` tokens, one token back every `interval` nanoseconds.
import type { RateLimit } from '../policy/types.ts';
import { RESERVED_IDENTITY } from '../endpoints/types.ts';
import type { PeerRef } from './peers.ts';
import type { ApplicableHttpRule } from './types.ts';

const NS_PER_S = 1_000_000_000n;

/** Nanoseconds per token: 1e9 / requestsPerSecond rounded up, so the admitted rate never exceeds the limit. */
export const intervalNs = (rl: RateLimit): bigint => (NS_PER_S + BigInt(rl.requestsPerSecond) - 1n) / BigInt(rl.requestsPerSecond);
/** How far ahead of now a bucket's arrival time may be and still admit: burst - 1 intervals. */
export const toleranceNs = (rl: RateLimit): bigint => BigInt(rl.burst - 1) * intervalNs(rl);

/** The kernel's bound on buckets (an LRU hash); the simulator evicts the least recently used the same way. */
export const DEFAULT_BUCKETS = 65536;

/** Token buckets keyed by rule id and subject, bounded: the least recently used goes first. */
export class Buckets {
  private readonly tat = new Map<string, bigint>();
  constructor(private readonly max = DEFAULT_BUCKETS) {}

  /** Takes a token when there is one at `now`; false leaves the bucket as it was. */
  take(rl: RateLimit, subject: string, now: bigint): boolean {
    const key = `${rl.id}/${subject}`;
    const t = this.tat.get(key);
    const base = t === undefined || t < now ? now : t;
    const interval = intervalNs(rl);
    if (base - now > BigInt(rl.burst - 1) * interval) return false; // toleranceNs, one division
    this.tat.delete(key);
    this.tat.set(key, base + interval);
    if (this.tat.size > this.max) this.tat.delete(this.tat.keys().next().value as string);
    return true;
  }

  /** Whole tokens left at `now` (status, explain). */
  tokens(rl: RateLimit, subject: string, now: bigint): number {
    return tokensLeft(rl, this.tat.get(`${rl.id}/${subject}`) ?? null, now);
  }
}

/** Whole tokens in a bucket whose arrival time is `tat` (null: never used, full). */
export function tokensLeft(rl: RateLimit, tat: bigint | null, now: bigint): number {
  if (tat === null || tat <= now) return rl.burst;
  const left = (now + BigInt(rl.burst) * intervalNs(rl) - tat) / intervalNs(rl);
  return Number(left < 0n ? 0n : left);
}

/** What a request is charged to: the time, its client's identity, its connection. */
export interface RateContext {
  readonly buckets: Buckets;
  readonly now: bigint;
  readonly source: number;
  readonly conn: number;
}

export type Admission =
  | { readonly kind: 'admitted'; readonly by: ApplicableHttpRule; readonly took: boolean }
  /** every matching rule has a limit and no token: enforce denies, shadow passes */
  | { readonly kind: 'limited'; readonly by: ApplicableHttpRule; readonly shadow: boolean };

/**
 * `hits`: the rules that match the request, in policy order (at least one). A rule without a
 * limit admits it for free; else the first with a token takes it; else a shadow rule lets it
 * pass as limited; else the first is the one that limits it. Without `ctx` (explain) every
 * bucket has tokens.
 */
export function admit(hits: readonly ApplicableHttpRule[], ctx: RateContext | null): Admission {
  const free = hits.find((h) => h.rule.rateLimit === null);
  if (free) return { kind: 'admitted', by: free, took: false };
  for (const h of hits) {
    const rl = h.rule.rateLimit as RateLimit;
    if (!ctx || ctx.buckets.take(rl, subjectOf(rl, ctx), ctx.now)) return { kind: 'admitted', by: h, took: true };
  }
  const shadow = hits.find((h) => h.rule.rateLimit?.mode === 'shadow');
  return shadow ? { kind: 'limited', by: shadow, shadow: true } : { kind: 'limited', by: hits[0] as ApplicableHttpRule, shadow: false };
}

export function subjectOf(rl: RateLimit, ctx: Pick<RateContext, 'source' | 'conn'>): string {
  return rl.per === 'source' ? `s${ctx.source}` : rl.per === 'connection' ? `c${ctx.conn}` : 'r';
}

/** The identity the kernel's ipcache gives a peer: the endpoint's, a reserved entity's, else world. */
export function identityOf(p: PeerRef): number {
  return p.kind === 'endpoint' ? p.endpoint.identity : p.kind === 'reserved' ? RESERVED_IDENTITY[p.entity] : RESERVED_IDENTITY.world;
}

export const describeLimit = (rl: RateLimit): string =>
  `${rl.requestsPerSecond}/s burst ${rl.burst} per ${rl.per}${rl.mode === 'shadow' ? ' (shadow)' : ''}`;
