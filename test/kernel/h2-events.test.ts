// HTTP/2 events name the stream: version 2, the stream id and ":method :path" as decoded,
// whether the values came as literals, from the static table (computed once per object and
// cached per CPU: the second connection reads the cache) or from the dynamic table (whose
// :method and :path entries keep their values' first octets for this).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { kernelSkip } from '../helpers/kernel.ts';
import { inspectAll } from '../helpers/inspect-all.ts';
import { actionsAgree, buildWorld, comparable, connPackets, describeActions, kernelVerdict, runKernel, runSim } from '../helpers/kernel-world.ts';
import { h2Connection, requestFields } from '../helpers/h2-wire.ts';
import { EVENT_KIND, REASON } from '../../src/loader/event.generated.ts';

const skip = kernelSkip();


const ia = inspectAll();
let world: ReturnType<typeof buildWorld> | undefined;
/** one object for both tests (every load verifies it: seconds under the matrix's emulation) */
const w = () => (world ??= buildWorld(ia.policies, ia.inv, []));
after(() => world?.close());

test('events of HTTP/2 streams: version 2, stream id, ":method :path" from literals, the static and the dynamic table', { skip }, () => {
  const bytes = h2Connection([
    requestFields('GET', '/a', 'server'), // GET static (2), /a a literal with an indexed name
    requestFields('POST', '/', 'server'), // both static (3, 4)
    requestFields('GET', '/index.html', 'server'), // static (5)
    requestFields('GET', '/a', 'server'), // /a from the dynamic table now
    requestFields('PATCH', '/a', 'server'), // PATCH literal (then indexed), /a dynamic
    requestFields('PATCH', '/a', 'server'), // both dynamic
  ]);
  for (const round of [1, 2]) {
    w().reset();
    const run = runKernel(w(), ia.client, ia.server, connPackets(ia.client, ia.server, 80, bytes, false)!);
    const events = run.events.filter((e) => e.kind === EVENT_KIND.HTTP && e.reason === REASON.NONE);
    assert.deepEqual(events.map((e) => [e.version, e.stream, Buffer.from(e.line.subarray(0, e.line_len)).toString('latin1')]), [
      [2, 1, 'GET /a'], [2, 3, 'POST /'], [2, 5, 'GET /index.html'], [2, 7, 'GET /a'], [2, 9, 'PATCH /a'], [2, 11, 'PATCH /a'],
    ], `round ${round}`);
  }
});

test('the preface counts only as the first bytes of a connection: after a request, or after CR LF, PRI is an unknown method', { skip }, () => {
  const preface = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';
  for (const text of [`GET / HTTP/1.1\r\nHost: b\r\n\r\n${preface}`, `\r\n${preface}`]) {
    for (const cut of [0, 3, 20]) {
      const bytes = Buffer.from(text, 'latin1');
      const packets = connPackets(ia.client, ia.server, 80, bytes, false, cut ? [text.indexOf('PRI') + cut] : [])!;
      w().reset();
      const kernel = runKernel(w(), ia.client, ia.server, packets);
      const sim = runSim(ia.policies, ia.inv, packets);
      assert.ok(actionsAgree(kernel.actions, sim.actions, comparable(packets, kernel.actions)), `${JSON.stringify(text)} cut ${cut}:\n${describeActions(packets, kernel.actions, sim.actions)}`);
      assert.equal(kernelVerdict(kernel), 'denied strict:unknown-method', JSON.stringify(text));
    }
  }
});
