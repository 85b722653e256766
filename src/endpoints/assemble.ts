// Drafts -> Inventory: identities for pods, nodes with their addresses (a host-network pod's
// addresses are its node's), which node is local, and duplicates reported where written.
//
// Which node is local (its addresses are `host`, every other node's `remote-node`, as Cilium
// sees them from a node): `localNode` (deploy's and explain's --node-name; deploy defaults it
// to the machine's hostname), else the only node when the inventory knows exactly one, else
// none (every node is remote-node).
import type { Reader } from '../source/yaml-reader.ts';
import { closest } from '../source/yaml-reader.ts';
import type { SourcePos } from '../source/diagnostics.ts';
import type { IpAddr } from '../net/ip.ts';
import { allocateIdentities, labelKey } from './identity.ts';
import type { Endpoint, Inventory, NodeInfo } from './types.ts';
import type { Drafts, HostPodDraft, NodeDraft } from './drafts.ts';

export interface InventoryOptions {
  /** the node l7bpf runs on (or judges for) */
  readonly localNode?: string;
  /** where localNode came from, for the message when no node has that name */
  readonly localNodeFrom?: string;
}

export function assemble(r: Reader, d: Drafts, opts: InventoryOptions): Inventory {
  const nodes = mergeNodes(d.nodes, d.hostPods);
  const local = localNodeName(r, nodes, opts);
  const nodeInfos: NodeInfo[] = nodes.map((n) => ({ name: n.name, ips: n.ips, local: n.name === local }));
  checkDuplicates(r, d, nodes);
  return {
    endpoints: withIdentities(d.pods),
    reserved: [...d.reserved, ...nodeEntities(nodeInfos, d.hostPods)],
    nodes: nodeInfos,
    hostPods: d.hostPods.map(({ pos: _, ...p }) => p),
    services: d.services.map(({ pos: _, ...s }) => s),
  };
}

function withIdentities(drafts: Drafts['pods']): Endpoint[] {
  const ids = allocateIdentities(drafts.map((d) => labelKey(d.labels)));
  return drafts.map(({ pos: _, ...d }) => ({ ...d, identity: ids.get(labelKey(d.labels)) ?? 0 }));
}

/** Listed nodes, plus the addresses of host-network pods on them (a node only pods name is added). */
function mergeNodes(listed: readonly NodeDraft[], hostPods: readonly HostPodDraft[]): NodeDraft[] {
  const byName = new Map<string, NodeDraft>();
  for (const n of listed) if (!byName.has(n.name)) byName.set(n.name, n);
  for (const p of hostPods) {
    if (p.node === null) continue;
    const n = byName.get(p.node) ?? { name: p.node, ips: [], pos: p.pos };
    byName.set(p.node, { ...n, ips: unique([...n.ips, ...p.ips]) });
  }
  return [...byName.values()];
}

const unique = (ips: readonly IpAddr[]): IpAddr[] => [...new Map(ips.map((i) => [i.text, i])).values()];

function localNodeName(r: Reader, nodes: readonly NodeDraft[], opts: InventoryOptions): string | null {
  const names = nodes.map((n) => n.name);
  if (opts.localNode === undefined) return names.length === 1 ? names[0] ?? null : null;
  // an inventory without nodes (pods only) is fine: there is nothing to call host
  if (names.length === 0 || names.includes(opts.localNode)) return opts.localNode;
  const near = closest(opts.localNode, names);
  r.error(null, `no node named "${opts.localNode}" (${opts.localNodeFrom ?? '--node-name'}) in the inventory; its nodes: ${names.join(', ')}`, near ? `did you mean --node-name ${near}?` : 'pass --node-name with one of them');
  return null;
}

/** The local node's addresses are `host`; other nodes' and unplaced host-network pods' are `remote-node`. */
function nodeEntities(nodes: readonly NodeInfo[], hostPods: readonly HostPodDraft[]): Inventory['reserved'][number][] {
  const host = nodes.filter((n) => n.local).flatMap((n) => n.ips);
  const remote = unique([...nodes.filter((n) => !n.local).flatMap((n) => n.ips), ...hostPods.filter((p) => p.node === null).flatMap((p) => p.ips)]);
  return [
    ...(host.length ? [{ entity: 'host' as const, ips: host }] : []),
    ...(remote.length ? [{ entity: 'remote-node' as const, ips: remote }] : []),
  ];
}

const at = (p: SourcePos) => `${p.file}:${p.line}:${p.col}`;

/** Two pods (or Services, or nodes) with one name, one address on two owners: the verdict would depend on the order. */
function checkDuplicates(r: Reader, d: Drafts, nodes: readonly NodeDraft[]): void {
  firstWins(r, [...d.pods, ...d.hostPods].map((p) => ({ key: `${p.namespace}/${p.name}`, pos: p.pos })), (k) => `pod ${k}`);
  firstWins(r, d.services.map((s) => ({ key: `${s.namespace}/${s.name}`, pos: s.pos })), (k) => `service ${k}`);
  firstWins(r, d.nodes.map((n) => ({ key: n.name, pos: n.pos })), (k) => `node ${k}`);
  const owners = new Map<string, { what: string; pos: SourcePos }>();
  const claim = (ip: IpAddr, what: string, pos: SourcePos) => {
    const first = owners.get(ip.text);
    if (!first) owners.set(ip.text, { what, pos });
    else if (first.what !== what) r.error(null, `address ${ip.text} of ${what} is also the address of ${first.what} (${at(first.pos)})`, 'an address belongs to one pod or one node', pos);
  };
  for (const n of nodes) for (const ip of n.ips) claim(ip, `node ${n.name}`, n.pos);
  for (const p of d.pods) for (const ip of p.ips) claim(ip, `pod ${p.namespace}/${p.name}`, p.pos);
}

function firstWins(r: Reader, items: readonly { key: string; pos: SourcePos }[], what: (key: string) => string): void {
  const seen = new Map<string, SourcePos>();
  const inFileOrder = [...items].sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
  for (const it of inFileOrder) {
    const first = seen.get(it.key);
    if (first) r.error(null, `${what(it.key)} is listed twice (first at ${at(first)})`, 'remove one of them, or rename it', it.pos);
    else seen.set(it.key, it.pos);
  }
}
