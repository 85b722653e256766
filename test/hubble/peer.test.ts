// Hubble's peer service (src/hubble/peers.ts, served by src/hubble/server.ts) through an
// independent grpc-js client built from test/hubble/peer.proto: PEER_ADDED for every node, then
// the changes of the peer source, until the client cancels; the default (this node alone); the
// inventory's nodes as peers.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as grpcStatus, type ClientReadableStream } from '@grpc/grpc-js';
import { History } from '../../src/observe/history.ts';
import { FlowHub } from '../../src/hubble/hub.ts';
import { startHubbleServer, type HubbleServer } from '../../src/hubble/server.ts';
import { nodePeers, peerChanges, PeerSet, type PeerInfo, type PeerSource } from '../../src/hubble/peers.ts';
import { parseIp } from '../../src/net/ip.ts';
import { peerClient, type ChangeNotification, type PeerStub } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'l7bpf-peer-'));
const hub = new FlowHub(new History(join(dir, 'default.history'), 1 << 20), 8);
after(() => rmSync(dir, { recursive: true, force: true }));

/** A server on 127.0.0.1 and a client of it; `use` gets both, then both are closed. */
async function withServer(opts: { peers?: PeerSource; listen?: false }, use: (client: PeerStub, server: HubbleServer) => Promise<void>): Promise<void> {
  const socketPath = join(dir, `hubble-${Math.random().toString(36).slice(2)}.sock`);
  const server = await startHubbleServer({ hub, nodeName: 'node-a', version: 'test', socketPath, listen: opts.listen ?? '127.0.0.1:0', ...(opts.peers ? { peers: opts.peers } : {}) });
  const client = peerClient(`unix://${socketPath}`);
  try {
    await use(client, server);
  } finally {
    client.close();
    await server.close();
  }
}

/** The next `n` notifications of a Notify stream. */
function next(call: ClientReadableStream<ChangeNotification>, n: number): Promise<ChangeNotification[]> {
  return new Promise((resolve, reject) => {
    const got: ChangeNotification[] = [];
    const onData = (c: ChangeNotification) => {
      got.push(c);
      if (got.length < n) return;
      call.off('data', onData);
      resolve(got);
    };
    call.on('data', onData);
    call.once('error', reject);
  });
}

const ended = (call: ClientReadableStream<unknown>) => new Promise<number>((resolve) => call.on('error', (e: { code: number }) => resolve(e.code)));
const byName = (cs: ChangeNotification[]) => [...cs].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? ''));

/** A PeerSet that counts its subscribers (a cancelled Notify must unsubscribe). */
function counted(set: PeerSet): PeerSource & { readonly subscribers: number } {
  let subscribers = 0;
  return {
    get subscribers() { return subscribers; },
    list: () => set.list(),
    onChange: (cb) => {
      subscribers++;
      const off = set.onChange(cb);
      return () => (subscribers--, off());
    },
  };
}

