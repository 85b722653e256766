// GetFlows' whitelist and blacklist (flow.FlowFilter) as predicates over a flow's jsonpb, with
// the semantics of Hubble's server (cilium pkg/hubble/filters): the fields `hubble observe`
// has flags for go through src/observe/filters.ts's buildFilter, so `l7bpf observe` and GetFlows
// select alike; the rest are written here from Hubble's rules. A field l7bpf does not evaluate
// is refused (InvalidArgument), never ignored: ignoring it would widen what a client asked for.
import { enumDesc } from '../flow/proto.ts';
import { buildFilter, FilterError, type FlowPredicate, type JsonFlow } from '../observe/filters.ts';
import { parseIp } from '../net/ip.ts';
import { cidrContains, parseCidr } from '../policy/cidr.ts';
import { FlowFilterSchema, type FlowFilter, type TcpFlags } from './proto.ts';

/** A filter l7bpf cannot evaluate, or a value Hubble would refuse: gRPC InvalidArgument. */
export class InvalidFilterError extends Error {
  override readonly name = 'InvalidFilterError';
}

/** The jsonpb fields the filters written here read, beyond src/observe's JsonFlow. */
interface L4Ports {
  readonly source_port?: number;
  readonly destination_port?: number;
}
export interface HubbleJsonFlow extends JsonFlow {
  readonly uuid?: string;
  readonly IP?: { readonly source?: string; readonly destination?: string; readonly ipVersion?: string };
  readonly l4?: { readonly TCP?: L4Ports & { readonly flags?: TcpFlags }; readonly UDP?: L4Ports; readonly SCTP?: L4Ports; readonly ICMPv4?: object; readonly ICMPv6?: object };
  readonly l7?: JsonFlow['l7'] & { readonly dns?: object; readonly kafka?: object };
  readonly is_reply?: boolean;
  readonly traffic_direction?: string;
  readonly source?: NonNullable<JsonFlow['source']> & { readonly identity?: number };
  readonly destination?: NonNullable<JsonFlow['destination']> & { readonly identity?: number };
}

type Pred = (f: HubbleJsonFlow) => boolean;

/** FlowFilter fields (protobuf-es local names) that l7bpf evaluates. */
const SUPPORTED = new Set([
  'uuid', 'sourceIp', 'sourcePod', 'destinationIp', 'destinationPod', 'trafficDirection', 'verdict', 'eventType', 'httpStatusCode',
  'protocol', 'sourcePort', 'destinationPort', 'reply', 'sourceIdentity', 'destinationIdentity', 'httpMethod', 'httpPath', 'tcpFlags', 'ipVersion',
]);

/** Whitelist - blacklist, as Hubble's filters.Apply: any whitelist filter (none: every flow)
 * and no blacklist filter. Throws InvalidFilterError for what cannot be evaluated. */
export function requestPredicate(whitelist: readonly FlowFilter[], blacklist: readonly FlowFilter[]): FlowPredicate {
  const white = whitelist.map(flowFilterPredicate);
  const black = blacklist.map(flowFilterPredicate);
  return (f) => (white.length === 0 || white.some((p) => p(f))) && !black.some((p) => p(f));
}

/** One FlowFilter: every field set must match (AND); the values of one field are alternatives. */
export function flowFilterPredicate(ff: FlowFilter): FlowPredicate {
  refuseUnsupported(ff);
  try {
    const parts: Pred[] = [shared(ff), ...written(ff)];
    return (f) => parts.every((p) => p(f));
  } catch (e) {
    if (e instanceof FilterError) throw new InvalidFilterError(`invalid flow filter: ${e.message}`);
    throw e;
  }
}

function refuseUnsupported(ff: FlowFilter): void {
  const set = (name: string) => ((ff as unknown as Record<string, unknown>)[name] as unknown[] | undefined)?.length;
  for (const field of FlowFilterSchema.fields) {
    if (!SUPPORTED.has(field.localName) && set(field.localName)) throw new InvalidFilterError(`flow filter field ${field.name} is not supported by l7bpf (docs: hubble.md)`);
  }
  const unknown = [...new Set((ff.$unknown ?? []).map((u) => u.no))];
  if (unknown.length) throw new InvalidFilterError(`flow filter field number ${unknown.join(', ')} is not supported by l7bpf (a newer Hubble's filter, docs: hubble.md)`);
}

/** The fields `hubble observe` and `l7bpf observe` share, through src/observe/filters.ts. */
function shared(ff: FlowFilter): FlowPredicate {
  return buildFilter({
    fromPod: ff.sourcePod, toPod: ff.destinationPod,
    verdict: ff.verdict.map((v) => enumName('flow.Verdict', v, 'verdict')),
    type: ff.eventType.map((t) => (t.matchSubType ? `${t.type}:${t.subType}` : `${t.type}`)),
    httpStatus: ff.httpStatusCode, httpMethod: ff.httpMethod, httpPath: ff.httpPath,
  });
}

