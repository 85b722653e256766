// rules.http and rules.grpc entries -> HttpRule. Regex fields are validated as RE2.
import type { Node } from 'yaml';
import { Reader, type YNode } from '../source/yaml-reader.ts';
import { re2Error } from './regex.ts';
import { parseRateLimit } from './ratelimit.ts';
import type { HeaderMatch, HttpRule } from './types.ts';

const HTTP_FIELDS = ['method', 'path', 'host', 'headers', 'headerMatches', 'rateLimit'];
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function parseHttpRules(r: Reader, node: YNode): HttpRule[] {
  return (r.seq(node, 'rules.http') ?? []).map((n) => parseHttpRule(r, n)).filter((x): x is HttpRule => x !== null);
}

function parseHttpRule(r: Reader, node: Node): HttpRule | null {
  const m = r.map(node, 'http rule', HTTP_FIELDS);
  if (!m) return null;
  const method = m.has('method') ? methodRegex(r, m.get('method')) : null;
  const path = m.has('path') ? regexField(r, m.get('path'), 'path') : null;
  const host = m.has('host') ? regexField(r, m.get('host'), 'host') : null;
  const headers = [
    ...(m.has('headers') ? parseHeaders(r, m.get('headers')) : []),
    ...(m.has('headerMatches') ? parseHeaderMatches(r, m.get('headerMatches')) : []),
  ];
  const rateLimit = m.has('rateLimit') ? parseRateLimit(r, m.get('rateLimit')) : null;
  return { method, path, host, headers, origin: 'http', rateLimit, pos: r.pos(node) };
}

/** `method: "*"` is not RE2 but is what people write for "any": accept it, loudly. */
function methodRegex(r: Reader, node: YNode): string | null {
  const s = r.string(node, 'method');
  if (s === '*') {
    r.warn(node, 'star-method', 'method "*" is not a valid RE2 regex; read as any method', 'omit method, or write ".*"');
    return null;
  }
  return s === null ? null : checkRegex(r, node, s, 'method');
}

function regexField(r: Reader, node: YNode, what: string): string | null {
  const s = r.string(node, what);
  return s === null ? null : checkRegex(r, node, s, what);
}

function checkRegex(r: Reader, node: YNode, s: string, what: string): string | null {
  const err = re2Error(s);
  if (err === null) return s;
  r.error(node, `invalid RE2 regex in ${what} "${s}": ${err}`, what === 'method' ? 'e.g. "GET" or "GET|HEAD"' : 'escape special characters with \\');
  return null;
}

function parseHeaders(r: Reader, node: YNode): HeaderMatch[] {
  const out: HeaderMatch[] = [];
  for (const item of r.seq(node, 'headers') ?? []) {
    const s = r.string(item, 'header');
    if (s === null) continue;
    const colon = s.indexOf(':');
    const name = (colon < 0 ? s : s.slice(0, colon)).trim();
    const value = colon < 0 ? null : s.slice(colon + 1).trim();
    if (!HEADER_NAME.test(name)) {
      r.error(item, `invalid header name "${name}"`, 'write "Name: value" or "Name"');
      continue;
    }
    out.push({ name, value });
  }
  return out;
}

function parseHeaderMatches(r: Reader, node: YNode): HeaderMatch[] {
  const out: HeaderMatch[] = [];
  for (const item of r.seq(node, 'headerMatches') ?? []) {
    const m = r.map(item, 'headerMatches[]', ['name', 'value', 'mismatch', 'secret']);
    if (!m) continue;
    const name = r.string(m.get('name'), 'headerMatches name');
    const value = m.has('value') ? r.string(m.get('value'), 'headerMatches value') : null;
    if (m.has('secret')) r.error(m.get('secret'), 'headerMatches secrets are not supported by l7bpf', 'write the value');
    const mismatch = m.has('mismatch') ? r.string(m.get('mismatch'), 'mismatch') : null;
    if (mismatch === 'LOG') {
      r.warn(m.get('mismatch'), 'log-only', `headerMatches "${name}" with mismatch LOG only observes; it does not restrict requests`);
      continue;
    }
    if (mismatch !== null) {
      r.error(m.get('mismatch'), `mismatch action ${mismatch} is not supported`, 'the kernel does not rewrite requests; remove mismatch to require the header');
      continue;
    }
    if (name !== null && HEADER_NAME.test(name)) out.push({ name, value: value?.trim() ?? null });
    else if (name !== null) r.error(m.get('name'), `invalid header name "${name}"`);
  }
  return out;
}

export function parseGrpcRules(r: Reader, node: YNode): HttpRule[] {
  const out: HttpRule[] = [];
  for (const item of r.seq(node, 'rules.grpc') ?? []) {
    const m = r.map(item, 'grpc rule', ['service', 'method', 'rateLimit']);
    if (!m) continue;
    const service = m.has('service') ? regexField(r, m.get('service'), 'grpc service') : null;
    const method = m.has('method') ? regexField(r, m.get('method'), 'grpc method') : null;
    const rateLimit = m.has('rateLimit') ? parseRateLimit(r, m.get('rateLimit')) : null;
    out.push({ method: 'POST', path: grpcPath(service, method), host: null, headers: [], origin: 'grpc', rateLimit, pos: r.pos(item) });
  }
  return out;
}

/** gRPC call `service/method` is an HTTP/2 POST to `/service/method`. */
export function grpcPath(service: string | null, method: string | null): string {
  const part = (p: string | null) => (p === null ? '[^/]+' : `(?:${p})`);
  return `/${part(service)}/${part(method)}`;
}
