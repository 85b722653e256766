// Hubble's flow filters (src/observe/filters.ts), --since and sizes (units.ts), and the query
// over the history (query.ts): semantics as hubble observe and Hubble's server filters have them.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildFilter, FilterError, httpStatusFilter, parseEventType, parsePodName, urlPath, type JsonFlow } from '../../src/observe/filters.ts';
import { parseDurationNs, parseRfc3339Ns, parseSince, parseSize, UnitError } from '../../src/observe/units.ts';
import { History, START, type HistoryEntry } from '../../src/observe/history.ts';
import { readHistory, selectFlows } from '../../src/observe/query.ts';
import { queryOf } from '../../src/cli/observe.ts';

const pod = (namespace: string, pod_name: string) => ({ namespace, pod_name });
const request = (method: string, url: string, over: Partial<JsonFlow> = {}): JsonFlow => ({
  verdict: 'FORWARDED', source: pod('default', 'frontend-1'), destination: pod('default', 'backend-7f'), event_type: { type: 129 }, l7: { http: { method, url } }, ...over,
});
const response = (code: number): JsonFlow => ({ verdict: 'FORWARDED', source: pod('default', 'backend-7f'), destination: pod('default', 'frontend-1'), event_type: { type: 129 }, l7: { http: { code, method: 'GET', url: 'http://b/x' } } });
const drop: JsonFlow = { verdict: 'DROPPED', source: pod('default', 'frontend-1'), destination: pod('shop', 'db-0'), event_type: { type: 1, sub_type: 133 } };
const verdictOnly: JsonFlow = { verdict: 'FORWARDED', source: { namespace: 'default', pod_name: 'frontend-1' }, destination: { namespace: '', pod_name: '' }, event_type: { type: 5 } };

describe('--http-status', () => {
  /** an independent model: "4+" is 400..499, "40+" is 400..409, "403" is 403 */
  const range = (spec: string): [number, number] => {
    if (!spec.endsWith('+')) return [Number(spec), Number(spec)];
    const p = spec.slice(0, -1);
    const scale = 10 ** (3 - p.length);
    return [Number(p) * scale, (Number(p) + 1) * scale - 1];
  };
  const specs = fc.oneof(fc.integer({ min: 100, max: 599 }).map(String), fc.integer({ min: 1, max: 5 }).map((d) => `${d}+`), fc.integer({ min: 10, max: 59 }).map((d) => `${d}+`));

  it('a code matches a full code exactly and a prefix as the range it names; OR over values', () => {
    fc.assert(fc.property(fc.array(specs, { minLength: 1, maxLength: 3 }), fc.integer({ min: 100, max: 599 }), (values, code) => {
      const want = values.some((v) => {
        const [lo, hi] = range(v);
        return code >= lo && code <= hi;
      });
      assert.equal(httpStatusFilter(values)(response(code)), want, `${values.join(',')} vs ${code}`);
    }));
  });

  it('accepts exactly what hubble accepts (1xx-5xx codes, 1+..5+, 10+..59+)', () => {
    const valid = (s: string) => /^[1-5][0-9]{2}$/.test(s) || /^[1-5][0-9]?\+$/.test(s);
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 4 }), fc.stringMatching(/^[0-9]{1,4}\+?$/)), (s) => {
      let threw = false;
      try {
        httpStatusFilter([s]);
      } catch (e) {
        threw = e instanceof FilterError;
      }
      assert.equal(threw, !valid(s), JSON.stringify(s));
    }));
  });

  it('requests (no code) and non-HTTP flows never match', () => {
    const f = httpStatusFilter(['2+', '4+', '5+', '1+', '3+']);
    assert.equal(f(request('GET', 'http://b/')), false);
    assert.equal(f(drop), false);
  });
});

