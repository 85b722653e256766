// Request-target rules: origin-form only, canonical paths only. The server behind us acts
// on the path as sent, so anything a server might normalise differently is refused.
import type { StrictRule } from './strict.ts';

/** RFC 3986 pchar minus pct-encoding, plus "/" and "?" (checked separately). */
const ORIGIN_CHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

export function targetProblem(method: string, target: string): { rule: StrictRule; detail: string } | null {
  if (target === '*') return method === 'OPTIONS' ? null : { rule: 'not-origin-form', detail: '"*" is only for OPTIONS' };
  if (!target.startsWith('/')) return { rule: 'not-origin-form', detail: `target "${clip(target)}" does not start with "/"` };
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  if (path.includes('\\')) return { rule: 'path-not-canonical', detail: 'backslash' };
  for (const ch of target) {
    if (ch !== '?' && !ORIGIN_CHAR.test(ch)) return { rule: 'not-origin-form', detail: `character ${JSON.stringify(ch)} in target` };
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
      if (UNRESERVED.test(decoded)) return `encoded unreserved character "${decoded}" (%${hex})`;
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
