// `rateLimit` on http and grpc rules: parsing with file:line diagnostics, and the ids that name
// a rule's buckets in the kernel. An id is a hash of what the rule is (its policy, section,
// peer, ports, match fields and limit), not of where it is written: a deploy that swaps
// policies finds the buckets of every rule it did not change (docs/semantics.md, "Rate limits").
import { createHash } from 'node:crypto';
import { isScalar } from 'yaml';
import type { Reader, YNode } from '../source/yaml-reader.ts';
import type { Policy, RateLimit } from './types.ts';

/** limits the kernel arithmetic is checked for (docs/semantics.md): burst x interval < 2^63 ns */
export const MAX_REQUESTS_PER_SECOND = 1_000_000;
export const MAX_BURST = 1_000_000;
const PER = ['source', 'rule', 'connection'] as const;
const MODES = ['enforce', 'shadow'] as const;

export function parseRateLimit(r: Reader, node: YNode): RateLimit | null {
  const m = r.map(node, 'rateLimit', ['requestsPerSecond', 'burst', 'per', 'mode']);
  if (!m) return null;
  r.note(node, 'extension', 'rateLimit is an l7bpf extension: Cilium ignores it (the API server prunes fields its CRD schema does not know; kubectl warns)');
  if (!m.has('requestsPerSecond')) {
    r.error(node, 'rateLimit needs requestsPerSecond', 'e.g. rateLimit: {requestsPerSecond: 100, burst: 20}');
    return null;
  }
  const rps = integer(r, m.get('requestsPerSecond'), 'requestsPerSecond', MAX_REQUESTS_PER_SECOND);
  const burst = m.has('burst') ? integer(r, m.get('burst'), 'burst', MAX_BURST) : rps;
  const per = m.has('per') ? choice(r, m.get('per'), 'per', PER) : 'source';
  const mode = m.has('mode') ? choice(r, m.get('mode'), 'mode', MODES) : 'enforce';
  if (rps === null || burst === null || per === null || mode === null) return null;
  return { requestsPerSecond: rps, burst, per, mode, id: '' };
}

function integer(r: Reader, node: YNode, what: string, max: number): number | null {
  const v = isScalar(node) ? node.value : undefined;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max) return v;
  r.error(node, `rateLimit ${what} must be a whole number from 1 to ${max.toLocaleString('en-US')}`, what === 'requestsPerSecond' ? 'slower rates are not supported yet: the smallest is 1 request per second' : undefined);
  return null;
}

function choice<T extends string>(r: Reader, node: YNode, what: string, allowed: readonly T[]): T | null {
  const s = r.string(node, `rateLimit ${what}`);
  if (s === null) return null;
  if ((allowed as readonly string[]).includes(s)) return s as T;
  r.error(node, `rateLimit ${what} must be ${allowed.join(', ')}; not "${s}"`);
  return null;
}

/** Sets every rate limit's id (parse leaves it empty): the same rule text in the same policy gets the same id. */
export function assignRateLimitIds(policy: Policy): void {
  for (const spec of policy.specs) {
    for (const rule of spec.rules) {
      for (const pr of rule.toPorts ?? []) {
        for (const h of pr.http ?? []) {
          if (!h.rateLimit) continue;
          const what = {
            kind: policy.kind, namespace: policy.namespace, name: policy.name, section: rule.section, peer: rule.peer,
            ports: pr.ports.map((p) => [p.port, p.endPort, p.protocol]),
            http: [h.method, h.path, h.host, h.headers, h.origin],
            limit: [h.rateLimit.requestsPerSecond, h.rateLimit.burst, h.rateLimit.per, h.rateLimit.mode],
          };
          // the only write to a parsed policy: ids need the whole policy, parse builds it bottom-up
          (h.rateLimit as { id: string }).id = createHash('sha256').update(JSON.stringify(what)).digest('hex').slice(0, 16);
        }
      }
    }
  }
}