describe('pods, verdicts, types, methods, paths', () => {
  it('[namespace/][name prefix]: no namespace means default; ns/ is the whole namespace', () => {
    assert.deepEqual(parsePodName('backend'), { namespace: 'default', prefix: 'backend' });
    assert.deepEqual(parsePodName('kube-system/coredns-'), { namespace: 'kube-system', prefix: 'coredns-' });
    assert.deepEqual(parsePodName('shop/'), { namespace: 'shop', prefix: '' });
    assert.throws(() => parsePodName(''), FilterError);
    assert.equal(buildFilter({ fromPod: ['frontend'] })(drop), true, 'a prefix of frontend-1');
    assert.equal(buildFilter({ toPod: ['db'] })(drop), false, 'db-0 is in shop, not default');
    assert.equal(buildFilter({ toPod: ['shop/'] })(drop), true);
    assert.equal(buildFilter({ toPod: ['shop/db', 'default/nope'] })(drop), true, 'values are alternatives');
    assert.equal(buildFilter({ pod: ['shop/db'] })(drop), true, '--pod: source or destination');
    assert.equal(buildFilter({ pod: ['default/frontend'] })(drop), true);
    assert.equal(buildFilter({ toPod: ['/'] })(verdictOnly), false, 'no pod on that side: no match');
  });

  it('verdicts by Hubble name in any case; allowed and denied as before', () => {
    assert.equal(buildFilter({ verdict: ['DROPPED'] })(drop), true);
    assert.equal(buildFilter({ verdict: ['forwarded'] })(drop), false);
    assert.equal(buildFilter({ verdict: ['denied'] })(drop), true);
    assert.equal(buildFilter({ verdict: ['allowed'] })(request('GET', 'http://b/')), true);
    assert.equal(buildFilter({ verdict: ['allowed'] })({ ...request('GET', 'http://b/'), verdict: 'AUDIT' }), true, 'AUDIT passed');
    assert.equal(buildFilter({ verdict: ['FORWARDED', 'DROPPED'] })(drop), true);
    assert.throws(() => buildFilter({ verdict: ['ALLOWED-ISH'] }), /expected one of FORWARDED, DROPPED, ERROR, AUDIT/);
  });

  it('--type names and numbers as hubble observe --type, with sub-types', () => {
    assert.deepEqual(parseEventType('l7'), { type: 129 });
    assert.deepEqual(parseEventType('policy-verdict'), { type: 5 });
    assert.deepEqual(parseEventType('trace:to-stack'), { type: 4, subType: 3 });
    assert.deepEqual(parseEventType('drop:133'), { type: 1, subType: 133 });
    assert.deepEqual(parseEventType('129'), { type: 129 });
    assert.throws(() => parseEventType('l8'), /unknown type "l8"/);
    assert.throws(() => parseEventType('trace:sideways'), /unknown sub-type/);
    assert.equal(buildFilter({ type: ['drop'] })(drop), true);
    assert.equal(buildFilter({ type: ['drop:181'] })(drop), false);
    assert.equal(buildFilter({ type: ['l7', 'policy-verdict'] })(verdictOnly), true);
    assert.equal(buildFilter({ type: ['l7'] })(verdictOnly), false);
  });

  it('HTTP filters need --type to include l7, as Hubble says', () => {
    assert.throws(() => buildFilter({ type: ['drop'], httpStatus: ['403'] }), /--http-status requires --type to include l7/);
    assert.throws(() => buildFilter({ type: ['drop'], httpPath: ['/'] }), /--http-path/);
    assert.doesNotThrow(() => buildFilter({ type: ['drop', 'l7'], httpMethod: ['GET'] }));
  });

  it('--http-method in any case; flows without a method do not match', () => {
    assert.equal(buildFilter({ httpMethod: ['post'] })(request('POST', 'http://b/')), true);
    assert.equal(buildFilter({ httpMethod: ['GET', 'PUT'] })(request('POST', 'http://b/')), false);
    assert.equal(buildFilter({ httpMethod: ['GET'] })(drop), false);
  });

  it('--http-path: an RE2 regex, unanchored, on the decoded path without the query', () => {
    const f = (re: string, url: string) => buildFilter({ httpPath: [re] })(request('GET', url));
    assert.equal(f('^/api/v1/', 'http://10.0.0.2:8080/api/v1/users?x=1'), true);
    assert.equal(f('users', 'http://b/api/v1/users'), true, 'unanchored');
    assert.equal(f('x=1', 'http://b/api?x=1'), false, 'the query is not the path');
    assert.equal(f('^/a b$', 'http://b/a%20b'), true, 'decoded');
    assert.equal(f('.', 'http://b/%zz'), false, 'a bad escape: no path');
    assert.equal(urlPath('/only/path?q'), '/only/path');
    assert.equal(urlPath('relative'), null);
    assert.throws(() => buildFilter({ httpPath: ['(unclosed'] }), FilterError);
  });

  it('different flags must all match', () => {
    const f = buildFilter({ fromPod: ['frontend'], verdict: ['DROPPED'], type: ['drop'] });
    assert.equal(f(drop), true);
    assert.equal(f(request('GET', 'http://b/')), false);
    assert.equal(buildFilter({})(drop), true, 'no flags: everything');
  });
});

