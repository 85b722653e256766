// The subset of Hubble's flow.proto (cilium api/v1/flow) that l7bpf emits, with the same
// message, field names and numbers, built as a descriptor at run time (no protoc step).
import { create, createFileRegistry, type DescMessage, type DescEnum } from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema, FieldDescriptorProto_Type as T, FieldDescriptorProto_Label as L,
  file_google_protobuf_timestamp, file_google_protobuf_wrappers,
} from '@bufbuild/protobuf/wkt';

/** [name, number, type, typeName, repeated, oneof index]: one field of a message descriptor */
export type Field = [name: string, number: number, type: T, typeName?: string, repeated?: boolean, oneof?: number];

/** A DescriptorProto init (also for src/hubble's observer.proto). */
export function msg(name: string, fields: Field[], oneofs: string[] = []) {
  return {
    name,
    oneofDecl: oneofs.map((n) => ({ name: n })),
    field: fields.map(([fname, number, type, typeName, repeated, oneof]) => ({
      name: fname, number, type, jsonName: fname,
      label: repeated ? L.REPEATED : L.OPTIONAL,
      ...(typeName ? { typeName } : {}),
      ...(oneof !== undefined ? { oneofIndex: oneof } : {}),
    })),
  };
}

export function enm(name: string, values: [string, number][]) {
  return { name, value: values.map(([n, number]) => ({ name: n, number })) };
}

