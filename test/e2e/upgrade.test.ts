// Websocket through the datapath (issue 10, as Cilium >= 1.18): frontend -> backend:8080 with
// fixtures/websocket-policy.yaml deployed; the backend runs fixtures/ws-server.mjs (node:http
// 'upgrade' event, an echo server), the frontend fixtures/ws-client.mjs (a raw socket). An
// allowed handshake exchanges messages both ways, over IPv4 and IPv6, also messages that read
// as denied requests (the connection is no longer HTTP); a handshake on a denied path is
// reset, an h2c one on an allowed path reaches the server (HTTP/2 after a 101 is
// test/e2e/grpc.test.ts); the replay of a capture predicts the same.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, compilePolicies, e2eSkip, FIXTURES, inventoryYaml, lastJsonLine, Topology, waitForLine } from '../helpers/netns.ts';
import { loadPolicies } from '../../src/policy/index.ts';
import { loadInventory } from '../../src/endpoints/index.ts';
import { readCapture, replaySync, type PacketActionKind } from '../../sim/index.ts';
import { oracleJudge } from '../../src/replay/judge.ts';
import { requestRow } from '../../src/replay/records.ts';

const skip = e2eSkip();
if (skip) console.log(`# skipping e2e upgrade: ${skip}`);

const POLICY = join(FIXTURES, 'websocket-policy.yaml');

interface WsResult {
  status: number;
  accepted: boolean;
  replies: string[];
  closed?: boolean;
  error?: string;
}

const MESSAGES = ['hello', 'GET /admin HTTP/1.1\r\nHost: backend\r\n\r\n', 'x'.repeat(3000)];


describe('e2e: websocket upgrades through the kernel', { skip: skip || undefined, timeout: 120_000 }, () => {
  let t: Topology;
  let dir: string;
  let dump: { stop(): Promise<void> };

  before(async () => {
    t = Topology.create([{ name: 'frontend', v4: '10.0.0.1', v6: 'fd00::1' }, { name: 'backend', v4: '10.0.0.2', v6: 'fd00::2' }]);
    dir = mkdtempSync(join(tmpdir(), 'l7bpf-e2e-upgrade-'));
    writeFileSync(join(dir, 'inventory.yaml'), inventoryYaml(t, { frontend: { app: 'frontend' }, backend: { app: 'backend' } }));
    await compilePolicies([POLICY], join(dir, 'obj'));
    const server = t.spawnIn(t.pod('backend').netns, process.execPath, [join(FIXTURES, 'ws-server.mjs'), '8080']);
    await waitForLine(server, 'ready', 10_000);
    dump = await capture(t, t.node, t.pod('frontend').hostIf, join(dir, 'upgrade.pcap'));
    t.cli(['deploy', join(dir, 'obj'), '--endpoints', join(dir, 'inventory.yaml'), '--name', 'upgrade']);
  });

  after(async () => {
    await dump?.stop();
    t?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ws = (spec: Record<string, unknown>) =>
    lastJsonLine<WsResult>(t.spawnIn(t.pod('frontend').netns, process.execPath, [join(FIXTURES, 'ws-client.mjs'), JSON.stringify({ host: '10.0.0.2', port: 8080, timeoutMs: 3000, ...spec })]), 30_000);

  it('an allowed handshake switches the connection: messages go both ways, whatever they look like', async () => {
    for (const host of ['10.0.0.2', 'fd00::2']) {
      const r = await ws({ host, path: '/ws/echo', messages: MESSAGES });
      assert.equal(r.status, 101, `${host}: ${JSON.stringify(r)}`);
      assert.ok(r.accepted, `${host}: Sec-WebSocket-Accept checks out`);
      assert.deepEqual(r.replies, MESSAGES.map((m) => `echo: ${m}`), host);
      assert.equal(r.closed, true, `${host}: the close handshake went through`);
    }
  });

  it('a handshake on a path no rule allows is answered 403', async () => {
    const r = await ws({ path: '/admin', messages: ['hello'] });
    assert.equal(r.status, 403, JSON.stringify(r));
  });

  it('an h2c upgrade is judged like any handshake: on an allowed path it reaches the server (which refuses it here), elsewhere it is answered 403', async () => {
    const r = await ws({ path: '/ws/echo', upgrade: 'h2c' });
    assert.equal(r.status, 400, JSON.stringify(r));
    const denied = await ws({ path: '/admin', upgrade: 'h2c' });
    assert.equal(denied.status, 403, JSON.stringify(denied));
  });

  it('replay of the capture gives the same verdicts, and no drop or reset on the switched connections', async () => {
    await dump.stop();
    const rows: string[] = [];
    const allowedConns = new Set<number>();
    const actions = new Map<number, PacketActionKind[]>();
    replaySync(readCapture(join(dir, 'upgrade.pcap')), {
      judge: oracleJudge(loadPolicies([POLICY]), loadInventory(join(dir, 'inventory.yaml'))),
      onRequest: (r) => {
        const row = requestRow(r);
        rows.push(`${row.allowed ? 'allowed' : 'denied'} ${row.line}`);
        if (row.allowed) allowedConns.add(r.conn.id);
      },
      onPacket: (p) => actions.set(p.connId, [...(actions.get(p.connId) ?? []), p.action]),
    });
    assert.deepEqual(rows, ['allowed GET /ws/echo', 'allowed GET /ws/echo', 'denied GET /admin', 'allowed GET /ws/echo', 'denied GET /admin']);
    for (const id of allowedConns) assert.deepEqual([...new Set(actions.get(id))], ['pass'], `connection ${id}`);
  });
});
