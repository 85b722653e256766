// Rules of one section (ingress, egress, ingressDeny, egressDeny): peers, ports, L7.
import type { Node } from 'yaml';
import { Reader, type YNode } from '../source/yaml-reader.ts';
import { scopePeerSelector, parseSelector } from './selectors.ts';
import { parseHttpRules, parseGrpcRules } from './parse-http.ts';
import { parseCidr } from './cidr.ts';
import {
  ENTITIES, type CidrRule, type Entity, type HttpRule, type L4Protocol, type Peer,
  type PortProtocol, type PortRule, type Rule, type Section, type SelectorSpec,
} from './types.ts';

const UNSUPPORTED_PEERS = ['Requires', 'Groups', 'Nodes', 'FQDNs', 'Services'];
const PROTOCOLS: readonly L4Protocol[] = ['TCP', 'UDP', 'SCTP', 'ANY'];

export function parseRules(r: Reader, node: YNode, section: Section, ns: string | null): Rule[] {
  const items = r.seq(node, section) ?? [];
  return items.map((item) => parseRule(r, item, section, ns)).filter((x): x is Rule => x !== null);
}

function fields(section: Section): { dir: string; keys: string[] } {
  const dir = section.startsWith('ingress') ? 'from' : 'to';
  const peerKeys = ['Endpoints', 'Entities', 'CIDR', 'CIDRSet', ...UNSUPPORTED_PEERS].map((k) => dir + k);
  return { dir, keys: [...peerKeys, 'toPorts', 'icmps', 'authentication'] };
}

function parseRule(r: Reader, node: Node, section: Section, ns: string | null): Rule | null {
  const { dir, keys } = fields(section);
  const m = r.map(node, `${section} rule`, keys);
  if (!m) return null;
  for (const k of UNSUPPORTED_PEERS.map((p) => dir + p)) {
    if (m.has(k)) r.error(m.get(k), `"${k}" is not supported by l7bpf`, 'express the peer with endpoints, entities or CIDRs');
  }
  // not peers: say what l7bpf does instead
  if (m.has('icmps')) r.error(m.get('icmps'), '"icmps" is not supported by l7bpf: it does not match ICMP types; ICMP packets are judged by their peer alone', 'remove icmps; a rule with the peer and no toPorts allows the peer\'s ICMP (and every port)');
  if (m.has('authentication')) r.error(m.get('authentication'), '"authentication" (mutual authentication) is not supported by l7bpf: it has no authentication handshake, a peer is known by its address', 'remove authentication; the rule then allows the peer without it');
  const peer = parsePeer(r, m, dir, ns, node);
  const toPorts = m.has('toPorts') ? parsePortRules(r, m.get('toPorts'), section) : null;
  const noPeerField = !['Endpoints', 'Entities', 'CIDR', 'CIDRSet'].some((k) => m.has(dir + k));
  // a rule with only toPorts applies to every peer; a rule with neither selects nothing
  const effective: Peer = noPeerField ? (toPorts ? { kind: 'any' } : { kind: 'none' }) : peer;
  return { section, peer: effective, toPorts, pos: r.pos(node) };
}

function parsePeer(r: Reader, m: Map<string, Node | null>, dir: string, ns: string | null, node: Node): Peer {
  const kinds = [['Endpoints'], ['Entities'], ['CIDR', 'CIDRSet']].filter((ks) => ks.some((k) => m.has(dir + k)));
  if (kinds.length > 1) {
    const names = kinds.map((ks) => dir + (ks.find((k) => m.has(dir + k)) ?? ''));
    r.error(node, `combining ${names.join(' and ')} in one rule is not supported`, 'split them into separate rules');
  }
  if (m.has(dir + 'Endpoints')) return parseEndpointPeers(r, m.get(dir + 'Endpoints'), dir, ns);
  if (m.has(dir + 'Entities')) return parseEntities(r, m.get(dir + 'Entities'), dir);
  if (m.has(dir + 'CIDR') || m.has(dir + 'CIDRSet')) return parseCidrPeer(r, m, dir);
  return { kind: 'any' };
}

/**
 * Endpoint selectors; `{matchLabels: {"reserved:host": ""}}` is how Cilium spells an
 * entity inside fromEndpoints, so such selectors become entities (never namespace-scoped).
 */
