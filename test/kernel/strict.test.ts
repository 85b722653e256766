// Every strict-request rule (DESIGN 2) resets the connection with its own reason code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip, loadScenario, play, conn, actions, type Scenario } from './harness.ts';
import { frontendBackendIR } from '../emit/ir-fixtures.ts';
import { EVENT_KIND, REASON, REASON_NAMES } from '../../src/loader/event.generated.ts';

const skip = kernelSkip();
let sc: Scenario | null = null;
const s = () => (sc ??= loadScenario(frontendBackendIR([
  { method: 'POST', path: '/api/v1/upload' },
  { method: 'OPTIONS', path: '\\*' },
  { method: 'GET', path: '/api/v1/.*' },
])));
after(() => sc?.close());

type Reason = keyof typeof REASON;
const H = 'Host: backend\r\n';
const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\n${H}${extra}\r\n`;
const post = (extra: string, body = '') => `POST /api/v1/upload HTTP/1.1\r\n${H}${extra}\r\n${body}`;

const CASES: readonly (readonly [Reason, string])[] = [
  ['TARGET_NOT_ORIGIN', get('http://backend/api/v1/users')],
  ['TARGET_NOT_ORIGIN', get('*x')],
  ['ASTERISK_NOT_OPTIONS', get('*')],
  ['PATH_DOUBLE_SLASH', get('/api//v1/users')],
  ['PATH_DOT_SEGMENT', get('/api/./v1/users')],
  ['PATH_DOT_SEGMENT', get('/api/v1/.')],
  ['PATH_DOT_SEGMENT', get('/api/v1/.?x=1')],
  ['PATH_DOTDOT_SEGMENT', get('/api/v1/../admin')],
  ['PATH_DOTDOT_SEGMENT', get('/api/v1/..')],
  ['PATH_BACKSLASH', get('/api/v1\\users')],
  ['PATH_ENCODED_SEPARATOR', get('/api/v1%2fusers')],
  ['PATH_ENCODED_SEPARATOR', get('/api/v1/%2E%2E/admin')],
  ['PATH_ENCODED_SEPARATOR', get('/api/v1%5Cusers')],
  ['PATH_PCT_UNRESERVED', get('/api/v1/%75sers')],
  ['BAD_PCT_ENCODING', get('/api/v1/%zz')],
  ['BAD_PCT_ENCODING', get('/api/v1/%4')],
  ['BAD_VERSION', 'GET /api/v1/users HTTP/2.0\r\n\r\n'],
  ['BAD_VERSION', 'GET /api/v1/users HTTP/1.12\r\n\r\n'],
  ['BAD_VERSION', 'GET /api/v1/users\r\n\r\n'],
  ['BARE_LF', 'GET /api/v1/users HTTP/1.1\n\r\n'],
  ['BARE_LF', `GET /api/v1/users HTTP/1.1\r\nHost: backend\n\r\n`],
  ['BARE_LF', `GET /api/v1/users HTTP/1.1\r\n\n`],
  ['BARE_CR', 'GET /api/v1/users HTTP/1.1\rX\n\r\n'],
  ['BARE_CR', `GET /api/v1/users HTTP/1.1\r\nHost: a\rb\r\n\r\n`],
  ['OBS_FOLD', get('/api/v1/users', 'X-A: a\r\n  folded\r\n')],
  ['WS_BEFORE_COLON', get('/api/v1/users', 'X-A : a\r\n')],
  ['WS_BEFORE_COLON', get('/api/v1/users', 'X-A\t: a\r\n')],
  ['CL_DUPLICATE', post('Content-Length: 1\r\nContent-Length: 1\r\n', 'x')],
  ['CL_INVALID', post('Content-Length: abc\r\n')],
  ['CL_INVALID', post('Content-Length: 1 2\r\n')],
  ['CL_INVALID', post('Content-Length: -1\r\n')],
  ['CL_INVALID', post('Content-Length:\r\n')],
  ['TE_NOT_CHUNKED', post('Transfer-Encoding: gzip\r\n')],
  ['TE_NOT_CHUNKED', post('Transfer-Encoding: gzip, chunked\r\n')],
  ['TE_NOT_CHUNKED', post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n')],
  ['CL_AND_TE', post('Content-Length: 3\r\nTransfer-Encoding: chunked\r\n')],
  ['HOST_DUPLICATE', get('/api/v1/users', 'host: other\r\n')],
  ['BAD_METHOD', 'G@T /api/v1/users HTTP/1.1\r\n\r\n'],
  ['BAD_METHOD', '\r\nGET /api/v1/users HTTP/1.1\r\n\r\n'],
  ['BAD_METHOD', ' GET /api/v1/users HTTP/1.1\r\n\r\n'],
  ['BAD_TARGET_CHAR', get('/api/v1/<users>')],
  ['BAD_TARGET_CHAR', get('/api/v1/users#frag')],
  ['BAD_TARGET_CHAR', get('/api/v1/\u00e9')],
  ['BAD_HEADER_NAME', get('/api/v1/users', 'X@A: a\r\n')],
  ['BAD_HEADER_NAME', get('/api/v1/users', ': a\r\n')],
  ['BAD_HEADER_NAME', get('/api/v1/users', 'NoColon\r\n')],
  ['BAD_HEADER_VALUE', get('/api/v1/users', 'X-A: a\u0001b\r\n')],
  ['BAD_CHUNK', post('Transfer-Encoding: chunked\r\n', 'zz\r\n')],
  ['BAD_CHUNK', post('Transfer-Encoding: chunked\r\n', '3\r\nabcX')],
  ['BAD_CHUNK', post('Transfer-Encoding: chunked\r\n', '3\nabc')],
];

test('each strict rule resets the request with its own reason', { skip }, () => {
  const seen = new Set<Reason>();
  for (const [reason, req] of CASES) {
    const out = play(s(), conn().handshake().send(Buffer.from(req, 'latin1')));
    const ev = out.flatMap((p) => p.events).find((e) => e.kind === EVENT_KIND.HTTP && e.reason !== REASON.NONE);
    const got = ev ? REASON_NAMES[ev.reason] : 'none';
    assert.equal(got, reason, `${JSON.stringify(req)} should be ${reason}, got ${got}:\n${actions(out)}`);
    assert.equal(out[3]!.verdict, 'reset', `${JSON.stringify(req)} should be reset`);
    seen.add(reason);
  }
  const strict = Object.entries(REASON).filter(([, v]) => v >= 16).map(([k]) => k as Reason);
  const missing = strict.filter((r) => !seen.has(r) && r !== 'REQUEST_LINE_TOO_LONG' && r !== 'HEADER_TOO_LONG');
  assert.deepEqual(missing, [], 'every strict reason has a case');
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
  assert.equal(REASON_NAMES[line.flatMap((p) => p.events).find((e) => e.kind === EVENT_KIND.HTTP)!.reason], 'REQUEST_LINE_TOO_LONG');
  const head = long(get('/api/v1/users', 'X-A: ' + 'b'.repeat(8200) + '\r\n'));
  assert.equal(REASON_NAMES[head.flatMap((p) => p.events).find((e) => e.kind === EVENT_KIND.HTTP)!.reason], 'HEADER_TOO_LONG');
  const fits = long(get('/api/v1/users', 'X-A: ' + 'b'.repeat(8000) + '\r\n'));
  assert.ok(fits.every((p) => p.verdict === 'pass'), actions(fits));
});
