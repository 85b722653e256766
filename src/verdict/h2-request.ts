// An HTTP/2 request as the oracle judges it (RFC 9113 sections 8.2-8.3): a decoded field
// block -> the request model (method = :method, target = :path, host = :authority, or Host
// without one; headers = :authority and the regular fields, in order), or the first rule it
// breaks. A rule is detected at a field index (a streaming decoder knows there), so when a
// block breaks several, the earliest field wins; rules about the whole block come after.
// The path and method rules are HTTP/1's (one semantics of what a server acts on).
import { KNOWN_METHODS, type HttpRequest } from './http.ts';
import { STRICT_RULES, type StrictRule, type StrictViolation } from './http1-strict.ts';
import { targetProblem } from './http1-target.ts';

/** HTTP/2's own strict rules (fail closed), beside STRICT_RULES (HTTP/1 and shared). */
export const H2_STRICT_RULES = {
  'h2-preface': 'connection does not start with the HTTP/2 client preface',
  'h2-frame': 'HTTP/2 framing error (frame size, stream id, padding, a frame where none may be)',
  'h2-continuation': 'CONTINUATION misuse (no open field block, or another frame inside one)',
  'h2-hpack': 'HPACK decoding error: the field block cannot be read',
  'h2-block-too-long': 'field block longer than the inspection limit',
  'h2-trailers': 'a second field block on a stream (trailers, or HEADERS on a stream already opened): one block per request is judged',
  'h2-uppercase-name': 'field name with uppercase letters',
  'h2-bad-field': 'field name or value with characters HTTP/2 forbids',
  'h2-connection-field': 'connection-specific field (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE other than "trailers")',
  'h2-pseudo-order': 'pseudo-header after a regular field',
  'h2-pseudo-unknown': 'pseudo-header unknown, or not one of a request',
  'h2-pseudo-repeated': 'pseudo-header more than once',
  'h2-pseudo-missing': ':method, :scheme or :path absent',
  'h2-empty-path': 'empty :path',
  'h2-connect': 'CONNECT: a tunnel l7bpf cannot follow',
  'h2-host-authority': 'Host beside :authority (a server may read either; the datapath keeps no values to compare)',
} as const;
export type H2StrictRule = keyof typeof H2_STRICT_RULES;

/** HTTP/1's rules that hold for an HTTP/2 request too. */
type SharedRule = 'unknown-method' | 'not-origin-form' | 'path-not-canonical' | 'multiple-host';

/** A strict rule of either protocol. */
export type AnyStrictRule = StrictRule | H2StrictRule;

/** For HTTP/2 a StrictViolation's offset is the index of the field where the rule is
 * detected (the block's field count for rules about the whole block). */
export type H2RequestResult = { readonly kind: 'ok'; readonly request: HttpRequest } | { readonly kind: 'violation'; readonly violation: StrictViolation };

/** Description of any strict rule. */
export function strictRuleText(rule: AnyStrictRule): string {
  return rule in H2_STRICT_RULES ? H2_STRICT_RULES[rule as H2StrictRule] : STRICT_RULES[rule as StrictRule];
}

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path']);
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** RFC 9113 8.2.1: a name has no controls, SP, uppercase, DEL or non-ASCII, and ':' only first. */
function nameProblem(name: string): H2StrictRule | null {
  if (name.length === 0) return 'h2-bad-field';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return 'h2-uppercase-name';
    if (c <= 0x20 || c >= 0x7f || (c === 0x3a && i > 0)) return 'h2-bad-field';
  }
  return null;
}

/** ... and a value no NUL, CR or LF, nor whitespace at either end. */
function valueOk(value: string): boolean {
  if (/[\0\r\n]/.test(value)) return false;
  return !/^[ \t]|[ \t]$/.test(value);
}

export function h2Request(fields: readonly (readonly [string, string])[]): H2RequestResult {
  const fail = (rule: H2StrictRule | SharedRule, detail: string, field: number): H2RequestResult => ({ kind: 'violation', violation: { rule, detail, offset: field } });
  const pseudo = new Map<string, string>();
  const headers: [string, string][] = [];
  let regular = false;
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i]!;
    const bad = nameProblem(name);
    if (bad) return fail(bad, `field name ${JSON.stringify(name)}`, i);
    if (!valueOk(value)) return fail('h2-bad-field', `value of ${name}`, i);
    if (name.startsWith(':')) {
      if (regular) return fail('h2-pseudo-order', `${name} after a regular field`, i);
      if (!REQUEST_PSEUDO.has(name)) return fail('h2-pseudo-unknown', name, i);
      if (pseudo.has(name)) return fail('h2-pseudo-repeated', name, i);
      pseudo.set(name, value);
      if (name === ':authority') headers.push([name, value]);
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value !== 'trailers')) return fail('h2-connection-field', name, i);
    headers.push([name, value]);
  }
  const end = fields.length;
  const method = pseudo.get(':method');
  if (method === 'CONNECT') return fail('h2-connect', 'CONNECT', end);
  const path = pseudo.get(':path');
  const missing = [':method', ':scheme', ':path'].filter((p) => !pseudo.has(p));
  if (missing.length || method === undefined || path === undefined) return fail('h2-pseudo-missing', missing.join(', '), end);
  if (path === '') return fail('h2-empty-path', ':path is empty', end);
  if (!KNOWN_METHODS.has(method)) return fail('unknown-method', `method ${JSON.stringify(method)}`, end);
  const target = targetProblem(method, path);
  if (target) return fail(target.rule as SharedRule, target.detail, end);
  const hosts = headers.filter(([n]) => n === 'host');
  if (hosts.length > 1) return fail('multiple-host', `${hosts.length} Host fields`, end);
  const authority = pseudo.get(':authority');
  if (hosts.length === 1 && authority !== undefined) return fail('h2-host-authority', `Host ${hosts[0]![1]} beside :authority ${authority}`, end);
  return { kind: 'ok', request: { method, target: path, version: 'HTTP/2', headers } };
}