function parseEndpointPeers(r: Reader, node: YNode, dir: string, ns: string | null): Peer {
  const items = r.seq(node, dir + 'Endpoints') ?? [];
  const selectors: SelectorSpec[] = [];
  const entities: Entity[] = [];
  for (const item of items) {
    const sel = parseSelector(r, item, dir + 'Endpoints[]');
    const reserved = Object.keys(sel.matchLabels).filter((k) => k.startsWith('reserved:'));
    if (reserved.length === 0) {
      selectors.push(scopePeerSelector(sel, ns));
      continue;
    }
    const entity = reserved[0]?.slice('reserved:'.length) ?? '';
    if (reserved.length > 1 || Object.keys(sel.matchLabels).length > 1 || sel.matchExpressions.length > 0 || !(ENTITIES as readonly string[]).includes(entity)) {
      r.error(item, `selector with "reserved:" labels must name exactly one entity and nothing else`, `use ${dir}Entities: [${entity || 'host'}]`);
      continue;
    }
    entities.push(entity as Entity);
  }
  if (selectors.length && entities.length) {
    r.error(node, `${dir}Endpoints mixes pod selectors and reserved: selectors`, `move the reserved ones to a separate rule with ${dir}Entities`);
  }
  if (entities.length) return { kind: 'entities', entities };
  return selectors.length ? { kind: 'endpoints', selectors } : { kind: 'none' };
}

function parseEntities(r: Reader, node: YNode, dir: string): Peer {
  const entities: Entity[] = [];
  for (const item of r.seq(node, dir + 'Entities') ?? []) {
    const e = r.string(item, 'entity');
    if (e === null) continue;
    if ((ENTITIES as readonly string[]).includes(e)) entities.push(e as Entity);
    else r.error(item, `unknown entity "${e}"`, `use one of ${ENTITIES.join(', ')}`);
  }
  return entities.length ? { kind: 'entities', entities } : { kind: 'none' };
}

function parseCidrPeer(r: Reader, m: Map<string, Node | null>, dir: string): Peer {
  const cidrs: CidrRule[] = [];
  for (const item of m.has(dir + 'CIDR') ? r.seq(m.get(dir + 'CIDR'), dir + 'CIDR') ?? [] : []) {
    const c = cidrString(r, item);
    if (c) cidrs.push({ cidr: c, except: [] });
  }
  for (const item of m.has(dir + 'CIDRSet') ? r.seq(m.get(dir + 'CIDRSet'), dir + 'CIDRSet') ?? [] : []) {
    const s = r.map(item, dir + 'CIDRSet[]', ['cidr', 'except', 'cidrGroupRef']);
    if (!s) continue;
    if (s.has('cidrGroupRef')) r.error(s.get('cidrGroupRef'), 'cidrGroupRef is not supported by l7bpf', 'list the CIDRs');
    const c = cidrString(r, s.get('cidr'));
    const except = (s.has('except') ? r.seq(s.get('except'), 'except') ?? [] : []).map((e) => cidrString(r, e));
    if (c) cidrs.push({ cidr: c, except: except.filter((e): e is string => e !== null) });
  }
  return cidrs.length ? { kind: 'cidr', cidrs } : { kind: 'none' };
}

function cidrString(r: Reader, node: YNode): string | null {
  const s = r.string(node, 'CIDR');
  if (s === null) return null;
  const parsed = parseCidr(s);
  if (parsed === null) {
    r.error(node, `invalid CIDR "${s}"`, 'write it as address/prefix, e.g. 10.0.0.0/8');
    return null;
  }
  return parsed.text;
}

function parsePortRules(r: Reader, node: YNode, section: Section): PortRule[] {
  return (r.seq(node, 'toPorts') ?? []).map((item) => parsePortRule(r, item, section)).filter((x): x is PortRule => x !== null);
}

function parsePortRule(r: Reader, node: Node, section: Section): PortRule | null {
  const m = r.map(node, 'toPorts[]', ['ports', 'rules', 'listener', 'originatingTLS', 'terminatingTLS', 'serverNames']);
  if (!m) return null;
  for (const k of ['listener', 'originatingTLS', 'terminatingTLS', 'serverNames']) {
    if (m.has(k)) r.error(m.get(k), `"${k}" is not supported by l7bpf (no proxy, no TLS termination)`);
  }
  const ports = m.has('ports') ? (r.seq(m.get('ports'), 'ports') ?? []).map((p) => parsePort(r, p)).filter((p): p is PortProtocol => p !== null) : [];
  const http = m.has('rules') ? parseL7(r, m.get('rules'), section) : null;
  if (http) checkL7Ports(r, node, ports);
  return { ports, http, pos: r.pos(node) };
}

