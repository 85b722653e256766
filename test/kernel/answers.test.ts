// Answers (issue 13, stages 2 and 3), kernel == simulator per packet: fast-check plays connections
// whose client pipelines allowed and denied requests (GET, HEAD) while the server answers the
// ones before the first denied request with every framing the response framer follows or gives
// up on (Content-Length, chunked with extensions and trailers, 204, 304, interim 100, a body
// that ends with the connection, bytes that are no response), in segments cut anywhere, the
// client acknowledging as it goes. The kernel's per-packet actions (answer, drop while the
// answer is due, reset) must be the simulator's, and so must the sequence and acknowledgement
// numbers of every packet stage 3 rewrites (offsets after a cut, the acknowledgement an answer
// sends the server). The client acknowledges a stage-3 403 or not (`saw`), so both the second
// cut and its fallback to stage 2 occur. L7BPF_ANSWER_RUNS (default 1000) sets the count.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { tcpConn } from '../../sim/index.ts';
import { actionsAgree, buildWorld, comparable, describeActions, runKernel, runSim, wireDisagreement, type KernelWorld } from '../helpers/kernel-world.ts';
import { inspectAll, serverPolicy } from '../helpers/inspect-all.ts';
import { EVENT_KIND, VERDICT } from '../../src/loader/index.ts';
import { HTTP1_FORBIDDEN_KEEP } from '../../src/net/answers.ts';

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
 * resp: the server answers the oldest allowed request, in pieces; ack: the client acknowledges;
 * saw: the client got a stage-3 403 (its later acknowledgements count it, whether one came or not) */
const opArb = fc.oneof(
  fc.record({ op: fc.constant('req' as const), both: fc.boolean() }),
  fc.record({ op: fc.constant('resp' as const), cuts: fc.uniqueArray(fc.integer({ min: 1, max: 200 }), { maxLength: 3 }) }),
  fc.record({ op: fc.constant('ack' as const) }),
  fc.record({ op: fc.constant('saw' as const) }),
);
const caseArb = fc.record({ reqs: fc.array(reqArb, { minLength: 1, maxLength: 4 }), ops: fc.array(opArb, { maxLength: 12 }), v6: fc.boolean() });
type Case = { reqs: Req[]; ops: ({ op: 'req'; both: boolean } | { op: 'resp'; cuts: number[] } | { op: 'ack' } | { op: 'saw' })[]; v6: boolean };

let port = 30000;
function packets(c: Case) {
  port = port >= 39000 ? 30000 : port + 1;
  const [cl, sv] = [peer('client', c.v6), peer('server', c.v6)].map((p) => (c.v6 ? `[${p.ip!.text}]` : p.ip!.text));
  const conn = tcpConn({ client: `${cl}:${port}`, server: `${sv}:80` }).handshake();
  let sent = 0;
  let answered = 0;
  // the server answers the allowed requests (at stage 3 it gets those after a denied one; at
  // stage 2 its answers after the denial are dropped)
  const allowed = c.reqs.flatMap((r, i) => (r.denied ? [] : [i]));
  for (const o of c.ops) {
    if (o.op === 'req' && sent < c.reqs.length) {
      const n = o.both && sent + 1 < c.reqs.length ? 2 : 1;
      const reqs = c.reqs.slice(sent, sent + n);
      conn.send(reqs.map((r, k) => requestBytes(r, sent + k)).join(''));
      // a denied request never reaches the server: its acknowledgements leave it out
      for (const [k, r] of reqs.entries()) if (r.denied) conn.unseen(requestBytes(r, sent + k).length);
      sent += n;
    } else if (o.op === 'resp' && answered < allowed.length && allowed[answered]! < sent) {
      const bytes = responseBytes(c.reqs[allowed[answered]!]!);
      conn.recv(bytes, { splitAt: o.cuts.filter((x) => x < bytes.length).sort((a, b) => a - b) });
      answered++;
    } else if (o.op === 'ack') {
      conn.ackOnly('client');
    } else if (o.op === 'saw') {
      conn.received(HTTP1_FORBIDDEN_KEEP.length);
    }
  }
  for (; sent < c.reqs.length; sent++) {
    const r = c.reqs[sent]!;
    conn.send(requestBytes(r, sent));
    if (r.denied) conn.unseen(requestBytes(r, sent).length);
  }
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
  const sim = runSim(policies, inv, list);
  if (!actionsAgree(kernel.actions, sim.actions, comparable(list, kernel.actions))) {
    assert.fail(`kernel and simulator act differently:\n${describeActions(list, kernel.actions, sim.actions)}`);
  }
  const wire = wireDisagreement(list, kernel, sim);
  if (wire) assert.fail(`${wire}\n${describeActions(list, kernel.actions, sim.actions)}`);
  const later = kernel.events.some((e) => e.kind === EVENT_KIND.ANSWER && e.verdict === VERDICT.ANSWERED);
  const lost = kernel.events.some((e) => e.kind === EVENT_KIND.ANSWER && e.verdict === VERDICT.RESET);
  const k = later ? 'answered after responses' : lost ? 'answer lost: reset' : kernel.actions.includes('answer') ? 'answered at once'
    : kernel.actions.includes('reset') ? 'reset' : kernel.actions.includes('drop') ? 'answer due at the end' : 'allowed';
  seen.set(k, (seen.get(k) ?? 0) + 1);
  // an allowed request and a denied one in one segment while the server owes a response
  if (kernel.actions.includes('trim')) seen.set('trimmed', (seen.get('trimmed') ?? 0) + 1);
  const kept = sim.packets.findIndex((p) => p.answer?.keep);
  if (kept >= 0) seen.set('stage 3 answer', (seen.get('stage 3 answer') ?? 0) + 1);
  if (kept >= 0 && sim.packets.some((p, i) => i > kept && p.reason === 'request-allowed')) seen.set('stage 3: allowed after the 403', (seen.get('stage 3: allowed after the 403') ?? 0) + 1);
  if (sim.packets.filter((p) => p.answer?.keep && p.reason !== 'retransmission').length > 1) seen.set('stage 3: two cuts', (seen.get('stage 3: two cuts') ?? 0) + 1);
  if (sim.packets.some((p) => p.rewrite && p.index > kept)) seen.set('stage 3: packets rewritten', (seen.get('stage 3: packets rewritten') ?? 0) + 1);
}

test(`answers: kernel == simulator on pipelined requests and every response framing (${RUNS} runs)`, { skip }, () => {
  world = buildWorld(policies, inv, []);
  fc.assert(fc.property(caseArb, (c) => check(world!, c as Case)), { numRuns: RUNS, seed: 20261203 });
  console.log(`answers: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
  const floor: Record<string, number> = {
    'answered at once': 100, 'answered after responses': 100, 'answer lost: reset': 100, 'reset': 1000, 'allowed': 100, 'trimmed': 100,
    'stage 3 answer': 100, 'stage 3: allowed after the 403': 100, 'stage 3: packets rewritten': 100, 'stage 3: two cuts': 300,
  };
  for (const [k, per] of Object.entries(floor)) assert.ok((seen.get(k) ?? 0) >= RUNS / per, `${k}: ${seen.get(k) ?? 0} of ${RUNS}`);
});