describe('peer.Peer/Notify over gRPC', () => {
  it('sends PEER_ADDED for every node, then each change of the source; cancelling ends the stream and the subscription', async () => {
    const set = new PeerSet();
    set.set([{ name: 'node-a', address: '10.0.0.1:4244' }, { name: 'node-b', address: '10.0.0.2:4244' }, { name: 'node-c', address: '[fd00::3]:4244' }]);
    const source = counted(set);
    await withServer({ peers: source }, async (client) => {
      const call = client.Notify({});
      const code = ended(call);
      assert.deepEqual(byName(await next(call, 3)), [
        { name: 'node-a', address: '10.0.0.1:4244', type: 'PEER_ADDED' },
        { name: 'node-b', address: '10.0.0.2:4244', type: 'PEER_ADDED' },
        { name: 'node-c', address: '[fd00::3]:4244', type: 'PEER_ADDED' },
      ], 'no tls field: TLS disabled, as Relay reads it');
      const changes = next(call, 3);
      set.set([{ name: 'node-a', address: '10.0.0.1:4244' }, { name: 'node-c', address: '10.0.0.3:4244' }, { name: 'node-d', address: '10.0.0.4:4244' }]);
      assert.deepEqual(await changes, [
        { name: 'node-b', address: '10.0.0.2:4244', type: 'PEER_DELETED' },
        { name: 'node-c', address: '10.0.0.3:4244', type: 'PEER_UPDATED' },
        { name: 'node-d', address: '10.0.0.4:4244', type: 'PEER_ADDED' },
      ]);
      assert.equal(source.subscribers, 1);
      call.cancel();
      assert.equal(await code, grpcStatus.CANCELLED);
      for (let i = 0; i < 50 && source.subscribers > 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(source.subscribers, 0, 'the cancelled stream no longer listens to the source');
    });
  });

  it('a second client gets the current list; an unchanged set() sends nothing', async () => {
    const set = new PeerSet();
    set.set([{ name: 'node-a', address: '10.0.0.1:4244' }]);
    await withServer({ peers: set }, async (client) => {
      const call = client.Notify({});
      await next(call, 1);
      const later = next(call, 1);
      set.set([{ name: 'node-a', address: '10.0.0.1:4244' }]);
      set.set([{ name: 'node-a', address: '10.0.0.1:4244' }, { name: 'node-b', address: '10.0.0.2:4244' }]);
      assert.deepEqual(await later, [{ name: 'node-b', address: '10.0.0.2:4244', type: 'PEER_ADDED' }], 'the repeated list made no notification');
      const second = client.Notify({});
      assert.deepEqual(byName(await next(second, 2)).map((c) => c.name), ['node-a', 'node-b']);
      call.cancel();
      second.cancel();
    });
  });

  it('without a peer source, or while it lists none: this node alone, at its TCP address, else its socket', async () => {
    await withServer({}, async (client, server) => {
      const call = client.Notify({});
      assert.deepEqual(await next(call, 1), [{ name: 'node-a', address: `127.0.0.1:${server.address.tcp!.port}`, type: 'PEER_ADDED' }]);
      call.cancel();
    });
    const empty = new PeerSet();
    await withServer({ peers: empty, listen: false }, async (client, server) => {
      const call = client.Notify({});
      assert.deepEqual(await next(call, 1), [{ name: 'node-a', address: `unix://${server.address.socket}`, type: 'PEER_ADDED' }]);
      // the inventory arrives: this node gets its real address, another node is added
      const changes = next(call, 2);
      empty.set([{ name: 'node-a', address: '10.0.0.1:4244' }, { name: 'node-b', address: '10.0.0.2:4244' }]);
      assert.deepEqual(await changes, [
        { name: 'node-a', address: '10.0.0.1:4244', type: 'PEER_UPDATED' },
        { name: 'node-b', address: '10.0.0.2:4244', type: 'PEER_ADDED' },
      ]);
      call.cancel();
    });
  });
});

describe('peers from the inventory', () => {
  const ips = (...texts: string[]) => texts.map((t) => parseIp(t)!);

  it('each node at its first IPv4 address (else its first) and the Hubble port; nodes without one are left out', () => {
    assert.deepEqual(nodePeers([
      { name: 'node-a', ips: ips('fd00::1', '10.0.0.1', '10.0.0.9'), local: true },
      { name: 'node-b', ips: ips('fd00::2'), local: false },
      { name: 'node-c', ips: [], local: false },
    ], 4244), [{ name: 'node-a', address: '10.0.0.1:4244' }, { name: 'node-b', address: '[fd00::2]:4244' }]);
  });

  it('a renamed node is PEER_DELETED then PEER_ADDED, as Cilium reports it', () => {
    const before: PeerInfo[] = [{ name: 'old', address: '10.0.0.1:4244' }];
    assert.deepEqual(peerChanges(before, [{ name: 'new', address: '10.0.0.1:4244' }]), [
      { name: 'old', address: '10.0.0.1:4244', type: 'deleted' },
      { name: 'new', address: '10.0.0.1:4244', type: 'added' },
    ]);
    assert.deepEqual(peerChanges(before, before), []);
  });
});
