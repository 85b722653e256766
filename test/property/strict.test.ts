// Properties of the strict request-head parser: heads built from valid parts parse and
// round-trip; what follows the head (a body, the next pipelined request) does not change the
// result; a head cut short is incomplete, never a violation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRequestHead } from '../../src/verdict/index.ts';
import { SEED } from './gen.ts';

const RUNS = { seed: SEED, numRuns: 400 };
const TCHAR = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const UNRESERVED = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~';
const SPECIAL_NAMES = new Set(['host', 'content-length', 'transfer-encoding', 'upgrade']);

const chars = (alphabet: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((a) => a.join(''));

/** a path segment: unreserved characters, not "." or ".." (dots only inside) */
const segment = fc.tuple(chars(UNRESERVED, 1, 6), fc.option(chars(UNRESERVED + '.', 0, 4), { nil: '' })).map(([a, b]) => a + b);
const query = fc.option(chars(UNRESERVED + '=&/.%20?', 0, 12).map((q) => q.replace(/%(?![0-9A-F]{2})/g, '')), { nil: null });
const target = fc.tuple(fc.array(segment, { maxLength: 4 }), fc.boolean(), query).map(([segs, slash, q]) => {
  const path = '/' + segs.join('/') + (slash && segs.length ? '/' : '');
  return q === null ? path : `${path}?${q}`;
});
const headerName = chars(TCHAR, 1, 12).filter((n) => !SPECIAL_NAMES.has(n.toLowerCase()));
/** visible ASCII with inner spaces and tabs, no surrounding whitespace */
const headerValue = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), { maxLength: 20 })
  .map((a) => a.join('').trim());

interface Head {
  readonly method: string;
  readonly target: string;
  readonly version: 'HTTP/1.0' | 'HTTP/1.1';
  readonly headers: readonly (readonly [string, string])[];
  readonly text: string;
}

const head: fc.Arbitrary<Head> = fc
  .record({
    method: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    target,
    version: fc.constantFrom('HTTP/1.0' as const, 'HTTP/1.1' as const),
    host: fc.option(chars('abcdefghijklmnopqrstuvwxyz0123456789.-:', 1, 20), { nil: null }),
    length: fc.option(fc.nat(100000), { nil: null }),
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    ows: fc.constantFrom('', ' ', '\t', '  '),
  })
  .map((h) => {
    const headers: [string, string][] = [];
    if (h.host !== null) headers.push(['Host', h.host]);
    headers.push(...h.headers);
    if (h.length !== null) headers.push(['Content-Length', String(h.length)]);
    const lines = [`${h.method} ${h.target} ${h.version}`, ...headers.map(([n, v]) => `${n}:${h.ows}${v}${h.ows}`)];
    return { method: h.method, target: h.target, version: h.version, headers, text: lines.join('\r\n') + '\r\n\r\n' };
  });

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('strict request-head parser properties', () => {
  it('a head built from valid parts parses and round-trips method, target, version and headers', () => {
    fc.assert(
      fc.property(head, (h) => {
        const r = parseRequestHead(bytes(h.text));
        assert.equal(r.kind, 'ok', `${JSON.stringify(h.text)} -> ${JSON.stringify(r)}`);
        if (r.kind !== 'ok') return;
        assert.equal(r.request.method, h.method);
        assert.equal(r.request.target, h.target);
        assert.equal(r.request.version, h.version);
        assert.deepEqual(r.request.headers, h.headers);
        assert.equal(r.length, h.text.length);
      }),
      RUNS,
    );
  });

  it('bytes after the head (a body, a pipelined request) do not change the result', () => {
    fc.assert(
      fc.property(head, fc.uint8Array({ maxLength: 64 }), (h, tail) => {
        const whole = parseRequestHead(bytes(h.text));
        const more = parseRequestHead(Buffer.concat([bytes(h.text), tail]));
        assert.deepEqual(more, whole);
      }),
      RUNS,
    );
  });

  it('a head cut anywhere is incomplete, not a violation (even right after a CR)', () => {
    fc.assert(
      fc.property(head, fc.nat(), (h, n) => {
        const cut = n % h.text.length;
        const r = parseRequestHead(bytes(h.text.slice(0, cut)));
        assert.equal(r.kind, 'incomplete', `${JSON.stringify(h.text.slice(0, cut))} -> ${JSON.stringify(r)}`);
      }),
      RUNS,
    );
  });

  it('a head cut right after a CR of a line end or of the final CRLF is incomplete', () => {
    for (const prefix of ['GET / HTTP/1.1\r', 'GET / HTTP/1.1\r\nHost: b\r', 'GET / HTTP/1.1\r\nHost: b\r\n\r']) {
      assert.equal(parseRequestHead(bytes(prefix)).kind, 'incomplete', JSON.stringify(prefix));
    }
  });

  it('a violation is found at the same offset however much of the request follows it', () => {
    const faults = fc.constantFrom('GET /a/../b HTTP/1.1\r\n', 'GET / HTTP/1.2\r\n', 'BREW / HTTP/1.1\r\n', 'GET / HTTP/1.1\r\nHost : x\r\n', 'GET / HTTP/1.1\nHost: x\r\n');
    fc.assert(
      fc.property(faults, head, (fault, h) => {
        const base = parseRequestHead(bytes(fault));
        assert.equal(base.kind, 'violation');
        const later = parseRequestHead(bytes(fault + h.text.slice(h.text.indexOf('\r\n') + 2)));
        assert.deepEqual(later, base);
      }),
      RUNS,
    );
  });
});
