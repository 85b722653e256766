// Hubble's peer service (cilium api/v1/peer, pkg/hubble/peer): Hubble Relay calls Notify on the
// `hubble-peer` Service, gets PEER_ADDED for every node it should read, then the changes, and
// dials each peer's address for GetFlows. Names are node names, as Cilium's are when the cluster
// name is the default ("default"; otherwise Cilium writes "cluster/node"): l7bpf has no cluster
// name. Addresses are host:port; no TLS field is sent (l7bpf serves plaintext), which Relay reads
// as "TLS disabled".
import { networkInterfaces } from 'node:os';
import type { NodeInfo } from '../endpoints/types.ts';
import { formatServerAddress } from './address.ts';

export interface PeerInfo {
  /** the node's name */
  readonly name: string;
  /** where its Observer API answers: `host:port` (`[v6]:port`), or `unix:///path` */
  readonly address: string;
}

/** Where the peers come from: the list now, and a call whenever it may have changed. */
export interface PeerSource {
  list(): readonly PeerInfo[];
  /** `cb` is called after a change; returns the unsubscribe function */
  onChange(cb: () => void): () => void;
}

export type PeerChangeType = 'added' | 'deleted' | 'updated';

export interface PeerChange extends PeerInfo {
  readonly type: PeerChangeType;
}

/** A peer list set from outside (the agent's inventory); subscribers hear of real changes only. */
export class PeerSet implements PeerSource {
  private peers: readonly PeerInfo[] = [];
  private readonly listeners = new Set<() => void>();

  list(): readonly PeerInfo[] {
    return this.peers;
  }

  set(peers: readonly PeerInfo[]): void {
    if (peerChanges(this.peers, peers).length === 0) return;
    this.peers = [...peers];
    for (const cb of [...this.listeners]) cb();
  }

  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }
}

/** `source`'s peers, or `self` alone while it has none (an inventory without nodes). */
export function orSelf(source: PeerSource | undefined, self: () => PeerInfo): PeerSource {
  return {
    list: () => {
      const peers = source?.list() ?? [];
      return peers.length ? peers : [self()];
    },
    onChange: (cb) => source?.onChange(cb) ?? (() => {}),
  };
}

/** What turns `before` into `after`, by name, as Cilium's handler reports it: a node gone is
 * PEER_DELETED, a new one PEER_ADDED, a known one at a new address PEER_UPDATED. */
export function peerChanges(before: readonly PeerInfo[], after: readonly PeerInfo[]): PeerChange[] {
  const old = new Map(before.map((p) => [p.name, p]));
  const now = new Set(after.map((p) => p.name));
  const deleted = before.filter((p) => !now.has(p.name)).map((p) => ({ ...p, type: 'deleted' as const }));
  const changed = after.flatMap((p): PeerChange[] => {
    const was = old.get(p.name);
    if (!was) return [{ ...p, type: 'added' }];
    return was.address === p.address ? [] : [{ ...p, type: 'updated' }];
  });
  return [...deleted, ...changed];
}

/** Notify's stream: PEER_ADDED for every peer, then each change, until `signal` aborts. */
export async function* notifications(source: PeerSource, signal: AbortSignal): AsyncGenerator<PeerChange> {
  let sent: readonly PeerInfo[] = [];
  let changed = true;
  let wake = (): void => {};
  const unsubscribe = source.onChange(() => {
    changed = true;
    wake();
  });
  const onAbort = () => wake();
  signal.addEventListener('abort', onAbort);
  try {
    while (!signal.aborted) {
      if (!changed) await new Promise<void>((resolve) => (wake = resolve));
      if (signal.aborted) return;
      changed = false;
      const now = source.list();
      yield* peerChanges(sent, now);
      sent = now;
    }
  } finally {
    unsubscribe();
    signal.removeEventListener('abort', onAbort);
  }
}

/** The inventory's nodes as peers: each at its first IPv4 address (else its first address, as
 * Cilium prefers IPv4 by default) and the agent's Hubble port; nodes without an address are left
 * out (Relay could not dial them). */
export function nodePeers(nodes: readonly NodeInfo[], port: number): PeerInfo[] {
  return nodes.flatMap((n) => {
    const ip = n.ips.find((a) => a.bytes.length === 4) ?? n.ips[0];
    return ip ? [{ name: n.name, address: formatServerAddress({ kind: 'tcp', host: ip.text, port }) }] : [];
  });
}

const WILDCARD = new Set(['0.0.0.0', '::']);

/** This node as a peer: its TCP address (an interface's address when listening on all of them),
 * else the unix socket (Relay dials `unix://` peers too). */
export function selfPeer(name: string, tcp: { host: string; port: number } | undefined, socket: string | undefined): PeerInfo {
  if (tcp) return { name, address: formatServerAddress({ kind: 'tcp', host: WILDCARD.has(tcp.host) ? interfaceAddress() : tcp.host, port: tcp.port }) };
  return { name, address: socket ? formatServerAddress({ kind: 'unix', path: socket }) : '' };
}

/** The first non-internal IPv4 address of this host (then IPv6), else loopback. */
function interfaceAddress(): string {
  const all = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => !a.internal);
  return (all.find((a) => a.family === 'IPv4') ?? all.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80:')))?.address ?? '127.0.0.1';
}