const M = T.MESSAGE;
const file = create(FileDescriptorProtoSchema, {
  name: 'flow/flow.proto',
  package: 'flow',
  syntax: 'proto3',
  dependency: ['google/protobuf/timestamp.proto', 'google/protobuf/wrappers.proto'],
  messageType: [
    msg('Flow', [
      ['time', 1, M, '.google.protobuf.Timestamp'], ['uuid', 34, T.STRING], ['verdict', 2, T.ENUM, '.flow.Verdict'],
      ['drop_reason', 3, T.UINT32], ['ethernet', 4, M, '.flow.Ethernet'], ['IP', 5, M, '.flow.IP'], ['l4', 6, M, '.flow.Layer4'],
      ['source', 8, M, '.flow.Endpoint'], ['destination', 9, M, '.flow.Endpoint'], ['Type', 10, T.ENUM, '.flow.FlowType'],
      ['node_name', 11, T.STRING], ['l7', 15, M, '.flow.Layer7'], ['reply', 16, T.BOOL], ['event_type', 19, M, '.flow.CiliumEventType'],
      ['traffic_direction', 22, T.ENUM, '.flow.TrafficDirection'], ['policy_match_type', 23, T.UINT32],
      ['drop_reason_desc', 25, T.ENUM, '.flow.DropReason'], ['is_reply', 26, M, '.google.protobuf.BoolValue'],
      ['interface', 28, M, '.flow.NetworkInterface'], ['Summary', 100000, T.STRING],
      ['egress_allowed_by', 21001, M, '.flow.Policy', true], ['ingress_allowed_by', 21002, M, '.flow.Policy', true],
      ['egress_denied_by', 21004, M, '.flow.Policy', true], ['ingress_denied_by', 21005, M, '.flow.Policy', true],
    ]),
    msg('Layer4', [['TCP', 1, M, '.flow.TCP', false, 0], ['UDP', 2, M, '.flow.UDP', false, 0], ['SCTP', 5, M, '.flow.SCTP', false, 0]], ['protocol']),
    msg('Layer7', [['type', 1, T.ENUM, '.flow.L7FlowType'], ['latency_ns', 2, T.UINT64], ['http', 101, M, '.flow.HTTP', false, 0]], ['record']),
    msg('Endpoint', [['ID', 1, T.UINT32], ['identity', 2, T.UINT32], ['namespace', 3, T.STRING], ['labels', 4, T.STRING, undefined, true], ['pod_name', 5, T.STRING]]),
    msg('TCP', [['source_port', 1, T.UINT32], ['destination_port', 2, T.UINT32], ['flags', 3, M, '.flow.TCPFlags']]),
    msg('UDP', [['source_port', 1, T.UINT32], ['destination_port', 2, T.UINT32]]),
    msg('SCTP', [['source_port', 1, T.UINT32], ['destination_port', 2, T.UINT32]]),
    msg('IP', [['source', 1, T.STRING], ['destination', 2, T.STRING], ['ipVersion', 3, T.ENUM, '.flow.IPVersion'], ['encrypted', 4, T.BOOL]]),
    msg('Ethernet', [['source', 1, T.STRING], ['destination', 2, T.STRING]]),
    msg('TCPFlags', ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'].map((f, i): Field => [f, i + 1, T.BOOL])),
    msg('HTTPHeader', [['key', 1, T.STRING], ['value', 2, T.STRING]]),
    msg('HTTP', [['code', 1, T.UINT32], ['method', 2, T.STRING], ['url', 3, T.STRING], ['protocol', 4, T.STRING], ['headers', 5, M, '.flow.HTTPHeader', true]]),
    msg('CiliumEventType', [['type', 1, T.INT32], ['sub_type', 2, T.INT32]]),
    msg('NetworkInterface', [['index', 1, T.UINT32], ['name', 2, T.STRING]]),
    msg('Policy', [['name', 1, T.STRING], ['namespace', 2, T.STRING], ['labels', 3, T.STRING, undefined, true], ['revision', 4, T.UINT64], ['kind', 5, T.STRING]]),
  ],
  enumType: [
    enm('FlowType', [['UNKNOWN_TYPE', 0], ['L3_L4', 1], ['L7', 2], ['SOCK', 3]]),
    enm('L7FlowType', [['UNKNOWN_L7_TYPE', 0], ['REQUEST', 1], ['RESPONSE', 2], ['SAMPLE', 3]]),
    enm('IPVersion', [['IP_NOT_USED', 0], ['IPv4', 1], ['IPv6', 2]]),
    enm('Verdict', [['VERDICT_UNKNOWN', 0], ['FORWARDED', 1], ['DROPPED', 2], ['ERROR', 3], ['AUDIT', 4], ['REDIRECTED', 5], ['TRACED', 6], ['TRANSLATED', 7]]),
    enm('DropReason', [
      ['DROP_REASON_UNKNOWN', 0], ['INVALID_SOURCE_IP', 132], ['POLICY_DENIED', 133], ['INVALID_PACKET_DROPPED', 134],
      ['CT_TRUNCATED_OR_INVALID_HEADER', 135], ['CT_MISSING_TCP_ACK_FLAG', 136], ['CT_CANNOT_CREATE_ENTRY_FROM_PACKET', 138],
      ['IP_FRAGMENTATION_NOT_SUPPORTED', 157], ['POLICY_DENY', 181],
      // l7bpf's own, outside Cilium's numbers (Hubble prints an unknown one as its number)
      ['L7BPF_RATE_LIMITED', 429],
    ]),
    enm('TrafficDirection', [['TRAFFIC_DIRECTION_UNKNOWN', 0], ['INGRESS', 1], ['EGRESS', 2]]),
  ],
});

const registry = createFileRegistry(file, (name) =>
  name === 'google/protobuf/timestamp.proto' ? file_google_protobuf_timestamp : name === 'google/protobuf/wrappers.proto' ? file_google_protobuf_wrappers : undefined,
);

function message(name: string): DescMessage {
  const m = registry.getMessage(name);
  if (!m) throw new Error(`flow.proto: no message ${name}`);
  return m;
}

export const FlowSchema = message('flow.Flow');
export const registryForJson = registry;
export function enumDesc(name: string): DescEnum | undefined {
  return registry.getEnum(name);
}

/** Cilium monitor message types used in event_type.type */
export const EVENT_TYPE = { drop: 1, policyVerdict: 5, l7: 129 } as const;
/** Cilium's PolicyMatchType (pkg/monitor/api): which parts of the allowing rule matched */
export const POLICY_MATCH = { none: 0, l3Only: 1, l3l4: 2, l4Only: 3, all: 4 } as const;
export const DROP_REASON = {
  invalidSourceIp: 132, policyDenied: 133, invalidPacket: 134, invalidHeader: 135, missingTcpAck: 136,
  noConntrackEntry: 138, fragmentation: 157, policyDeny: 181,
  /** a request over its rule's rate limit (l7bpf extension) */
  rateLimited: 429,
} as const;
