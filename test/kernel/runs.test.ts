// The fast runs (l7_http1_scan.h) stop exactly where the full framer would: an odd byte at every
// offset of a long value / name / path (SWAR words, the 32-byte run cap, the 256-byte chunk)
// gets the oracle's verdict and rule, and the window limit is exact around a run.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip, loadScenario, play, conn, actions, type Scenario } from '../helpers/kernel.ts';
import { frontendBackendIR } from '../helpers/ir-fixtures.ts';
import { EVENT_KIND, REASON, REASON_NAMES, strictRuleOf } from '../../src/loader/index.ts';
import { parseRequestHead } from '../../src/verdict/index.ts';

const skip = kernelSkip();
let sc: Scenario | null = null;
// a host rule and a header requirement make the value runs step their dfas too
const s = () => (sc ??= loadScenario(frontendBackendIR([
  { method: 'GET', path: '/api/v2/[a-z0-9~_-]*', host: 'backend(:8080)?' },
  { method: 'GET', path: '/api/v3/.*', headers: ['X-Key: k-1'] },
])));
after(() => sc?.close());

function oracleRule(req: string): string {
  const head = parseRequestHead(Buffer.from(req, 'latin1'));
  return head.kind === 'violation' ? head.violation.rule : 'none';
}

/** The kernel's strict rule for a request sent whole ('none' when allowed or L7-denied), and the verdict. */
function kernel(req: string, splitAt?: readonly number[]) {
  const out = play(s(), conn().handshake().send(Buffer.from(req, 'latin1'), splitAt ? { splitAt } : undefined));
  const ev = out.flatMap((p) => p.events).find((e) => e.kind === EVENT_KIND.HTTP && e.reason !== REASON.NONE && e.reason !== REASON.L7_NO_RULE);
  return { rule: ev ? strictRuleOf(ev.reason) ?? REASON_NAMES[ev.reason] ?? String(ev.reason) : 'none', out };
}

const ODD = ['\x7f', '\x01', '\t', '\x80', '\xff', ' ', '\r', '\n', ':', '.', '%', '/', '?'];
const get = (target: string, headers: string) => `GET ${target} HTTP/1.1\r\n${headers}\r\n`;

function check(req: string): void {
  const want = oracleRule(req);
  const { rule, out } = kernel(req);
  assert.equal(rule, want, `${JSON.stringify(req)}: kernel ${rule}, oracle ${want}\n${actions(out)}`);
}

test('an odd byte at any offset of a long header value ends the run where the framer would', { skip }, () => {
  for (const name of ['X-Free', 'Host', 'X-Key']) {
    for (let at = 0; at < 70; at += at < 20 ? 1 : 7) {
      for (const c of ODD) check(get('/api/v2/x', `${name}: ${'v'.repeat(at)}${c}${'w'.repeat(40)}\r\n`));
    }
  }
});

test('an odd byte at any offset of a long header name or path ends the run where the framer would', { skip }, () => {
  for (let at = 0; at < 70; at += at < 20 ? 1 : 7) {
    for (const c of ODD) {
      check(get('/api/v2/x', `Content-Lengt${'h'.repeat(at % 3)}${'x'.repeat(at)}${c}y: 1\r\n`));
      check(get('/api/v2/x', `Hos${'t'.repeat(at % 2 + 1)}${'a'.repeat(at)}${c}: b\r\n`));
      check(get(`/api/v2/${'p'.repeat(at)}${c}${'q'.repeat(40)}`, 'Host: backend\r\n'));
    }
  }
});

test('runs across the 256-byte chunk and segment boundaries give the verdict of the whole request', { skip }, () => {
  const req = get(`/api/v3/${'a'.repeat(300)}`, `Host: ${'h'.repeat(300)}\r\nX-Key: k-1\r\nX-Pad: ${'p'.repeat(700)}\r\n`);
  const whole = kernel(req).out.at(-1)!.verdict;
  for (let cut = 1; cut < req.length; cut += 37) {
    const { out } = kernel(req, [cut]);
    assert.equal(out.at(-1)!.verdict, whole, `split at ${cut}:\n${actions(out)}`);
  }
  assert.equal(whole, 'pass', 'GET /api/v3/... with X-Key: k-1 is allowed by the second extra rule');
});

test('the inspection window ends inside a run exactly where it ends byte by byte', { skip }, () => {
  const base = get('/api/v2/x', 'X-Pad: \r\n').length;
  for (const pad of [8192 - base - 1, 8192 - base, 8192 - base + 1]) {
    const req = get('/api/v2/x', `X-Pad: ${'p'.repeat(pad)}\r\n`);
    const cuts = Array.from({ length: Math.floor(req.length / 1400) }, (_, i) => (i + 1) * 1400);
    assert.equal(kernel(req, cuts).rule, oracleRule(req), `head of ${req.length} bytes`);
  }
});
