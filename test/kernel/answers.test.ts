// Answers (issue 13, stage 2), kernel == simulator per packet: fast-check plays connections
// whose client pipelines allowed and denied requests (GET, HEAD) while the server answers the
// ones before the first denied request with every framing the response framer follows or gives
// up on (Content-Length, chunked with extensions and trailers, 204, 304, interim 100, a body
// that ends with the connection, bytes that are no response), in segments cut anywhere, the
// client acknowledging as it goes. The kernel's per-packet actions (answer, drop while the
// answer is due, reset) must be the simulator's. L7BPF_ANSWER_RUNS (default 1000) sets the count.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { tcpConn } from '../../sim/index.ts';
import { actionsAgree, buildWorld, comparable, describeActions, runKernel, runSim, type KernelWorld } from '../helpers/kernel-world.ts';
import { inspectAll, serverPolicy } from '../helpers/inspect-all.ts';
import { EVENT_KIND, VERDICT } from '../../src/loader/index.ts';

const skip = kernelSkip();
const RUNS = Number(process.env.L7BPF_ANSWER_RUNS ?? 1000);

const { policies, inv, peer } = inspectAll(serverPolicy('[{method: "GET|HEAD", path: "/api/v1/users.*"}]', 'users'));

type Framing = 'cl' | 'chunked' | 'no-content' | 'not-modified' | 'continue' | 'until-close' | 'garbage';
interface Req { readonly denied: boolean; readonly head: boolean; readonly framing: Framing; readonly n: number }

function requestBytes(r: Req, i: number): string {
  return `${r.head ? 'HEAD' : 'GET'} ${r.denied ? '/admin' : `/api/v1/users?i=${i}`} HTTP/1.1\r\nHost: server\r\n\r\n`;
}

function responseBytes(r: Req): string {
  const body = 'x'.repeat(r.n);
  switch (r.framing) {
    case 'cl': return `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${r.n}\r\n\r\n${r.head ? '' : body}`;
    case 'chunked': return r.head ? 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
      : `HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n${r.n.toString(16)};ext=1\r\n${body}\r\n3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n`;
    case 'no-content': return 'HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n';
    case 'not-modified': return 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n';
    case 'continue': return `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${r.n}\r\n\r\n${r.head ? '' : body}`;
    case 'until-close': return `HTTP/1.0 200 OK\r\n\r\n${body}`;
    case 'garbage': return `XTTP/1.1 200 OK\r\n\r\n${body}`;
  }
}

const reqArb = fc.record({
  denied: fc.boolean(),
  head: fc.boolean(),
  framing: fc.constantFrom<Framing>('cl', 'cl', 'chunked', 'no-content', 'not-modified', 'continue', 'until-close', 'garbage'),
  n: fc.integer({ min: 0, max: 40 }),
});
/** req: the client sends its next request (with the one after it in the same segment: `both`);
 * resp: the server answers the oldest request it got, in pieces; ack: the client acknowledges */
const opArb = fc.oneof(
  fc.record({ op: fc.constant('req' as const), both: fc.boolean() }),
  fc.record({ op: fc.constant('resp' as const), cuts: fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { maxLength: 3 }) }),
  fc.record({ op: fc.constant('ack' as const) }),
);
const caseArb = fc.record({ reqs: fc.array(reqArb, { minLength: 1, maxLength: 4 }), ops: fc.array(opArb, { maxLength: 12 }), v6: fc.boolean() });
type Case = { reqs: Req[]; ops: ({ op: 'req'; both: boolean } | { op: 'resp'; cuts: number[] } | { op: 'ack' })[]; v6: boolean };

let port = 30000;
function packets(c: Case) {
  port = port >= 39000 ? 30000 : port + 1;
  const [cl, sv] = [peer('client', c.v6), peer('server', c.v6)].map((p) => (c.v6 ? `[${p.ip!.text}]` : p.ip!.text));
  const conn = tcpConn({ client: `${cl}:${port}`, server: `${sv}:80` }).handshake();
  let sent = 0;
  let answered = 0;
  // the server answers only what it got: the requests before the first denied one
  const firstDenied = c.reqs.findIndex((r) => r.denied);
  const served = firstDenied < 0 ? c.reqs.length : firstDenied;
  for (const o of c.ops) {
    if (o.op === 'req' && sent < c.reqs.length) {
      const n = o.both && sent + 1 < c.reqs.length ? 2 : 1;
      conn.send(c.reqs.slice(sent, sent + n).map((r, k) => requestBytes(r, sent + k)).join(''));
      sent += n;
    } else if (o.op === 'resp' && answered < Math.min(sent, served)) {
      const bytes = responseBytes(c.reqs[answered]!);
      conn.recv(bytes, { splitAt: o.cuts.filter((x) => x < bytes.length).sort((a, b) => a - b) });
      answered++;
    } else if (o.op === 'ack') {
      conn.ackOnly('client');
    }
  }
  while (sent < c.reqs.length) conn.send(requestBytes(c.reqs[sent]!, sent++));
  return conn.close().list;
}

const seen = new Map<string, number>();
let world: KernelWorld | null = null;
after(() => world?.close());

function check(w: KernelWorld, c: Case): void {
  const list = packets(c);
  w.reset();
  const client = peer('client', c.v6);
  const server = peer('server', c.v6);
  const kernel = runKernel(w, client, server, list);
  const sim = runSim(policies, inv, list).actions;
  if (!actionsAgree(kernel.actions, sim, comparable(list, kernel.actions))) {
    assert.fail(`kernel and simulator act differently:\n${describeActions(list, kernel.actions, sim)}`);
  }
  const later = kernel.events.some((e) => e.kind === EVENT_KIND.ANSWER && e.verdict === VERDICT.ANSWERED);
  const lost = kernel.events.some((e) => e.kind === EVENT_KIND.ANSWER && e.verdict === VERDICT.RESET);
  const k = later ? 'answered after responses' : lost ? 'answer lost: reset' : kernel.actions.includes('answer') ? 'answered at once'
    : kernel.actions.includes('reset') ? 'reset' : kernel.actions.includes('drop') ? 'answer due at the end' : 'allowed';
  seen.set(k, (seen.get(k) ?? 0) + 1);
  // an allowed request and a denied one in one segment while the server owes a response
  if (kernel.actions.includes('trim')) seen.set('trimmed', (seen.get('trimmed') ?? 0) + 1);
}

test(`answers: kernel == simulator on pipelined requests and every response framing (${RUNS} runs)`, { skip }, () => {
  world = buildWorld(policies, inv, []);
  fc.assert(fc.property(caseArb, (c) => check(world!, c as Case)), { numRuns: RUNS, seed: 20261203 });
  console.log(`answers: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
  for (const k of ['answered at once', 'answered after responses', 'answer lost: reset', 'reset', 'allowed', 'trimmed']) {
    assert.ok((seen.get(k) ?? 0) >= RUNS / 100, `${k}: ${seen.get(k) ?? 0} of ${RUNS}`);
  }
});
