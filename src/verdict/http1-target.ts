// Request-target rules: origin-form only, canonical paths only. The server behind us acts
// on the path as sent, so anything a server might normalise differently is refused.
import type { StrictRule } from './http1-strict.ts';

/** RFC 3986 pchar plus "/" and "%" (pct-encoding checked separately); "?" is handled apart. */
const ORIGIN_CHAR = charTable("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/%");
const UNRESERVED = charTable('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~');

function charTable(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
}

const inTable = (t: Uint8Array, code: number) => code < 128 && t[code] === 1;

export function targetProblem(method: string, target: string): { rule: StrictRule; detail: string } | null {
  if (target === '*') return method === 'OPTIONS' ? null : { rule: 'not-origin-form', detail: '"*" is only for OPTIONS' };
  if (!target.startsWith('/')) return { rule: 'not-origin-form', detail: `target "${clip(target)}" does not start with "/"` };
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (path.includes('\\')) return { rule: 'path-not-canonical', detail: 'backslash' };
  for (let i = 0; i < target.length; i++) {
    const code = target.charCodeAt(i);
    if (code !== 63 /* ? */ && !inTable(ORIGIN_CHAR, code)) return { rule: 'not-origin-form', detail: `character ${JSON.stringify(target[i])} in target` };
  }
  const pathProblem = canonicalProblem(path);
  if (pathProblem) return { rule: 'path-not-canonical', detail: pathProblem };
  if (!validPercents(target)) return { rule: 'not-origin-form', detail: 'invalid percent-encoding in query' };
  return null;
}

function canonicalProblem(path: string): string | null {
  if (path.includes('//')) return 'empty segment "//"';
  if (path.includes('/./') || path.endsWith('/.')) return 'dot segment "/."';
  if (path.includes('/../') || path.endsWith('/..')) return 'dot-dot segment "/.."';
  for (let i = 0; i < path.length; i++) {
    const ch = path[i] ?? '';
    if (ch === '%') {
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return 'invalid percent-encoding';
      const decoded = String.fromCharCode(parseInt(hex, 16));
      if (decoded === '/' || decoded === '\\') return `encoded "${decoded}" (%${hex})`;
      if (inTable(UNRESERVED, decoded.charCodeAt(0))) return `encoded unreserved character "${decoded}" (%${hex})`;
      i += 2;
    }
  }
  return null;
}

function validPercents(s: string): boolean {
  return !/%(?![0-9A-Fa-f]{2})/.test(s);
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}