function written(ff: FlowFilter): Pred[] {
  const out: Pred[] = [];
  const add = <V>(values: readonly V[], build: (v: readonly V[]) => Pred) => {
    if (values.length) out.push(build(values));
  };
  add(ff.uuid, (v) => (f) => v.includes(f.uuid ?? ''));
  add(ff.sourceIp, (v) => ipFilter(v, (f) => f.IP?.source));
  add(ff.destinationIp, (v) => ipFilter(v, (f) => f.IP?.destination));
  add(ff.trafficDirection, (v) => enumFilter('flow.TrafficDirection', v, 'traffic_direction', (f) => f.traffic_direction));
  add(ff.ipVersion, (v) => enumFilter('flow.IPVersion', v, 'ip_version', (f) => f.IP?.ipVersion));
  add(ff.protocol, protocolFilter);
  add(ff.sourcePort, (v) => portFilter(v, (p) => p.source_port));
  add(ff.destinationPort, (v) => portFilter(v, (p) => p.destination_port));
  add(ff.reply, replyFilter);
  add(ff.sourceIdentity, (v) => (f) => f.source !== undefined && v.includes(f.source.identity ?? 0));
  add(ff.destinationIdentity, (v) => (f) => f.destination !== undefined && v.includes(f.destination.identity ?? 0));
  add(ff.tcpFlags, tcpFlagsFilter);
  return out;
}

function enumName(type: string, n: number, field: string): string {
  const name = enumDesc(type)?.values.find((v) => v.number === n)?.name;
  if (name === undefined) throw new InvalidFilterError(`flow filter ${field}: unknown value ${n}`);
  return name;
}

/** jsonpb leaves an enum at zero out: absent is the zero value's name. */
function enumFilter(type: string, values: readonly number[], field: string, get: (f: HubbleJsonFlow) => string | undefined): Pred {
  const names = values.map((v) => enumName(type, v, field));
  const zero = enumName(type, 0, field);
  return (f) => names.includes(get(f) ?? zero);
}

/** An exact address (compared as text, as Hubble does) or a CIDR. */
function ipFilter(values: readonly string[], get: (f: HubbleJsonFlow) => string | undefined): Pred {
  const exact = values.filter((v) => !v.includes('/'));
  for (const v of exact) if (!parseIp(v)) throw new InvalidFilterError(`invalid IP address in filter: ${JSON.stringify(v)}`);
  const cidrs = values.filter((v) => v.includes('/')).map((v) => parseCidr(v) ?? badCidr(v));
  return (f) => {
    const ip = get(f) ?? '';
    if (ip === '') return false;
    if (exact.includes(ip)) return true;
    const parsed = cidrs.length ? parseIp(ip) : null;
    return parsed !== null && cidrs.some((c) => cidrContains(c, parsed));
  };
}

function badCidr(v: string): never {
  throw new InvalidFilterError(`invalid CIDR in filter: ${JSON.stringify(v)}`);
}

const L4_PROTOCOLS: Readonly<Record<string, (f: HubbleJsonFlow) => boolean>> = {
  tcp: (f) => f.l4?.TCP !== undefined, udp: (f) => f.l4?.UDP !== undefined, sctp: (f) => f.l4?.SCTP !== undefined,
  icmp: (f) => f.l4?.ICMPv4 !== undefined || f.l4?.ICMPv6 !== undefined, icmpv4: (f) => f.l4?.ICMPv4 !== undefined, icmpv6: (f) => f.l4?.ICMPv6 !== undefined,
  http: (f) => f.l7?.http !== undefined, dns: (f) => f.l7?.dns !== undefined, kafka: (f) => f.l7?.kafka !== undefined,
};

function protocolFilter(values: readonly string[]): Pred {
  const tests = values.map((v) => L4_PROTOCOLS[v.toLowerCase()] ?? badProtocol(v));
  return (f) => tests.some((t) => t(f));
}

function badProtocol(v: string): never {
  throw new InvalidFilterError(`invalid protocol filter: unknown protocol: ${JSON.stringify(v)}`);
}

/** Ports are decimal strings up to 65535; a flow without TCP, UDP or SCTP has no port. */
function portFilter(values: readonly string[], get: (l4: L4Ports) => number | undefined): Pred {
  const ports = values.map((v) => {
    if (!/^\d+$/.test(v) || Number(v) > 65535) throw new InvalidFilterError(`invalid port filter: invalid port ${JSON.stringify(v)}`);
    return Number(v);
  });
  return (f) => {
    const l4 = f.l4?.TCP ?? f.l4?.UDP ?? f.l4?.SCTP;
    return l4 !== undefined && ports.includes(get(l4) ?? 0);
  };
}

/** Hubble reads a dropped flow without is_reply as not a reply (older clients asked `reply`). */
function replyFilter(values: readonly boolean[]): Pred {
  return (f) => {
    if (f.is_reply === undefined && f.verdict !== 'DROPPED') return false;
    return values.includes(f.is_reply ?? false);
  };
}

const FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'] as const;

/** A filter's flags must all be set in the flow's (others may be too); any of the filters. */
function tcpFlagsFilter(values: readonly TcpFlags[]): Pred {
  return (f) => {
    const flags = f.l4?.TCP?.flags;
    return flags !== undefined && values.some((want) => FLAGS.every((k) => !want[k] || flags[k] === true));
  };
}
