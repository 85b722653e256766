// After a message llhttp would not keep alive (HTTP/1.0 without a keep-alive element,
// HTTP/1.1 with a close element in Connection), only CR and LF may follow: any other byte is
// an error (llhttp: "Data after `Connection: close`"). The kernel must end the stream where
// the simulator's llhttp does, packet by packet, whatever the Connection header looks like.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { kernelSkip } from '../helpers/kernel.ts';
import { inspectAll } from '../helpers/inspect-all.ts';
import { actionsAgree, buildWorld, comparable, connPackets, describeActions, runKernel, runSim, type KernelWorld } from '../helpers/kernel-world.ts';

const skip = kernelSkip();

// values as clients send them, and the edges of llhttp's element matching
const CONNECTION = [
  'close', 'Close', 'CLOSE', 'keep-alive', 'Keep-Alive', 'keep-alive, close', 'close, keep-alive', 'closed', 'x-close',
  ' close ', 'close ,x', 'x, close', 'clo,close', 'close x', 'upgrade', 'keep-alive,Upgrade', ',close', 'close,', '\tclose',
  'te, close', 'keep-alivex', 'kee', '', 'keep-alive ', 'close\t', 'x,,keep-alive',
];
const BODIES = ['', 'cl', 'chunked'] as const;
const AFTER = ['', '\r\n', '\r\n\r\n', 'GET /next HTTP/1.1\r\n\r\n', '\r\nGET /next HTTP/1.1\r\n\r\n', 'x', '\n\rGET / HTTP/1.1\r\n\r\n'];

interface Case {
  readonly version: string;
  readonly connection: readonly string[];
  readonly body: (typeof BODIES)[number];
  readonly after: string;
  readonly cuts: readonly number[];
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
  connection: fc.array(fc.constantFrom(...CONNECTION), { maxLength: 2 }),
  body: fc.constantFrom(...BODIES),
  after: fc.constantFrom(...AFTER),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
});

function wire(c: Case): { bytes: Buffer; splitAt: number[] } {
  const headers = c.connection.map((v) => `Connection: ${v}`);
  if (c.body === 'cl') headers.push('Content-Length: 3');
  if (c.body === 'chunked') headers.push('Transfer-Encoding: chunked');
  const body = c.body === 'cl' ? 'abc' : c.body === 'chunked' ? '3\r\nabc\r\n0\r\n\r\n' : '';
  const bytes = Buffer.from(`POST /first ${c.version}\r\nHost: server\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}${c.after}`, 'latin1');
  const splitAt = [...new Set(c.cuts.map((x) => Math.floor(x * bytes.length)).filter((x) => x > 0 && x < bytes.length))].sort((a, b) => a - b);
  return { bytes, splitAt };
}

let world: KernelWorld | null = null;
after(() => world?.close());

test('the kernel ends the stream after a closing message where llhttp does (fast-check, kernel == simulator)', { skip }, () => {
  const { policies, inv, client, server } = inspectAll();
  world = buildWorld(policies, inv, []);
  const seen = { reset: 0, pass: 0 };
  fc.assert(
    fc.property(caseArb, (c) => {
      const { bytes, splitAt } = wire(c);
      const packets = connPackets(client, server, 80, bytes, false, splitAt)!;
      world!.reset();
      const kernel = runKernel(world!, client, server, packets);
      const sim = runSim(policies, inv, packets);
      if (!actionsAgree(kernel.actions, sim.actions, comparable(packets, kernel.actions))) {
        assert.fail(`${JSON.stringify(bytes.toString('latin1'))} split at ${splitAt.join(', ') || '-'}:\n${describeActions(packets, kernel.actions, sim.actions)}`);
      }
      if (sim.actions.includes('reset')) seen.reset++;
      else seen.pass++;
    }),
    { seed: 20261126, numRuns: 400 },
  );
  // both outcomes are reached, so a framer that never (or always) closes cannot pass
  assert.ok(seen.reset > 40 && seen.pass > 40, JSON.stringify(seen));
});
