// Every strict-request rule (docs/semantics.md) resets the connection with its own reason code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip, loadScenario, play, conn, actions, verdicts, type Scenario } from '../helpers/kernel.ts';
import { resetting } from '../helpers/kernel-world.ts';
import { frontendBackendIR } from '../helpers/ir-fixtures.ts';
import { EVENT_KIND, REASON, REASON_NAMES, STRICT_RULE_OF_REASON, strictRuleOf } from '../../src/loader/index.ts';
import { H2_STRICT_RULES, parseRequestHead, STRICT_RULES } from '../../src/verdict/index.ts';
import { METHODS_HEADER_PATH, renderMethodsHeader } from '../../codegen/emit/generate.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const skip = kernelSkip();
let sc: Scenario | null = null;
const s = () => (sc ??= resetting(loadScenario(frontendBackendIR([
  { method: 'POST', path: '/api/v1/upload' },
  { method: 'OPTIONS', path: '\\*' },
  { method: 'GET', path: '/api/v1/.*' },
]))));
after(() => sc?.close());

const H = 'Host: backend\r\n';
const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\n${H}${extra}\r\n`;
const post = (extra: string, body = '') => `POST /api/v1/upload HTTP/1.1\r\n${H}${extra}\r\n${body}`;

/** Request heads breaking one strict rule each; the expected rule name is the oracle's. */
const HEADS: readonly string[] = [
  get('http://backend/api/v1/users'), get('*x'), get('*'), get('/api//v1/users'), get('/api/./v1/users'),
  get('/api/v1/.'), get('/api/v1/.?x=1'), get('/api/v1/../admin'), get('/api/v1/..'), get('/api/v1\\users'),
  get('/api/v1%2fusers'), get('/api/v1/%2E%2E/admin'), get('/api/v1%5Cusers'), get('/api/v1/%75sers'), get('/api/v1/%zz'),
  get('/api/v1/%4'), get('/api/v1/users?a=%zz'), get('/api/v1/users?a=\\'),
  'GET /api/v1/users HTTP/2.0\r\n\r\n', 'GET /api/v1/users HTTP/1.12\r\n\r\n', 'GET /api/v1/users\r\n\r\n',
  'GET /api/v1/users HTTP/1.1\n\r\n', `GET /api/v1/users HTTP/1.1\r\nHost: backend\n\r\n`, `GET /api/v1/users HTTP/1.1\r\n\n`,
  'GET /api/v1/users HTTP/1.1\rX\n\r\n', `GET /api/v1/users HTTP/1.1\r\nHost: a\rb\r\n\r\n`,
  get('/api/v1/users', 'X-A: a\r\n  folded\r\n'), get('/api/v1/users', 'X-A : a\r\n'), get('/api/v1/users', 'X-A\t: a\r\n'),
  post('Content-Length: 1\r\nContent-Length: 1\r\n', 'x'), post('Content-Length: abc\r\n'), post('Content-Length: 1 2\r\n'),
  post('Content-Length: -1\r\n'), post('Content-Length:\r\n'), post('Content-Length: 1234567890123456789\r\n'),
  post('Transfer-Encoding: gzip\r\n'), post('Transfer-Encoding: gzip, chunked\r\n'), post('Transfer-Encoding: Chunked\r\n'),
  post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n'), post('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n'),
  post('Transfer-Encoding: chunked\r\nContent-Length: 3\r\n'), get('/api/v1/users', 'host: other\r\n'),
  'G@T /api/v1/users HTTP/1.1\r\n\r\n', ' GET /api/v1/users HTTP/1.1\r\n\r\n',
  // CR and LF before the request line are skipped (as llhttp does): what follows is judged
  '\r\n GET /api/v1/users HTTP/1.1\r\n\r\n', '\n\rG@T /api/v1/users HTTP/1.1\r\n\r\n', '\r\n\r\nGET\r\n\r\n',
  '\r\nGET /api/v1/users HTTP/1.1\n\r\n',
  'GET\r\n\r\n', get('/api/v1/<users>'), get('/api/v1/users#frag'), get('/api/v1/\u00e9'), get('/api/v1/users', 'X@A: a\r\n'),
  get('/api/v1/users', ': a\r\n'), get('/api/v1/users', 'NoColon\r\n'), get('/api/v1/users', 'X-A: a\u0001b\r\n'),
  'GETS /api/v1/users HTTP/1.1\r\n\r\n', 'get /api/v1/users HTTP/1.1\r\n\r\n', 'PRIX * HTTP/2.0\r\n\r\n',
  // ("PRI " at the stream's start is the HTTP/2 preface: test/spec/http2.md)
  // a websocket handshake is judged by the rules (test/kernel/upgrade.test.ts); every other upgrade is not
  get('/api/v1/users', 'Upgrade: h2c\r\nConnection: keep-alive\r\n'), get('/api/v1/users', 'upgrade:\r\n'),
  get('/api/v1/users', 'Upgrade: websocket\r\n'), get('/api/v1/users', 'Upgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 1\r\n'),
];

/** Chunked-body errors: the oracle judges heads only; the simulator (llhttp) calls these malformed. */
const BODIES: readonly string[] = [
  post('Transfer-Encoding: chunked\r\n', 'zz\r\n'), post('Transfer-Encoding: chunked\r\n', '3\r\nabcX'),
  post('Transfer-Encoding: chunked\r\n', '3\nabc'),
];

function oracleRule(req: string): string {
  const head = parseRequestHead(Buffer.from(req, 'latin1'));
  return head.kind === 'violation' ? head.violation.rule : 'none';
}

function kernelRule(req: string): { rule: string; out: ReturnType<typeof play> } {
  const out = play(s(), conn().handshake().send(Buffer.from(req, 'latin1')));
  const ev = out.flatMap((p) => p.events).find((e) => e.kind === EVENT_KIND.HTTP && e.reason !== REASON.NONE);
  return { rule: ev ? strictRuleOf(ev.reason) ?? REASON_NAMES[ev.reason] ?? String(ev.reason) : 'none', out };
}

test('each strict rule resets the request with the oracle\'s rule name', { skip }, () => {
  const seen = new Set<string>();
  for (const req of HEADS) {
    const want = oracleRule(req);
    const { rule, out } = kernelRule(req);
    assert.equal(rule, want, `${JSON.stringify(req)}: kernel ${rule}, oracle ${want}:\n${actions(out)}`);
    assert.equal(out[3]!.verdict, 'reset', `${JSON.stringify(req)} should be reset`);
    seen.add(rule);
  }
  for (const req of BODIES) assert.equal(kernelRule(req).rule, 'malformed', JSON.stringify(req));
  const missing = Object.keys(STRICT_RULES).filter((r) => !seen.has(r) && r !== 'head-too-long');
  assert.deepEqual(missing, [], 'every strict rule has a case');
});

test('methods.generated.h is the oracle\'s KNOWN_METHODS (npx tsx codegen/emit/generate.ts regenerates it)', () => {
  assert.equal(readFileSync(join(import.meta.dirname, '..', '..', METHODS_HEADER_PATH), 'utf8'), renderMethodsHeader());
});

test('kernel reasons map 1:1 onto the oracle\'s strict rules (HTTP/1 and HTTP/2)', () => {
  const names = Object.values(STRICT_RULE_OF_REASON);
  assert.deepEqual([...names].sort(), [...Object.keys(STRICT_RULES), ...Object.keys(H2_STRICT_RULES)].sort());
  assert.equal(new Set(names).size, names.length);
  assert.equal(strictRuleOf(REASON.L7_NO_RULE), null);
});

test('well-formed variants of the same requests are allowed', { skip }, () => {
  const fine = [
    get('/api/v1/users?x=%2F..%2e//'),
    get('/api/v1/users%20x'),
    get('/api/v1/...'),
    get('/api/v1/a.b/.c'),
    `OPTIONS * HTTP/1.1\r\n${H}\r\n`,
    'GET /api/v1/users HTTP/1.0\r\n\r\n',
    post('Content-Length:  3  \r\n', 'abc'),
    post('transfer-encoding: chunked \r\n', '0\r\n\r\n'),
    get('/api/v1/users', 'X-A:\tv\t\r\n'),
    '\r\n' + get('/api/v1/users'), '\n' + get('/api/v1/users'), '\r' + get('/api/v1/users'), '\n\r\r\n\r\n' + get('/api/v1/users'),
  ];
  for (const req of fine) {
    const out = play(s(), conn().handshake().send(req));
    assert.equal(out[3]!.verdict, 'pass', `${JSON.stringify(req)}:\n${actions(out)}\n${out[3]!.events.map((e) => REASON_NAMES[e.reason]).join(',')}`);
  }
});

test('request line and header block longer than the inspection window (8192) are refused', { skip }, () => {
  const long = (req: string) => {
    const cuts = Array.from({ length: Math.floor(req.length / 1400) }, (_, i) => (i + 1) * 1400);
    return play(s(), conn().handshake().send(req, { splitAt: cuts }));
  };
  const line = long(get('/api/v1/' + 'a'.repeat(9000)));
  assert.equal(REASON_NAMES[line.flatMap((p) => p.events).find((e) => e.kind === EVENT_KIND.HTTP)!.reason], 'HEAD_TOO_LONG');
  const head = long(get('/api/v1/users', 'X-A: ' + 'b'.repeat(8200) + '\r\n'));
  assert.equal(REASON_NAMES[head.flatMap((p) => p.events).find((e) => e.kind === EVENT_KIND.HTTP)!.reason], 'HEAD_TOO_LONG');
  const fits = long(get('/api/v1/users', 'X-A: ' + 'b'.repeat(8000) + '\r\n'));
  assert.ok(fits.every((p) => p.verdict === 'pass'), actions(fits));
});

/** Where each request line of `text` starts (after the CR and LF bytes before it) and its head ends. */
function heads(text: string): { method: number; end: number }[] {
  const out: { method: number; end: number }[] = [];
  for (let i = 0; i < text.length;) {
    while (text[i] === '\r' || text[i] === '\n') i++;
    const end = text.indexOf('\r\n\r\n', i);
    if (i >= text.length || end < 0) break;
    const head = text.slice(i, end);
    const cl = /content-length: (\d+)/i.exec(head);
    out.push({ method: i, end: end + 4 });
    // bodies here: a content-length, or chunks ending in a last chunk without trailers
    i = /transfer-encoding: chunked/i.test(head) ? text.indexOf('\r\n0\r\n\r\n', end) + 7 : end + 4 + (cl ? Number(cl[1]) : 0);
  }
  return out;
}

test('CR and LF before a request line (first or pipelined) are skipped, split at every offset', { skip }, () => {
  const users = get('/api/v1/users');
  const items = get('/api/v1/items');
  const denied = get('/admin');
  const cases: [string, boolean][] = [
    ['\r\n' + users, true],
    ['\r\n\r\n' + users, true],
    [users + '\r\n' + items, true],
    ['\n' + users + '\r\r\n\n' + items, true],
    // the stray CRLF some clients send after a POST body
    [post('Content-Length: 3\r\n', 'abc') + '\r\n' + users, true],
    [post('Transfer-Encoding: chunked\r\n', '3\r\nabc\r\n0\r\n\r\n') + '\r\n' + users, true],
    // after the last message of the connection (llhttp skips these too)
    [get('/api/v1/users', 'Connection: close\r\n') + '\r\n\r\n', true],
    // the request after the empty lines is still judged
    [users + '\r\n' + denied, false],
  ];
  for (const [text, allowed] of cases) {
    const hs = heads(text);
    for (let k = 1; k < text.length; k++) {
      const out = play(s(), conn().handshake().send(text, { splitAt: [k] }));
      const at = `${JSON.stringify(text)} split at ${k}`;
      assert.deepEqual(verdicts(out), ['pass', 'pass', 'pass', 'pass', allowed ? 'pass' : 'reset'], `${at}:\n${actions(out)}`);
      const evs = out.map((p) => p.events.filter((e) => e.kind === EVENT_KIND.HTTP));
      assert.deepEqual(evs.flat().map((e) => REASON_NAMES[e.reason]), hs.map((_, j) => (allowed || j < hs.length - 1 ? 'NONE' : 'L7_NO_RULE')), at);
      // each request's event is in the packet that ends its head, and copies the request
      // line from the method on (from the flow's ring when the method was in an earlier packet)
      [[0, k], [k, text.length]].forEach(([from, to], p) => {
        const want = hs.filter((h) => h.end > from! && h.end <= to!).map((h) => text.slice(h.method, Math.min(h.method + 64, to!)));
        const lines = evs[3 + p]!.map((e) => Buffer.from(e.line.subarray(0, e.line_len)).toString('latin1'));
        assert.deepEqual(lines, want, `${at}: event lines of packet ${p + 1}`);
      });
    }
  }
});

test('after a message that ends the connection, CR and LF are skipped and a request is refused', { skip }, () => {
  const text = get('/api/v1/users', 'Connection: close\r\n') + '\r\n' + get('/api/v1/users');
  const out = play(s(), conn().handshake().send(text));
  assert.equal(out[3]!.verdict, 'reset', actions(out));
  const evs = out[3]!.events.filter((e) => e.kind === EVENT_KIND.HTTP);
  assert.deepEqual(evs.map((e) => REASON_NAMES[e.reason]), ['NONE', 'MALFORMED']);
});