describe('--since, sizes', () => {
  it('Go durations: any sum of units', () => {
    const units = [['h', 3600e9], ['m', 60e9], ['s', 1e9], ['ms', 1e6], ['us', 1e3], ['ns', 1]] as const;
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...units), fc.integer({ min: 0, max: 999 })), { minLength: 1, maxLength: 4 }), (parts) => {
      const text = parts.map(([[u], n]) => `${n}${u}`).join('');
      assert.equal(parseDurationNs(text), BigInt(parts.reduce((sum, [[, ns], n]) => sum + n * ns, 0)), text);
    }));
    assert.equal(parseDurationNs('1.5h'), 5_400_000_000_000n);
    assert.equal(parseDurationNs('5'), null, 'a unit is required');
    assert.equal(parseDurationNs('5d'), null);
  });

  it('RFC 3339 times to the nanosecond, any offset', () => {
    fc.assert(fc.property(fc.date({ min: new Date('1971-01-01Z'), max: new Date('2200-01-01Z'), noInvalidDate: true }), fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: -14 * 60, max: 14 * 60 }), (d, subMs, offMin) => {
      const ms = d.getTime();
      const local = new Date(ms + offMin * 60_000).toISOString().slice(0, 19);
      const frac = String((ms % 1000 + 1000) % 1000).padStart(3, '0') + String(subMs).padStart(6, '0');
      const off = offMin === 0 ? 'Z' : `${offMin < 0 ? '-' : '+'}${String(Math.floor(Math.abs(offMin) / 60)).padStart(2, '0')}:${String(Math.abs(offMin) % 60).padStart(2, '0')}`;
      const want = BigInt(Math.floor(ms / 1000)) * 1_000_000_000n + BigInt(frac);
      assert.equal(parseRfc3339Ns(`${local}.${frac}${off}`), want, `${local}.${frac}${off}`);
    }));
  });

  it('--since: a duration back from now, or a time; anything else is bad input', () => {
    const now = 1_800_000_000_000_000_000n;
    assert.equal(parseSince('5m', now), now - 300_000_000_000n);
    assert.equal(parseSince('2026-12-04T13:00:00Z', now), BigInt(Date.parse('2026-12-04T13:00:00Z')) * 1_000_000n);
    assert.throws(() => parseSince('yesterday', now), UnitError);
    assert.throws(() => queryOf({ since: 'yesterday' }), { name: 'BadInputError' });
    assert.throws(() => queryOf({ httpStatus: ['600'] }), { name: 'BadInputError' });
  });

  it('history sizes: bytes, K/KiB, M/MiB, G/GiB (binary)', () => {
    assert.equal(parseSize('65536'), 65536);
    assert.equal(parseSize('512KiB'), 512 * 1024);
    assert.equal(parseSize('64MiB'), 64 * 1024 * 1024);
    assert.equal(parseSize('1g'), 1024 ** 3);
    assert.throws(() => parseSize('64 MB/s'), UnitError);
  });
});

describe('query over the history', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-query-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const at = (sec: number) => `2026-12-04T13:00:${String(sec).padStart(2, '0')}.000000001Z`;
  const line = (f: JsonFlow, sec: number) => JSON.stringify({ flow: { time: at(sec), ...f }, node_name: 'n', time: at(sec) });
  const entryAt = (sec: number, ...flows: JsonFlow[]): HistoryEntry => ({ t: String(BigInt(Date.parse(at(sec))) * 1_000_000n + 1n), flows: flows.map((f) => line(f, sec)) });

  it('filters pick flows, not entries: a request and its answer apart', () => {
    const e = entryAt(1, { ...request('GET', 'http://b/admin'), verdict: 'DROPPED' }, response(403));
    assert.deepEqual(selectFlows(e, queryOf({ httpStatus: ['403'] })), [e.flows[1]]);
    assert.deepEqual(selectFlows(e, queryOf({ verdict: ['DROPPED'] })), [e.flows[0]]);
    assert.deepEqual(selectFlows(e, {}), e.flows);
  });

  it('--since compares each flow time to the nanosecond; --last N counts the selected flows', () => {
    const h = new History(join(dir, 'h'), 1 << 20);
    h.append([entryAt(1, drop), entryAt(2, request('GET', 'http://b/1'), response(200)), entryAt(3, drop), entryAt(4, request('GET', 'http://b/2'))]);
    const lines = (q: Parameters<typeof readHistory>[2]) => {
      const out: string[] = [];
      readHistory(h, START, q, (s) => out.push(JSON.parse(s.line).flow.time + ' ' + (JSON.parse(s.line).flow.verdict ?? '')));
      return out;
    };
    const since3 = BigInt(Date.parse(at(3))) * 1_000_000n + 1n;
    assert.deepEqual(lines({ sinceNs: since3 }), [`${at(3)} DROPPED`, `${at(4)} FORWARDED`]);
    assert.deepEqual(lines({ sinceNs: since3 + 1n }), [`${at(4)} FORWARDED`], 'one ns later');
    assert.deepEqual(lines({ last: 2 }), [`${at(3)} DROPPED`, `${at(4)} FORWARDED`]);
    assert.deepEqual(lines({ last: 2, match: buildFilter({ type: ['l7'] }) }), [`${at(2)} FORWARDED`, `${at(4)} FORWARDED`]);
    assert.deepEqual(lines({ last: 0 }), []);
    assert.equal(lines({ last: 100 }).length, 5);
  });
});
