// One http rule against one request: fields ANDed, regexes full-match, headers exact.
import type { HttpRule } from '../policy/types.ts';
import { fullMatch } from '../policy/regex.ts';
import { headerValues, hostOf, type HttpRequest } from './http.ts';

export type MatchResult = { readonly ok: true } | { readonly ok: false; readonly why: string };

export function matchHttpRule(rule: HttpRule, req: HttpRequest): MatchResult {
  if (rule.origin === 'grpc' && req.version !== 'HTTP/2') return { ok: false, why: `gRPC rules match HTTP/2 only, request is ${req.version}` };
  if (rule.method !== null && !fullMatch(rule.method, req.method)) return { ok: false, why: `method ${req.method} does not match "${rule.method}"` };
  if (rule.path !== null && !fullMatch(rule.path, req.target)) return { ok: false, why: `path ${req.target} does not match "${rule.path}"` };
  if (rule.host !== null) {
    const host = hostOf(req);
    if (host === null) return { ok: false, why: 'request has no Host' };
    if (!fullMatch(rule.host, host)) return { ok: false, why: `host ${host} does not match "${rule.host}"` };
  }
  for (const h of rule.headers) {
    const values = headerValues(req, h.name);
    // as Envoy: a repeated header is matched on its values joined with ","; request bytes
    // are held as latin1, so compare with the policy value's UTF-8 bytes
    if (h.value === null ? values.length === 0 : values.join(',') !== Buffer.from(h.value, 'utf8').toString('latin1')) {
      return { ok: false, why: h.value === null ? `header ${h.name} is absent` : `header "${h.name}: ${h.value}" is absent` };
    }
  }
  return { ok: true };
}
