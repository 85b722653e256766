// One http rule against one request: fields ANDed, regexes full-match, headers exact.
import type { HttpRule } from '../policy/types.ts';
import { fullMatch } from '../policy/regex.ts';
import { headerValues, hostOf, type HttpRequest } from './http.ts';

export type MatchResult = { readonly ok: true } | { readonly ok: false; readonly why: string };

const OK: MatchResult = { ok: true };
const NO: MatchResult = { ok: false, why: 'does not match' };

/** With `explain` false, a failed match carries no sentence (the replay hot path). */
export function matchHttpRule(rule: HttpRule, req: HttpRequest, explain = true): MatchResult {
  const fail = (why: () => string): MatchResult => (explain ? { ok: false, why: why() } : NO);
  if (rule.origin === 'grpc' && req.version !== 'HTTP/2') return fail(() => `gRPC rules match HTTP/2 only, request is ${req.version}`);
  if (rule.method !== null && !fullMatch(rule.method, req.method)) return fail(() => `method ${req.method} does not match "${rule.method}"`);
  if (rule.path !== null && !fullMatch(rule.path, req.target)) return fail(() => `path ${req.target} does not match "${rule.path}"`);
  if (rule.host !== null) {
    const host = hostOf(req);
    if (host === null) return fail(() => 'request has no Host');
    if (!fullMatch(rule.host, host)) return fail(() => `host ${host} does not match "${rule.host}"`);
  }
  for (const h of rule.headers) {
    const values = headerValues(req, h.name);
    // as Envoy: a repeated header is matched on its values joined with ","; request bytes
    // are held as latin1, so compare with the policy value's UTF-8 bytes
    if (h.value === null ? values.length === 0 : values.join(',') !== Buffer.from(h.value, 'utf8').toString('latin1')) {
      return fail(() => (h.value === null ? `header ${h.name} is absent` : `header "${h.name}: ${h.value}" is absent`));
    }
  }
  return OK;
}