function parseL7(r: Reader, node: YNode, section: Section): HttpRule[] | null {
  const m = r.map(node, 'rules', ['http', 'grpc', 'kafka', 'dns', 'l7proto', 'l7']);
  if (!m) return null;
  if (section.endsWith('Deny')) {
    r.error(node, `${section} rules cannot have L7 rules`, 'deny at L3/L4 here, or allow only the wanted requests in an allow section');
    return null;
  }
  if (m.has('dns')) r.error(m.get('dns'), 'rules.dns is not enforced by l7bpf: it judges HTTP and gRPC requests, not DNS queries (no DNS proxy, no toFQDNs)', 'to allow DNS, keep toPorts [{port: "53", protocol: UDP}] (and TCP) without rules');
  for (const k of ['kafka', 'l7proto', 'l7']) {
    if (m.has(k)) r.error(m.get(k), `rules.${k} is not supported by l7bpf`, 'use rules.http or rules.grpc');
  }
  // the port checks of L7 rules are about http and grpc: a dns (kafka, ...) rule alone gets none
  if (!m.has('http') && !m.has('grpc') && ['dns', 'kafka', 'l7proto', 'l7'].some((k) => m.has(k))) return null;
  const http = m.has('http') ? parseHttpRules(r, m.get('http')) : [];
  const grpc = m.has('grpc') ? parseGrpcRules(r, m.get('grpc')) : [];
  return [...http, ...grpc];
}

function checkL7Ports(r: Reader, node: Node, ports: readonly PortProtocol[]): void {
  if (ports.length === 0) r.error(node, 'L7 rules need a port', 'add ports: [{port: "80", protocol: TCP}]');
  for (const p of ports) {
    if (p.protocol !== 'TCP') {
      r.error(null, `L7 rules need protocol TCP, not ${p.protocol === 'ANY' ? 'ANY (the default when empty)' : p.protocol}`, 'add protocol: TCP', p.pos);
    }
    if (p.port === 0) r.error(null, 'L7 rules need a non-zero port', 'name the port the server listens on', p.pos);
  }
}

function parsePort(r: Reader, node: Node): PortProtocol | null {
  const m = r.map(node, 'ports[]', ['port', 'endPort', 'protocol', 'number']);
  if (!m) return null;
  let portNode = m.get('port');
  if (m.has('number')) {
    // the seed document writes `number:`; read it as `port` so its policy can be explained
    r.warn(m.get('number'), 'number-alias', '"number" is not a Cilium field; read as "port"', 'write port: "8080"');
    if (!m.has('port')) portNode = m.get('number');
  }
  const port = portNode === undefined ? 0 : parsePortValue(r, portNode);
  const endPort = m.has('endPort') ? parsePortValue(r, m.get('endPort')) : null;
  const protoText = m.has('protocol') ? r.string(m.get('protocol'), 'protocol') : 'ANY';
  const protocol = (protoText ?? 'ANY').toUpperCase() as L4Protocol;
  if (!PROTOCOLS.includes(protocol)) r.error(m.get('protocol'), `unsupported protocol "${protoText}"`, 'use TCP, UDP, SCTP or ANY');
  if (endPort !== null && (typeof endPort !== 'number' || typeof port !== 'number' || endPort < port)) {
    r.error(m.get('endPort'), 'endPort must be a number not below port', 'ranges need a numeric port, e.g. port: "8000", endPort: 8100');
  }
  if (port === null) return null;
  return { port, endPort: typeof endPort === 'number' ? endPort : null, protocol, pos: r.pos(node) };
}

function parsePortValue(r: Reader, node: YNode): number | string | null {
  const s = r.string(node, 'port');
  if (s === null) return null;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n <= 65535) return n;
    r.error(node, `port ${s} is out of range`, 'ports are 0..65535');
    return null;
  }
  if (/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(s) && /[a-z]/.test(s)) return s;
  r.error(node, `invalid port "${s}"`, 'use a number or a named port (IANA_SVC_NAME)');
  return null;
}
