// `replay --kernel` on captures taken on a veth (64 KB TSO/GRO frames) and on other link types
// than Ethernet: no abort, and the object agrees with the simulator packet by packet. Also
// checks TEST_RUN_MAX_FRAME against this kernel (root; never skipped in CI).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelSkip } from '../helpers/kernel.ts';
import { mergeByTime, pcapBytes, readCapture, reframe, tcpConn, tcpFrame, type FixturePacket } from '../../sim/index.ts';
import { KernelReplayer, splitSummary, type KernelPacket } from '../../src/replay/kernel.ts';
import { parseInventory } from '../../src/endpoints/parse.ts';
import { openLibbpf, loadObject, PacketRunner, TEST_RUN_MAX_FRAME, TestRunError } from '../../src/loader/index.ts';
import { cliArgv } from '../helpers/cli.ts';

const skip = kernelSkip();
const seed = 'examples/seed';
// the seed policy's endpoints, with IPv6 addresses too
const INVENTORY = `endpoints:
  - {name: frontend-1, namespace: default, labels: {app: frontend}, ips: [10.0.0.1, "fd00::1"]}
  - {name: backend-1, namespace: default, labels: {app: backend}, ips: [10.0.0.2, "fd00::2"]}
`;
const ALLOWED = 'GET /api/v1/users HTTP/1.1\r\nHost: backend\r\n\r\n';
const DENIED = 'GET /api/v1/products HTTP/1.1\r\nHost: backend\r\n\r\n';
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';

function l7bpf(...args: string[]) {
  const r = spawnSync(process.execPath, [...cliArgv(), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** ~20 KB of pipelined requests in one frame, as GRO hands them to tc on a veth. */
const pipelined = (denyAt: number | null) => Array.from({ length: 460 }, (_, i) => (i === denyAt ? DENIED : ALLOWED)).join('');

/** An allowed 20 KB frame (v4), one with a denied request inside (v4), the same over IPv6. */
function veth(): FixturePacket[] {
  const conn = (client: string, server: string, t: number) => tcpConn({ client, server, startTs: 1_700_000_000_000_000_000n + BigInt(t) * 1_000_000_000n });
  const allowed = conn('10.0.0.1:40001', '10.0.0.2:8080', 0).handshake().send(pipelined(null)).recv(OK.repeat(460)).close();
  const denied = conn('10.0.0.1:40002', '10.0.0.2:8080', 1).handshake().send(pipelined(230)).recv(OK).send(ALLOWED).close();
  const denied6 = conn('[fd00::1]:40003', '[fd00::2]:8080', 2).handshake().send(pipelined(400)).close();
  return mergeByTime(allowed.list, denied.list, denied6.list);
}

describe('replay --kernel: frames over the test_run limit and other link types', { skip }, () => {
  let dir = '';
  let obj = '';
  let inv = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-klarge-'));
    obj = join(dir, 'obj');
    inv = join(dir, 'inv.yaml');
    writeFileSync(inv, INVENTORY);
    assert.equal(l7bpf('compile', '--policy', `${seed}/corrected-policy.yaml`, '-o', obj).code, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const capture = (linkType: number): string => {
    const path = join(dir, `veth-${linkType}.pcap`);
    writeFileSync(path, pcapBytes(veth().map((p) => ({ data: reframe(p.frame, linkType), ts: p.ts })), { linkType }));
    return path;
  };

  for (const [name, linkType] of [['Ethernet', 1], ['Linux SLL2', 276], ['raw IP', 101], ['Linux SLL', 113], ['BSD loopback', 0]] as const) {
    it(`${name}: 20 KB TCP frames run split, the object agrees with the simulator on every packet`, () => {
      const r = l7bpf('replay', capture(linkType), '--kernel', obj, '--endpoints', inv);
      assert.equal(r.code, 0, r.err);
      const n = veth().length;
      assert.match(r.out, new RegExp(`kernel: ${n} packet\\(s\\) run through the object, ${n} agree with the simulator, 0 disagree`));
      assert.match(r.out, /, 2 denied/);
    });
  }

  it('the 20 KB frames are split into 1500-byte packets; a denied request inside one resets that frame', () => {
    const k = KernelReplayer.open(obj, parseInventory(INVENTORY, 'inv.yaml').inventory);
    const out: KernelPacket[] = [];
    try {
      let i = 0;
      for (const rec of readCapture(capture(1))) out.push(k.push(i++, rec));
    } finally {
      k.close();
    }
    const big = out.filter((p) => p.pieces > 1);
    // 20.7 KB of requests in 1460 (IPv4) or 1440 (IPv6) byte pieces; 17.5 KB of responses
    assert.deepEqual(big.map((p) => [p.pieces, p.action]), [[15, 'pass'], [12, 'pass'], [15, 'reset'], [15, 'reset']]);
    assert.equal(splitSummary(out), `kernel: 4 frame(s) over test_run's ${TEST_RUN_MAX_FRAME} bytes split into 57 TCP piece(s)`);
  });

  it(`TEST_RUN_MAX_FRAME (${TEST_RUN_MAX_FRAME}) is what this kernel takes: one byte more fails with the size hint`, () => {
    const o = loadObject(openLibbpf(), join(obj, 'l7bpf.o'));
    const runner = new PacketRunner(o);
    const frame = (len: number) => tcpFrame({ src: '192.0.2.1', dst: '192.0.2.2', sport: 1, dport: 2, seq: 1, ack: 1, flags: 0x10, payload: new Uint8Array(len - 54) });
    try {
      assert.equal(runner.run({ prog: 'l7_to_pod', frame: frame(TEST_RUN_MAX_FRAME) }).action, 0);
      assert.throws(() => runner.run({ prog: 'l7_to_pod', frame: frame(TEST_RUN_MAX_FRAME + 1) }), (e: unknown) =>
        e instanceof TestRunError && e.errno === -22 && e.message.includes(`at most ${TEST_RUN_MAX_FRAME} bytes`));
      assert.throws(() => runner.run({ prog: 'l7_to_pod', frame: new Uint8Array(13) }), /errno 22\) \(hint: a frame must hold at least an Ethernet header/);
    } finally {
      runner.close();
      o.close();
    }
  });
});
